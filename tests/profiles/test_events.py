import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from profiles.models import Event, Identifier, Profile
from profiles.services import event_track, profile_set_do_not_track
from tests.conftest import ALICE_EMAIL

pytestmark = pytest.mark.django_db


def test_an_event_is_kept_on_the_profile_of_its_identifiers(alice):
    at = timezone.now() - datetime.timedelta(hours=2)

    event = event_track(
        type="purchase",
        identifiers={"email": ALICE_EMAIL.upper()},
        source="shop",
        occurred_at=at,
        properties={"order_id": "A-1", "items": 2},
        revenue="89.9",
        currency="eur",
    )

    event.refresh_from_db()
    assert event.profile == alice
    assert (event.type, event.occurred_at, event.source) == ("purchase", at, "shop")
    assert event.revenue == Decimal("89.90")
    assert event.currency == "EUR"
    assert event.properties == {"order_id": "A-1", "items": 2}


def test_an_event_from_an_unknown_visitor_creates_an_anonymous_profile(db):
    event = event_track(
        type="page_view", identifiers={"anonymous_id": "cookie-new"}, source="web", properties={"url": "/soldes"}
    )

    assert list(event.profile.identifiers.values_list("kind", "value")) == [("anonymous_id", "cookie-new")]
    assert event.revenue is None and event.currency == ""


def test_the_same_message_sent_twice_is_kept_once(alice):
    first = event_track(type="page_view", identifiers={"email": ALICE_EMAIL}, source="web", message_id="msg-1")
    again = event_track(type="page_view", identifiers={"email": ALICE_EMAIL}, source="web", message_id="msg-1")

    assert first.pk == again.pk
    assert Event.objects.count() == 1


def test_nothing_is_kept_for_a_person_who_refused_tracking(alice):
    event_track(type="page_view", identifiers={"email": ALICE_EMAIL}, source="web")

    profile_set_do_not_track(profile=alice, value=True, actor="alice herself")
    dropped = event_track(
        type="page_view", identifiers={"email": ALICE_EMAIL, "anonymous_id": "cookie-a"}, source="web"
    )

    assert dropped is None
    assert not Event.objects.exists()  # what was kept before is deleted too
    assert not Identifier.objects.filter(kind="anonymous_id").exists()  # and the cookie is not linked


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"type": "Page View"}, "type"),
        ({"type": ""}, "type"),
        ({"type": "purchase", "revenue": "douze euros"}, "revenue"),
        ({"type": "purchase", "revenue": "NaN"}, "revenue"),
        ({"type": "purchase", "revenue": "10", "currency": "euro"}, "currency"),
        ({"type": "page_view", "occurred_at": datetime.datetime(2026, 1, 1)}, "occurred_at"),
        ({"type": "page_view", "properties": ["not", "an", "object"]}, "properties"),
        ({"type": "page_view", "identifiers": {"email": "nope"}}, "email"),
        ({"type": "page_view", "identifiers": {}}, "identifiers"),
    ],
)
def test_bad_events_are_refused_naming_the_field_and_change_nothing(alice, kwargs, field):
    kwargs = {"identifiers": {"email": ALICE_EMAIL}, "source": "web", **kwargs}

    with pytest.raises(ValidationError) as error:
        event_track(**kwargs)

    assert field in error.value.message_dict
    assert not Event.objects.exists()
    assert Profile.objects.count() == 1
