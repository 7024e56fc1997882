"""Triggered campaigns: the cart-abandonment email, and a welcome on entering a segment."""

import datetime

import pytest
from django.utils import timezone

from activations.models import Campaign, Delivery, DeliveryBatch, DeliveryStatus
from activations.services import campaign_save, delivery_batch_send
from profiles.services import event_track
from tests.activations.campaigns import audience, segment_of, webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def cart_abandonment(receiver):
    campaign = Campaign(
        name="Cart abandonment", slug="cart-abandonment", destination=webhook(receiver.url), channel="email",
        holdout_percent=0, schedule="event", trigger_event_type="add_to_cart", trigger_delay_minutes=120,
        cancel_event_type="purchase", content={"subject": "You forgot something"},
    )  # fmt: skip
    return campaign_save(campaign=campaign)


def due_batches_sent(after: datetime.timedelta) -> None:
    """What the sweeper does once ``after`` has passed: send every batch whose time has come."""
    later = timezone.now() + after
    for batch_id in DeliveryBatch.objects.filter(status__in=["pending", "retrying"]).values_list("pk", flat=True):
        delivery_batch_send(batch_id=batch_id, now=later)


def track(email: str, event_type: str, callbacks) -> None:
    with callbacks(execute=True):
        event_track(type=event_type, identifiers={"email": email}, source="shop")


def test_no_purchase_within_the_wait_gives_exactly_one_email(
    cart_abandonment, receiver, django_capture_on_commit_callbacks
):
    audience(1, consented=1)
    track("lyon0@example.fr", "add_to_cart", django_capture_on_commit_callbacks)
    track("lyon0@example.fr", "add_to_cart", django_capture_on_commit_callbacks)  # a second item: still one email

    due_batches_sent(datetime.timedelta(minutes=30))
    assert receiver.requests == []  # the wait is not over

    due_batches_sent(datetime.timedelta(minutes=121))
    due_batches_sent(datetime.timedelta(minutes=200))

    assert [r["address"] for request in receiver.accepted() for r in request.json()["recipients"]] == [
        "lyon0@example.fr"
    ]
    assert Delivery.objects.get().status == DeliveryStatus.DELIVERED


def test_a_purchase_within_the_wait_cancels_the_email(cart_abandonment, receiver, django_capture_on_commit_callbacks):
    audience(1, consented=1)
    track("lyon0@example.fr", "add_to_cart", django_capture_on_commit_callbacks)
    track("lyon0@example.fr", "purchase", django_capture_on_commit_callbacks)

    due_batches_sent(datetime.timedelta(minutes=121))

    assert receiver.requests == []
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.error) == (
        DeliveryStatus.CANCELLED,
        "Cancelled: “purchase” happened during the wait.",
    )


def test_no_consent_no_email_on_the_triggered_path_too(cart_abandonment, receiver, django_capture_on_commit_callbacks):
    audience(1, consented=0)
    track("lyon0@example.fr", "add_to_cart", django_capture_on_commit_callbacks)

    due_batches_sent(datetime.timedelta(minutes=121))

    assert receiver.requests == []
    assert Delivery.objects.get().status == DeliveryStatus.SUPPRESSED_NO_CONSENT


def test_a_paused_triggered_campaign_sends_nothing(cart_abandonment, receiver, django_capture_on_commit_callbacks):
    audience(1, consented=1)
    cart_abandonment.status = "paused"
    campaign_save(campaign=cart_abandonment)

    track("lyon0@example.fr", "add_to_cart", django_capture_on_commit_callbacks)

    assert not Delivery.objects.exists()


def test_entering_a_segment_triggers_a_welcome(receiver, django_capture_on_commit_callbacks):
    from profiles.services import consent_record
    from segments.services import segment_refresh
    from tests.conftest import make_profile

    audience(2, consented=2)
    lyon = segment_of("Lyon")  # refreshed once: its two members are not newcomers
    welcome = Campaign(
        name="Welcome", slug="welcome", destination=webhook(receiver.url), channel="email", holdout_percent=0,
        schedule="segment_entry",
    )  # fmt: skip
    campaign_save(campaign=welcome)
    welcome.segments.set([lyon])
    newcomer = make_profile(identifiers={"email": "new@example.fr"}, city="Lyon")
    consent_record(profile=newcomer, channel="email", status="granted", address="new@example.fr", source="form")

    with django_capture_on_commit_callbacks(execute=True):
        segment_refresh(segment=lyon)
    due_batches_sent(datetime.timedelta(seconds=1))

    assert [r["address"] for request in receiver.accepted() for r in request.json()["recipients"]] == ["new@example.fr"]
    assert Delivery.objects.get(run__campaign=welcome).status == DeliveryStatus.DELIVERED
