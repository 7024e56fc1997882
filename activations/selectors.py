"""Reads on campaigns: what the admin home shows."""

import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from activations.models import CampaignRun, DeliveryStatus


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
