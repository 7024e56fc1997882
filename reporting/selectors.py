"""Reads of reporting: what a tracked link points to, and the reports the dashboard shows.

Reports read the aggregate tables (``reporting.services.reporting_refresh``), so
they stay fast however many events there are. Money is Decimal throughout;
rates and ROI are Decimal ratios (None when their denominator is zero).
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q, Sum
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek
from django.utils import timezone

from activations.models import Campaign, CampaignArm, CampaignRun, Delivery
from reporting.links import target_with_utm
from reporting.models import (
    AttributionDay,
    AttributionModel,
    CampaignDay,
    RefreshLog,
    RefreshRequest,
    TrackedLink,
    UpliftDay,
    UpliftGroup,
)
from reporting.stats import Comparison, means_compare, proportions_compare

CENT = Decimal("0.01")


@dataclass(frozen=True)
class ClickDestination:
    delivery: Delivery
    link: TrackedLink
    redirect_to: str


def click_destination(*, delivery_id: int, link_id: int) -> ClickDestination | None:
    """The delivery and link a click token names, and the target with its UTM parameters; None if gone."""
    delivery = (
        Delivery.objects.filter(pk=delivery_id)
        .select_related("run__campaign__destination", "arm__destination")
        .only(
            "pk",
            "profile_id",
            "channel",
            "run__campaign__slug",
            "run__campaign__destination__name",
            "arm__destination__name",
        )
        .first()
    )
    link = TrackedLink.objects.filter(pk=link_id).first()
    if delivery is None or link is None:
        return None
    campaign = delivery.run.campaign
    destination = delivery.arm.destination if delivery.arm and delivery.arm.destination else campaign.destination
    redirect_to = target_with_utm(link.url, source=destination.name, medium=delivery.channel, campaign=campaign.slug)
    return ClickDestination(delivery=delivery, link=link, redirect_to=redirect_to)


def delivery_for_open(*, delivery_id: int) -> Delivery | None:
    return Delivery.objects.filter(pk=delivery_id).only("pk", "profile_id").first()


# ---------------------------------------------------------------------------
# Reports


class Period:
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    TRUNC = {DAY: TruncDay, WEEK: TruncWeek, MONTH: TruncMonth}


@dataclass(frozen=True)
class ReportFilters:
    start: datetime.date | None = None
    end: datetime.date | None = None  # included
    channel: str = ""
    campaign_id: int | None = None
    segment_id: int | None = None
    model: str = AttributionModel.LAST_TOUCH
    period: str = Period.WEEK

    def days(self, prefix: str = "") -> Q:
        query = Q()
        if self.start:
            query &= Q(**{f"{prefix}day__gte": self.start})
        if self.end:
            query &= Q(**{f"{prefix}day__lte": self.end})
        return query

    def campaigns(self) -> Q:
        query = Q()
        if self.campaign_id:
            query &= Q(campaign_id=self.campaign_id)
        if self.segment_id:
            query &= Q(campaign__segments=self.segment_id)
        return query

    def scope(self, *, channel: bool = True) -> Q:
        query = self.days() & self.campaigns()
        if channel and self.channel:
            query &= Q(channel=self.channel)
        return query


def ratio(numerator: Any, denominator: Any, places: str = "0.0001") -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(str(numerator)) / Decimal(str(denominator))).quantize(Decimal(places))


@dataclass
class RoiRow:
    key: Any  # the campaign, the channel, or (period, channel)
    label: str = ""
    cost: Decimal = Decimal("0")
    sends: int = 0
    delivered: int = 0
    failed: int = 0
    clickers: int = 0
    clicks: int = 0
    openers: int = 0
    conversions: float = 0.0
    revenue: Decimal = Decimal("0")
    incremental_revenue: Decimal | None = None
    extra: dict = field(default_factory=dict)

    @property
    def roi(self) -> Decimal | None:
        return ratio(self.revenue - self.cost, self.cost)

    @property
    def incremental_roi(self) -> Decimal | None:
        if self.incremental_revenue is None:
            return None
        return ratio(self.incremental_revenue - self.cost, self.cost)

    @property
    def cost_per_acquisition(self) -> Decimal | None:
        if not self.conversions:
            return None
        return (self.cost / Decimal(str(self.conversions))).quantize(CENT)

    @property
    def conversion_rate(self) -> Decimal | None:
        return ratio(self.conversions, self.sends)

    @property
    def click_rate(self) -> Decimal | None:
        return ratio(self.clickers, self.sends)

    @property
    def open_rate(self) -> Decimal | None:
        return ratio(self.openers, self.sends)


def _incremental_by_campaign(filters: ReportFilters) -> dict[int, dict[Any, Decimal]]:
    """Incremental revenue per campaign and day: treatment revenue − control revenue × (treated / control people).

    Summed over a campaign's days it is (revenue per treated − revenue per control) × treated people,
    the incremental revenue of the uplift report; split by day it can be summed per period.
    """
    sizes: dict[int, dict[bool, int]] = defaultdict(dict)
    for group in (
        UpliftGroup.objects.filter(filters.campaigns())
        .values("campaign_id", "is_control")
        .annotate(people=Sum("profiles"))
    ):
        sizes[group["campaign_id"]][group["is_control"]] = group["people"]
    result: dict[int, dict[Any, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for day in UpliftDay.objects.filter(filters.days() & filters.campaigns()).values(
        "campaign_id", "is_control", "day", "revenue"
    ):
        group_sizes = sizes.get(day["campaign_id"], {})
        treated, control = group_sizes.get(False, 0), group_sizes.get(True, 0)
        if not treated or not control:
            continue
        share = day["revenue"] if not day["is_control"] else -day["revenue"] * Decimal(treated) / Decimal(control)
        result[day["campaign_id"]][day["day"]] += share
    return result


def roi_rows(filters: ReportFilters, *, by: str = "campaign") -> list[RoiRow]:
    """ROI per campaign (``by="campaign"``), per channel (``"channel"``) or per period and channel (``"period"``).

    Incremental revenue is given per campaign and per period of all channels; split
    by channel it is left empty when a campaign's variants use several channels.
    """
    trunc = Period.TRUNC.get(filters.period, TruncWeek)

    def key_of(row: dict) -> Any:
        if by == "campaign":
            return row["campaign_id"]
        if by == "channel":
            return row["channel"]
        return (row["period"], row["channel"])

    fields = ["campaign_id", "channel"]
    days = CampaignDay.objects.filter(filters.scope())
    credits = AttributionDay.objects.filter(filters.scope(), model=filters.model)
    if by == "period":
        days, credits = days.annotate(period=trunc("day")), credits.annotate(period=trunc("day"))
        fields.append("period")
    rows: dict[Any, RoiRow] = {}
    for row in days.values(*fields).annotate(
        cost_sum=Sum("cost"),
        sends_sum=Sum("sends"),
        delivered_sum=Sum("delivered"),
        failed_sum=Sum("failed"),
        clickers_sum=Sum("clickers"),
        clicks_sum=Sum("clicks"),
        openers_sum=Sum("openers"),
    ):
        target = rows.setdefault(key_of(row), RoiRow(key=key_of(row)))
        target.cost += row["cost_sum"] or Decimal("0")
        target.sends += row["sends_sum"] or 0
        target.delivered += row["delivered_sum"] or 0
        target.failed += row["failed_sum"] or 0
        target.clickers += row["clickers_sum"] or 0
        target.clicks += row["clicks_sum"] or 0
        target.openers += row["openers_sum"] or 0
    for row in credits.values(*fields).annotate(conversions_sum=Sum("conversions"), revenue_sum=Sum("revenue")):
        target = rows.setdefault(key_of(row), RoiRow(key=key_of(row)))
        target.conversions += row["conversions_sum"] or 0.0
        target.revenue += row["revenue_sum"] or Decimal("0")
    # Incremental revenue: per campaign, or per period / channel when each campaign sends on one channel.
    incremental = _incremental_by_campaign(filters)
    channels_of: dict[int, set[str]] = defaultdict(set)
    for row in CampaignDay.objects.filter(filters.campaigns()).values("campaign_id", "channel").distinct():
        channels_of[row["campaign_id"]].add(row["channel"])
    campaign_rows = Campaign.objects.filter(pk__in=set(incremental) | set(channels_of)).values("pk", "name")
    names = {campaign["pk"]: campaign["name"] for campaign in campaign_rows}
    for campaign_id, per_day in incremental.items():
        only_channel = next(iter(channels_of[campaign_id])) if len(channels_of[campaign_id]) == 1 else None
        if by != "campaign" and only_channel is None:
            continue
        if by != "campaign" and filters.channel and only_channel != filters.channel:
            continue
        for day, amount in per_day.items():
            if by == "campaign":
                key: Any = campaign_id
            elif by == "channel":
                key = only_channel
            else:
                key = (trunc_date(day, filters.period), only_channel)
            target = rows.setdefault(key, RoiRow(key=key))
            target.incremental_revenue = (target.incremental_revenue or Decimal("0")) + amount
    for row in rows.values():
        if row.incremental_revenue is not None:
            row.incremental_revenue = row.incremental_revenue.quantize(CENT)
        row.revenue = row.revenue.quantize(CENT)
        row.cost = row.cost.quantize(CENT)
        if by == "campaign":
            row.label = names.get(row.key, str(row.key))
    order = (lambda row: row.label.lower()) if by == "campaign" else (lambda row: str(row.key))
    return sorted(_normalise_period_keys(list(rows.values())), key=order)


def trunc_date(day: datetime.date, period: str) -> datetime.date:
    if period == Period.MONTH:
        return day.replace(day=1)
    if period == Period.WEEK:
        return day - datetime.timedelta(days=day.weekday())
    return day


def _normalise_period_keys(rows: list[RoiRow]) -> list[RoiRow]:
    """TruncWeek gives datetimes on some databases, dates on others: make every period a date."""
    for row in rows:
        if isinstance(row.key, tuple) and isinstance(row.key[0], datetime.datetime):
            row.key = (row.key[0].date(), row.key[1])
    return rows


# ---------------------------------------------------------------------------
# Uplift


@dataclass(frozen=True)
class GroupFigures:
    label: str
    profiles: int
    converters: int
    conversions: int
    revenue: Decimal
    revenue_squares: float

    @property
    def conversion_rate(self) -> float:
        return self.converters / self.profiles if self.profiles else 0.0

    @property
    def revenue_per_profile(self) -> Decimal:
        return (self.revenue / self.profiles).quantize(CENT) if self.profiles else Decimal("0")


@dataclass(frozen=True)
class UpliftLine:
    treatment: GroupFigures
    control: GroupFigures
    rate: Comparison
    revenue: Comparison

    @property
    def incremental_conversions(self) -> float:
        """Converters the treatment group has beyond what the control group's rate predicts."""
        return self.rate.difference * self.treatment.profiles

    @property
    def incremental_revenue(self) -> Decimal:
        return (Decimal(str(self.revenue.difference)) * self.treatment.profiles).quantize(CENT)


@dataclass(frozen=True)
class CampaignUplift:
    campaign: Campaign
    overall: UpliftLine | None  # every treated person against the control group
    arms: list[UpliftLine]  # each variant against the control group
    arms_against_each_other: list[UpliftLine]  # each pair of variants (the second one is the "control")


def _compare(treatment: GroupFigures, control: GroupFigures) -> UpliftLine | None:
    if not treatment.profiles or not control.profiles:
        return None
    return UpliftLine(
        treatment=treatment,
        control=control,
        rate=proportions_compare(
            treatment_hits=treatment.converters,
            treatment_size=treatment.profiles,
            control_hits=control.converters,
            control_size=control.profiles,
        ),
        revenue=means_compare(
            treatment_sum=float(treatment.revenue),
            treatment_squares=treatment.revenue_squares,
            treatment_size=treatment.profiles,
            control_sum=float(control.revenue),
            control_squares=control.revenue_squares,
            control_size=control.profiles,
        ),
    )


def _merge(label: str, groups: list[UpliftGroup]) -> GroupFigures:
    return GroupFigures(
        label=label,
        profiles=sum(group.profiles for group in groups),
        converters=sum(group.converters for group in groups),
        conversions=sum(group.conversions for group in groups),
        revenue=sum((group.revenue for group in groups), Decimal("0")),
        revenue_squares=sum(group.revenue_squares for group in groups),
    )


def campaign_uplift(*, campaign: Campaign) -> CampaignUplift:
    from django.utils.translation import gettext as _

    groups = list(UpliftGroup.objects.filter(campaign=campaign))
    control = _merge(str(_("Control group")), [group for group in groups if group.is_control])
    treated = [group for group in groups if not group.is_control]
    overall = _compare(_merge(str(_("Everyone sent to")), treated), control)
    arm_names = dict(CampaignArm.objects.filter(campaign=campaign).values_list("pk", "name"))
    variants = []
    if any(group.arm_id for group in treated):
        own = [group for group in treated if group.arm_id is None]
        if own:
            variants.append(_merge(str(_("Campaign's own message")), own))
        for arm_id, name in arm_names.items():
            arm_groups = [group for group in treated if group.arm_id == arm_id]
            if arm_groups:
                variants.append(_merge(name, arm_groups))
    arms = [line for line in (_compare(variant, control) for variant in variants) if line]
    pairs = []
    for index, first in enumerate(variants):
        for second in variants[index + 1 :]:
            line = _compare(first, second)
            if line:
                pairs.append(line)
    return CampaignUplift(campaign=campaign, overall=overall, arms=arms, arms_against_each_other=pairs)


# A request that no refresh has served within this time is taken as lost (no worker running): the page stops
# saying "updating" and offers the button again. Celery beat refreshes every 15 minutes.
REFRESH_REQUEST_LOST_AFTER = datetime.timedelta(minutes=30)


def refresh_request_pending(*, now: datetime.datetime | None = None) -> RefreshRequest | None:
    """The oldest request for updating the figures that is waiting for a worker or running, if any."""
    since = (now or timezone.now()) - REFRESH_REQUEST_LOST_AFTER
    return (
        RefreshRequest.objects.filter(finished_at__isnull=True, requested_at__gte=since)
        .order_by("requested_at")
        .first()
    )


def refresh_request_waiting(*, now: datetime.datetime | None = None) -> RefreshRequest | None:
    """A request for updating the figures that no refresh has started yet, if any."""
    since = (now or timezone.now()) - REFRESH_REQUEST_LOST_AFTER
    return (
        RefreshRequest.objects.filter(started_at__isnull=True, finished_at__isnull=True, requested_at__gte=since)
        .order_by("requested_at")
        .first()
    )


def refresh_last() -> RefreshLog | None:
    """The last rebuild of the figures (None before the first)."""
    return RefreshLog.objects.order_by("-finished_at").first()


def campaign_sent_exists() -> bool:
    """Whether any campaign has been run (sent, or at least planned) yet: before that the report is empty."""
    return CampaignRun.objects.exists()


def campaigns_for_report(filters: ReportFilters) -> list[Campaign]:
    campaigns = Campaign.objects.order_by("name")
    if filters.campaign_id:
        campaigns = campaigns.filter(pk=filters.campaign_id)
    if filters.segment_id:
        campaigns = campaigns.filter(segments=filters.segment_id)
    if filters.channel:
        campaigns = campaigns.filter(channel=filters.channel)
    with_groups = set(UpliftGroup.objects.values_list("campaign_id", flat=True).distinct())
    return [campaign for campaign in campaigns if campaign.pk in with_groups]


# ---------------------------------------------------------------------------
# Delivery quality and KPIs


@dataclass
class QualityRow:
    period: datetime.date
    channel: str
    destination: str
    sent: int = 0
    failed: int = 0

    @property
    def failure_rate(self) -> Decimal | None:
        return ratio(self.failed, self.sent + self.failed)


def delivery_quality(filters: ReportFilters) -> list[QualityRow]:
    """Messages accepted against failed, per period, channel and destination."""
    from activations.models import Destination

    trunc = Period.TRUNC.get(filters.period, TruncWeek)
    names = dict(Destination.objects.values_list("pk", "name"))
    rows = (
        CampaignDay.objects.filter(filters.scope())
        .annotate(period=trunc("day"))
        .values("period", "channel", "destination_id")
        .annotate(sent=Sum("sends"), failed=Sum("failed"))
        .order_by("period", "channel", "destination_id")
    )
    result = []
    for row in rows:
        period = row["period"].date() if isinstance(row["period"], datetime.datetime) else row["period"]
        destination = names.get(row["destination_id"], "")
        result.append(QualityRow(period, row["channel"], destination, row["sent"] or 0, row["failed"] or 0))
    return result


def kpi(name: str) -> Any:
    """A KPI as the last refresh stored it (None before the first refresh)."""
    from reporting.models import KpiSnapshot

    snapshot = KpiSnapshot.objects.filter(name=name).first()
    return snapshot.data if snapshot else None


def campaign_conversions(
    *, campaign_ids: list[int], model: str = AttributionModel.LAST_TOUCH
) -> dict[int, dict[str, Any]]:
    """Conversions and revenue credited to each campaign by ``model``, as of the last ``reporting_refresh``.

    Every campaign asked for is in the answer (0 when nothing was credited to it).
    """
    totals = {campaign_id: {"conversions": 0, "revenue": Decimal("0")} for campaign_id in campaign_ids}
    rows = (
        AttributionDay.objects.filter(campaign_id__in=campaign_ids, model=model)
        .values("campaign_id")
        .annotate(conversions=Sum("conversions"), revenue=Sum("revenue"))
        .order_by()
    )
    for row in rows:
        totals[row["campaign_id"]] = {
            "conversions": round(row["conversions"] or 0),
            "revenue": row["revenue"] or Decimal("0"),
        }
    return totals
