import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from profiles.models import ConsentRecord, Event, MergeLog, MergeReason, Profile
from profiles.services import consent_record, event_track, profile_merge, profile_resolve, profile_update
from tests.conftest import ALICE_EMAIL, BOB_PHONE

pytestmark = pytest.mark.django_db


def test_a_merge_moves_identifiers_events_and_consents_and_fills_blank_fields(alice, bob):
    profile_update(profile=alice, fields={}, traits={"loyalty_tier": "gold"})
    profile_update(
        profile=bob,
        fields={"birth_date": datetime.date(1990, 5, 17)},
        traits={"loyalty_tier": "silver", "store": "Nantes"},
    )
    event_track(type="purchase", identifiers={"phone": BOB_PHONE}, source="shop", revenue="49.90")
    consent_record(profile=bob, channel="sms", status="granted", address=BOB_PHONE, source="shop form")

    log = profile_merge(survivor=alice, absorbed=bob, reason=MergeReason.MANUAL, source="admin:marie")

    alice.refresh_from_db()
    assert not Profile.objects.filter(pk=bob.pk).exists()
    assert alice.first_name == "Alice"  # the kept profile's values win
    assert alice.birth_date == datetime.date(1990, 5, 17)  # blanks are filled from the merged one
    assert alice.traits == {"loyalty_tier": "gold", "store": "Nantes"}
    assert alice.identifiers.filter(kind="phone", value=BOB_PHONE).exists()
    assert Event.objects.get().profile == alice
    assert ConsentRecord.objects.get().profile == alice
    assert log.moved["rows"] == {
        "profiles.Identifier": 1,
        "profiles.Event": 1,
        "profiles.ConsentRecord": 1,
    }
    assert log.moved["fields"] == {"birth_date": datetime.date(1990, 5, 17)}


def test_earlier_merges_of_the_absorbed_profile_stay_in_the_history(alice, bob, charlie):
    profile_merge(survivor=bob, absorbed=charlie, reason=MergeReason.MANUAL)

    profile_merge(survivor=alice, absorbed=bob, reason=MergeReason.MANUAL)

    assert sorted(MergeLog.objects.filter(survivor=alice).values_list("absorbed_profile_id", flat=True)) == sorted(
        [charlie.pk, bob.pk]
    )


def test_a_profile_cannot_be_merged_into_itself(alice):
    with pytest.raises(ValidationError) as error:
        profile_merge(survivor=alice, absorbed=alice, reason=MergeReason.MANUAL)

    assert error.value.messages == ["A profile cannot be merged into itself."]
    assert Profile.objects.filter(pk=alice.pk).exists()
    assert not MergeLog.objects.exists()


def test_an_unknown_merge_reason_is_refused(alice, bob):
    with pytest.raises(ValidationError) as error:
        profile_merge(survivor=alice, absorbed=bob, reason="because")

    assert "reason" in error.value.message_dict
    assert Profile.objects.count() == 2


def test_refusing_to_be_tracked_survives_a_merge_and_clears_behavioural_data(alice, bob):
    event_track(type="page_view", identifiers={"email": ALICE_EMAIL}, source="web")
    bob.do_not_track = True
    bob.save()

    profile_merge(survivor=alice, absorbed=bob, reason=MergeReason.MANUAL)

    alice.refresh_from_db()
    assert alice.do_not_track
    assert not Event.objects.exists()


def test_a_merge_keeps_the_time_order_of_consents_so_the_latest_word_wins(alice, bob):
    now = timezone.now()
    profile_resolve(identifiers={"phone": BOB_PHONE, "email": "bob@example.fr"}, source="crm")
    consent_record(
        profile=bob,
        channel="email",
        status="granted",
        address="bob@example.fr",
        source="form",
        occurred_at=now - datetime.timedelta(days=10),
    )
    consent_record(
        profile=alice,
        channel="email",
        status="withdrawn",
        source="unsubscribe link",
        occurred_at=now - datetime.timedelta(days=1),
    )

    profile_merge(survivor=alice, absorbed=bob, reason=MergeReason.MANUAL)

    # Alice withdrew from every email address after Bob's grant: none is granted now.
    assert not alice.consents.filter(channel="email", status="granted").exists()
