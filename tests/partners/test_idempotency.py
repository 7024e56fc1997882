"""Idempotency-Key: a retried POST has no second effect and gets the first answer; another body with it is 422."""

import datetime

from django.utils import timezone

from partners.models import IdempotencyRecord
from profiles.models import ConsentRecord, Event, Profile
from tests.conftest import ALICE_EMAIL
from tests.partners.conftest import API

PROOF = {"source": "form", "wording_version": "v1", "ip": "203.0.113.7"}


def post(client, path, body, key):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_retried_upsert_creates_one_profile_and_gets_the_first_answer(alice_api, db):
    body = {"identifiers": {"email": "dora@example.fr"}, "first_name": "Dora"}

    first = post(alice_api, f"{API}/profiles/", body, "key-1")
    retry = post(alice_api, f"{API}/profiles/", body, "key-1")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert Profile.objects.count() == 1


def test_a_retried_event_is_recorded_once(alice_api, alice):
    body = {"type": "purchase", "identifiers": {"email": ALICE_EMAIL}, "revenue": "10.00"}

    for _attempt in range(3):
        assert post(alice_api, f"{API}/events/", body, "evt-1").status_code == 201

    assert Event.objects.count() == 1


def test_a_retried_batch_and_consent_have_no_second_effect(alice_api, alice):
    batch = {"events": [{"type": "page_view", "identifiers": {"email": ALICE_EMAIL}}] * 3}
    consent = {"identifiers": {"email": ALICE_EMAIL}, "channel": "email", "status": "granted", "proof": PROOF}

    for _attempt in range(2):
        post(alice_api, f"{API}/events/batch/", batch, "batch-1")
        post(alice_api, f"{API}/consents/", consent, "consent-1")

    assert Event.objects.count() == 3
    assert ConsentRecord.objects.count() == 1


def test_the_same_key_with_another_body_is_422(alice_api, db):
    post(alice_api, f"{API}/profiles/", {"identifiers": {"email": "dora@example.fr"}}, "key-1")

    response = post(alice_api, f"{API}/profiles/", {"identifiers": {"email": "eve@example.fr"}}, "key-1")

    assert response.status_code == 422
    assert response.json()["type"] == "urn:cdp:problem:idempotency-key-reused"
    assert not Profile.objects.filter(identifiers__value="eve@example.fr").exists()


def test_the_same_key_on_another_endpoint_is_422(alice_api, alice):
    post(alice_api, f"{API}/events/", {"type": "page_view", "identifiers": {"email": ALICE_EMAIL}}, "key-1")

    response = post(alice_api, f"{API}/profiles/", {"identifiers": {"email": ALICE_EMAIL}}, "key-1")

    assert response.status_code == 422


def test_a_refused_request_is_answered_the_same_way_again(alice_api, db):
    body = {"identifiers": {"email": "not an email"}}

    first = post(alice_api, f"{API}/profiles/", body, "bad-1")
    retry = post(alice_api, f"{API}/profiles/", body, "bad-1")

    assert first.status_code == retry.status_code == 400
    assert retry.json() == first.json()
    assert retry["Content-Type"] == "application/problem+json"


def test_keys_are_per_partner(alice_api, bob_api, db):
    body = {"identifiers": {"email": "dora@example.fr"}}

    alice_answer = post(alice_api, f"{API}/profiles/", body, "shared-key")
    bob_answer = post(bob_api, f"{API}/profiles/", {"identifiers": {"email": "eve@example.fr"}}, "shared-key")

    assert alice_answer.status_code == bob_answer.status_code == 201
    assert "Idempotent-Replayed" not in bob_answer
    assert Profile.objects.count() == 2


def test_a_key_is_forgotten_after_the_retention_period(alice_api, alice, settings):
    body = {"type": "page_view", "identifiers": {"email": ALICE_EMAIL}}
    post(alice_api, f"{API}/events/", body, "old-key")
    IdempotencyRecord.objects.update(created_at=timezone.now() - datetime.timedelta(hours=25))

    response = post(alice_api, f"{API}/events/", body, "old-key")

    assert "Idempotent-Replayed" not in response
    assert Event.objects.count() == 2


def test_a_key_still_being_processed_is_409(alice_api, db):
    body = {"identifiers": {"email": "dora@example.fr"}}
    post(alice_api, f"{API}/profiles/", body, "busy")
    IdempotencyRecord.objects.filter(key="busy").update(status=0)  # as while the first call still runs

    response = post(alice_api, f"{API}/profiles/", body, "busy")

    assert response.status_code == 409
    assert "still being processed" in response.json()["detail"]


def test_an_invalid_key_is_400(alice_api, db):
    response = post(alice_api, f"{API}/profiles/", {"identifiers": {"email": "dora@example.fr"}}, "x" * 300)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert not Profile.objects.exists()
