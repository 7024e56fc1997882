"""GDPR requests: an export downloaded by the partner that asked, an erasure carried out at once."""

from partners.models import GdprRequest, IdempotencyRecord
from profiles.models import PrivacyLog, Profile
from tests.conftest import ALICE_EMAIL
from tests.partners.conftest import API

REQUESTS = f"{API}/gdpr/requests/"


def test_an_export_is_requested_then_downloaded_and_logged(alice_api, alice):
    response = alice_api.post(REQUESTS, {"kind": "export", "identifiers": {"email": ALICE_EMAIL}}, format="json")

    assert response.status_code == 201, response.json()
    request = response.json()
    assert request["status"] == "ready" and request["profile_id"] == str(alice.uuid)

    export = alice_api.get(f"{REQUESTS}{request['id']}/export/")

    assert export.status_code == 200
    data = export.json()
    assert data["profile"]["first_name"] == "Alice"
    assert {row["value"] for row in data["tables"]["profiles.Identifier"]} == {ALICE_EMAIL, "CRM-001"}
    log = PrivacyLog.objects.get(action="export")
    assert log.actor == "partner:alice-agency" and log.profile_uuid == alice.uuid
    assert alice_api.get(f"{REQUESTS}{request['id']}/").json()["status"] == "done"


def test_an_erasure_deletes_the_person_and_the_answers_kept_about_them(alice_api, alice):
    upsert = alice_api.post(
        f"{API}/profiles/",
        {"identifiers": {"email": ALICE_EMAIL}, "city": "Lyon"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="upsert-1",
    )
    assert upsert.status_code == 200
    assert IdempotencyRecord.objects.filter(profile=alice).exists()

    response = alice_api.post(
        REQUESTS, {"kind": "erasure", "identifiers": {"crm_id": "CRM-001"}, "reason": "customer asked"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["status"] == "done"
    assert not Profile.objects.filter(pk=alice.pk).exists()
    assert not IdempotencyRecord.objects.filter(key="upsert-1").exists()
    log = PrivacyLog.objects.get(action="erasure")
    assert log.actor == "partner:alice-agency" and log.reason == "customer asked"
    assert GdprRequest.objects.get().privacy_log == log
    assert alice_api.get(f"{API}/profiles/{alice.uuid}/").status_code == 404


def test_the_export_of_an_erased_person_is_404(alice_api, alice):
    export = alice_api.post(REQUESTS, {"kind": "export", "identifiers": {"email": ALICE_EMAIL}}, format="json").json()
    alice_api.post(REQUESTS, {"kind": "erasure", "identifiers": {"email": ALICE_EMAIL}}, format="json")

    assert alice_api.get(f"{REQUESTS}{export['id']}/export/").status_code == 404


def test_a_request_for_nobody_is_404(alice_api, db):
    response = alice_api.post(
        REQUESTS, {"kind": "erasure", "identifiers": {"email": "nobody@example.fr"}}, format="json"
    )

    assert response.status_code == 404
    assert not PrivacyLog.objects.exists()


def test_the_partner_lists_its_own_requests(alice_api, alice, bob):
    alice_api.post(REQUESTS, {"kind": "export", "identifiers": {"email": ALICE_EMAIL}}, format="json")
    alice_api.post(REQUESTS, {"kind": "export", "identifiers": {"phone": "+33612345678"}}, format="json")

    body = alice_api.get(REQUESTS).json()

    assert [request["profile_id"] for request in body["results"]] == [str(bob.uuid), str(alice.uuid)]


def test_identifiers_of_two_different_people_are_409_and_nobody_is_erased(alice_api, alice, bob):
    response = alice_api.post(
        REQUESTS, {"kind": "erasure", "identifiers": {"email": ALICE_EMAIL, "phone": "+33612345678"}}, format="json"
    )

    assert response.status_code == 409
    assert Profile.objects.filter(pk__in=[alice.pk, bob.pk]).count() == 2
