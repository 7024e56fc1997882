"""A destination's page shows what went through it per day: delivered and failed, its variants' sends included."""

import pytest
from django.urls import reverse

from activations.models import CampaignArm, DeliveryStatus
from activations.selectors import destination_delivery_history
from tests.activations.campaigns import audience, campaign_to, run_planned, segment_of, send_all, webhook
from tests.activations.conftest import Answer

pytestmark = pytest.mark.django_db


def test_delivered_and_failed_per_day_count_the_variants_that_send_through_it(receiver, admin_client):
    audience(30, consented=30)
    shop, other = webhook(receiver.url, batch_size=10), webhook(receiver.url, name="Other ESP")
    campaign = campaign_to(shop, segment_of("Lyon"))
    arm = CampaignArm.objects.create(campaign=campaign, name="B", share_percent=50, destination=other)
    receiver.script(Answer(status=400, body=b'{"error": "bad"}'))  # the first batch is refused for good
    run = run_planned(campaign)
    send_all(run)
    deliveries = run.deliveries.all()
    ours = deliveries.filter(arm=None)
    theirs = deliveries.filter(arm=arm)

    [today] = destination_delivery_history(destination=shop)
    assert (today.delivered, today.failed) == (
        ours.filter(status=DeliveryStatus.DELIVERED).count(),
        ours.filter(status=DeliveryStatus.FAILED).count(),
    )
    assert today.delivered + today.failed == ours.count()
    [theirs_today] = destination_delivery_history(destination=other)
    assert (theirs_today.delivered, theirs_today.failed) == (
        theirs.filter(status=DeliveryStatus.DELIVERED).count(),
        theirs.filter(status=DeliveryStatus.FAILED).count(),
    )
    assert (today.failed > 0) != (theirs_today.failed > 0)  # the refused batch, whichever variant it was

    page = admin_client.get(reverse("admin:activations_destination_change", args=[shop.pk])).content.decode()
    assert "Deliveries of the last 30 days" in page
    assert f"<td>{today.delivered}</td><td>{today.failed}</td>" in page
    empty = webhook(receiver.url, name="Unused")
    page = admin_client.get(reverse("admin:activations_destination_change", args=[empty.pk])).content.decode()
    assert "Nothing sent through this destination in the last 30 days." in page
