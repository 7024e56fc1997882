"""The set-based SQL behind the aggregates: one statement per table, on PostgreSQL and SQLite.

Touchpoints are the messages a person was sent (status sent or delivered, at
``sent_at``) and their first click on a link of that message (at the first
click). A conversion (an event of an active conversion type) is credited to the
touchpoints of the same person in the attribution window of their campaign
before it (touch ≤ conversion ≤ touch + window). Per conversion, with n touches
ordered by time (a click after its message when at the same instant):

- last touch: 1 to the last; first touch: 1 to the first; linear: 1/n each;
- position-based: 0.4 to the first and the last, 0.2 shared by the others
  (n = 1: 1; n = 2: 0.5 each);
- time decay: weight 2^(-age / 7 days), normalised so that the weights sum to 1.

So each conversion's credit sums to 1 in every model and is shared, never
counted twice. Revenue is credited in the same proportions; only revenue in
the default currency (or none named) is summed, as amounts are not converted.
"""

import datetime
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from activations.models import Campaign, CampaignArm, CampaignRun, Delivery, DeliveryStatus
from profiles.models import Event
from reporting.models import (
    ATTRIBUTION_WINDOW_DAYS,
    AttributionModel,
    CampaignAttribution,
    ConversionType,
    EmailOpen,
    LinkClick,
)

HALF_LIFE_DAYS = 7.0
LN2 = 0.6931471805599453
SENT_STATUSES = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED)
DEFAULT_CONVERSION_TYPES = ("purchase",)


def _table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _local_date(column: str) -> tuple[str, list]:
    sql, params = connection.ops.datetime_cast_date_sql(column, [], timezone.get_current_timezone_name())
    return sql, list(params)


def _age_days(later: str, earlier: str) -> str:
    if _postgres():
        return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400.0)"
    return f"(julianday({later}) - julianday({earlier}))"


def _within(event: str, touch: str, window: str) -> str:
    """The event happened at the touch or in the ``window`` days after it."""
    if _postgres():
        return f"{event} >= {touch} AND {event} <= {touch} + {window} * INTERVAL '1 day'"
    return f"julianday({event}) >= julianday({touch}) AND julianday({event}) <= julianday({touch}) + {window}"


def _as_date(value: Any) -> datetime.date:
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value))


def _rows(sql: str, params: list) -> Iterator[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        for row in cursor.fetchall():
            yield dict(zip(names, row, strict=True))


def conversion_types() -> list[str]:
    if not ConversionType.objects.exists():
        return list(DEFAULT_CONVERSION_TYPES)
    return list(ConversionType.objects.filter(is_active=True).values_list("event_type", flat=True))


def _conversions_cte() -> tuple[str, list]:
    """conversions(id, profile_id, occurred_at, revenue): the events that count, revenue as a float."""
    types = conversion_types() or ["-"]
    sql = (
        f"SELECT e.id, e.profile_id, e.occurred_at, "
        f"CASE WHEN e.currency IN ('', %s) THEN CAST(COALESCE(e.revenue, 0) AS DOUBLE PRECISION) ELSE 0 END "
        f"AS revenue FROM {_table(Event)} e WHERE e.type IN ({', '.join(['%s'] * len(types))})"
    )
    return sql, [settings.CDP_DEFAULT_CURRENCY, *types]


def _window_sql() -> str:
    window = f"SELECT w.window_days FROM {_table(CampaignAttribution)} w WHERE w.campaign_id = r.campaign_id"
    return f"COALESCE(({window}), {ATTRIBUTION_WINDOW_DAYS})"


def campaign_days() -> list[dict[str, Any]]:
    """Per campaign, channel and local day: sends, delivered, failed, clickers, clicks, openers, and the cost.

    The cost is the cost per send of each send, plus the fixed cost on the day of
    the campaign's first send (on its own channel when it sent on it).
    """
    day, day_params = _local_date("COALESCE(d.sent_at, d.created_at)")
    sent = ", ".join(["%s"] * len(SENT_STATUSES))
    sql = (
        f"SELECT r.campaign_id, d.channel, COALESCE(arm.destination_id, cp.destination_id) AS destination_id, "
        f"{day} AS day, "
        f"SUM(CASE WHEN d.status IN ({sent}) THEN 1 ELSE 0 END) AS sends, "
        f"SUM(CASE WHEN d.status = %s THEN 1 ELSE 0 END) AS delivered, "
        f"SUM(CASE WHEN d.status = %s THEN 1 ELSE 0 END) AS failed, "
        f"SUM(CASE WHEN c.delivery_id IS NULL THEN 0 ELSE 1 END) AS clickers, "
        f"SUM(COALESCE(c.clicks, 0)) AS clicks, "
        f"SUM(CASE WHEN o.delivery_id IS NULL THEN 0 ELSE 1 END) AS openers "
        f"FROM {_table(Delivery)} d JOIN {_table(CampaignRun)} r ON r.id = d.run_id "
        f"JOIN {_table(Campaign)} cp ON cp.id = r.campaign_id LEFT JOIN {_table(CampaignArm)} arm ON arm.id = d.arm_id "
        f"LEFT JOIN (SELECT delivery_id, SUM(clicks) AS clicks FROM {_table(LinkClick)} GROUP BY delivery_id) c "
        f"ON c.delivery_id = d.id "
        f"LEFT JOIN {_table(EmailOpen)} o ON o.delivery_id = d.id "
        f"WHERE d.status IN ({sent}, %s) "
        f"GROUP BY r.campaign_id, d.channel, COALESCE(arm.destination_id, cp.destination_id), {day} "
        f"ORDER BY r.campaign_id, 4, d.channel"
    )
    params = [
        *day_params,
        *SENT_STATUSES,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.FAILED,
        *SENT_STATUSES,
        DeliveryStatus.FAILED,
        *day_params,
    ]
    rows = list(_rows(sql, params))
    campaigns = {
        campaign["pk"]: campaign
        for campaign in Campaign.objects.filter(pk__in={row["campaign_id"] for row in rows}).values(
            "pk", "channel", "fixed_cost", "cost_per_send"
        )
    }
    first_send: dict[int, dict[str, Any]] = {}
    for row in rows:
        row["day"] = _as_date(row["day"])
        campaign = campaigns[row["campaign_id"]]
        row["cost"] = campaign["cost_per_send"] * row["sends"]
        if row["sends"]:
            current = first_send.get(row["campaign_id"])
            key = (row["day"], row["channel"] != campaign["channel"])
            if current is None or key < (current["day"], current["channel"] != campaign["channel"]):
                first_send[row["campaign_id"]] = row
    for campaign_id, row in first_send.items():
        row["cost"] += campaigns[campaign_id]["fixed_cost"]
    for row in rows:
        row["cost"] = Decimal(row["cost"])
    return rows


def _touches_cte() -> tuple[str, list]:
    """touches(kind, delivery_id, profile_id, campaign_id, channel, touched_at, window_days)."""
    sent = ", ".join(["%s"] * len(SENT_STATUSES))
    window = _window_sql()
    sql = (
        f"SELECT 0 AS kind, d.id AS delivery_id, d.profile_id, r.campaign_id, d.channel, d.sent_at AS touched_at, "
        f"{window} AS window_days "
        f"FROM {_table(Delivery)} d JOIN {_table(CampaignRun)} r ON r.id = d.run_id "
        f"WHERE d.status IN ({sent}) AND d.sent_at IS NOT NULL "
        f"UNION ALL "
        f"SELECT 1, d.id, d.profile_id, r.campaign_id, d.channel, c.touched_at, {window} "
        f"FROM (SELECT delivery_id, MIN(first_clicked_at) AS touched_at FROM {_table(LinkClick)} "
        f"GROUP BY delivery_id) c "
        f"JOIN {_table(Delivery)} d ON d.id = c.delivery_id JOIN {_table(CampaignRun)} r ON r.id = d.run_id"
    )
    return sql, list(SENT_STATUSES)


def attribution_credits_sql() -> tuple[str, list]:
    """One row per (conversion, touchpoint) with the credit of each model (the test and the audit read it)."""
    conversions, conversion_params = _conversions_cte()
    touches, touch_params = _touches_cte()
    age = _age_days("p.occurred_at", "p.touched_at")
    decay = f"EXP(-{LN2} * {age} / {HALF_LIFE_DAYS})"
    sql = (
        f"WITH conversions AS ({conversions}), touches AS ({touches}), "
        f"pairs AS (SELECT cv.id AS conversion_id, cv.occurred_at, cv.revenue, t.kind, t.delivery_id, "
        f"t.campaign_id, t.channel, t.touched_at FROM conversions cv JOIN touches t "
        f"ON t.profile_id = cv.profile_id AND {_within('cv.occurred_at', 't.touched_at', 't.window_days')}), "
        f"ranked AS (SELECT p.*, "
        f"ROW_NUMBER() OVER (PARTITION BY p.conversion_id ORDER BY p.touched_at, p.kind, p.delivery_id) AS position, "
        f"COUNT(*) OVER (PARTITION BY p.conversion_id) AS touches, "
        f"{decay} / SUM({decay}) OVER (PARTITION BY p.conversion_id) AS time_decay "
        f"FROM pairs p) "
        f"SELECT conversion_id, occurred_at, revenue, kind, delivery_id, campaign_id, channel, touched_at, "
        f"position, touches, "
        f"CASE WHEN position = touches THEN 1.0 ELSE 0.0 END AS last_touch, "
        f"CASE WHEN position = 1 THEN 1.0 ELSE 0.0 END AS first_touch, "
        f"1.0 / touches AS linear, "
        f"CASE WHEN touches = 1 THEN 1.0 WHEN touches = 2 THEN 0.5 "
        f"WHEN position = 1 OR position = touches THEN 0.4 ELSE 0.2 / (touches - 2) END AS position_based, "
        f"time_decay FROM ranked"
    )
    return sql, [*conversion_params, *touch_params]


def attribution_credits() -> list[dict[str, Any]]:
    sql, params = attribution_credits_sql()
    return list(_rows(sql + " ORDER BY conversion_id, position", params))


def attribution_days() -> list[dict[str, Any]]:
    """Per campaign, channel, conversion day (local) and model: the conversions and revenue credited."""
    credits, params = attribution_credits_sql()
    day, day_params = _local_date("a.occurred_at")
    models = [model.value for model in AttributionModel]
    sums = ", ".join(f"SUM(a.{model}) AS {model}, SUM(a.{model} * a.revenue) AS {model}_revenue" for model in models)
    sql = (
        f"SELECT a.campaign_id, a.channel, {day} AS day, {sums} FROM ({credits}) a "
        f"GROUP BY a.campaign_id, a.channel, {day}"
    )
    rows = []
    for row in _rows(sql, [*day_params, *params, *day_params]):
        for model in models:
            rows.append(
                {
                    "campaign_id": row["campaign_id"],
                    "channel": row["channel"],
                    "day": _as_date(row["day"]),
                    "model": model,
                    "conversions": float(row[model] or 0),
                    "revenue": row[f"{model}_revenue"] or 0,
                }
            )
    return rows


def _exposures_cte() -> str:
    """exposed(campaign_id, profile_id, planned_at, held, arm, window_days): each delivery row of a campaign.

    Treatment is every person the campaign assigned to it (intent to treat, whatever
    became of the send), as the control group is drawn before consent and pressure.
    """
    return (
        f"SELECT r.campaign_id, d.profile_id, d.created_at AS planned_at, "
        f"CASE WHEN d.status = %s THEN 1 ELSE 0 END AS held, COALESCE(d.arm_id, 0) AS arm, "
        f"{_window_sql()} AS window_days "
        f"FROM {_table(Delivery)} d JOIN {_table(CampaignRun)} r ON r.id = d.run_id"
    )


def _matched_sql() -> tuple[str, list]:
    conversions, conversion_params = _conversions_cte()
    sql = (
        f"WITH conversions AS ({conversions}), exposed AS ({_exposures_cte()}), "
        f"grouped AS (SELECT campaign_id, profile_id, MAX(held) AS held, "
        f"CASE WHEN MAX(held) = 1 THEN 0 ELSE MAX(arm) END AS arm FROM exposed GROUP BY campaign_id, profile_id), "
        f"matched AS (SELECT DISTINCT x.campaign_id, x.profile_id, cv.id AS conversion_id, cv.occurred_at, "
        f"cv.revenue FROM exposed x JOIN conversions cv ON cv.profile_id = x.profile_id "
        f"AND {_within('cv.occurred_at', 'x.planned_at', 'x.window_days')}) "
    )
    return sql, [*conversion_params, DeliveryStatus.HELD_OUT]


def uplift_groups() -> list[dict[str, Any]]:
    """Per campaign and test group: people, converters, conversions, revenue and the sum of squared revenues."""
    with_sql, params = _matched_sql()
    sql = (
        f"{with_sql}, per_profile AS (SELECT g.campaign_id, g.held, g.arm, g.profile_id, "
        f"COUNT(m.conversion_id) AS conversions, COALESCE(SUM(m.revenue), 0) AS revenue "
        f"FROM grouped g LEFT JOIN matched m ON m.campaign_id = g.campaign_id AND m.profile_id = g.profile_id "
        f"GROUP BY g.campaign_id, g.held, g.arm, g.profile_id) "
        f"SELECT campaign_id, held, arm, COUNT(*) AS profiles, "
        f"SUM(CASE WHEN conversions > 0 THEN 1 ELSE 0 END) AS converters, SUM(conversions) AS conversions, "
        f"SUM(revenue) AS revenue, SUM(revenue * revenue) AS revenue_squares "
        f"FROM per_profile GROUP BY campaign_id, held, arm"
    )
    return [
        {
            "campaign_id": row["campaign_id"],
            "is_control": bool(row["held"]),
            "arm_id": row["arm"] or None,
            "profiles": row["profiles"],
            "converters": row["converters"] or 0,
            "conversions": row["conversions"] or 0,
            "revenue": row["revenue"] or 0,
            "revenue_squares": float(row["revenue_squares"] or 0),
        }
        for row in _rows(sql, params)
    ]


def uplift_days() -> list[dict[str, Any]]:
    """Per campaign, group (treatment or control) and conversion day: conversions and revenue in the window."""
    with_sql, params = _matched_sql()
    day, day_params = _local_date("m.occurred_at")
    sql = (
        f"{with_sql} SELECT m.campaign_id, g.held, {day} AS day, COUNT(*) AS conversions, "
        f"SUM(m.revenue) AS revenue FROM matched m JOIN grouped g "
        f"ON g.campaign_id = m.campaign_id AND g.profile_id = m.profile_id "
        f"GROUP BY m.campaign_id, g.held, {day}"
    )
    return [
        {
            "campaign_id": row["campaign_id"],
            "is_control": bool(row["held"]),
            "day": _as_date(row["day"]),
            "conversions": row["conversions"],
            "revenue": row["revenue"] or 0,
        }
        for row in _rows(sql, [*params, *day_params, *day_params])
    ]
