import pytest
from django.core.exceptions import ValidationError

from profiles.models import Event, Identifier, MergeLog, MergeReason, Profile
from profiles.services import IdentityConflict, event_track, profile_resolve
from tests.conftest import ALICE_EMAIL, BOB_PHONE

pytestmark = pytest.mark.django_db


def identifiers_of(profile: Profile) -> set[tuple[str, str]]:
    return set(profile.identifiers.values_list("kind", "value"))


def test_new_identifiers_create_one_profile_with_normalised_identifiers():
    resolution = profile_resolve(identifiers={"email": " Zoe.Petit@Example.FR"}, source="form")

    assert resolution.created
    assert identifiers_of(resolution.profile) == {("email", "zoe.petit@example.fr")}
    assert Profile.objects.count() == 1


def test_the_same_email_in_two_spellings_is_one_profile(alice):
    resolution = profile_resolve(identifiers={"email": "  ALICE.Martin@example.FR  "}, source="form")

    assert resolution.profile == alice
    assert not resolution.created
    assert Profile.objects.count() == 1
    assert Identifier.objects.filter(kind="email").count() == 1


def test_a_person_known_by_phone_then_by_phone_and_email_stays_one_profile(bob):
    resolution = profile_resolve(identifiers={"phone": "06 12 34 56 78", "email": "bob@example.fr"}, source="shop")

    assert resolution.profile == bob
    assert resolution.added_identifiers == [("email", "bob@example.fr")]
    assert identifiers_of(bob) == {("phone", BOB_PHONE), ("email", "bob@example.fr")}
    assert not MergeLog.objects.exists()


def test_data_linking_two_profiles_merges_them_and_the_merge_log_says_why(alice, bob):
    resolution = profile_resolve(
        identifiers={"email": ALICE_EMAIL, "phone": "+33 6 12 34 56 78"}, source="shop checkout"
    )

    survivor = resolution.profile
    assert survivor == alice  # both identified: the oldest is kept
    assert resolution.merged_profile_ids == [bob.pk]
    assert not Profile.objects.filter(pk=bob.pk).exists()
    assert identifiers_of(survivor) == {("email", ALICE_EMAIL), ("crm_id", "CRM-001"), ("phone", BOB_PHONE)}
    log = MergeLog.objects.get()
    assert log.survivor == alice
    assert log.absorbed_profile_id == bob.pk
    assert log.absorbed_profile_uuid == bob.uuid
    assert log.reason == MergeReason.SHARED_IDENTIFIER
    assert log.source == "shop checkout"
    assert log.moved["identifiers"] == [["phone", BOB_PHONE]]


def test_an_anonymous_visitor_becomes_known_when_an_event_links_their_cookie_to_an_email(alice, charlie):
    event_track(type="page_view", identifiers={"anonymous_id": "cookie-charlie-42"}, source="web")

    event_track(
        type="form_submit",
        identifiers={"anonymous_id": "cookie-charlie-42", "email": ALICE_EMAIL},
        source="web",
    )

    # The known profile is kept, and the visitor's history comes with it.
    assert not Profile.objects.filter(pk=charlie.pk).exists()
    assert identifiers_of(alice) >= {("anonymous_id", "cookie-charlie-42"), ("email", ALICE_EMAIL)}
    assert list(Event.objects.filter(profile=alice).order_by("id").values_list("type", flat=True)) == [
        "page_view",
        "form_submit",
    ]
    log = MergeLog.objects.get()
    assert (log.survivor, log.absorbed_profile_id, log.reason) == (alice, charlie.pk, MergeReason.EVENT_LINK)


def test_an_anonymous_profile_older_than_the_known_one_still_merges_into_the_known_one(db):
    visitor = profile_resolve(identifiers={"anonymous_id": "cookie-1"}, source="web").profile
    known = profile_resolve(identifiers={"email": "late@example.fr"}, source="crm").profile

    result = profile_resolve(identifiers={"anonymous_id": "cookie-1", "email": "late@example.fr"}, source="web")

    assert result.profile == known
    assert result.merged_profile_ids == [visitor.pk]


def test_an_anonymous_visitor_who_logs_in_with_a_new_email_keeps_their_profile(charlie):
    event = event_track(
        type="form_submit", identifiers={"anonymous_id": "cookie-charlie-42", "email": "c@example.fr"}, source="web"
    )

    assert event.profile == charlie
    assert identifiers_of(charlie) == {("anonymous_id", "cookie-charlie-42"), ("email", "c@example.fr")}


def test_three_profiles_linked_at_once_become_one(alice, bob, charlie):
    resolution = profile_resolve(
        identifiers=[("email", ALICE_EMAIL), ("phone", BOB_PHONE), ("anonymous_id", "cookie-charlie-42")],
        source="api",
        reason=MergeReason.API,
    )

    assert Profile.objects.get() == resolution.profile == alice
    assert MergeLog.objects.filter(reason=MergeReason.API).count() == 2


def test_identifiers_of_two_crm_records_are_a_conflict_and_nothing_changes(alice, bob):
    profile_resolve(identifiers={"phone": BOB_PHONE, "crm_id": "CRM-002"}, source="crm")
    before = sorted(Identifier.objects.values_list("profile_id", "kind", "value"))

    with pytest.raises(IdentityConflict) as error:
        profile_resolve(identifiers={"email": ALICE_EMAIL, "phone": BOB_PHONE}, source="shop")

    assert "CRM-001, CRM-002" in error.value.message_dict["crm_id"][0]
    assert sorted(Identifier.objects.values_list("profile_id", "kind", "value")) == before
    assert Profile.objects.count() == 2
    assert not MergeLog.objects.exists()


def test_a_second_crm_id_for_one_profile_is_a_conflict(alice):
    with pytest.raises(IdentityConflict):
        profile_resolve(identifiers={"email": ALICE_EMAIL, "crm_id": "CRM-999"}, source="crm")

    assert identifiers_of(alice) == {("email", ALICE_EMAIL), ("crm_id", "CRM-001")}


@pytest.mark.parametrize(
    ("identifiers", "field"),
    [
        ({"email": "alice@@example"}, "email"),
        ({"phone": "12"}, "phone"),
        ({"email": ALICE_EMAIL, "phone": "not a phone"}, "phone"),
        ({"fax": "0123"}, "kind"),
        ({}, "identifiers"),
        ({"email": "   "}, "identifiers"),
    ],
)
def test_bad_identifiers_are_refused_and_change_nothing(alice, identifiers, field):
    before = sorted(Identifier.objects.values_list("profile_id", "kind", "value"))

    with pytest.raises(ValidationError) as error:
        profile_resolve(identifiers=identifiers, source="form")

    assert field in error.value.message_dict
    assert sorted(Identifier.objects.values_list("profile_id", "kind", "value")) == before
    assert Profile.objects.count() == 1
