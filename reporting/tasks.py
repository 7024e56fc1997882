"""Celery tasks of reporting: thin, they call one service."""

from celery import shared_task

from reporting.services import reporting_refresh


@shared_task(name="reporting.tasks.reporting_refresh_task")
def reporting_refresh_task() -> float:
    """Rebuild the dashboard's aggregates (Celery beat, every 15 minutes); returns the seconds it took."""
    return reporting_refresh().seconds
