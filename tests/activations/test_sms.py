"""The SMS connector against a real HTTP provider on loopback: the request it makes and what each answer becomes."""

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from activations.connectors import Batch, ConnectorError, Recipient, connector_for
from activations.models import ConnectorKind, Destination
from profiles.models import Profile
from tests.activations.conftest import Answer, Receiver
from tests.activations.smtp_server import free_port
from tests.conftest import BOB_PHONE

pytestmark = pytest.mark.django_db

PAYLOAD = {"to": "{{ address }}", "text": "{{ text }}", "sender": "MyShop", "options": {"campaign": "{{ campaign }}"}}


def sms_destination(url: str, name: str = "SMS provider", secrets: dict | None = None, **settings) -> Destination:
    return Destination.objects.create(
        name=name,
        kind=ConnectorKind.SMS,
        settings={
            "url": f"{url}/messages",
            "auth": "bearer",
            "payload": PAYLOAD,
            "stop_suffix": "STOP au 36111",
            "timeout": 1,
            **settings,
        },
        secrets={"token": "provider-api-token"} if secrets is None else secrets,
    )


def recipient_of(profile: Profile, delivery_id: int = 1, **fields: Any) -> Recipient:
    return Recipient(
        delivery_id=delivery_id,
        idempotency_key=str(uuid.uuid4()),
        profile_id=profile.pk,
        profile_uuid=str(profile.uuid),
        address=BOB_PHONE,
        fields={"first_name": profile.first_name, "city": profile.city, **fields},
    )


def batch_of(*recipients: Recipient, text: str = "Bonjour {{ first_name }}, -20 % ce week-end à {{ city }}.") -> Batch:
    return Batch(
        message_id="msg_sms_0",
        campaign="week-end",
        run=str(uuid.uuid4()),
        channel="sms",
        content={"text": text},
        recipients=list(recipients),
    )


def test_the_payload_template_is_filled_and_the_request_carries_the_credentials_and_the_idempotency_key(receiver, bob):
    recipient = recipient_of(bob)

    outcome = connector_for(sms_destination(receiver.url)).send(batch_of(recipient))

    assert outcome.delivered == [1] and not outcome.failed and not outcome.retry
    [request] = receiver.requests
    assert request.path == "/messages"
    assert request.json() == {
        "to": BOB_PHONE,
        "text": "Bonjour Bob, -20 % ce week-end à Nantes. STOP au 36111",
        "sender": "MyShop",
        "options": {"campaign": "week-end"},
    }
    assert request.headers["authorization"] == "Bearer provider-api-token"
    assert request.headers["idempotency-key"] == recipient.idempotency_key
    assert request.headers["content-type"] == "application/json"


def test_quotes_in_a_first_name_do_not_break_the_json(receiver, bob):
    recipient = recipient_of(bob, first_name='Bob "the" \\ builder')

    connector_for(sms_destination(receiver.url)).send(batch_of(recipient))

    assert receiver.requests[0].json()["text"].startswith('Bonjour Bob "the" \\ builder, -20 %')


def test_basic_authentication_a_named_header_and_another_idempotency_header(receiver, bob):
    basic = sms_destination(receiver.url, auth="basic", username="shop", secrets={"password": "pw"})
    header = sms_destination(
        receiver.url, name="Other provider", auth="header", auth_header="X-Api-Key", idempotency_header="X-Request-Id"
    )
    recipient = recipient_of(bob)

    connector_for(basic).send(batch_of(recipient))
    connector_for(header).send(batch_of(recipient))

    by_basic, by_header = receiver.requests
    assert by_basic.headers["authorization"] == "Basic " + base64.b64encode(b"shop:pw").decode()
    assert by_header.headers["x-api-key"] == "provider-api-token"
    assert "authorization" not in by_header.headers
    assert by_header.headers["x-request-id"] == recipient.idempotency_key


def test_a_500_is_retried_and_the_next_attempt_is_sent_with_the_same_key(receiver, bob):
    receiver.script(Answer(500, body=b'{"message": "internal error"}'))
    connector = connector_for(sms_destination(receiver.url))
    batch = batch_of(recipient_of(bob))

    first = connector.send(batch)
    second = connector.send(batch)

    assert first.retry == {1: "HTTP 500: internal error"} and not first.delivered
    assert second.delivered == [1] and not second.retry
    keys = [request.headers["idempotency-key"] for request in receiver.requests]
    assert keys == [batch.recipients[0].idempotency_key] * 2


def test_a_429_is_retried_after_the_delay_the_provider_asks_and_the_rest_of_the_batch_waits(receiver, bob):
    receiver.script(Answer(200), Answer(429, headers={"Retry-After": "30"}, body=b'{"error": "rate limited"}'))
    batch = batch_of(*(recipient_of(bob, delivery_id) for delivery_id in (1, 2, 3, 4)))

    outcome = connector_for(sms_destination(receiver.url)).send(batch)

    assert outcome.delivered == [1]
    assert outcome.retry == {2: "HTTP 429: rate limited", 3: "HTTP 429: rate limited", 4: "HTTP 429: rate limited"}
    assert outcome.retry_after == 30
    assert len(receiver.requests) == 2


def test_a_400_is_failed_with_the_status_and_the_provider_message(receiver, bob):
    receiver.script(Answer(400, body=b'{"error": {"code": 21211, "message": "Invalid destination number"}}'))
    batch = batch_of(recipient_of(bob, 1), recipient_of(bob, 2))

    outcome = connector_for(sms_destination(receiver.url)).send(batch)

    assert outcome.failed == {1: "HTTP 400: Invalid destination number"}
    assert outcome.delivered == [2]


def test_a_timeout_and_a_dropped_connection_are_retried(receiver, bob):
    receiver.script(Answer(delay=2), Answer(drop=True))
    connector = connector_for(sms_destination(receiver.url, timeout=0.5))

    timed_out = connector.send(batch_of(recipient_of(bob, 1), recipient_of(bob, 2)))
    dropped = connector.send(batch_of(recipient_of(bob, 3)))

    assert timed_out.retry == {1: "No answer within 0.5 s.", 2: "No answer within 0.5 s."}
    assert not timed_out.delivered and not timed_out.failed
    assert list(dropped.retry) == [3] and dropped.retry[3].startswith("Connection failed")


def test_a_mistake_in_the_text_fails_the_batch_and_missing_credentials_wait_for_a_fix(receiver, bob):
    wrong_text = connector_for(sms_destination(receiver.url)).send(batch_of(recipient_of(bob), text="{% if %}"))
    no_token = connector_for(sms_destination(receiver.url, name="No token", secrets={})).send(
        batch_of(recipient_of(bob))
    )

    assert "The text message has a mistake in its placeholders" in wrong_text.failed[1]
    assert no_token.retry == {1: "This authentication needs a token (secret “token”)."}
    assert receiver.requests == []


class ProviderWithPages(Receiver):
    """The receiver, also answering GET and HEAD (a provider's account page)."""

    def _handler(self) -> type:
        handler = super()._handler()

        class Handler(handler):  # type: ignore[misc, valid-type]
            do_GET = handler.do_POST  # noqa: N815
            do_HEAD = handler.do_POST  # noqa: N815

        return Handler


@pytest.fixture
def provider() -> Iterator[ProviderWithPages]:
    peer = ProviderWithPages()
    yield peer
    peer.close()


def test_test_connection_checks_the_test_url_with_the_credentials(provider):
    message = connector_for(sms_destination(provider.url, test_url=f"{provider.url}/balance")).test_connection()

    assert (
        message == f"{provider.url}/balance answered HTTP 200: the provider is reachable and accepts the credentials."
    )
    assert provider.requests[0].path == "/balance"
    assert provider.requests[0].headers["authorization"] == "Bearer provider-api-token"


def test_test_connection_gives_the_exact_error(provider):
    provider.script(Answer(401, body=json.dumps({"message": "Bad API key"}).encode()))
    refused = sms_destination(provider.url, test_url=f"{provider.url}/balance")
    closed = sms_destination(f"http://127.0.0.1:{free_port()}", name="Closed port")

    with pytest.raises(ConnectorError) as bad_key:
        connector_for(refused).test_connection()
    with pytest.raises(ConnectorError) as unreachable:
        connector_for(closed).test_connection()

    assert str(bad_key.value) == f"{provider.url}/balance answered HTTP 401: Bad API key"
    assert str(unreachable.value).startswith(f"Cannot connect to {closed.settings['url']}: ")
    assert "Connection refused" in str(unreachable.value)
