"""Tracked links and opens, end to end: a campaign sent over real SMTP and HTTP peers, then clicked and opened."""

import uuid
from urllib.parse import urlsplit

import pytest
from django.core import signing

from activations.connectors import Batch, Recipient, connector_for
from activations.models import ConnectorKind, Delivery, Destination
from profiles.services import consent_record
from reporting.links import click_token, click_token_read, open_token
from reporting.models import EmailOpen, LinkClick, TrackedLink
from tests.activations.campaigns import campaign_to, run_planned, segment_of, send_all
from tests.activations.smtp_server import SMTP_PASSWORD, SMTP_USER
from tests.conftest import ALICE_EMAIL, BOB_PHONE

pytestmark = pytest.mark.django_db

PUBLIC = "http://127.0.0.1:8000"
CONTENT = {
    "subject": "Les soldes, {{ first_name }}",
    "text": (
        "Bonjour {{ first_name }}, tout est sur https://shop.example/soldes?ref=nl.\n"
        "Se désinscrire : {{ unsubscribe_url }}"
    ),
    "html": (
        '<html><body><p>Bonjour {{ first_name }}</p><a href="https://shop.example/soldes?ref=nl&amp;x=1#top">'
        'Soldes</a><a href="mailto:service@shop.example">Écrire</a><a href="{{ unsubscribe_url }}">'
        "Se désinscrire</a></body></html>"
    ),
}


def email_destination(smtp_server, name: str = "Shop Newsletter") -> Destination:
    return Destination.objects.create(
        name=name,
        kind=ConnectorKind.EMAIL,
        settings={
            "host": smtp_server.host,
            "port": smtp_server.port,
            "username": SMTP_USER,
            "from_email": "news@shop.example",
            "timeout": 5,
        },
        secrets={"password": SMTP_PASSWORD},
    )


@pytest.fixture
def sent_to_alice(smtp_server, alice):
    """The spring sale emailed to Alice (the only one in Lyon who accepts email) through a real SMTP server."""
    consent_record(profile=alice, channel="email", status="granted", address=ALICE_EMAIL, source="form")
    campaign = campaign_to(email_destination(smtp_server), segment_of("Lyon"))
    campaign.content = CONTENT
    campaign.save()
    send_all(run_planned(campaign))
    [mail] = smtp_server.messages
    return mail, Delivery.objects.get(profile=alice)


def tracked_links_in(body: str) -> list[str]:
    return [word.strip('"<>.') for word in body.replace('"', " ").split() if word.startswith(f"{PUBLIC}/r/")]


def test_every_link_of_the_email_is_tracked_but_the_unsubscribe_link_and_mailto(sent_to_alice):
    mail, delivery = sent_to_alice
    html, text = mail.part("text/html"), mail.part("text/plain")

    assert "shop.example/soldes" not in html and "shop.example/soldes" not in text
    assert 'href="mailto:service@shop.example"' in html
    assert f'href="{PUBLIC}/unsubscribe/' in html and f"{PUBLIC}/unsubscribe/" in text
    [html_link] = [link for link in tracked_links_in(html) if "/r/o/" not in link]
    [text_link] = tracked_links_in(text)
    # The sentence's full stop stays outside the link.
    assert f"{text_link}.\n" in text.replace("\r\n", "\n")
    assert click_token_read(urlsplit(html_link).path.split("/")[2])[0] == delivery.pk
    assert {link.url for link in TrackedLink.objects.all()} == {
        "https://shop.example/soldes?ref=nl&x=1#top",
        "https://shop.example/soldes?ref=nl",
    }
    # The open pixel, just before </body>.
    assert f'<img src="{PUBLIC}/r/o/' in html and html.index("/r/o/") < html.index("</body>")


def test_a_click_redirects_with_utm_parameters_and_is_recorded_once(client, sent_to_alice, alice):
    mail, delivery = sent_to_alice
    [link] = [link for link in tracked_links_in(mail.part("text/html")) if "/r/o/" not in link]

    first = client.get(urlsplit(link).path, HTTP_USER_AGENT="Mozilla/5.0 (iPhone)")
    second = client.get(urlsplit(link).path, HTTP_USER_AGENT="Mozilla/5.0 (iPhone)")

    expected = (
        "https://shop.example/soldes?ref=nl&x=1&utm_source=shop-newsletter&utm_medium=email"
        "&utm_campaign=spring-sale#top"
    )
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == expected
    [click] = LinkClick.objects.all()
    assert (click.delivery_id, click.profile_id, click.link.url) == (
        delivery.pk,
        alice.pk,
        "https://shop.example/soldes?ref=nl&x=1#top",
    )
    assert click.clicks == 2 and click.user_agent == "Mozilla/5.0 (iPhone)"
    assert click.first_clicked_at <= click.last_clicked_at


def test_a_tampered_unknown_or_foreign_token_is_a_404_and_never_a_redirect(client, sent_to_alice):
    mail, delivery = sent_to_alice
    link = TrackedLink.objects.first()
    good = click_token(delivery_id=delivery.pk, link_id=link.pk)
    evil = TrackedLink.objects.create(url="https://evil.example/", url_hash="x" * 64)
    payload, signature = good.rsplit(":", 1)
    other_payload = signing.Signer(salt="reporting.click").sign_object([delivery.pk, evil.pk]).rsplit(":", 1)[0]
    tokens = [
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),  # signature altered
        signing.Signer(salt="reporting.click").sign_object([delivery.pk, link.pk]).replace(":", ":x"),
        f"{other_payload}:{signature}",  # another link's id under this link's signature
        signing.Signer(salt="another.salt").sign_object([delivery.pk, evil.pk]),  # signed for something else
        open_token(delivery_id=delivery.pk),  # an open token is not a click token
        click_token(delivery_id=delivery.pk, link_id=999_999),  # a link that does not exist
        click_token(delivery_id=999_999, link_id=link.pk),  # a delivery that does not exist
        "https:%2F%2Fevil.example",
    ]
    for token in tokens:
        response = client.get(f"/r/{token}/")
        assert response.status_code == 404, token
        assert "Location" not in response
    assert not LinkClick.objects.exists()


def test_the_open_pixel_records_the_first_open_and_counts_the_others(client, sent_to_alice, alice):
    mail, delivery = sent_to_alice
    [pixel] = [link for link in tracked_links_in(mail.part("text/html")) if "/r/o/" in link]

    responses = [client.get(urlsplit(pixel).path, HTTP_USER_AGENT="Mail") for _ in range(2)]

    assert [response.status_code for response in responses] == [200, 200]
    assert responses[0]["Content-Type"] == "image/gif" and "no-cache" in responses[0]["Cache-Control"]
    [opened] = EmailOpen.objects.all()
    assert (opened.delivery_id, opened.profile_id, opened.opens) == (delivery.pk, alice.pk, 2)
    assert client.get(f"/r/o/{open_token(delivery_id=delivery.pk)[:-1]}x/").status_code == 404


def test_sms_links_are_tracked_before_the_stop_suffix(receiver, bob):
    destination = Destination.objects.create(
        name="SMS provider",
        kind=ConnectorKind.SMS,
        settings={"url": f"{receiver.url}/messages", "stop_suffix": "STOP au 36111", "timeout": 1},
    )
    recipient = Recipient(
        delivery_id=7,
        idempotency_key=str(uuid.uuid4()),
        profile_id=bob.pk,
        profile_uuid=str(bob.uuid),
        address=BOB_PHONE,
        fields={"first_name": "Bob"},
    )
    batch = Batch(
        message_id="msg_sms_0",
        campaign="week-end",
        run=str(uuid.uuid4()),
        channel="sms",
        content={"text": "{{ first_name }}, -20 % sur https://shop.example/w !"},
        recipients=[recipient],
    )

    connector_for(destination).send(batch)

    text = receiver.requests[0].json()["text"]
    [link] = tracked_links_in(text)
    assert text == f"Bob, -20 % sur {link} ! STOP au 36111"
    assert click_token_read(urlsplit(link).path.split("/")[2]) == (7, TrackedLink.objects.get().pk)


def test_a_test_send_has_no_tracked_link(smtp_server, alice):
    recipient = Recipient(
        delivery_id=0,
        idempotency_key=str(uuid.uuid4()),
        profile_id=0,
        profile_uuid="",
        address=ALICE_EMAIL,
        fields={"first_name": "Alice"},
    )
    batch = Batch(
        message_id="test_1",
        campaign="spring-sale",
        run="test",
        channel="email",
        content=CONTENT,
        recipients=[recipient],
    )

    connector_for(email_destination(smtp_server)).send(batch)

    assert "https://shop.example/soldes?ref=nl&amp;x=1#top" in smtp_server.messages[0].part("text/html")
    assert "/r/o/" not in smtp_server.messages[0].part("text/html")
    assert not TrackedLink.objects.exists()


def test_utm_parameters_the_marketer_wrote_are_kept():
    from reporting.links import target_with_utm

    url = target_with_utm(
        "https://shop.example/p?utm_source=partner&q=a+b", source="Shop Newsletter", medium="email", campaign="soldes"
    )

    assert url == "https://shop.example/p?utm_source=partner&q=a+b&utm_medium=email&utm_campaign=soldes"
