"""Campaigns: schedules kept as beat entries, a preview that is the plan, retrying failed deliveries."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from activations.models import CampaignRun, CampaignStatus, Delivery, DeliveryStatus
from activations.services import campaign_preview, campaign_run_retry_failed, campaign_run_start, campaign_save
from cdp.celery import app
from tests.activations.campaigns import audience, campaign_to, run_planned, segment_of, send_all, webhook
from tests.activations.conftest import Answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(receiver):
    audience(4, consented=3)
    return campaign_to(webhook(receiver.url), segment_of("Lyon"))


def test_a_weekly_schedule_becomes_a_beat_entry_that_beat_runs(campaign):
    campaign.schedule, campaign.recurrence = "recurring", "weekly"
    campaign.send_time, campaign.send_weekday = datetime.time(9, 30), 2
    campaign_save(campaign=campaign)

    task = PeriodicTask.objects.get(pk=campaign.schedule_task_id)
    assert (task.task, task.args, task.enabled) == (
        "activations.tasks.campaign_scheduled_task",
        f"[{campaign.pk}]",
        True,
    )
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("30", "9", "2")
    assert campaign.status == CampaignStatus.SCHEDULED
    # Celery beat's own scheduler reads it from the database: Wednesday 9:30, Paris time.
    entry = DatabaseScheduler(app=app, lazy=True).Entry(task, app=app)
    assert entry.task == "activations.tasks.campaign_scheduled_task"
    assert (entry.schedule.hour, entry.schedule.minute, entry.schedule.day_of_week) == ({9}, {30}, {2})
    assert str(entry.schedule.tz) == "Europe/Paris"

    campaign.status = CampaignStatus.PAUSED
    campaign_save(campaign=campaign)
    task.refresh_from_db()
    assert not task.enabled

    campaign.schedule = "manual"
    campaign_save(campaign=campaign)
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()


def test_a_send_once_is_a_one_off_clocked_entry(campaign):
    at = timezone.now() + datetime.timedelta(days=3)
    campaign.schedule, campaign.send_at = "once", at
    campaign_save(campaign=campaign)

    task = PeriodicTask.objects.get(pk=campaign.schedule_task_id)
    assert task.one_off and task.clocked.clocked_time == at


def test_a_schedule_without_its_time_is_refused_naming_the_field(campaign):
    campaign.schedule, campaign.recurrence = "recurring", "monthly"
    with pytest.raises(ValidationError) as caught:
        campaign_save(campaign=campaign)
    assert caught.value.message_dict == {
        "send_time": ["Give the time of day of the send."],
        "send_monthday": ["Choose the day of the month."],
    }


def test_the_scheduled_task_starts_a_run_that_sends(campaign, receiver, django_capture_on_commit_callbacks, settings):
    from activations.tasks import campaign_scheduled_task

    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            run_id = campaign_scheduled_task(campaign.pk)
    finally:
        app.conf.task_always_eager = False
    run = CampaignRun.objects.get(pk=run_id)
    assert (run.trigger, run.status) == ("schedule", "finished")
    assert Delivery.objects.filter(run=run, status=DeliveryStatus.DELIVERED).count() == 3
    assert len(receiver.accepted()) == 1


def test_a_paused_campaign_does_not_start(campaign):
    campaign.status = CampaignStatus.PAUSED
    campaign.save()
    with pytest.raises(ValidationError, match="paused"):
        campaign_run_start(campaign=campaign, trigger="manual")


def test_the_preview_counts_what_a_run_would_do_and_keeps_nothing(campaign):
    preview = campaign_preview(campaign=campaign)

    assert preview.counts == {"pending": 3, "suppressed_no_consent": 1}
    assert preview.samples["suppressed_no_consent"][0].error == "No consent for this channel."
    assert preview.samples["pending"][0].profile.city == "Lyon"
    assert not CampaignRun.objects.exists() and not Delivery.objects.exists()


def test_retrying_failed_deliveries_sends_them_again(campaign, receiver, settings):
    settings.CDP_DELIVERY_RETRY_SCHEDULE = []
    receiver.script(Answer(status=503))
    run = run_planned(campaign)
    send_all(run)
    assert Delivery.objects.filter(run=run, status=DeliveryStatus.FAILED).count() == 3

    assert campaign_run_retry_failed(run=run) == 3
    send_all(run)

    assert Delivery.objects.filter(run=run, status=DeliveryStatus.DELIVERED).count() == 3
    run.refresh_from_db()
    assert run.status == "finished"
