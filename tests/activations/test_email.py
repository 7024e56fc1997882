"""The email connector against a real SMTP server on loopback: what arrives, to whom, and what a refusal becomes."""

import uuid
from urllib.parse import urlsplit

import pytest

from activations.connectors import Batch, ConnectorError, Recipient, connector_for
from activations.models import ConnectorKind, Destination
from profiles.models import Profile
from profiles.selectors import consent_gate_allows
from profiles.services import consent_record, identifier_add
from tests.activations.smtp_server import SMTP_PASSWORD, SMTP_USER, free_port
from tests.conftest import ALICE_EMAIL, make_profile

pytestmark = pytest.mark.django_db

CONTENT = {
    "subject": "{{ first_name }}, vos offres de printemps",
    "text": "Bonjour {{ first_name|default:'' }} de {{ city }} !\nSe désinscrire : {{ unsubscribe_url }}",
    "html": '<p>Bonjour <b>{{ first_name }}</b> de {{ city }} !</p><a href="{{ unsubscribe_url }}">Se désinscrire</a>',
}


def email_destination(smtp_server, name: str = "Shop newsletter", **settings) -> Destination:
    return Destination.objects.create(
        name=name,
        kind=ConnectorKind.EMAIL,
        settings={
            "host": smtp_server.host,
            "port": smtp_server.port,
            "username": SMTP_USER,
            "from_email": "Ma Boutique <news@shop.example>",
            "reply_to": "service@shop.example",
            "timeout": 5,
            **settings,
        },
        secrets={"password": SMTP_PASSWORD},
    )


def recipient_of(profile: Profile, address: str, delivery_id: int = 1, **fields) -> Recipient:
    return Recipient(
        delivery_id=delivery_id,
        idempotency_key=str(uuid.uuid4()),
        profile_id=profile.pk,
        profile_uuid=str(profile.uuid),
        address=address,
        fields={"first_name": profile.first_name, "city": profile.city, **fields},
    )


def batch_of(*recipients: Recipient, content: dict | None = None) -> Batch:
    return Batch(
        message_id="msg_test_0",
        campaign="spring-sale",
        run=str(uuid.uuid4()),
        channel="email",
        content=content or CONTENT,
        recipients=list(recipients),
    )


@pytest.fixture
def alice_consented(alice) -> Profile:
    consent_record(profile=alice, channel="email", status="granted", address=ALICE_EMAIL, source="form")
    return alice


def test_placeholders_are_filled_in_the_subject_the_text_and_the_escaped_html(smtp_server, alice_consented):
    recipient = recipient_of(alice_consented, ALICE_EMAIL, first_name="Alice & <Zoé>")

    outcome = connector_for(email_destination(smtp_server)).send(batch_of(recipient))

    assert outcome.delivered == [recipient.delivery_id] and not outcome.failed and not outcome.retry
    [mail] = smtp_server.messages
    assert mail.message["Subject"] == "Alice & <Zoé>, vos offres de printemps"
    assert mail.message["From"] == "Ma Boutique <news@shop.example>"
    assert mail.message["Reply-To"] == "service@shop.example"
    text = mail.part("text/plain")
    assert "Bonjour Alice & <Zoé> de Lyon !" in text
    html = mail.part("text/html")
    assert "<b>Alice &amp; &lt;Zoé&gt;</b> de Lyon" in html
    assert "<Zoé>" not in html
    link = mail.message["List-Unsubscribe"].strip().split(">")[0].lstrip("<")
    assert f"Se désinscrire : {link}" in text
    assert f'href="{link}"' in html
    assert smtp_server.logins == [SMTP_USER]


def test_every_message_carries_one_click_unsubscribe_and_a_message_id_made_of_its_idempotency_key(
    smtp_server, alice_consented, client
):
    recipient = recipient_of(alice_consented, ALICE_EMAIL)
    connector = connector_for(email_destination(smtp_server, unsubscribe_mailto="unsubscribe@shop.example"))

    connector.send(batch_of(recipient))
    connector.send(batch_of(recipient))  # the same delivery sent again (a retried batch)

    first, again = smtp_server.messages
    assert first.message["Message-ID"] == f"<{recipient.idempotency_key}@shop.example>"
    assert again.message["Message-ID"] == first.message["Message-ID"]
    assert first.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https_link, mailto = (part.strip().strip("<>") for part in first.message["List-Unsubscribe"].split(","))
    assert https_link.startswith("http://127.0.0.1:8000/unsubscribe/")
    assert mailto == "mailto:unsubscribe@shop.example?subject=unsubscribe"
    # The link in the header is the one-click address: a mail client's POST withdraws the consent.
    response = client.post(urlsplit(https_link).path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert not consent_gate_allows(profile=alice_consented, channel="email", address=ALICE_EMAIL)


def test_only_the_consented_address_receives_the_message(smtp_server, alice_consented):
    identifier_add(profile=alice_consented, kind="email", value="alice.work@example.com", source="crm")

    connector_for(email_destination(smtp_server)).send(batch_of(recipient_of(alice_consented, ALICE_EMAIL)))

    [mail] = smtp_server.messages
    assert mail.rcpt_tos == [ALICE_EMAIL]
    assert mail.message["To"] == ALICE_EMAIL
    assert mail.message["Cc"] is None and mail.message["Bcc"] is None
    assert b"alice.work@example.com" not in mail.raw


def test_a_refused_recipient_is_failed_with_the_reason_and_the_others_are_sent(smtp_server, alice_consented):
    bob = make_profile(identifiers={"email": "bob@example.fr"}, first_name="Bob")
    smtp_server.refuse("bob@example.fr", "550 5.1.1 <bob@example.fr>: Recipient address rejected: User unknown")
    first, refused, last = (
        recipient_of(alice_consented, ALICE_EMAIL, delivery_id=1),
        recipient_of(bob, "bob@example.fr", delivery_id=2),
        recipient_of(alice_consented, ALICE_EMAIL, delivery_id=3),
    )

    outcome = connector_for(email_destination(smtp_server)).send(batch_of(first, refused, last))

    assert outcome.delivered == [1, 3]
    assert list(outcome.failed) == [2]
    assert "550" in outcome.failed[2] and "User unknown" in outcome.failed[2]
    assert not outcome.retry
    assert [mail.rcpt_tos for mail in smtp_server.messages] == [[ALICE_EMAIL], [ALICE_EMAIL]]


def test_a_temporary_refusal_of_a_recipient_is_retried(smtp_server, alice_consented):
    smtp_server.refuse(ALICE_EMAIL, "451 4.7.1 Greylisted, please try again later")

    outcome = connector_for(email_destination(smtp_server)).send(batch_of(recipient_of(alice_consented, ALICE_EMAIL)))

    assert not outcome.delivered and not outcome.failed
    assert "451" in outcome.retry[1] and "Greylisted" in outcome.retry[1]


def test_a_451_at_data_is_retried_and_a_554_is_failed(smtp_server, alice_consented):
    connector = connector_for(email_destination(smtp_server))
    recipient = recipient_of(alice_consented, ALICE_EMAIL)

    smtp_server.answer_data("451 4.3.0 Mail server temporarily rejected message")
    retried = connector.send(batch_of(recipient))
    smtp_server.answer_data("554 5.7.1 Message rejected as spam")
    failed = connector.send(batch_of(recipient))

    assert "451" in retried.retry[1] and not retried.failed
    assert "554 5.7.1 Message rejected as spam" in failed.failed[1] and not failed.retry
    assert smtp_server.messages == []


def test_a_server_closing_the_connection_leaves_this_message_and_the_rest_to_retry(smtp_server, alice_consented):
    smtp_server.answer_data("421 4.3.2 Service shutting down")
    batch = batch_of(*(recipient_of(alice_consented, ALICE_EMAIL, delivery_id) for delivery_id in (1, 2, 3)))

    outcome = connector_for(email_destination(smtp_server)).send(batch)

    assert not outcome.delivered and not outcome.failed
    assert set(outcome.retry) == {1, 2, 3}
    assert all("421 4.3.2 Service shutting down" in reason for reason in outcome.retry.values())


def test_a_server_that_cannot_be_reached_leaves_the_whole_batch_to_retry(db, alice_consented):
    destination = Destination.objects.create(
        name="Nowhere", kind=ConnectorKind.EMAIL, settings={"host": "127.0.0.1", "port": free_port(), "timeout": 2}
    )
    batch = batch_of(recipient_of(alice_consented, ALICE_EMAIL, 1), recipient_of(alice_consented, ALICE_EMAIL, 2))

    outcome = connector_for(destination).send(batch)

    assert not outcome.delivered and not outcome.failed
    assert set(outcome.retry) == {1, 2}
    assert "Cannot connect to the mail server 127.0.0.1:" in outcome.retry[1]
    assert "refused" in outcome.retry[1].lower()


def test_a_template_mistake_fails_the_batch_with_the_reason(smtp_server, alice_consented):
    content = {**CONTENT, "text": "Bonjour {{ first_name|nosuchfilter }}"}

    outcome = connector_for(email_destination(smtp_server)).send(
        batch_of(recipient_of(alice_consented, ALICE_EMAIL), content=content)
    )

    assert "text of the email has a mistake in its placeholders" in outcome.failed[1]
    assert "nosuchfilter" in outcome.failed[1]
    assert smtp_server.messages == []


def test_without_a_server_of_its_own_the_project_email_backend_sends(alice_consented, mailoutbox):
    destination = Destination.objects.create(
        name="Project mail", kind=ConnectorKind.EMAIL, settings={"from_email": "news@shop.example"}
    )
    recipient = recipient_of(alice_consented, ALICE_EMAIL)

    outcome = connector_for(destination).send(batch_of(recipient))

    assert outcome.delivered == [1]
    [mail] = mailoutbox
    assert mail.to == [ALICE_EMAIL]
    assert mail.extra_headers["Message-ID"] == f"<{recipient.idempotency_key}@shop.example>"
    assert "project's email backend" in connector_for(destination).test_connection()


def test_test_connection_logs_in_and_says_so(smtp_server):
    message = connector_for(email_destination(smtp_server)).test_connection()

    assert message == f"Connected to 127.0.0.1:{smtp_server.port} without encryption and logged in as {SMTP_USER}."
    assert smtp_server.logins == [SMTP_USER]


def test_test_connection_gives_the_exact_error(smtp_server):
    destination = email_destination(smtp_server)
    destination.secrets = {"password": "wrong"}

    with pytest.raises(ConnectorError) as refused:
        connector_for(destination).test_connection()
    with pytest.raises(ConnectorError) as unreachable:
        connector_for(email_destination(smtp_server, name="Closed port", port=free_port())).test_connection()

    assert str(refused.value).startswith(f"127.0.0.1:{smtp_server.port} refused the login of {SMTP_USER}: 535")
    assert "Cannot connect to the mail server" in str(unreachable.value)
