"""Helpers shared by the campaign tests: an audience with known consents, a webhook campaign, sending to the end."""

import datetime
from decimal import Decimal

from django.utils import timezone

from activations.models import Campaign, CampaignRun, ConnectorKind, DeliveryBatch, Destination
from activations.services import campaign_run_create, campaign_run_plan, delivery_batch_send
from profiles.models import Profile
from profiles.services import consent_record
from segments.models import Segment
from segments.services import segment_refresh, segment_save
from tests.conftest import make_profile

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def audience(size: int, *, consented: int, city: str = "Lyon") -> list[Profile]:
    """``size`` people in ``city`` with an email; the first ``consented`` accept email."""
    people = []
    for index in range(size):
        profile = make_profile(identifiers={"email": f"{city.lower()}{index}@example.fr"}, city=city)
        if index < consented:
            consent_record(
                profile=profile, channel="email", status="granted", address=f"{city.lower()}{index}@example.fr",
                source="form",
            )  # fmt: skip
        people.append(profile)
    return people


def segment_of(city: str, *, holdout: str = "0") -> Segment:
    segment = segment_save(
        segment=Segment(name=f"In {city}", refresh_every="never", holdout_percent=Decimal(holdout)),
        rules={"match": "all", "conditions": [{"field": "city", "operator": "equals", "value": city}]},
    )
    segment_refresh(segment=segment)
    return segment


def webhook(url: str, *, batch_size: int = 500, name: str = "Shop ESP", **settings) -> Destination:
    return Destination.objects.create(
        name=name,
        kind=ConnectorKind.WEBHOOK,
        settings={"url": url, "batch_size": batch_size, "timeout": 1, **settings},
        secrets={"signing_secret": SECRET},
    )


def campaign_to(destination: Destination, *segments: Segment, name: str = "Spring sale", **fields) -> Campaign:
    fields.setdefault("holdout_percent", Decimal("0"))
    fields.setdefault("channel", "email")
    campaign = Campaign.objects.create(
        name=name, slug=name.lower().replace(" ", "-"), destination=destination,
        content={"subject": "Hello {{ first_name }}"}, **fields,
    )  # fmt: skip
    campaign.segments.set(segments)
    return campaign


def run_planned(campaign: Campaign, now: datetime.datetime | None = None) -> CampaignRun:
    return campaign_run_plan(run=campaign_run_create(campaign=campaign, trigger="manual"), now=now)


def send_all(run: CampaignRun, *, attempts: int = 50) -> None:
    """Send every batch of the run to the end, as the workers would, without waiting for the retry delays."""
    later = timezone.now()
    for _attempt in range(attempts):
        later += datetime.timedelta(days=1)
        open_batches = DeliveryBatch.objects.filter(run=run, status__in=["pending", "retrying"])
        if not open_batches.exists():
            return
        for batch_id in open_batches.values_list("pk", flat=True):
            delivery_batch_send(batch_id=batch_id, now=later)
    raise AssertionError("the run did not finish")
