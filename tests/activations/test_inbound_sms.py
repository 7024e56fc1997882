"""Replies to text messages posted by the SMS provider: a STOP withdraws the SMS consent of that number."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from activations.models import ConnectorKind, Destination
from profiles.models import ConsentRecord, Profile
from profiles.selectors import consent_gate_allows
from profiles.services import consent_record
from tests.conftest import BOB_PHONE

pytestmark = pytest.mark.django_db

TOKEN = "inbound-shared-secret"


@pytest.fixture
def bob_consented(bob) -> Profile:
    consent_record(profile=bob, channel="sms", status="granted", address=BOB_PHONE, source="shop checkout")
    return bob


@pytest.fixture
def provider() -> Destination:
    return Destination.objects.create(
        name="SMS provider",
        kind=ConnectorKind.SMS,
        settings={"url": "https://sms.example/messages"},
        secrets={"inbound_token": TOKEN},
    )


def reply(client: Client, destination: Destination, token: str | None = TOKEN, **fields: str):
    url = reverse("activations:inbound_sms", kwargs={"destination_id": destination.pk})
    if token is not None:
        url += f"?token={token}"
    return client.post(url, json.dumps(fields), content_type="application/json")


def may_text(profile: Profile) -> bool:
    return consent_gate_allows(profile=profile, channel="sms", address=BOB_PHONE)


def test_stop_withdraws_the_sms_consent_of_that_number(client, bob_consented, provider):
    response = reply(client, provider, **{"from": BOB_PHONE, "text": "STOP", "id": "SM-0001"})

    assert response.status_code == 200
    assert response.json() == {"ok": True, "outcome": "withdrawn"}
    assert not may_text(bob_consented)
    record = bob_consented.consent_records.get(status="withdrawn")
    assert record.channel == "sms" and record.address == BOB_PHONE
    assert record.source == "SMS STOP reply"
    assert record.proof == {"text": "STOP", "provider_message_id": "SM-0001", "destination": provider.pk}


@pytest.mark.parametrize(
    "text", ["stop ", "  Stop  ", "ARRET", "Arrêt", "arrêt !", "STOP SMS", "unsubscribe", "désinscrire"]
)
def test_every_way_of_writing_stop_works(client, bob_consented, provider, text):
    response = reply(client, provider, **{"from": BOB_PHONE, "text": text})

    assert response.json()["outcome"] == "withdrawn"
    assert not may_text(bob_consented)


def test_form_fields_named_by_the_destination_and_a_number_without_plus(client, bob_consented, provider):
    provider.settings.update(inbound_from_field="msisdn", inbound_text_field="message", inbound_id_field="messageId")
    provider.save()
    url = reverse("activations:inbound_sms", kwargs={"destination_id": provider.pk})

    response = client.post(
        url,
        {"msisdn": BOB_PHONE.lstrip("+"), "message": "stop ", "messageId": "abc"},
        HTTP_X_INBOUND_TOKEN=TOKEN,
    )

    assert response.status_code == 200
    assert not may_text(bob_consented)
    assert bob_consented.consent_records.get(status="withdrawn").proof["provider_message_id"] == "abc"


def test_a_provider_calling_back_with_get_and_query_fields(client, bob_consented, provider):
    url = reverse("activations:inbound_sms", kwargs={"destination_id": provider.pk})

    response = client.get(url, {"token": TOKEN, "from": BOB_PHONE, "text": "STOP", "id": "q-1"})

    assert response.status_code == 200
    assert not may_text(bob_consented)


@pytest.mark.parametrize("text", ["Merci !", "stop please call me", "", "STOPPER"])
def test_any_other_text_is_acknowledged_and_ignored(client, bob_consented, provider, text):
    response = reply(client, provider, **{"from": BOB_PHONE, "text": text})

    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    assert may_text(bob_consented)


def test_an_unknown_number_is_acknowledged_and_creates_nothing(client, bob_consented, provider):
    profiles, records = Profile.objects.count(), ConsentRecord.objects.count()

    response = reply(client, provider, **{"from": "+33698765432", "text": "STOP"})
    garbage = reply(client, provider, **{"from": "not a number", "text": "STOP"})

    assert response.status_code == 200 and response.json()["outcome"] == "unknown_number"
    assert garbage.status_code == 200 and garbage.json()["outcome"] == "unknown_number"
    assert (Profile.objects.count(), ConsentRecord.objects.count()) == (profiles, records)


def test_a_second_stop_writes_nothing_more(client, bob_consented, provider):
    reply(client, provider, **{"from": BOB_PHONE, "text": "STOP", "id": "1"})

    again = reply(client, provider, **{"from": BOB_PHONE, "text": "STOP", "id": "1"})

    assert again.json()["outcome"] == "already_withdrawn"
    assert bob_consented.consent_records.filter(status="withdrawn").count() == 1


@pytest.mark.parametrize("token", [None, "", "wrong-secret", TOKEN + "x"])
def test_a_bad_token_is_403_and_changes_nothing(client, bob_consented, provider, token):
    response = reply(client, provider, token=token, **{"from": BOB_PHONE, "text": "STOP"})

    assert response.status_code == 403
    assert may_text(bob_consented)


def test_a_destination_without_an_inbound_secret_accepts_nothing(client, bob_consented, provider):
    provider.secrets = {}
    provider.save()

    response = reply(client, provider, token="", **{"from": BOB_PHONE, "text": "STOP"})

    assert response.status_code == 403
    assert may_text(bob_consented)
