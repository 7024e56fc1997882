"""What the reporting dashboard shows: its tables (each also a CSV file) and charts, for the chosen filters.

Reads only: the aggregates (reporting_refresh) and the stored KPIs, plus the
customer KPIs of a period the marketer picks (a few indexed queries).
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from profiles.models import Channel
from reporting import formatting, kpis
from reporting.charts import bar_chart, line_chart
from reporting.selectors import (
    ReportFilters,
    campaign_uplift,
    campaigns_for_report,
    delivery_quality,
    kpi,
    roi_rows,
)


@dataclass(frozen=True)
class Column:
    key: str
    title: Promise | str
    kind: str = "text"  # text, int, float, ratio, percent, money, date


@dataclass(frozen=True)
class Figure:
    label: Promise | str
    value: str


@dataclass
class UpliftCard:
    """One comparison of a test in words: its verdict first, its key figures, and the rest for who wants it."""

    title: str
    headline: str
    tone: str  # "positive", "negative" (significant either way) or "neutral"
    explanation: str
    groups: tuple[str, str]  # the group's name and the reference's
    side_by_side: list[tuple[Promise | str, str, str]]  # (figure, the group's value, the reference's)
    figures: list[Figure]
    details: list[Figure]


@dataclass
class CardGroup:
    campaign: str
    cards: list[UpliftCard]


@dataclass
class Table:
    name: str
    title: Promise | str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    chart: str = ""
    note: Promise | str = ""
    # The columns a marketer reads first (keys); the page shows the others under "All figures", the CSV has all.
    summary: tuple[str, ...] = ()
    # Drawn instead of the table on the page (uplift): the CSV still has one row per comparison.
    card_groups: list[CardGroup] = field(default_factory=list)

    def cells(self, columns: list[Column] | None = None) -> list[list[tuple[str, bool]]]:
        """Each row's cells as (text for the reader, right-aligned)."""
        currency = settings.CDP_DEFAULT_CURRENCY
        columns = self.columns if columns is None else columns
        return [
            [(formatting.cell(row.get(c.key), c.kind, currency), c.kind not in ("text", "date")) for c in columns]
            for row in self.rows
        ]

    def summary_columns(self) -> list[Column]:
        if not self.summary:
            return self.columns
        return [column for column in self.columns if column.key in self.summary]

    def summary_cells(self) -> list[list[tuple[str, bool]]]:
        return self.cells(self.summary_columns())

    def has_more_columns(self) -> bool:
        return len(self.summary_columns()) < len(self.columns)


def _channel_name(channel: str) -> str:
    return str(dict(Channel.choices).get(channel, channel))


ROI_COLUMNS = [
    Column("cost", gettext_lazy("Cost"), "money"),
    Column("sends", gettext_lazy("Sends"), "int"),
    Column("clickers", gettext_lazy("Clickers"), "int"),
    Column("click_rate", gettext_lazy("Click rate"), "percent"),
    Column("conversions", gettext_lazy("Conversions"), "float"),
    Column("conversion_rate", gettext_lazy("Conversion rate"), "percent"),
    Column("revenue", gettext_lazy("Attributed revenue"), "money"),
    Column("incremental_revenue", gettext_lazy("Incremental revenue"), "money"),
    Column("roi", gettext_lazy("ROI"), "percent"),
    Column("incremental_roi", gettext_lazy("Incremental ROI"), "percent"),
    Column("cost_per_acquisition", gettext_lazy("Cost per acquisition"), "money"),
]


# What a marketer reads first in an ROI table; the other columns are under "All figures" (and in the CSV).
ROI_SUMMARY = ("campaign", "channel", "period", "cost", "sends", "conversions", "revenue", "incremental_revenue", "roi")


def _roi_values(row: Any) -> dict[str, Any]:
    return {
        "cost": row.cost,
        "sends": row.sends,
        "clickers": row.clickers,
        "click_rate": row.click_rate,
        "conversions": row.conversions,
        "conversion_rate": row.conversion_rate,
        "revenue": row.revenue,
        "incremental_revenue": row.incremental_revenue,
        "roi": row.roi,
        "incremental_roi": row.incremental_roi,
        "cost_per_acquisition": row.cost_per_acquisition,
    }


def roi_tables(filters: ReportFilters) -> list[Table]:
    money = formatting.money
    campaigns = roi_rows(filters, by="campaign")
    by_campaign = Table(
        "roi_campaigns",
        gettext_lazy("ROI per campaign"),
        [Column("campaign", gettext_lazy("Campaign")), *ROI_COLUMNS],
        [{"campaign": row.label, **_roi_values(row)} for row in campaigns],
        note=gettext_lazy(
            "ROI = (revenue − cost) / cost. Attributed revenue follows the attribution model chosen; incremental "
            "revenue is what the people sent to bought beyond the control group."
        ),
        summary=ROI_SUMMARY,
    )
    by_campaign.chart = bar_chart(
        [row.label for row in campaigns],
        [
            (_("Cost"), [float(row.cost) for row in campaigns]),
            (_("Attributed revenue"), [float(row.revenue) for row in campaigns]),
            (_("Incremental revenue"), [float(row.incremental_revenue or 0) for row in campaigns]),
        ],
        fmt=money,
    )
    channels = roi_rows(filters, by="channel")
    by_channel = Table(
        "roi_channels",
        gettext_lazy("ROI per channel"),
        [Column("channel", gettext_lazy("Channel")), *ROI_COLUMNS],
        [{"channel": _channel_name(row.key), **_roi_values(row)} for row in channels],
        summary=ROI_SUMMARY,
    )
    periods = roi_rows(filters, by="period")
    by_period = Table(
        "roi_periods",
        gettext_lazy("ROI over time"),
        [Column("period", gettext_lazy("Period"), "date"), Column("channel", gettext_lazy("Channel")), *ROI_COLUMNS],
        [{"period": row.key[0], "channel": _channel_name(row.key[1]), **_roi_values(row)} for row in periods],
        summary=ROI_SUMMARY,
    )
    totals: dict[datetime.date, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in periods:
        totals[row.key[0]][0] += float(row.cost)
        totals[row.key[0]][1] += float(row.revenue)
    days = sorted(totals)
    by_period.chart = line_chart(
        [formatting.day(day) for day in days],
        [
            (_("Cost"), [totals[day][0] for day in days]),
            (_("Attributed revenue"), [totals[day][1] for day in days]),
        ],
        fmt=money,
    )
    return [by_campaign, by_channel, by_period]


def _verdict(comparison: Any) -> str:
    if comparison.p_value is None:
        return _("not enough data to test")
    return _("significant") if comparison.significant else _("not significant")


def _signed(text: str, value: float) -> str:
    return f"+{text}" if value > 0 and not text.startswith("+") else text


def _points(difference: float | None) -> str:
    """A difference of two rates in percentage points, signed: +2.1."""
    if difference is None:
        return "–"
    return _signed(formatting.number(difference * 100, 1), difference)


def _p_value(p_value: float) -> str:
    if p_value < 0.001:
        return "< " + formatting.number(0.001, 3)
    return formatting.number(p_value, 3)


def _interval(low: Any, high: Any, fmt: Any) -> str:
    if low is None or high is None:
        return "–"
    return _("%(low)s to %(high)s") % {"low": fmt(low), "high": fmt(high)}


def uplift_card(line: Any) -> UpliftCard:
    """The words and figures of one comparison (UpliftLine): the verdict on the conversion rate first."""
    currency = settings.CDP_DEFAULT_CURRENCY
    rate, revenue = line.rate, line.revenue
    lift = _points(rate.difference)
    if rate.p_value is None:
        headline = _("Not enough people to test the difference yet")
        tone = "neutral"
        explanation = _("Each group needs more people, and some conversions, before a test can tell.")
    elif rate.significant:
        headline = _("%(lift)s conversion points, significant (p = %(p)s)") % {
            "lift": lift,
            "p": _p_value(rate.p_value),
        }
        tone = "positive" if rate.difference > 0 else "negative"
        explanation = _(
            "%(group)s converted at %(group_rate)s against %(reference_rate)s for %(reference)s: a gap this large "
            "is very unlikely to be chance."
        ) % {
            "group": line.treatment.label,
            "group_rate": formatting.percent(rate.treatment),
            "reference": line.control.label,
            "reference_rate": formatting.percent(rate.control),
        }
    else:
        headline = _("No significant difference (p = %(p)s)") % {"p": _p_value(rate.p_value)}
        tone = "neutral"
        explanation = _(
            "The gap seen (%(lift)s points) could be chance: wait for more conversions or compare larger groups."
        ) % {"lift": lift}

    def money(value: Any) -> str:
        return formatting.money(value, currency)

    def signed_money(value: Any) -> str:
        return _signed(money(value), float(value))

    def signed_percent(value: Any) -> str:
        return "–" if value is None else _signed(formatting.percent(value), float(value))

    return UpliftCard(
        title=_("%(group)s against %(reference)s") % {"group": line.treatment.label, "reference": line.control.label},
        headline=headline,
        tone=tone,
        explanation=explanation,
        groups=(line.treatment.label, line.control.label),
        side_by_side=[
            (
                gettext_lazy("People"),
                formatting.number(line.treatment.profiles),
                formatting.number(line.control.profiles),
            ),
            (
                gettext_lazy("Conversion rate"),
                formatting.percent(rate.treatment),
                formatting.percent(rate.control),
            ),
            (
                gettext_lazy("Revenue per person"),
                money(line.treatment.revenue_per_profile),
                money(line.control.revenue_per_profile),
            ),
        ],
        figures=[
            Figure(
                gettext_lazy("Lift"),
                _("%(lift)s points (95%% interval: %(interval)s)")
                % {"lift": lift, "interval": _interval(rate.low, rate.high, _points)},
            ),
            Figure(gettext_lazy("Incremental conversions"), formatting.number(line.incremental_conversions, 1)),
            Figure(gettext_lazy("Incremental revenue"), signed_money(line.incremental_revenue)),
        ],
        details=[
            Figure(gettext_lazy("Relative lift"), signed_percent(rate.relative)),
            Figure(
                gettext_lazy("p-value (conversion rate)"),
                "–" if rate.p_value is None else formatting.number(rate.p_value, 4),
            ),
            Figure(
                gettext_lazy("People who converted"),
                f"{formatting.number(line.treatment.converters)} / {formatting.number(line.control.converters)}",
            ),
            Figure(
                gettext_lazy("Conversions"),
                f"{formatting.number(line.treatment.conversions)} / {formatting.number(line.control.conversions)}",
            ),
            Figure(
                gettext_lazy("Revenue lift per person"),
                _("%(lift)s (95%% interval: %(interval)s)")
                % {"lift": signed_money(revenue.difference), "interval": _interval(revenue.low, revenue.high, money)},
            ),
            Figure(
                gettext_lazy("p-value (Welch)"),
                "–" if revenue.p_value is None else formatting.number(revenue.p_value, 4),
            ),
            Figure(gettext_lazy("Revenue lift"), _verdict(revenue)),
        ],
    )


def uplift_table(filters: ReportFilters) -> Table:
    table = Table(
        "uplift",
        gettext_lazy("Uplift against the control group"),
        [
            Column("campaign", gettext_lazy("Campaign")),
            Column("comparison", gettext_lazy("Compared")),
            Column("treatment_people", gettext_lazy("People (group)"), "int"),
            Column("control_people", gettext_lazy("People (reference)"), "int"),
            Column("treatment_rate", gettext_lazy("Conversion rate (group)"), "percent"),
            Column("control_rate", gettext_lazy("Conversion rate (reference)"), "percent"),
            Column("rate_lift", gettext_lazy("Lift (points)"), "percent"),
            Column("rate_relative", gettext_lazy("Relative lift"), "percent"),
            Column("rate_low", gettext_lazy("Interval, low"), "percent"),
            Column("rate_high", gettext_lazy("Interval, high"), "percent"),
            Column("rate_p", gettext_lazy("p-value"), "ratio"),
            Column("rate_verdict", gettext_lazy("Conversion rate lift")),
            Column("treatment_revenue", gettext_lazy("Revenue per person (group)"), "money"),
            Column("control_revenue", gettext_lazy("Revenue per person (reference)"), "money"),
            Column("revenue_lift", gettext_lazy("Revenue lift per person"), "money"),
            Column("revenue_low", gettext_lazy("Interval, low"), "money"),
            Column("revenue_high", gettext_lazy("Interval, high"), "money"),
            Column("revenue_p", gettext_lazy("p-value (Welch)"), "ratio"),
            Column("revenue_verdict", gettext_lazy("Revenue lift")),
            Column("incremental_conversions", gettext_lazy("Incremental conversions"), "float"),
            Column("incremental_revenue", gettext_lazy("Incremental revenue"), "money"),
        ],
        note=gettext_lazy(
            "Everyone the campaign picked is compared with the control group over the same attribution window, "
            "whether their message could be sent or not. Intervals are at 95 percent confidence; significant: p-value "
            "below 0.05."
        ),
    )
    for campaign in campaigns_for_report(filters):
        uplift = campaign_uplift(campaign=campaign)
        lines = [line for line in [uplift.overall, *uplift.arms, *uplift.arms_against_each_other] if line]
        if lines:
            table.card_groups.append(CardGroup(campaign.name, [uplift_card(line) for line in lines]))
        for line in lines:
            table.rows.append(
                {
                    "campaign": campaign.name,
                    "comparison": _("%(group)s against %(reference)s")
                    % {"group": line.treatment.label, "reference": line.control.label},
                    "treatment_people": line.treatment.profiles,
                    "control_people": line.control.profiles,
                    "treatment_rate": line.rate.treatment,
                    "control_rate": line.rate.control,
                    "rate_lift": line.rate.difference,
                    "rate_relative": line.rate.relative,
                    "rate_low": line.rate.low,
                    "rate_high": line.rate.high,
                    "rate_p": line.rate.p_value,
                    "rate_verdict": _verdict(line.rate),
                    "treatment_revenue": line.revenue.treatment,
                    "control_revenue": line.revenue.control,
                    "revenue_lift": line.revenue.difference,
                    "revenue_low": line.revenue.low,
                    "revenue_high": line.revenue.high,
                    "revenue_p": line.revenue.p_value,
                    "revenue_verdict": _verdict(line.revenue),
                    "incremental_conversions": line.incremental_conversions,
                    "incremental_revenue": line.incremental_revenue,
                }
            )
    return table


def quality_table(filters: ReportFilters) -> Table:
    rows = delivery_quality(filters)
    table = Table(
        "delivery_quality",
        gettext_lazy("Delivery quality"),
        [
            Column("period", gettext_lazy("Period"), "date"),
            Column("channel", gettext_lazy("Channel")),
            Column("destination", gettext_lazy("Destination")),
            Column("sent", gettext_lazy("Sent"), "int"),
            Column("failed", gettext_lazy("Failed"), "int"),
            Column("failure_rate", gettext_lazy("Failure rate"), "percent"),
        ],
        [
            {
                "period": row.period,
                "channel": _channel_name(row.channel),
                "destination": row.destination,
                "sent": row.sent,
                "failed": row.failed,
                "failure_rate": row.failure_rate,
            }
            for row in rows
        ],
    )
    sent: dict[datetime.date, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        sent[row.period][0] += row.sent
        sent[row.period][1] += row.failed
    periods = sorted(sent)
    table.chart = bar_chart(
        [formatting.day(period) for period in periods],
        [(_("Sent"), [sent[p][0] for p in periods]), (_("Failed"), [sent[p][1] for p in periods])],
        fmt=lambda value: formatting.number(value),
    )
    return table


def kpi_tables(filters: ReportFilters) -> list[Table]:
    tables = []
    typology = kpi("opt_in_typology") or {"total": 0, "identified": 0, "anonymous": 0, "addressable": {}}
    total = typology["total"]
    rows = [
        {"kind": _("Identified"), "profiles": typology["identified"]},
        {"kind": _("Anonymous"), "profiles": typology["anonymous"]},
    ]
    for channel, count in typology["addressable"].items():
        rows.append(
            {
                "kind": _("Identified and reachable by %(channel)s") % {"channel": _channel_name(channel)},
                "profiles": count,
            }
        )
    for row in rows:
        row["share"] = row["profiles"] / total if total else None
    tables.append(
        Table(
            "opt_in",
            gettext_lazy("Opt-in typology"),
            [
                Column("kind", gettext_lazy("Profiles")),
                Column("profiles", gettext_lazy("Number"), "int"),
                Column("share", gettext_lazy("Share"), "percent"),
            ],
            rows,
        )
    )

    volumes = kpi("segment_volumes") or {}
    table = Table(
        "segment_volumes",
        gettext_lazy("Segment volumes"),
        [
            Column("segment", gettext_lazy("Segment")),
            Column("day", gettext_lazy("Day"), "date"),
            Column("entered", gettext_lazy("Entered"), "int"),
            Column("left", gettext_lazy("Left"), "int"),
            Column("members", gettext_lazy("Members"), "int"),
        ],
    )
    chart_series = []
    all_days: set[str] = set()
    for segment_id, segment in volumes.items():
        if filters.segment_id and int(segment_id) != filters.segment_id:
            continue
        for day in segment["days"]:
            if _in_period(day["day"], filters):
                table.rows.append({"segment": segment["name"], **day, "day": datetime.date.fromisoformat(day["day"])})
                all_days.add(day["day"])
        chart_series.append(segment)
    days = sorted(all_days)
    table.chart = line_chart(
        [formatting.day(datetime.date.fromisoformat(day)) for day in days],
        [
            (segment["name"], _members_by_day(segment, days))
            for segment in sorted(chart_series, key=lambda s: -s["members"])[:6]
        ],
        fmt=lambda value: formatting.number(value),
    )
    tables.append(table)

    pressure = kpi("pressure") or {"threshold": kpis.PRESSURE_THRESHOLD, "weeks": []}
    buckets = ["1", "2", "3", "4", "5+"]
    tables.append(
        Table(
            "pressure",
            gettext_lazy("Marketing pressure: people per number of messages in a week"),
            [
                Column("week", gettext_lazy("Week of"), "date"),
                *[Column(bucket, bucket, "int") for bucket in buckets],
                Column("over_solicited", gettext_lazy("Over-solicited"), "int"),
            ],
            [
                {
                    "week": datetime.date.fromisoformat(week["week"]),
                    **{bucket: week["distribution"].get(bucket, 0) for bucket in buckets},
                    "over_solicited": week["over_solicited"],
                }
                for week in pressure["weeks"]
                if _in_period(week["week"], filters)
            ],
            note=_("Over-solicited: more than %(count)s messages in the week, all channels together.")
            % {"count": pressure["threshold"]},
        )
    )

    consent_rows = [
        {
            "week": datetime.date.fromisoformat(row["week"]),
            "channel": _channel_name(row["channel"]),
            "opt_ins": row["opt_ins"],
            "opt_outs": row["opt_outs"],
        }
        for row in kpi("consent_per_week") or []
        if _in_period(row["week"], filters) and (not filters.channel or row["channel"] == filters.channel)
    ]
    table = Table(
        "consent",
        gettext_lazy("Consent per week"),
        [
            Column("week", gettext_lazy("Week of"), "date"),
            Column("channel", gettext_lazy("Channel")),
            Column("opt_ins", gettext_lazy("Opt-ins"), "int"),
            Column("opt_outs", gettext_lazy("Opt-outs"), "int"),
        ],
        consent_rows,
    )
    weeks = sorted({row["week"] for row in consent_rows})
    table.chart = line_chart(
        [formatting.day(week) for week in weeks],
        [
            (_("Opt-ins"), [sum(r["opt_ins"] for r in consent_rows if r["week"] == week) for week in weeks]),
            (_("Opt-outs"), [sum(r["opt_outs"] for r in consent_rows if r["week"] == week) for week in weeks]),
        ],
        fmt=lambda value: formatting.number(value),
    )
    tables.append(table)

    tables.append(customer_table(filters))

    tables.append(
        Table(
            "lifetime_value",
            gettext_lazy("Customer lifetime value per segment"),
            [
                Column("segment", gettext_lazy("Segment")),
                Column("members", gettext_lazy("Members"), "int"),
                Column("buyers", gettext_lazy("Buyers"), "int"),
                Column("revenue", gettext_lazy("Revenue (all time)"), "money"),
                Column("lifetime_value", gettext_lazy("Lifetime value per member"), "money"),
            ],
            [
                row
                for row in kpi("lifetime_value") or []
                if not filters.segment_id or row["segment_id"] == filters.segment_id
            ],
        )
    )
    return tables


def customer_table(filters: ReportFilters) -> Table:
    if filters.start and filters.end:
        start = timezone.make_aware(datetime.datetime.combine(filters.start, datetime.time.min))
        end = timezone.make_aware(
            datetime.datetime.combine(filters.end + datetime.timedelta(days=1), datetime.time.min)
        )
        figures = kpis.customers(start=start, end=end)
    else:
        figures = kpi("customers") or {}
    labels = [
        ("customers_at_start", gettext_lazy("Customers at the start"), "int"),
        ("customers_at_end", gettext_lazy("Customers in the period"), "int"),
        ("new_customers", gettext_lazy("New customers"), "int"),
        ("retention", gettext_lazy("Retention rate"), "percent"),
        ("repeat_purchase_ratio", gettext_lazy("Repeat purchase ratio"), "percent"),
        ("orders", gettext_lazy("Orders"), "int"),
        ("revenue", gettext_lazy("Revenue"), "money"),
        ("average_order_value", gettext_lazy("Average order value"), "money"),
        ("return_rate", gettext_lazy("Return rate"), "percent"),
    ]
    currency = settings.CDP_DEFAULT_CURRENCY
    return Table(
        "customers",
        gettext_lazy("Customer KPIs"),
        [Column("indicator", gettext_lazy("Indicator")), Column("value", gettext_lazy("Value"))],
        [
            {"indicator": str(label), "value": formatting.cell(figures.get(key), kind, currency)}
            for key, label, kind in labels
        ],
        note=gettext_lazy(
            "Retention = (customers in the period − new customers) / customers at the start, the customers at the "
            "start being those who bought in the same length of time before it. Return rate: returns and refunds "
            "per order, when such events exist."
        ),
    )


def _in_period(day: str, filters: ReportFilters) -> bool:
    value = datetime.date.fromisoformat(day)
    return (not filters.start or value >= filters.start) and (not filters.end or value <= filters.end)


def _members_by_day(segment: dict, days: list[str]) -> list[float | None]:
    by_day = {day["day"]: day["members"] for day in segment["days"]}
    values: list[float | None] = []
    last = None
    for day in days:
        last = by_day.get(day, last)
        values.append(last)
    return values


# The tables about campaigns: before the first send they would all be empty, and the page says what to do instead.
CAMPAIGN_TABLES = frozenset({"roi_campaigns", "roi_channels", "roi_periods", "uplift", "delivery_quality", "pressure"})


def dashboard_tables(filters: ReportFilters, *, campaigns_sent: bool = True) -> list[Table]:
    if not campaigns_sent:
        return [table for table in kpi_tables(filters) if table.name not in CAMPAIGN_TABLES]
    return [*roi_tables(filters), uplift_table(filters), quality_table(filters), *kpi_tables(filters)]
