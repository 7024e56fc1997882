"""Reads on campaigns: what the admin home and the destination pages show."""

import datetime
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from activations.models import BatchStatus, CampaignRun, Delivery, DeliveryStatus, Destination


def run_batches_done() -> Count:
    """A run's progress, to annotate its rows with: its batches that are over, sent or given up."""
    return Count(
        "delivery_batches",
        filter=Q(delivery_batches__status__in=[BatchStatus.DONE, BatchStatus.FAILED]),
        distinct=True,  # beside other counts over the run's deliveries
    )


def campaign_runs_needing_attention(*, now: datetime.datetime | None = None, days: int = 7) -> QuerySet[CampaignRun]:
    """Runs of the last ``days`` days flagged for their failure rate, with their counts (one query)."""
    since = (now or timezone.now()) - datetime.timedelta(days=days)
    return (
        CampaignRun.objects.filter(alerted_at__gte=since)
        .select_related("campaign")
        .annotate(
            failed=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED)),
            attempted=Count(
                "deliveries",
                filter=Q(deliveries__status__in=[DeliveryStatus.FAILED, DeliveryStatus.SENT, DeliveryStatus.DELIVERED]),
            ),
        )
        .order_by("-alerted_at")
    )


@dataclass(frozen=True)
class DayDeliveries:
    day: datetime.date
    delivered: int  # accepted by the destination (delivered, or sent where the peer does not confirm)
    failed: int


def destination_delivery_history(
    *, destination: Destination, days: int = 30, now: datetime.datetime | None = None
) -> list[DayDeliveries]:
    """Delivered and failed deliveries through ``destination`` per day (the day they were planned), newest first.

    A delivery goes through its variant's destination, or the campaign's when
    the variant has none. Days without any are left out. One query.
    """
    since = (now or timezone.now()) - datetime.timedelta(days=days)
    through = Q(arm__destination=destination) | Q(arm__destination__isnull=True, run__campaign__destination=destination)
    rows = (
        Delivery.objects.filter(through, created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            delivered=Count("pk", filter=Q(status__in=[DeliveryStatus.DELIVERED, DeliveryStatus.SENT])),
            failed=Count("pk", filter=Q(status=DeliveryStatus.FAILED)),
        )
        .filter(Q(delivered__gt=0) | Q(failed__gt=0))
        .order_by("-day")
    )
    return [DayDeliveries(day=row["day"], delivered=row["delivered"], failed=row["failed"]) for row in rows]
