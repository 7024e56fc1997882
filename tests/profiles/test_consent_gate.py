import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from profiles.models import ConsentRecord, ConsentState, MergeReason
from profiles.selectors import consent_gate, consent_gate_allows, profiles_contactable
from profiles.services import consent_record, profile_merge, profile_resolve, profile_set_do_not_contact
from tests.conftest import ALICE_EMAIL, BOB_PHONE

pytestmark = pytest.mark.django_db


def grant(profile, channel, address="", **kwargs):
    return consent_record(profile=profile, channel=channel, status="granted", address=address, source="form", **kwargs)


def withdraw(profile, channel, address="", **kwargs):
    return consent_record(
        profile=profile, channel=channel, status="withdrawn", address=address, source="unsubscribe", **kwargs
    )


def test_no_consent_record_means_no_contact(alice):
    assert not consent_gate_allows(profile=alice, channel="email")
    assert not consent_gate(channel="email").exists()


def test_a_granted_consent_lets_the_profile_through_at_that_address(alice):
    grant(
        alice,
        "email",
        ALICE_EMAIL.upper(),
        proof={"form_url": "https://shop.example.fr/newsletter", "ip": "203.0.113.9"},
    )

    assert consent_gate_allows(profile=alice, channel="email")
    assert consent_gate_allows(profile=alice, channel="email", address=f" {ALICE_EMAIL} ")
    assert list(consent_gate(channel="email").values_list("profile_id", "address")) == [(alice.pk, ALICE_EMAIL)]
    assert not consent_gate_allows(profile=alice, channel="sms")


def test_a_withdrawal_after_a_grant_is_honoured_and_the_history_is_kept(alice):
    grant(alice, "email", ALICE_EMAIL)
    withdraw(alice, "email", ALICE_EMAIL)

    assert not consent_gate_allows(profile=alice, channel="email")
    assert list(ConsentRecord.objects.filter(profile=alice).order_by("id").values_list("status", flat=True)) == [
        "granted",
        "withdrawn",
    ]


def test_the_latest_word_wins_whatever_order_the_records_arrive_in(alice):
    now = timezone.now()
    withdraw(alice, "email", ALICE_EMAIL, occurred_at=now - datetime.timedelta(hours=1))
    # An older grant arriving late (a paper form typed in afterwards) does not undo the withdrawal.
    grant(alice, "email", ALICE_EMAIL, occurred_at=now - datetime.timedelta(days=30))

    assert not consent_gate_allows(profile=alice, channel="email")
    state = ConsentState.objects.get(profile=alice, channel="email")
    assert state.status == "withdrawn"


def test_a_withdrawal_without_address_covers_every_address_of_the_channel(alice):
    profile_resolve(identifiers={"email": [ALICE_EMAIL, "alice.pro@work.fr"]}, source="crm")
    grant(alice, "email", ALICE_EMAIL)
    grant(alice, "email", "alice.pro@work.fr")

    withdraw(alice, "email")

    assert not consent_gate_allows(profile=alice, channel="email")
    # A new grant afterwards counts again, for that address only.
    grant(alice, "email", "alice.pro@work.fr")
    assert list(consent_gate(channel="email").values_list("address", flat=True)) == ["alice.pro@work.fr"]


def test_an_email_consent_covers_the_address_it_was_given_for_not_the_others(alice):
    profile_resolve(identifiers={"email": [ALICE_EMAIL, "alice.pro@work.fr"]}, source="crm")
    grant(alice, "email", ALICE_EMAIL)

    assert consent_gate_allows(profile=alice, channel="email", address=ALICE_EMAIL)
    assert not consent_gate_allows(profile=alice, channel="email", address="alice.pro@work.fr")


def test_a_consent_for_an_address_the_profile_no_longer_holds_lets_nothing_through(alice):
    grant(alice, "email", ALICE_EMAIL)

    alice.identifiers.filter(kind="email").delete()

    assert not consent_gate_allows(profile=alice, channel="email")


def test_person_wide_channels_need_no_address(alice):
    grant(alice, "advertising")

    assert consent_gate_allows(profile=alice, channel="advertising")
    assert list(profiles_contactable(channel="advertising")) == [alice]


def test_do_not_contact_overrides_every_consent(alice):
    grant(alice, "email", ALICE_EMAIL)

    profile_set_do_not_contact(profile=alice, value=True, actor="dpo")

    assert not consent_gate_allows(profile=alice, channel="email")
    assert alice.consents.get(channel="email").status == "granted"  # kept, but not acted on


def test_merging_a_profile_that_consented_with_one_that_did_not_never_reaches_the_second_address(alice, bob):
    # Alice consented to email at her address; Bob, with another email, never did.
    grant(alice, "email", ALICE_EMAIL)
    profile_resolve(identifiers={"phone": BOB_PHONE, "email": "bob@example.fr"}, source="crm")

    merged = profile_resolve(identifiers={"email": ALICE_EMAIL, "phone": BOB_PHONE}, source="shop").profile

    assert merged.identifiers.filter(kind="email").count() == 2
    assert list(consent_gate(channel="email").values_list("profile_id", "address")) == [(merged.pk, ALICE_EMAIL)]
    assert not consent_gate_allows(profile=merged, channel="email", address="bob@example.fr")
    assert not consent_gate_allows(profile=merged, channel="sms")


def test_a_merge_keeps_each_address_consent_and_a_later_withdrawal_wins(alice, bob):
    now = timezone.now()
    profile_resolve(identifiers={"phone": BOB_PHONE, "email": "bob@example.fr"}, source="crm")
    grant(alice, "email", ALICE_EMAIL, occurred_at=now - datetime.timedelta(days=3))
    grant(bob, "email", "bob@example.fr", occurred_at=now - datetime.timedelta(days=2))
    withdraw(bob, "email", "bob@example.fr", occurred_at=now - datetime.timedelta(days=1))

    profile_merge(survivor=alice, absorbed=bob, reason=MergeReason.MANUAL)

    states = dict(alice.consents.filter(channel="email").values_list("address", "status"))
    assert states == {ALICE_EMAIL: "granted", "bob@example.fr": "withdrawn"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"channel": "carrier_pigeon", "status": "granted"}, "channel"),
        ({"channel": "email", "status": "maybe", "address": ALICE_EMAIL}, "status"),
        ({"channel": "email", "status": "granted", "address": ALICE_EMAIL, "legal_basis": "whim"}, "legal_basis"),
        ({"channel": "email", "status": "granted"}, "address"),
        ({"channel": "email", "status": "granted", "address": "someone.else@example.fr"}, "address"),
        ({"channel": "email", "status": "granted", "address": "not-an-email"}, "address"),
        ({"channel": "advertising", "status": "granted", "address": ALICE_EMAIL}, "address"),
        ({"channel": "email", "status": "granted", "address": ALICE_EMAIL, "source": ""}, "source"),
        (
            {
                "channel": "email",
                "status": "granted",
                "address": ALICE_EMAIL,
                "occurred_at": timezone.now() + datetime.timedelta(days=1),
            },
            "occurred_at",
        ),
        (
            {
                "channel": "email",
                "status": "granted",
                "address": ALICE_EMAIL,
                "occurred_at": datetime.datetime(2026, 1, 1, 12, 0),
            },
            "occurred_at",
        ),
    ],
)
def test_bad_consent_input_is_refused_naming_the_field_and_writes_nothing(alice, kwargs, field):
    kwargs = {"source": "form", **kwargs}

    with pytest.raises(ValidationError) as error:
        consent_record(profile=alice, **kwargs)

    assert field in error.value.message_dict
    assert not ConsentRecord.objects.exists()
    assert not ConsentState.objects.exists()


def test_the_gate_refuses_an_unknown_channel():
    with pytest.raises(ValidationError) as error:
        consent_gate(channel="fax")

    assert "channel" in error.value.message_dict
