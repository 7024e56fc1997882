"""The KPIs marketers track with a CDP, each computed by a few set-based queries at refresh time.

Each function returns plain data (dicts and lists, dates as ISO strings) that
the refresh stores as a ``KpiSnapshot`` and the dashboard reads back. Weeks
start on Monday; days are local (TIME_ZONE).
"""

import datetime
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, Min, OuterRef, Q, Sum
from django.db.models.functions import TruncDate, TruncWeek
from django.utils import timezone

from activations.models import Delivery, DeliveryStatus
from profiles.models import Channel, ConsentRecord, Event, Profile
from profiles.selectors import profile_identified_filter, profiles_contactable
from reporting.sql import conversion_types
from segments.models import Segment, SegmentMembership, SegmentMembershipChange

# A person sent more than this many messages in one week is over-solicited.
PRESSURE_THRESHOLD = 3
RETURN_TYPES = ("return", "refund")
SENT = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED)


def _iso(value: Any) -> str:
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value.isoformat()


def opt_in_typology() -> dict[str, Any]:
    """Anonymous against identified profiles, and identified profiles the consent gate lets us reach per channel."""
    counts = Profile.objects.aggregate(total=Count("pk"), identified=Count("pk", filter=Q(profile_identified_filter())))
    addressable = {
        channel: profiles_contactable(channel=channel).filter(profile_identified_filter()).count()
        for channel in (Channel.EMAIL, Channel.SMS, Channel.PUSH, Channel.POSTAL, Channel.ADVERTISING)
    }
    return {
        "total": counts["total"],
        "identified": counts["identified"],
        "anonymous": counts["total"] - counts["identified"],
        "addressable": addressable,
    }


def segment_volumes(*, days: int = 90, now: datetime.datetime | None = None) -> dict[str, Any]:
    """Per segment and day of the last ``days``: entered, left, and members at the end of the day.

    Members are counted back from today's membership: the members at the end of a
    day are today's minus those who entered since, plus those who left since.
    """
    since = (now or timezone.now()) - datetime.timedelta(days=days)
    changes: dict[int, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: {"entered": 0, "left": 0}))
    for row in (
        SegmentMembershipChange.objects.filter(changed_at__gte=since)
        .annotate(day=TruncDate("changed_at"))
        .values("segment_id", "day", "change")
        .annotate(people=Count("pk"))
    ):
        changes[row["segment_id"]][_iso(row["day"])][row["change"]] += row["people"]
    members_now = dict(
        SegmentMembership.objects.values("segment_id").annotate(people=Count("pk")).values_list("segment_id", "people")
    )
    result = {}
    for segment_id, name in Segment.objects.values_list("pk", "name"):
        members = members_now.get(segment_id, 0)
        series = []
        for day in sorted(changes.get(segment_id, {}), reverse=True):
            figures = changes[segment_id][day]
            series.append({"day": day, "entered": figures["entered"], "left": figures["left"], "members": members})
            members = members - figures["entered"] + figures["left"]
        result[str(segment_id)] = {"name": name, "members": members_now.get(segment_id, 0), "days": series[::-1]}
    return result


def pressure(
    *, weeks: int = 12, threshold: int = PRESSURE_THRESHOLD, now: datetime.datetime | None = None
) -> dict[str, Any]:
    """Per week: how many people got 1, 2, 3… messages (all channels), and how many got more than ``threshold``."""
    since = (now or timezone.now()) - datetime.timedelta(weeks=weeks)
    per_person = (
        Delivery.objects.filter(status__in=SENT, sent_at__gte=since)
        .annotate(week=TruncWeek("sent_at"))
        .values("week", "profile_id")
        .annotate(messages=Count("pk"))
        .order_by()
    )
    inner, params = per_person.query.sql_with_params()
    weeks_data: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    over: dict[str, int] = defaultdict(int)
    with connection.cursor() as cursor:
        # People per (week, number of messages): one pass over the per-person counts, in the database.
        cursor.execute(f"SELECT week, messages, COUNT(*) FROM ({inner}) p GROUP BY week, messages", params)
        for week_value, messages, people in cursor.fetchall():
            if isinstance(week_value, str):
                week_value = datetime.datetime.fromisoformat(week_value)
            week = _iso(week_value)
            bucket = str(messages) if messages < 5 else "5+"
            weeks_data[week][bucket] += people
            if messages > threshold:
                over[week] += people
    return {
        "threshold": threshold,
        "weeks": [
            {"week": week, "distribution": dict(weeks_data[week]), "over_solicited": over.get(week, 0)}
            for week in sorted(weeks_data)
        ],
    }


def consent_per_week(*, weeks: int = 26, now: datetime.datetime | None = None) -> list[dict[str, Any]]:
    """Opt-ins (granted) and opt-outs (withdrawn) recorded per week and channel."""
    since = (now or timezone.now()) - datetime.timedelta(weeks=weeks)
    rows = (
        ConsentRecord.objects.filter(occurred_at__gte=since)
        .annotate(week=TruncWeek("occurred_at"))
        .values("week", "channel")
        .annotate(opt_ins=Count("pk", filter=Q(status="granted")), opt_outs=Count("pk", filter=Q(status="withdrawn")))
        .order_by("week", "channel")
    )
    return [
        {"week": _iso(row["week"]), "channel": row["channel"], "opt_ins": row["opt_ins"], "opt_outs": row["opt_outs"]}
        for row in rows
    ]


def customers(*, start: datetime.datetime, end: datetime.datetime) -> dict[str, Any]:
    """Customer KPIs over [start, end): retention, repeat purchase ratio, return rate, average order value.

    A customer at a date is a person who bought in the period's length before it.
    Retention = (customers at the end − new customers) / customers at the start, where
    the customers at the end are those who bought in the period, the new ones those
    whose first purchase ever is in it, and those at the start bought in the same
    length of time before it.
    """
    types = conversion_types()
    purchases = Event.objects.filter(type__in=types)
    length = end - start
    in_period = purchases.filter(occurred_at__gte=start, occurred_at__lt=end)
    at_start = purchases.filter(occurred_at__gte=start - length, occurred_at__lt=start).values("profile_id").distinct()
    at_end = in_period.values("profile_id").distinct()
    first_purchases = purchases.values("profile_id").annotate(first=Min("occurred_at"))
    new = first_purchases.filter(first__gte=start, first__lt=end)
    start_count, end_count, new_count = at_start.count(), at_end.count(), new.count()
    per_person = in_period.values("profile_id").annotate(orders=Count("pk"))
    repeat = per_person.filter(orders__gte=2).count()
    totals = in_period.aggregate(orders=Count("pk"), revenue=Sum("revenue"))
    returns = Event.objects.filter(type__in=RETURN_TYPES, occurred_at__gte=start, occurred_at__lt=end)
    return_totals = returns.aggregate(returns=Count("pk"), revenue=Sum("revenue"))
    has_returns = Event.objects.filter(type__in=RETURN_TYPES).exists()
    revenue = totals["revenue"] or Decimal("0")
    return {
        "start": _iso(start),
        "end": _iso(end),
        "customers_at_start": start_count,
        "customers_at_end": end_count,
        "new_customers": new_count,
        "retention": (end_count - new_count) / start_count if start_count else None,
        "repeat_purchase_ratio": repeat / end_count if end_count else None,
        "orders": totals["orders"],
        "revenue": revenue,
        "average_order_value": (revenue / totals["orders"]).quantize(Decimal("0.01")) if totals["orders"] else None,
        "return_rate": (return_totals["returns"] / totals["orders"]) if has_returns and totals["orders"] else None,
        "returned_revenue": return_totals["revenue"] if has_returns else None,
    }


def lifetime_value_per_segment() -> list[dict[str, Any]]:
    """Historical customer lifetime value per segment: all-time purchase revenue per current member.

    Revenue in the default currency (or none named) only, as amounts are not converted.
    """
    purchases = Event.objects.filter(
        type__in=conversion_types(), profile_id=OuterRef("profile_id"), currency__in=["", settings.CDP_DEFAULT_CURRENCY]
    )
    rows = (
        SegmentMembership.objects.values("segment_id", "segment__name")
        .annotate(
            members=Count("profile_id", distinct=True),
            buyers=Count("profile_id", distinct=True, filter=Q(Exists(purchases))),
        )
        .order_by("segment__name")
    )
    revenue = dict(
        Event.objects.filter(
            type__in=conversion_types(),
            currency__in=["", settings.CDP_DEFAULT_CURRENCY],
            profile__segment_memberships__isnull=False,
        )
        .values("profile__segment_memberships__segment_id")
        .annotate(revenue=Sum("revenue"))
        .values_list("profile__segment_memberships__segment_id", "revenue")
    )
    result = []
    for row in rows:
        total = revenue.get(row["segment_id"]) or Decimal("0")
        result.append(
            {
                "segment_id": row["segment_id"],
                "segment": row["segment__name"],
                "members": row["members"],
                "buyers": row["buyers"],
                "revenue": total,
                "lifetime_value": (total / row["members"]).quantize(Decimal("0.01")) if row["members"] else None,
            }
        )
    return result
