"""Celery entry points of campaigns: thin, they take ids and call one service."""

from celery import shared_task

from activations.audiences import audience_removal_send, audience_removals_due
from activations.models import BatchStatus, CampaignRun, RunStatus
from activations.services import (
    campaign_run_plan,
    campaign_runs_finish,
    delivery_batch_send,
    delivery_batches_due,
    run_batches_ready,
    withdrawal_notice_send,
    withdrawal_notices_due,
)

# Retries further away than this wait for the sweeper (every minute), not in the broker: a broker
# holding a message for hours may hand it out twice, and a sweeper loses nothing if the broker does.
COUNTDOWN_MAX = 600


@shared_task(name="activations.tasks.campaign_run_task")
def campaign_run_task(run_id: int) -> int:
    """Plan the run, then queue its batches due now; returns how many were queued."""
    run = campaign_run_plan(run=CampaignRun.objects.get(pk=run_id))
    if run.status != RunStatus.SENDING:
        return 0
    # Batches kept for their people's best hour are left to the sweeper, which queues them when it comes.
    batch_ids = run_batches_ready(run=run)
    for batch_id in batch_ids:
        delivery_batch_send_task.delay(batch_id)
    return len(batch_ids)


@shared_task(name="activations.tasks.delivery_batch_send_task")
def delivery_batch_send_task(batch_id: int) -> str:
    batch = delivery_batch_send(batch_id=batch_id)
    if batch is None:
        return "locked or gone"
    if batch.status == BatchStatus.RETRYING and batch.next_attempt_at is not None:
        from django.utils import timezone

        delay = (batch.next_attempt_at - timezone.now()).total_seconds()
        if delay <= COUNTDOWN_MAX:
            delivery_batch_send_task.apply_async((batch_id,), countdown=max(0.0, delay))
    return batch.status


@shared_task(name="activations.tasks.delivery_batches_due_task")
def delivery_batches_due_task() -> int:
    """Every minute (beat): queue the batches and withdrawal notices whose retry is due, or whose message was lost.

    Also finishes the runs whose batches are all done, should a crash have left one sending.
    """
    campaign_runs_finish(runs=CampaignRun.objects.all())
    due = delivery_batches_due()
    for batch_id in due:
        delivery_batch_send_task.delay(batch_id)
    notices = withdrawal_notices_due()
    for notice_id in notices:
        withdrawal_notice_send_task.delay(notice_id)
    removals = audience_removals_due()
    for removal_id in removals:
        audience_removal_send_task.delay(removal_id)
    return len(due) + len(notices) + len(removals)


@shared_task(name="activations.tasks.withdrawal_notice_send_task")
def withdrawal_notice_send_task(notice_id: int) -> str:
    notice = withdrawal_notice_send(notice_id=notice_id)
    return notice.status if notice else "gone"


@shared_task(name="activations.tasks.audience_removal_send_task")
def audience_removal_send_task(removal_id: int) -> str:
    removal = audience_removal_send(removal_id=removal_id)
    return removal.status if removal else "gone"


@shared_task(name="activations.tasks.campaign_scheduled_task")
def campaign_scheduled_task(campaign_id: int) -> int | None:
    """Beat, at the campaign's time: start a run (nothing when the campaign is paused or gone)."""
    from activations.models import Campaign, CampaignStatus, RunTrigger
    from activations.services import campaign_run_start

    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.status == CampaignStatus.PAUSED:
        return None
    return campaign_run_start(campaign=campaign, trigger=RunTrigger.SCHEDULE).pk
