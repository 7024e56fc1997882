"""Named people reused by every test: alice, bob and charlie."""

import pytest
from django.utils import translation

from cdp.celery import app
from profiles.models import MergeReason, Profile
from profiles.services import profile_resolve, profile_update

# Tasks the tests queue stay in this process: never in the broker a `make run` worker reads.
app.conf.broker_url = "memory://"

ALICE_EMAIL = "alice.martin@example.fr"
BOB_PHONE = "+33612345678"


def make_profile(*, identifiers: dict, source: str = "test", **fields) -> Profile:
    profile = profile_resolve(identifiers=identifiers, source=source, reason=MergeReason.MANUAL).profile
    if fields:
        profile_update(profile=profile, fields=fields)
    return profile


@pytest.fixture(autouse=True)
def english_after_each_test():
    """A request in French switches the thread's language: give the next test English back."""
    yield
    translation.deactivate()


@pytest.fixture
def alice(db) -> Profile:
    return make_profile(
        identifiers={"email": ALICE_EMAIL, "crm_id": "CRM-001"},
        first_name="Alice",
        last_name="Martin",
        city="Lyon",
        country="FR",
    )


@pytest.fixture
def bob(db) -> Profile:
    return make_profile(identifiers={"phone": BOB_PHONE}, first_name="Bob", last_name="Durand", city="Nantes")


@pytest.fixture
def charlie(db) -> Profile:
    return make_profile(identifiers={"anonymous_id": "cookie-charlie-42"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The browser tests last: Playwright's browser, kept for the rest of the session once started, runs an event
    loop in this thread, and Django refuses database calls from a thread with a running loop."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/e2e/"))
