"""The partners admin: a key is shown once when created and only its fingerprint kept; keys are revoked there."""

import re

import pytest
from django.urls import reverse

from partners.models import ApiKey, Partner, PartnerCall
from partners.services import api_key_check
from tests.partners.conftest import API, client_for

pytestmark = pytest.mark.django_db

KEY = re.compile(r"cdp_[0-9a-f]{8}_[A-Za-z0-9_-]+")


def shown_keys(response) -> list[str]:
    return [KEY.search(str(message)).group(0) for message in response.context["messages"] if KEY.search(str(message))]


def test_adding_a_partner_shows_its_first_key_once(admin_client):
    response = admin_client.post(
        reverse("admin:partners_partner_add"),
        {
            "name": "Dora's ESP",
            "slug": "dora-esp",
            "is_active": "on",
            "channel": "email",
            "scopes": ["segments:read", "events:write"],
            "rate_limit_per_minute": "600",
            "api_keys-TOTAL_FORMS": "0",
            "api_keys-INITIAL_FORMS": "0",
        },
        follow=True,
    )

    (raw_key,) = shown_keys(response)
    partner = Partner.objects.get(slug="dora-esp")
    assert partner.scopes == ["segments:read", "events:write"]
    assert api_key_check(raw_key=raw_key).partner == partner
    page = admin_client.get(reverse("admin:partners_partner_change", args=[partner.pk])).content.decode()
    assert raw_key not in page and raw_key[:12] in page


def test_a_new_key_for_rotation_then_revoke_the_old_one(admin_client, alice_agency, alice_key):
    response = admin_client.post(
        reverse("admin:partners_partner_changelist"),
        {"action": "create_key", "_selected_action": [alice_agency.pk]},
        follow=True,
    )
    (new_key,) = shown_keys(response)
    old = ApiKey.objects.get(prefix=alice_key[:12])

    admin_client.post(
        reverse("admin:partners_apikey_changelist"), {"action": "revoke", "_selected_action": [old.pk]}, follow=True
    )

    assert client_for(alice_key).get(f"{API}/segments/").status_code == 401
    assert client_for(new_key).get(f"{API}/segments/").status_code == 200


def test_a_key_added_from_the_keys_page_is_shown_once(admin_client, alice_agency):
    response = admin_client.post(
        reverse("admin:partners_apikey_add"), {"partner": alice_agency.pk, "name": "staging"}, follow=True
    )

    (raw_key,) = shown_keys(response)
    assert api_key_check(raw_key=raw_key).name == "staging"


def test_the_audit_log_changelist_reads_in_a_fixed_number_of_queries(
    admin_client, alice_api, django_assert_max_num_queries
):
    for _call in range(5):
        alice_api.get(f"{API}/segments/")
    assert PartnerCall.objects.count() == 5

    with django_assert_max_num_queries(12):
        assert admin_client.get(reverse("admin:partners_partnercall_changelist")).status_code == 200


@pytest.mark.parametrize(
    ("url", "french"),
    [
        ("admin:partners_partner_add", "Permissions (portées)"),
        ("admin:partners_apikey_changelist", "Clés d’API"),
        ("admin:partners_partnercall_changelist", "Appels à l’API (journal d’audit)"),
    ],
)
def test_the_partner_pages_are_in_french(admin_client, alice_agency, url, french):
    page = admin_client.get(reverse(url), HTTP_ACCEPT_LANGUAGE="fr").content.decode()

    assert french in page
