"""Two partners reused by every test: Alice's agency (every scope) and Bob's web shop (a few).

Each has one API key; ``alice_api`` and ``bob_api`` are API clients that send it.
The people (alice, bob, charlie) are the suite's shared profiles (tests/conftest.py).
"""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from partners.models import Partner, Scope
from partners.services import api_key_create

API = "/api/v1"


def make_partner(name: str, slug: str, *, scopes: list[str], channel: str = "email", **fields) -> Partner:
    return Partner.objects.create(name=name, slug=slug, scopes=scopes, channel=channel, **fields)


def client_for(raw_key: str | None) -> APIClient:
    client = APIClient()
    if raw_key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """The rate limit counts calls in the cache: each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice_agency(db) -> Partner:
    return make_partner("Alice's agency", "alice-agency", scopes=list(Scope.values))


@pytest.fixture
def bob_shop(db) -> Partner:
    return make_partner("Bob's web shop", "bob-shop", scopes=[Scope.EVENTS_WRITE, Scope.PROFILES_WRITE])


@pytest.fixture
def alice_key(alice_agency) -> str:
    return api_key_create(partner=alice_agency, name="production")[1]


@pytest.fixture
def bob_key(bob_shop) -> str:
    return api_key_create(partner=bob_shop, name="production")[1]


@pytest.fixture
def alice_api(alice_key) -> APIClient:
    return client_for(alice_key)


@pytest.fixture
def bob_api(bob_key) -> APIClient:
    return client_for(bob_key)
