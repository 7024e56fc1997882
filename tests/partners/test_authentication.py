"""Who may call: a valid, unrevoked key of an active partner, sent as a Bearer token. Anything else is 401."""

import pytest

from partners.models import ApiKey
from partners.services import api_key_create, api_key_revoke
from tests.partners.conftest import API, client_for

SEGMENTS = f"{API}/segments/"


def assert_unauthenticated(response):
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["type"] == "urn:cdp:problem:unauthenticated"


def test_a_call_without_a_key_is_401(db):
    assert_unauthenticated(client_for(None).get(SEGMENTS))


@pytest.mark.parametrize(
    "header",
    ["Bearer cdp_00000000_wrong", "Bearer nonsense", "Token abc", "Bearer", "Bearer a b", "Bearer caf\u00e9"],
)
def test_a_wrong_or_malformed_key_is_401(alice_key, header):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    assert_unauthenticated(client.get(SEGMENTS))


def test_a_key_that_differs_from_a_real_one_after_its_prefix_is_401(alice_key):
    forged = alice_key[:13] + ("A" if alice_key[13] != "A" else "B") + alice_key[14:]

    assert_unauthenticated(client_for(forged).get(SEGMENTS))


def test_only_the_fingerprint_of_a_key_is_stored(alice_agency):
    api_key, raw_key = api_key_create(partner=alice_agency)

    assert raw_key.startswith(api_key.prefix + "_")
    stored = ApiKey.objects.filter(pk=api_key.pk).values().get()
    assert raw_key not in {str(value) for value in stored.values()}


def test_a_revoked_key_is_refused_at_once_while_the_partners_other_keys_still_work(alice_agency, alice_key):
    old = ApiKey.objects.get(partner=alice_agency)
    _new, new_key = api_key_create(partner=alice_agency, name="rotation")
    assert client_for(alice_key).get(SEGMENTS).status_code == 200

    api_key_revoke(api_key=old)

    assert_unauthenticated(client_for(alice_key).get(SEGMENTS))
    assert client_for(new_key).get(SEGMENTS).status_code == 200


def test_the_keys_of_a_deactivated_partner_are_refused(alice_agency, alice_api):
    alice_agency.is_active = False
    alice_agency.save()

    assert_unauthenticated(alice_api.get(SEGMENTS))


def test_a_key_notes_when_it_was_last_used(alice_agency, alice_api):
    assert ApiKey.objects.get(partner=alice_agency).last_used_at is None

    alice_api.get(SEGMENTS)

    assert ApiKey.objects.get(partner=alice_agency).last_used_at is not None
