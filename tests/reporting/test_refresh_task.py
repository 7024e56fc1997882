"""The aggregates are rebuilt by a beat entry that a migration creates; purchase is the default conversion."""

import pytest
from django_celery_beat.models import PeriodicTask

from reporting.models import AttributionDay, ConversionType, RefreshLog
from reporting.tasks import reporting_refresh_task

pytestmark = pytest.mark.django_db


def test_beat_refreshes_the_reporting_figures_every_15_minutes():
    task = PeriodicTask.objects.get(task="reporting.tasks.reporting_refresh_task")

    assert task.enabled and (task.interval.every, task.interval.period) == (15, "minutes")
    assert list(ConversionType.objects.values_list("event_type", "is_active")) == [("purchase", True)]


def test_the_task_rebuilds_the_aggregates(story):
    AttributionDay.objects.all().delete()

    seconds = reporting_refresh_task()

    assert seconds >= 0 and RefreshLog.objects.count() == 2  # the story's refresh and this one
    assert AttributionDay.objects.filter(model="last_touch", conversions__gt=0).count() == 2


def test_an_inactive_conversion_type_is_not_counted(story):
    ConversionType.objects.update(is_active=False)

    reporting_refresh_task()

    assert not AttributionDay.objects.exists()
