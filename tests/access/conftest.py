"""Logins reused by the access tests: marie the marketer, paul the administrator, sam the staff member with no role."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from access.roles import ADMINISTRATOR, MARKETER
from tests.activations.conftest import receiver  # noqa: F401 (a real webhook server on loopback)


def staff_login(client: Client, username: str, *groups: str) -> Client:
    user = get_user_model().objects.create_user(username, password="not-used", is_staff=True)
    user.groups.add(*Group.objects.filter(name__in=groups))
    client.force_login(user)
    return client


@pytest.fixture
def marie(db, client) -> Client:
    """A browser logged in as marie, a staff user in the Marketer group."""
    return staff_login(client, "marie", MARKETER.name)


@pytest.fixture
def paul(db, client) -> Client:
    """A browser logged in as paul, a staff user in the Administrator group (not a superuser)."""
    return staff_login(client, "paul", ADMINISTRATOR.name)


@pytest.fixture
def sam(db, client) -> Client:
    """A browser logged in as sam, a staff user in no group."""
    return staff_login(client, "sam")
