"""A finished demo campaign, so that a new instance (``make run``) opens a report with ROI and uplift in it.

``demo_campaign_create`` works on the demo profiles (profiles.demo) through the
other apps' services, as a marketer's clicks would: a segment of the people who
accept emails, an email campaign with a 10 % control group sent to a CSV file
(no network: the file lands under CDP_EXPORT_DIR), then opens, clicks and
purchases after the send, and the reporting refresh.

Everything is drawn from one seed, the control group's included (the campaign's
control seed is set from it), so the same profiles give the same report. The
send is dated two days back, so that the purchases after it are in the past.
"""

import datetime
import random
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from activations.models import (
    Campaign,
    CampaignRun,
    CampaignStatus,
    ConnectorKind,
    Delivery,
    DeliveryStatus,
    Destination,
    RunTrigger,
)
from activations.services import (
    campaign_run_create,
    campaign_run_plan,
    campaign_save,
    delivery_batch_send,
    run_batches_ready,
)
from profiles.models import Channel, Identifier
from profiles.services import events_track_bulk
from reporting.models import RefreshLog
from reporting.services import email_open_record, link_click_record, reporting_refresh, tracked_link_get
from segments.models import RefreshEvery, RefreshTrigger, Segment
from segments.services import segment_refresh, segment_save

DEMO_SOURCE = "demo"
DEMO_SLUG = "demo-spring-newsletter"
SENT_DAYS_AGO = 2
SHOP_URL = "https://shop.example/spring"
# Who opens, clicks and buys in the days after the send (treated people), and who buys anyway (control group).
OPEN_RATE, CLICK_RATE = 0.45, 0.3  # click rate: of those who opened
BUY_RATE_CLICKED, BUY_RATE_NOT_CLICKED, BUY_RATE_CONTROL = 0.4, 0.1, 0.07
IDENTIFIER_PREFERENCE = {"email": 0, "crm_id": 1, "phone": 2, "anonymous_id": 3}


@dataclass(frozen=True)
class DemoCampaign:
    campaign: Campaign
    run: CampaignRun
    treated: int  # people sent to
    held_out: int  # control group
    purchases: int
    refresh: RefreshLog


def _identifiers(profile_ids: list[int]) -> dict[int, dict[str, str]]:
    """One identifier per person to track their events with (their email when they have one)."""
    chosen: dict[int, tuple[int, str, str]] = {}
    for profile_id, kind, value in Identifier.objects.filter(profile_id__in=profile_ids).values_list(
        "profile_id", "kind", "value"
    ):
        rank = IDENTIFIER_PREFERENCE.get(kind, 9)
        if profile_id not in chosen or (rank, kind, value) < chosen[profile_id]:
            chosen[profile_id] = (rank, kind, value)
    return {profile_id: {kind: value} for profile_id, (_rank, kind, value) in chosen.items()}


def _purchase(rng: random.Random, identifiers: dict[str, str], after: datetime.datetime, hours: float) -> dict:
    return {
        "type": "purchase",
        "identifiers": identifiers,
        "occurred_at": after + datetime.timedelta(hours=rng.uniform(1, hours)),
        "revenue": Decimal(rng.randrange(2500, 15000)) / 100,
        "currency": "EUR",
    }


@transaction.atomic
def demo_campaign_create(*, seed: int = 42, now: datetime.datetime | None = None) -> DemoCampaign:
    """Create, send and measure the demo campaign on the profiles there are (see the module's docstring)."""
    now = now or timezone.now()
    sent_at = now - datetime.timedelta(days=SENT_DAYS_AGO)
    rng = random.Random(seed)

    segment = Segment.objects.filter(name=_("Newsletter subscribers")).first()
    if segment is None:
        segment = segment_save(
            segment=Segment(
                name=_("Newsletter subscribers"),
                description=_("Everyone who accepts emails."),
                holdout_percent=Decimal("0"),  # the campaign keeps its own control group
                refresh_every=RefreshEvery.DAY,
            ),
            rules={"match": "all", "conditions": [{"field": "consent", "operator": "granted", "value": "email"}]},
            actor=DEMO_SOURCE,
        )
    segment_refresh(segment=segment, trigger=RefreshTrigger.RULES_CHANGED)

    # No service writes destinations (the admin saves the form): the CSV file connector needs no network.
    destination, _created = Destination.objects.get_or_create(
        name=_("Demo file (CSV)"), defaults={"kind": ConnectorKind.CSV_FILE, "settings": {}}
    )
    campaign = campaign_save(
        campaign=Campaign(
            name=_("Spring newsletter (demo)"),
            slug=DEMO_SLUG,
            description=_("An example: sent two days ago to the newsletter subscribers, 10 % kept as control group."),
            channel=Channel.EMAIL,
            destination=destination,
            content={
                "subject": _("Spring is here, {{ first_name }}"),
                "text": _("Our spring collection is out: %(url)s") % {"url": SHOP_URL},
            },
            holdout_percent=Decimal("10"),
            control_salt=f"demo-{seed}",
            fixed_cost=Decimal("200.00"),
            cost_per_send=Decimal("0.0500"),
        )
    )
    campaign.segments.add(segment)

    run = campaign_run_create(campaign=campaign, trigger=RunTrigger.MANUAL)
    run = campaign_run_plan(run=run, now=sent_at)
    for batch_id in run_batches_ready(run=run, now=sent_at):
        delivery_batch_send(batch_id=batch_id, now=sent_at)
    run.refresh_from_db()
    campaign.status = CampaignStatus.FINISHED
    campaign_save(campaign=campaign)

    deliveries = list(Delivery.objects.filter(run=run).order_by("profile_id"))
    treated = [delivery for delivery in deliveries if delivery.status == DeliveryStatus.DELIVERED]
    held_out = [delivery for delivery in deliveries if delivery.status == DeliveryStatus.HELD_OUT]
    identifiers = _identifiers([delivery.profile_id for delivery in deliveries])
    link = tracked_link_get(url=SHOP_URL)
    hours = SENT_DAYS_AGO * 24 - 2  # purchases end two hours before now
    purchases = []
    for delivery in treated:
        clicked = False
        if rng.random() < OPEN_RATE:
            opened_at = sent_at + datetime.timedelta(minutes=rng.uniform(5, 600))
            email_open_record(delivery=delivery, user_agent="Demo", now=opened_at)
            if rng.random() < CLICK_RATE:
                clicked = True
                link_click_record(delivery=delivery, link=link, user_agent="Demo", now=opened_at)
        if rng.random() < (BUY_RATE_CLICKED if clicked else BUY_RATE_NOT_CLICKED):
            purchases.append(_purchase(rng, identifiers[delivery.profile_id], sent_at, hours))
    for delivery in held_out:
        if rng.random() < BUY_RATE_CONTROL and delivery.profile_id in identifiers:
            purchases.append(_purchase(rng, identifiers[delivery.profile_id], sent_at, hours))
    events_track_bulk(events=purchases, source=DEMO_SOURCE)

    refresh = reporting_refresh(now=now)
    return DemoCampaign(
        campaign=campaign,
        run=run,
        treated=len(treated),
        held_out=len(held_out),
        purchases=len(purchases),
        refresh=refresh,
    )
