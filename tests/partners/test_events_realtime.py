"""A batch of events drives real-time segments and event-triggered campaigns as single events do."""

from decimal import Decimal

import pytest

from activations.models import Campaign, Delivery
from activations.services import campaign_save
from segments.models import Segment, SegmentMembership
from segments.services import segment_save
from tests.activations.campaigns import audience, webhook
from tests.partners.conftest import API

pytestmark = pytest.mark.django_db

ADDED_TO_CART = {
    "match": "all",
    "conditions": [
        {"field": "event", "event_type": "add_to_cart", "operator": "did", "window": "last_days", "days": 1}
    ],
}


@pytest.fixture
def cart_segment(db) -> Segment:
    return segment_save(
        segment=Segment(name="Added to cart today", refresh_every="never", holdout_percent=Decimal("0")),
        rules=ADDED_TO_CART,
    )


@pytest.fixture
def cart_abandonment(db) -> Campaign:
    campaign = Campaign(
        name="Cart abandonment", slug="cart-abandonment", destination=webhook("http://127.0.0.1:9/"),
        channel="email", holdout_percent=0, schedule="event", trigger_event_type="add_to_cart",
        trigger_delay_minutes=120, content={"subject": "You forgot something"},
    )  # fmt: skip
    return campaign_save(campaign=campaign)


def test_a_batch_puts_people_in_real_time_segments_and_triggers_their_campaigns(
    alice_api, cart_segment, cart_abandonment, django_capture_on_commit_callbacks
):
    lyon0, lyon1, lyon2 = audience(3, consented=3)
    events = [
        {"type": "page_view", "identifiers": {"email": "lyon0@example.fr"}},
        {"type": "add_to_cart", "identifiers": {"email": "lyon0@example.fr"}},
        {"type": "add_to_cart", "identifiers": {"email": "lyon0@example.fr"}},  # a second item: still one email
        {"type": "add_to_cart", "identifiers": {"email": "lyon1@example.fr"}},
        {"type": "page_view", "identifiers": {"email": "lyon2@example.fr"}},
    ]

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(f"{API}/events/batch/", {"events": events}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["recorded"] == 5
    members = set(SegmentMembership.objects.filter(segment=cart_segment).values_list("profile_id", flat=True))
    assert members == {lyon0.pk, lyon1.pk}
    planned = sorted(Delivery.objects.filter(run__campaign=cart_abandonment).values_list("profile_id", flat=True))
    assert planned == [lyon0.pk, lyon1.pk]
