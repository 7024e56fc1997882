"""A small planted data set: campaigns, deliveries, clicks and purchases at known times.

Written straight into the tables (not through a send), so that every time and
amount is known and the expected figures can be worked out by hand.
"""

import datetime
from decimal import Decimal

from activations.models import Campaign, CampaignRun, ConnectorKind, Delivery, Destination
from profiles.models import Event, Profile
from reporting.models import LinkClick, TrackedLink

UTC = datetime.UTC


def at(day: int, hour: int = 12) -> datetime.datetime:
    """November 2026, in UTC (noon: the same day in Paris)."""
    return datetime.datetime(2026, 11, day, hour, tzinfo=UTC)


def campaign(name: str, channel: str, *, fixed_cost: str = "0", cost_per_send: str = "0", **fields) -> Campaign:
    destination, _created = Destination.objects.get_or_create(
        name=f"{channel} provider", defaults={"kind": ConnectorKind.WEBHOOK, "settings": {"url": "http://x"}}
    )
    return Campaign.objects.create(
        name=name,
        slug=name.lower().replace(" ", "-"),
        channel=channel,
        destination=destination,
        fixed_cost=Decimal(fixed_cost),
        cost_per_send=Decimal(cost_per_send),
        **fields,
    )


def run_of(campaign: Campaign) -> CampaignRun:
    return CampaignRun.objects.create(campaign=campaign, trigger="manual", status="finished")


def delivery(run: CampaignRun, profile: Profile, *, status: str = "sent", sent: datetime.datetime | None = None,
             planned: datetime.datetime | None = None, arm=None) -> Delivery:  # fmt: skip
    planned = planned or sent or at(1, 9)
    return Delivery.objects.create(
        run=run,
        profile=profile,
        channel=run.campaign.channel,
        status=status,
        created_at=planned,
        sent_at=sent if status in ("sent", "delivered") else None,
        arm=arm,
    )


def click(delivery: Delivery, when: datetime.datetime, url: str = "https://shop.example/") -> LinkClick:
    link, _created = TrackedLink.objects.get_or_create(url=url, defaults={"url_hash": str(hash(url))})
    return LinkClick.objects.create(
        delivery=delivery, link=link, profile_id=delivery.profile_id, first_clicked_at=when, last_clicked_at=when
    )


def purchase(profile: Profile, when: datetime.datetime, revenue: str, type: str = "purchase") -> Event:  # noqa: A002
    return Event.objects.create(
        profile=profile, type=type, occurred_at=when, revenue=Decimal(revenue), currency="EUR", source="shop"
    )


def people(count: int, prefix: str) -> list[Profile]:
    return Profile.objects.bulk_create([Profile(first_name=f"{prefix}{index}") for index in range(count)])
