"""Consent updates append to the consent log with the partner's proof, and the consent gate follows them."""

from profiles.models import ConsentRecord
from profiles.selectors import consent_gate_allows
from tests.conftest import ALICE_EMAIL, BOB_PHONE
from tests.partners.conftest import API

CONSENTS = f"{API}/consents/"
PROOF = {
    "source": "newsletter form",
    "wording_version": "v3",
    "ip": "203.0.113.7",
    "form_url": "https://shop.example/nl",
}


def test_a_grant_is_logged_with_its_proof_and_opens_the_gate(alice_api, alice):
    response = alice_api.post(
        CONSENTS,
        {"identifiers": {"email": ALICE_EMAIL}, "channel": "email", "status": "granted", "proof": PROOF},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["address"] == ALICE_EMAIL and body["status"] == "granted"
    assert body["consents"] == [
        {
            "channel": "email",
            "address": ALICE_EMAIL,
            "status": "granted",
            "legal_basis": "consent",
            "since": body["occurred_at"],
        }
    ]
    record = ConsentRecord.objects.get(profile=alice)
    assert record.source == "newsletter form" and record.recorded_by == "partner:alice-agency"
    assert record.proof == {**PROOF, "partner": "alice-agency"}
    assert consent_gate_allows(profile=alice, channel="email", address=ALICE_EMAIL)


def test_a_withdrawal_closes_the_gate(alice_api, alice):
    alice_api.post(
        CONSENTS,
        {"identifiers": {"email": ALICE_EMAIL}, "channel": "email", "status": "granted", "proof": PROOF},
        format="json",
    )

    response = alice_api.post(
        CONSENTS,
        {
            "identifiers": {"crm_id": "CRM-001"},
            "channel": "email",
            "status": "withdrawn",
            "proof": {"source": "unsubscribe page", "wording_version": "v3"},
        },
        format="json",
    )

    assert response.status_code == 201
    assert not consent_gate_allows(profile=alice, channel="email")


def test_a_grant_needs_the_ip_address_in_its_proof(alice_api, alice):
    proof = {"source": "form", "wording_version": "v1"}

    response = alice_api.post(
        CONSENTS,
        {"identifiers": {"email": ALICE_EMAIL}, "channel": "email", "status": "granted", "proof": proof},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "proof.ip"
    assert not ConsentRecord.objects.exists()


def test_a_grant_for_an_address_the_person_does_not_hold_is_400(alice_api, alice):
    response = alice_api.post(
        CONSENTS,
        {
            "identifiers": {"email": ALICE_EMAIL},
            "channel": "sms",
            "status": "granted",
            "address": BOB_PHONE,
            "proof": PROOF,
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "address"


def test_a_missing_proof_and_an_unknown_channel_are_named(alice_api, alice):
    response = alice_api.post(
        CONSENTS, {"identifiers": {"email": ALICE_EMAIL}, "channel": "pigeon", "status": "granted"}, format="json"
    )

    assert response.status_code == 400
    assert {error["field"] for error in response.json()["errors"]} == {"channel", "proof"}
