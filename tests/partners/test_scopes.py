"""A partner does only what its scopes allow: a call outside them is 403, naming the missing scope."""

import pytest

from partners.models import Partner, Scope
from partners.services import api_key_create
from tests.partners.conftest import API, client_for

ENDPOINTS = [
    ("post", f"{API}/profiles/", Scope.PROFILES_WRITE),
    ("post", f"{API}/profiles/lookup/", Scope.PROFILES_READ),
    ("get", f"{API}/profiles/00000000-0000-0000-0000-000000000001/", Scope.PROFILES_READ),
    ("post", f"{API}/events/", Scope.EVENTS_WRITE),
    ("post", f"{API}/events/batch/", Scope.EVENTS_WRITE),
    ("post", f"{API}/consents/", Scope.CONSENTS_WRITE),
    ("get", f"{API}/segments/", Scope.SEGMENTS_READ),
    ("get", f"{API}/segments/1/", Scope.SEGMENTS_READ),
    ("get", f"{API}/segments/1/members/", Scope.SEGMENTS_READ),
    ("get", f"{API}/campaigns/", Scope.CAMPAIGNS_READ),
    ("get", f"{API}/campaigns/1/", Scope.CAMPAIGNS_READ),
    ("get", f"{API}/campaigns/1/runs/", Scope.CAMPAIGNS_READ),
    ("get", f"{API}/reports/campaigns/", Scope.REPORTS_READ),
    ("get", f"{API}/gdpr/requests/", Scope.GDPR),
    ("post", f"{API}/gdpr/requests/", Scope.GDPR),
    ("get", f"{API}/gdpr/requests/00000000-0000-0000-0000-000000000001/", Scope.GDPR),
    ("get", f"{API}/gdpr/requests/00000000-0000-0000-0000-000000000001/export/", Scope.GDPR),
]


def partner_with_every_scope_but(scope: str) -> str:
    others = [value for value in Scope.values if value != scope]
    partner = Partner.objects.create(
        name=f"Charlie without {scope}", slug=f"charlie-{scope.replace(':', '-')}", scopes=others
    )
    return api_key_create(partner=partner)[1]


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _s in ENDPOINTS])
def test_each_endpoint_needs_its_scope(db, method, path, scope):
    client = client_for(partner_with_every_scope_but(scope))

    response = getattr(client, method)(path, {}, format="json") if method == "post" else client.get(path)

    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:cdp:problem:missing-scope"
    assert scope in problem["detail"]


def test_the_scope_is_checked_before_the_input(bob_api):
    response = bob_api.post(f"{API}/consents/", {"nonsense": True}, format="json")

    assert response.status_code == 403


def test_a_granted_scope_lets_the_call_through(bob_api):
    response = bob_api.post(
        f"{API}/events/", {"type": "page_view", "identifiers": {"anonymous_id": "cookie-1"}}, format="json"
    )

    assert response.status_code == 201


def test_head_needs_the_scope_of_get(bob_api, alice):
    assert bob_api.head(f"{API}/profiles/{alice.uuid}/").status_code == 403
