"""Celery entry points of scores: thin, they take ids and call one service."""

from celery import shared_task

from scores.models import ScoreDefinition
from scores.services import score_compute


@shared_task(name="scores.tasks.score_compute_task")
def score_compute_task(definition_id: int) -> int:
    """Compute one score (scheduled by beat, or asked for with "compute now"); returns the version id (0: none)."""
    definition = ScoreDefinition.objects.filter(pk=definition_id).first()
    if definition is None:
        return 0  # deleted since it was queued
    version = score_compute(definition=definition)
    return version.pk if version else 0
