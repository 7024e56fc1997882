"""The unsubscribe link of an email: a page that asks, a button (or a mail client's one-click POST) that withdraws."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from activations.unsubscribe import token_id, unsubscribe_token
from profiles.models import ConsentRecord, Profile
from profiles.selectors import consent_gate_allows
from profiles.services import consent_record, identifier_add
from tests.conftest import ALICE_EMAIL

pytestmark = pytest.mark.django_db

WORK_EMAIL = "alice.work@example.com"
PAGE_SENTENCE = 'You will no longer receive emails from us at <span class="address">%(address)s</span>.'


@pytest.fixture
def alice_consented(alice) -> Profile:
    consent_record(profile=alice, channel="email", status="granted", address=ALICE_EMAIL, source="form")
    return alice


def link_for(profile: Profile, address: str = ALICE_EMAIL, campaign: str = "spring-sale") -> str:
    token = unsubscribe_token(profile_uuid=str(profile.uuid), channel="email", address=address, campaign=campaign)
    return reverse("activations:unsubscribe", kwargs={"token": token})


def withdrawals(profile: Profile) -> list[ConsentRecord]:
    return list(profile.consent_records.filter(status="withdrawn").order_by("id"))


def test_the_page_asks_before_anything_is_withdrawn(client, alice_consented):
    response = client.get(link_for(alice_consented))

    assert response.status_code == 200
    content = response.content.decode()
    assert "You will no longer receive emails from us at" in content
    assert "a…@e….fr" in content
    assert ALICE_EMAIL not in content
    assert '<form method="post">' in content
    assert consent_gate_allows(profile=alice_consented, channel="email", address=ALICE_EMAIL)
    assert withdrawals(alice_consented) == []


def test_the_page_speaks_french_to_a_french_browser(client, alice_consented):
    response = client.get(link_for(alice_consented), HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")

    assert response.status_code == 200
    assert response["Content-Language"] == "fr"
    content = response.content.decode()
    assert '<html lang="fr">' in content
    with translation.override("fr"):
        french = gettext(PAGE_SENTENCE)
    assert french != PAGE_SENTENCE, "no French translation of the unsubscribe page yet (locale/fr)"
    assert french % {"address": "a…@e….fr"} in content


def test_the_button_withdraws_the_consent_of_that_address(client, alice_consented):
    link = link_for(alice_consented)

    response = client.post(link, HTTP_USER_AGENT="Mozilla/5.0 (Macintosh)", REMOTE_ADDR="203.0.113.7")

    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    assert not consent_gate_allows(profile=alice_consented, channel="email", address=ALICE_EMAIL)
    [record] = withdrawals(alice_consented)
    assert record.address == ALICE_EMAIL
    assert record.source == "unsubscribe link"
    assert record.proof == {
        "campaign": "spring-sale",
        "token_id": token_id(link.split("/")[-2]),
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (Macintosh)",
        "one_click": False,
    }


def test_a_mail_client_one_click_post_withdraws_without_a_csrf_token(alice_consented):
    mail_client = Client(enforce_csrf_checks=True)

    response = mail_client.post(
        link_for(alice_consented),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert not consent_gate_allows(profile=alice_consented, channel="email", address=ALICE_EMAIL)
    [record] = withdrawals(alice_consented)
    assert record.proof["one_click"] is True


def test_a_second_click_says_it_is_already_done_and_writes_nothing(client, alice_consented):
    link = link_for(alice_consented)
    client.post(link)

    again = client.post(link)
    page = client.get(link)

    assert again.status_code == 200 and page.status_code == 200
    assert "You are already unsubscribed" in again.content.decode()
    assert "You are already unsubscribed" in page.content.decode()
    assert "<form" not in page.content.decode()
    assert len(withdrawals(alice_consented)) == 1


def test_only_the_address_of_the_link_is_unsubscribed(client, alice_consented):
    identifier_add(profile=alice_consented, kind="email", value=WORK_EMAIL, source="crm")
    consent_record(profile=alice_consented, channel="email", status="granted", address=WORK_EMAIL, source="form")

    client.post(link_for(alice_consented, WORK_EMAIL))

    assert not consent_gate_allows(profile=alice_consented, channel="email", address=WORK_EMAIL)
    assert consent_gate_allows(profile=alice_consented, channel="email", address=ALICE_EMAIL)


@pytest.mark.parametrize("alter", ["payload", "signature", "other salt"])
def test_a_tampered_link_is_a_404_that_tells_nothing(client, alice_consented, alter):
    link = link_for(alice_consented)
    token = link.split("/")[-2]
    if alter == "payload":
        token = ("A" if token[1] != "A" else "B").join([token[:1], token[2:]])
    elif alter == "signature":
        token = token[:-3] + ("xyz" if not token.endswith("xyz") else "abc")
    else:
        from django.core import signing

        token = signing.dumps({"p": str(alice_consented.uuid), "c": "email", "a": ALICE_EMAIL, "k": "x"})

    get = client.get(f"/unsubscribe/{token}/")
    post = client.post(f"/unsubscribe/{token}/", {"List-Unsubscribe": "One-Click"})

    assert get.status_code == 404 and post.status_code == 404
    content = post.content.decode()
    assert "This link is not valid" in content
    assert "a…@" not in content and "Traceback" not in content and "BadSignature" not in content
    assert consent_gate_allows(profile=alice_consented, channel="email", address=ALICE_EMAIL)
    assert withdrawals(alice_consented) == []
