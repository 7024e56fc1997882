"""What campaigns do when something happened elsewhere: triggered sends. Each receiver calls a service."""

import logging

from django.db import transaction

from activations.models import Campaign, CampaignStatus, RunTrigger, ScheduleKind
from activations.services import campaign_trigger, consent_withdrawal_propagate

logger = logging.getLogger(__name__)
ACTIVE = (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING)


def _queue(batch_ids: list[int]) -> None:
    from activations.tasks import delivery_batch_send_task

    for batch_id in batch_ids:
        delivery_batch_send_task.delay(batch_id)


def campaigns_on_event(sender, *, profile_id: int, event_type: str, **kwargs) -> None:  # noqa: ANN001, ANN003
    """An event arrived: campaigns triggered by its type plan a send for that person (after their wait)."""
    campaigns = Campaign.objects.filter(schedule=ScheduleKind.EVENT, trigger_event_type=event_type, status__in=ACTIVE)
    for campaign in campaigns.select_related("destination"):
        try:
            batch_ids = campaign_trigger(campaign=campaign, profile_ids=[profile_id], trigger=RunTrigger.EVENT)
        except Exception:
            logger.exception("Campaign %s could not be triggered for profile %s", campaign.pk, profile_id)
            continue
        transaction.on_commit(lambda batch_ids=batch_ids: _queue(batch_ids))


def campaigns_on_events(sender, *, events: list[tuple[int, str]], **kwargs) -> None:  # noqa: ANN001, ANN003
    """A batch of events committed: each campaign triggered by one of their types plans a send for those people."""
    people_by_type: dict[str, list[int]] = {}
    for profile_id, event_type in events:
        people_by_type.setdefault(event_type, []).append(profile_id)
    campaigns = Campaign.objects.filter(
        schedule=ScheduleKind.EVENT, trigger_event_type__in=people_by_type, status__in=ACTIVE
    )
    for campaign in campaigns.select_related("destination"):
        profile_ids = people_by_type[campaign.trigger_event_type]
        try:
            batch_ids = campaign_trigger(campaign=campaign, profile_ids=profile_ids, trigger=RunTrigger.EVENT)
        except Exception:
            logger.exception("Campaign %s could not be triggered for %s profiles", campaign.pk, len(profile_ids))
            continue
        transaction.on_commit(lambda batch_ids=batch_ids: _queue(batch_ids))


def campaigns_on_segment_change(sender, *, segment, entered: list[int], **kwargs) -> None:  # noqa: ANN001, ANN003
    """People entered a segment: campaigns triggered by entering it plan a send for them."""
    if not entered:
        return
    campaigns = Campaign.objects.filter(schedule=ScheduleKind.SEGMENT_ENTRY, segments=segment, status__in=ACTIVE)
    for campaign in campaigns.select_related("destination"):
        try:
            batch_ids = campaign_trigger(campaign=campaign, profile_ids=entered, trigger=RunTrigger.SEGMENT_ENTRY)
        except Exception:
            logger.exception("Campaign %s could not be triggered by segment %s", campaign.pk, segment.pk)
            continue
        transaction.on_commit(lambda batch_ids=batch_ids: _queue(batch_ids))


def destinations_on_withdrawal(sender, *, profile_id: int, channel: str, address: str, **kwargs) -> None:  # noqa: ANN001, ANN003
    """A consent was withdrawn: destinations that keep their own lists are told (queued, retried)."""
    from activations.tasks import withdrawal_notice_send_task

    with transaction.atomic():
        notice_ids = consent_withdrawal_propagate(profile_id=profile_id, channel=channel, address=address)
    for notice_id in notice_ids:
        withdrawal_notice_send_task.delay(notice_id)
