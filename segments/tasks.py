"""Celery entry points of segments: thin, they take ids and call one service."""

from celery import shared_task
from django.conf import settings

from segments.models import RefreshTrigger, Segment, SegmentRefresh
from segments.services import segment_refresh


# Past the soft limit, Celery raises inside the refresh, which rolls back and records the failure.
@shared_task(name="segments.tasks.segment_refresh_task", soft_time_limit=settings.CDP_SEGMENT_REFRESH_TIME_LIMIT)
def segment_refresh_task(segment_id: int, refresh_id: int | None = None, trigger: str = RefreshTrigger.SCHEDULE) -> int:
    """Full refresh of one segment (scheduled by beat, or asked for with "refresh now"); returns the refresh id."""
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        return 0  # deleted since it was queued
    refresh = SegmentRefresh.objects.filter(pk=refresh_id).first() if refresh_id else None
    return segment_refresh(segment=segment, trigger=trigger, refresh=refresh).pk
