"""The marketers' screens on profiles: list, search, filters, profile page and its buttons, logs."""

import datetime
import json

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from profiles.models import (
    ConsentRecord,
    Event,
    Identifier,
    MergeLog,
    MergeReason,
    PrivacyAction,
    PrivacyLog,
    Profile,
)
from profiles.selectors import consent_gate_allows
from profiles.services import (
    consent_record,
    event_track,
    profile_merge,
    profile_set_do_not_contact,
    profile_set_do_not_track,
)
from tests.conftest import ALICE_EMAIL, BOB_PHONE, make_profile

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:profiles_profile_changelist")


def change_url(profile: Profile) -> str:
    return reverse("admin:profiles_profile_change", args=[profile.pk])


def profile_url(name: str, profile: Profile) -> str:
    return reverse(f"admin:profiles_profile_{name}", args=[profile.pk])


def listed(response) -> set[int]:
    """The profiles shown on a changelist page."""
    assert response.status_code == 200
    return {profile.pk for profile in response.context["cl"].result_list}


def grant_email(profile: Profile, address: str) -> ConsentRecord:
    return consent_record(profile=profile, channel="email", status="granted", address=address, source="test form")


# ---------------------------------------------------------------------------
# Changelist


def test_the_list_shows_name_email_phone_and_city(admin_client, alice, bob, charlie):
    response = admin_client.get(CHANGELIST)

    content = response.content.decode()
    assert listed(response) == {alice.pk, bob.pk, charlie.pk}
    for text in ["Alice Martin", ALICE_EMAIL, "Bob Durand", BOB_PHONE, "Lyon", "Nantes"]:
        assert text in content
    assert "<h1>Profiles</h1>" in content


@pytest.mark.parametrize("term", [" Alice.Martin@Example.FR ", "alice.martin@example.fr", "CRM-001", "martin"])
def test_search_finds_alice_by_email_written_differently_by_crm_id_and_by_name(admin_client, alice, bob, term):
    assert listed(admin_client.get(CHANGELIST, {"q": term})) == {alice.pk}


@pytest.mark.parametrize("term", ["06 12 34 56 78", "+33 6 12 34 56 78", "0033612345678", "Bob Durand"])
def test_search_finds_bob_by_phone_written_differently_and_by_full_name(admin_client, alice, bob, term):
    assert listed(admin_client.get(CHANGELIST, {"q": term})) == {bob.pk}


def test_search_by_public_id(admin_client, alice, bob):
    assert listed(admin_client.get(CHANGELIST, {"q": str(bob.uuid)})) == {bob.pk}


def test_search_for_an_unknown_email_finds_nobody(admin_client, alice, bob):
    assert listed(admin_client.get(CHANGELIST, {"q": "nobody@example.fr"})) == set()


def test_a_search_longer_than_any_identifier_finds_nobody_rather_than_everybody(admin_client, alice, bob):
    assert listed(admin_client.get(CHANGELIST, {"q": "x" * 300})) == set()


def test_identified_filter(admin_client, alice, bob, charlie):
    assert listed(admin_client.get(CHANGELIST, {"identified": "yes"})) == {alice.pk, bob.pk}
    assert listed(admin_client.get(CHANGELIST, {"identified": "no"})) == {charlie.pk}


def test_country_filter(admin_client, alice, bob, charlie):
    assert listed(admin_client.get(CHANGELIST, {"country": "FR"})) == {alice.pk}


def test_consent_filter_lists_who_may_be_contacted_on_the_channel(admin_client, alice, bob, charlie):
    grant_email(alice, ALICE_EMAIL)
    consent_record(profile=bob, channel="sms", status="granted", address=BOB_PHONE, source="shop")

    assert listed(admin_client.get(CHANGELIST, {"consent": "email"})) == {alice.pk}
    assert listed(admin_client.get(CHANGELIST, {"consent": "sms"})) == {bob.pk}
    assert listed(admin_client.get(CHANGELIST, {"consent": "postal"})) == set()

    profile_set_do_not_contact(profile=alice, value=True, actor="test")
    assert listed(admin_client.get(CHANGELIST, {"consent": "email"})) == set()


def test_do_not_track_and_do_not_contact_filters(admin_client, alice, bob, charlie):
    profile_set_do_not_track(profile=bob, value=True, actor="test")
    profile_set_do_not_contact(profile=charlie, value=True, actor="test")

    assert listed(admin_client.get(CHANGELIST, {"do_not_track__exact": "1"})) == {bob.pk}
    assert listed(admin_client.get(CHANGELIST, {"do_not_contact__exact": "1"})) == {charlie.pk}
    assert listed(admin_client.get(CHANGELIST, {"do_not_contact__exact": "0"})) == {alice.pk, bob.pk}


def test_the_list_does_not_run_more_queries_for_more_profiles(admin_client, alice, bob, charlie):
    def queries_for_the_list() -> int:
        with CaptureQueriesContext(connection) as context:
            response = admin_client.get(CHANGELIST)
        assert response.status_code == 200
        return len(context.captured_queries)

    with_three = queries_for_the_list()
    for number in range(27):
        make_profile(
            identifiers={"email": f"person{number}@example.fr", "phone": f"+3361234{number:04d}"},
            first_name=f"Person {number}",
            city="Paris",
        )
    with_thirty = queries_for_the_list()

    assert len(listed(admin_client.get(CHANGELIST))) == 30
    assert with_thirty == with_three


# ---------------------------------------------------------------------------
# Profile page


def test_the_profile_page_shows_identifiers_consents_events_and_merges(admin_client, alice, bob):
    consent_record(
        profile=alice,
        channel="email",
        status="granted",
        address=ALICE_EMAIL,
        source="newsletter form",
        proof={"form_url": "https://shop.example.fr/newsletter", "wording_version": "v3"},
    )
    event_track(type="purchase", identifiers={"email": ALICE_EMAIL}, source="shop", revenue="49.90")
    profile_merge(survivor=alice, absorbed=bob, reason=MergeReason.MANUAL, source="admin (marie)")

    response = admin_client.get(change_url(alice))

    assert response.status_code == 200
    content = response.content.decode()
    assert ALICE_EMAIL in content and "CRM-001" in content and BOB_PHONE in content  # identifiers
    assert "newsletter form" in content and "https://shop.example.fr/newsletter" in content  # consent and proof
    assert "Purchase" in content and "49.90" in content  # timeline
    assert "Merged by hand" in content and str(bob.uuid) in content  # merge history


def test_the_profile_page_shows_the_latest_fifty_events_with_a_constant_number_of_queries(admin_client, alice):
    def add_events(start: int, count: int) -> None:
        now = timezone.now()
        Event.objects.bulk_create(
            Event(
                profile=alice,
                type="page_view",
                properties={"url": f"/page-{number:04d}"},
                occurred_at=now - datetime.timedelta(minutes=10_000 - number),
            )
            for number in range(start, start + count)
        )

    def queries_for_the_page() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as context:
            response = admin_client.get(change_url(alice))
        assert response.status_code == 200
        return len(context.captured_queries), response.content.decode()

    add_events(0, 5)
    with_five, _content = queries_for_the_page()
    add_events(5, 1995)
    with_two_thousand, content = queries_for_the_page()

    assert with_two_thousand == with_five
    assert "Showing the latest 50 of 2000 events" in content
    assert "/page-1999" in content and "/page-1950" in content
    assert "/page-1949" not in content
    all_events = admin_client.get(reverse("admin:profiles_event_changelist"), {"profile__id__exact": alice.pk})
    assert len(all_events.context["cl"].result_list) == 100  # the first page of the 2000


def profile_form_data(profile: Profile, **changes: str) -> dict[str, str]:
    """What the browser posts from the profile page, existing identifiers included."""
    identifiers = list(profile.identifiers.order_by("pk"))
    data = {
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "birth_date": "",
        "city": profile.city,
        "postcode": profile.postcode,
        "country": profile.country,
        "language": profile.language,
        "traits": json.dumps(profile.traits),
        "identifiers-TOTAL_FORMS": str(len(identifiers)),
        "identifiers-INITIAL_FORMS": str(len(identifiers)),
        "identifiers-MIN_NUM_FORMS": "0",
        "identifiers-MAX_NUM_FORMS": "1000",
    }
    for index, identifier in enumerate(identifiers):
        data[f"identifiers-{index}-id"] = str(identifier.pk)
        data[f"identifiers-{index}-profile"] = str(profile.pk)
    data.update(changes)
    return data


def with_new_identifier(data: dict[str, str], kind: str, value: str) -> dict[str, str]:
    index = int(data["identifiers-TOTAL_FORMS"])
    return {
        **data,
        "identifiers-TOTAL_FORMS": str(index + 1),
        f"identifiers-{index}-kind": kind,
        f"identifiers-{index}-value": value,
    }


def test_editing_the_profile_saves_fields_and_custom_traits(admin_client, alice):
    data = profile_form_data(alice, city="Villeurbanne", country="fr", traits='{"loyalty_tier": "gold"}')

    response = admin_client.post(change_url(alice), data)

    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.city == "Villeurbanne"
    assert alice.country == "FR"
    assert alice.traits == {"loyalty_tier": "gold"}

    admin_client.post(change_url(alice), profile_form_data(alice, traits="{}"))
    alice.refresh_from_db()
    assert alice.traits == {}


def test_a_country_name_instead_of_its_code_is_refused_with_an_explanation(admin_client, alice):
    response = admin_client.post(change_url(alice), profile_form_data(alice, country="France"))

    assert response.status_code == 200
    assert "two-letter country code" in response.content.decode()
    alice.refresh_from_db()
    assert alice.country == "FR"


def test_a_new_identifier_is_stored_normalised(admin_client, alice):
    data = with_new_identifier(profile_form_data(alice), "phone", "06 98 76 54 32")

    response = admin_client.post(change_url(alice), data)

    assert response.status_code == 302
    assert alice.identifiers.filter(kind="phone", value="+33698765432").exists()


def test_an_identifier_held_by_another_profile_is_refused_and_a_merge_suggested(admin_client, alice, bob):
    data = with_new_identifier(profile_form_data(alice), "phone", "06 12 34 56 78")

    response = admin_client.post(change_url(alice), data)

    assert response.status_code == 200
    content = response.content.decode()
    assert "Bob Durand" in content and "merge" in content
    assert Identifier.objects.get(value=BOB_PHONE).profile == bob


def test_a_second_crm_id_is_refused(admin_client, alice):
    data = with_new_identifier(profile_form_data(alice), "crm_id", "CRM-999")

    response = admin_client.post(change_url(alice), data)

    assert response.status_code == 200
    assert "a person has one CRM id and these are CRM-001, CRM-999" in response.content.decode()
    assert not Identifier.objects.filter(value="CRM-999").exists()


# ---------------------------------------------------------------------------
# Record a consent


def consent_form_data(**changes: str) -> dict[str, str]:
    data = {
        "channel": "email",
        "status": "granted",
        "address": ALICE_EMAIL,
        "legal_basis": "consent",
        "source": "paper form, Lyon shop",
        "occurred_at_0": "2025-03-12",
        "occurred_at_1": "10:30:00",
        "form_url": "https://shop.example.fr/newsletter",
        "wording_version": "newsletter-v3",
        "ip": "203.0.113.9",
    }
    data.update(changes)
    return data


def test_recording_a_consent_writes_the_log_with_its_source_and_proof(admin_client, alice):
    assert admin_client.get(profile_url("record_consent", alice)).status_code == 200

    response = admin_client.post(profile_url("record_consent", alice), consent_form_data())

    assert response.status_code == 302
    record = ConsentRecord.objects.get(profile=alice)
    assert record.source == "paper form, Lyon shop"
    assert record.address == ALICE_EMAIL
    assert record.recorded_by == "admin"
    assert record.proof == {
        "form_url": "https://shop.example.fr/newsletter",
        "wording_version": "newsletter-v3",
        "ip": "203.0.113.9",
    }
    assert consent_gate_allows(profile=alice, channel="email", address=ALICE_EMAIL)


def test_an_email_consent_without_address_is_refused_on_the_form(admin_client, alice):
    response = admin_client.post(profile_url("record_consent", alice), consent_form_data(address=""))

    assert response.status_code == 200
    assert "must name the address it was given for" in response.content.decode()
    assert not ConsentRecord.objects.exists()


def test_an_address_the_profile_does_not_hold_is_refused_on_the_form(admin_client, alice):
    response = admin_client.post(profile_url("record_consent", alice), consent_form_data(address="other@example.fr"))

    assert response.status_code == 200
    assert "is not one of this profile’s email addresses or phones" in response.content.decode()
    assert not ConsentRecord.objects.exists()


def test_a_consent_dated_in_the_future_is_refused_on_the_form(admin_client, alice):
    next_year = str(timezone.now().year + 1)
    response = admin_client.post(
        profile_url("record_consent", alice), consent_form_data(occurred_at_0=f"{next_year}-01-01")
    )

    assert response.status_code == 200
    assert "cannot be dated in the future" in response.content.decode()
    assert not ConsentRecord.objects.exists()


# ---------------------------------------------------------------------------
# GDPR and privacy flags


def test_the_gdpr_export_downloads_the_person_s_data_as_json(admin_client, alice):
    assert admin_client.get(profile_url("gdpr_export", alice)).status_code == 200

    response = admin_client.post(profile_url("gdpr_export", alice), {"reason": "request 12"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert ALICE_EMAIL in [row["value"] for row in data["tables"]["profiles.Identifier"]]
    log = PrivacyLog.objects.get(action=PrivacyAction.EXPORT)
    assert (log.profile_uuid, log.actor, log.reason) == (alice.uuid, "admin", "request 12")


def test_erasing_asks_for_confirmation_then_deletes_the_person(admin_client, alice, bob):
    grant_email(alice, ALICE_EMAIL)

    confirmation = admin_client.get(profile_url("gdpr_erase", alice))
    assert confirmation.status_code == 200
    assert "identifiers: 2" in confirmation.content.decode().lower()
    assert Profile.objects.filter(pk=alice.pk).exists()

    response = admin_client.post(profile_url("gdpr_erase", alice), {"reason": "request 13"})

    assert response.status_code == 302
    assert response["Location"] == CHANGELIST
    assert not Profile.objects.filter(pk=alice.pk).exists()
    assert not Identifier.objects.filter(value=ALICE_EMAIL).exists()
    assert not ConsentRecord.objects.exists()
    log = PrivacyLog.objects.get(action=PrivacyAction.ERASURE)
    assert (log.profile_uuid, log.actor, log.reason) == (alice.uuid, "admin", "request 13")
    assert Profile.objects.filter(pk=bob.pk).exists()


def test_the_plain_delete_is_not_offered_for_profiles(admin_client, alice):
    response = admin_client.post(reverse("admin:profiles_profile_delete", args=[alice.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert Profile.objects.filter(pk=alice.pk).exists()


def test_a_user_without_delete_permission_cannot_erase(client, alice):
    user = get_user_model().objects.create_user(username="marie", password="pw", is_staff=True)
    client.force_login(user)

    response = client.post(profile_url("gdpr_erase", alice))

    assert response.status_code == 403
    assert Profile.objects.filter(pk=alice.pk).exists()


def test_do_not_track_deletes_the_events_and_is_logged(admin_client, alice):
    event_track(type="page_view", identifiers={"email": ALICE_EMAIL}, source="web")
    confirmation = admin_client.get(profile_url("do_not_track", alice))
    assert "The 1 event already kept about this person will be deleted" in confirmation.content.decode()

    response = admin_client.post(profile_url("do_not_track", alice), {"value": "on", "reason": "phone call"})
    # Sent twice (double click): it stays on.
    admin_client.post(profile_url("do_not_track", alice), {"value": "on", "reason": "phone call"})

    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.do_not_track
    assert not Event.objects.filter(profile=alice).exists()
    assert PrivacyLog.objects.filter(action=PrivacyAction.DO_NOT_TRACK, actor="admin", reason="phone call").count() == 1


def test_do_not_contact_can_be_turned_on_and_off(admin_client, alice):
    admin_client.post(profile_url("do_not_contact", alice), {"value": "on"})
    alice.refresh_from_db()
    assert alice.do_not_contact

    admin_client.post(profile_url("do_not_contact", alice), {"value": "off"})
    alice.refresh_from_db()
    assert not alice.do_not_contact
    assert PrivacyLog.objects.filter(action=PrivacyAction.DO_NOT_CONTACT).count() == 2


# ---------------------------------------------------------------------------
# Merge action


def merge(client, profiles: list[Profile], survivor: Profile | None = None):
    data = {"action": "merge_profiles", "_selected_action": [str(profile.pk) for profile in profiles]}
    if survivor is not None:
        data.update({"confirm": "yes", "survivor": str(survivor.pk)})
    return client.post(CHANGELIST, data, follow=survivor is not None)


def test_merging_two_profiles_after_choosing_the_one_to_keep(admin_client, alice, bob):
    confirmation = merge(admin_client, [alice, bob])
    assert confirmation.status_code == 200
    assert "Alice Martin" in confirmation.content.decode() and "Bob Durand" in confirmation.content.decode()
    assert Profile.objects.count() == 2

    response = merge(admin_client, [alice, bob], survivor=alice)

    assert response.status_code == 200
    assert not Profile.objects.filter(pk=bob.pk).exists()
    assert alice.identifiers.filter(kind="phone", value=BOB_PHONE).exists()
    log = MergeLog.objects.get()
    assert (log.survivor, log.absorbed_profile_id, log.reason) == (alice, bob.pk, MergeReason.MANUAL)
    assert "merged into “Alice Martin”" in response.content.decode()


def test_merging_two_crm_records_is_refused_with_a_message(admin_client, alice):
    dave = make_profile(identifiers={"crm_id": "CRM-002"}, first_name="Dave")

    response = merge(admin_client, [alice, dave], survivor=alice)

    assert response.status_code == 200
    content = response.content.decode()
    assert "The profiles were not merged" in content and "CRM-001" in content and "CRM-002" in content
    assert Profile.objects.filter(pk__in=[alice.pk, dave.pk]).count() == 2
    assert not MergeLog.objects.exists()


def test_merging_needs_at_least_two_profiles(admin_client, alice):
    response = admin_client.post(
        CHANGELIST, {"action": "merge_profiles", "_selected_action": [str(alice.pk)]}, follow=True
    )

    assert "Select at least two profiles to merge." in response.content.decode()
    assert not MergeLog.objects.exists()


# ---------------------------------------------------------------------------
# Consent log, merge history, privacy log, events


def test_the_consent_log_is_listed_and_searchable_by_phone(admin_client, alice, bob):
    grant_email(alice, ALICE_EMAIL)
    consent_record(profile=bob, channel="sms", status="granted", address=BOB_PHONE, source="shop")
    url = reverse("admin:profiles_consentrecord_changelist")

    response = admin_client.get(url, {"q": "06 12 34 56 78"})

    assert response.status_code == 200
    assert [record.profile for record in response.context["cl"].result_list] == [bob]


def test_the_consent_log_cannot_be_changed_added_to_or_deleted(admin_client, alice):
    record = grant_email(alice, ALICE_EMAIL)
    change = reverse("admin:profiles_consentrecord_change", args=[record.pk])

    assert admin_client.get(change).status_code == 200  # read-only view
    assert admin_client.post(change, {"source": "edited", "status": "withdrawn"}).status_code == 403
    assert admin_client.post(reverse("admin:profiles_consentrecord_delete", args=[record.pk])).status_code == 403
    assert admin_client.get(reverse("admin:profiles_consentrecord_add")).status_code == 403
    record.refresh_from_db()
    assert (record.source, record.status) == ("test form", "granted")


def test_merge_history_and_privacy_log_are_listed(admin_client, alice, bob):
    profile_merge(survivor=alice, absorbed=bob, reason=MergeReason.MANUAL)
    profile_set_do_not_contact(profile=alice, value=True, actor="marie")

    merges = admin_client.get(reverse("admin:profiles_mergelog_changelist"), {"q": str(bob.uuid)})
    privacy = admin_client.get(reverse("admin:profiles_privacylog_changelist"), {"q": ALICE_EMAIL})

    assert [log.survivor for log in merges.context["cl"].result_list] == [alice]
    assert privacy.status_code == 200
    assert [log.actor for log in privacy.context["cl"].result_list] == ["marie"]


def test_events_are_listed_filtered_by_type_and_searched_by_identifier(admin_client, alice, bob):
    event_track(type="purchase", identifiers={"email": ALICE_EMAIL}, source="shop", revenue="10")
    event_track(type="page_view", identifiers={"email": ALICE_EMAIL}, source="web")
    event_track(type="purchase", identifiers={"phone": BOB_PHONE}, source="shop", revenue="20")
    url = reverse("admin:profiles_event_changelist")

    purchases = admin_client.get(url, {"type": "purchase"}).context["cl"].result_list
    of_alice = admin_client.get(url, {"q": "Alice.Martin@example.FR"}).context["cl"].result_list

    assert sorted(str(event.revenue) for event in purchases) == ["10.00", "20.00"]
    assert {event.profile for event in of_alice} == {alice}
    assert len(of_alice) == 2
