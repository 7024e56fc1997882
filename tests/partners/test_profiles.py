"""Upsert a profile by any identifier (the CRM import's merge rules) and read it by id or identifier."""

from profiles.models import MergeLog, Profile
from tests.conftest import ALICE_EMAIL, BOB_PHONE
from tests.partners.conftest import API


def test_upsert_creates_a_profile_with_its_identifiers_fields_and_traits(alice_api):
    response = alice_api.post(
        f"{API}/profiles/",
        {
            "identifiers": {"email": "  Dora.Petit@Example.FR ", "phone": "06 98 76 54 32"},
            "first_name": "Dora",
            "country": "fr",
            "language": "fr-FR",
            "traits": {"tier": "gold"},
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["created"] is True
    assert body["first_name"] == "Dora" and body["country"] == "FR" and body["language"] == "fr"
    assert body["traits"] == {"tier": "gold"}
    assert {(i["kind"], i["value"]) for i in body["identifiers"]} == {
        ("email", "dora.petit@example.fr"),
        ("phone", "+33698765432"),
    }
    profile = Profile.objects.get(uuid=body["id"])
    assert profile.source == "partner:alice-agency"


def test_upsert_updates_the_known_person_and_keeps_what_is_left_out(alice_api, alice):
    response = alice_api.post(
        f"{API}/profiles/",
        {"identifiers": {"email": ALICE_EMAIL}, "city": "Paris", "last_name": "", "traits": {"vip": True}},
        format="json",
    )

    assert response.status_code == 200, response.json()
    alice.refresh_from_db()
    assert alice.city == "Paris"
    assert alice.last_name == "Martin"  # empty, as an empty CSV cell: kept
    assert alice.traits == {"vip": True}
    assert response.json()["created"] is False


def test_upsert_merges_the_profiles_the_identifiers_belong_to(alice_api, alice, bob):
    response = alice_api.post(
        f"{API}/profiles/", {"identifiers": {"email": ALICE_EMAIL, "phone": BOB_PHONE}}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["merged_profiles"] == 1
    assert Profile.objects.filter(pk__in=[alice.pk, bob.pk]).count() == 1
    log = MergeLog.objects.get()
    assert log.reason == "api" and log.source == "partner:alice-agency"


def test_two_crm_ids_are_two_people_a_conflict(alice_api, alice):
    response = alice_api.post(
        f"{API}/profiles/", {"identifiers": {"email": ALICE_EMAIL, "crm_id": "CRM-999"}}, format="json"
    )

    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "urn:cdp:problem:conflict"
    assert not alice.identifiers.filter(value="CRM-999").exists()


def test_read_a_profile_by_its_id_with_consents_and_shared_segments_only(alice_api, alice_agency, alice):
    response = alice_api.get(f"{API}/profiles/{alice.uuid}/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(alice.uuid)
    assert body["first_name"] == "Alice"
    assert body["segments"] == []
    assert body["consents"] == []


def test_the_id_of_a_merged_profile_finds_the_profile_it_was_merged_into(alice_api, alice, charlie):
    old_id = charlie.uuid
    alice_api.post(
        f"{API}/profiles/", {"identifiers": {"email": ALICE_EMAIL, "anonymous_id": "cookie-charlie-42"}}, format="json"
    )

    response = alice_api.get(f"{API}/profiles/{old_id}/")

    assert response.status_code == 200
    assert response.json()["id"] == str(alice.uuid)


def test_lookup_by_identifier_written_any_way(alice_api, bob):
    response = alice_api.post(f"{API}/profiles/lookup/", {"kind": "phone", "value": "06 12 34 56 78"}, format="json")

    assert response.status_code == 200
    assert response.json()["id"] == str(bob.uuid)


def test_lookup_of_nobody_is_404(alice_api, db):
    response = alice_api.post(f"{API}/profiles/lookup/", {"kind": "email", "value": "nobody@example.fr"}, format="json")

    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_an_unknown_or_malformed_profile_id_is_404(alice_api, db):
    assert alice_api.get(f"{API}/profiles/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert alice_api.get(f"{API}/profiles/not-a-uuid/").status_code == 404
