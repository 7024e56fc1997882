"""Reads on segments: the rule builder's catalogue, refreshes, overlaps, history and the segments needing attention."""

import datetime
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from profiles.models import Channel, Event, EventType, Profile, identifier_kind_choices
from segments.models import (
    MembershipChangeKind,
    RefreshEvery,
    RefreshStatus,
    Segment,
    SegmentListEntry,
    SegmentMembership,
    SegmentMembershipChange,
    SegmentRefresh,
)
from segments.rules import (
    EVENT_TYPE_PATTERN,
    OPERATORS,
    OPERATORS_BY_TYPE,
    PROFILE_FIELDS,
    PROPERTY_OPERATORS,
    REVENUE_AGGREGATES,
    RFM_BANDS,
    RFM_DEFAULT_DAYS,
    RFM_DIMENSIONS,
    SPECIAL_FIELDS,
    SPECIAL_OPERATOR_LABELS,
    TRAIT_KEY_PATTERN,
    WINDOWS,
    ValueType,
    rules_segment_ids,
)

# How much recent data the builder reads to suggest event types and trait names.
RECENT_EVENTS_SAMPLE = 5000
RECENT_PROFILES_SAMPLE = 500
# A refresh queued or running for longer than this is stuck (no worker, or a lock held too long).
REFRESH_STUCK_AFTER = datetime.timedelta(minutes=15)
SCHEDULE_INTERVALS: dict[str, datetime.timedelta] = {
    RefreshEvery.FIFTEEN_MINUTES: datetime.timedelta(minutes=15),
    RefreshEvery.HOUR: datetime.timedelta(hours=1),
    RefreshEvery.DAY: datetime.timedelta(days=1),
    RefreshEvery.WEEK: datetime.timedelta(days=7),
}
# A running refresh's progress is its elapsed time over the previous one's duration, never shown as done.
PROGRESS_CAP = 95

# ---------------------------------------------------------------------------
# The rule builder's catalogue

FIELD_GROUPS: list[tuple[Any, tuple[str, ...]]] = [
    (
        _("About the person"),
        ("first_name", "last_name", "city", "postcode", "country", "language", "birth_date", "created_at", "source"),
    ),
    (_("Custom data"), ("trait",)),
    (_("Contact and identity"), ("identifier", "identity", "consent")),
    (_("What they did"), ("event", "last_event", "revenue", "rfm")),
    (_("Other segments"), ("segment",)),
]
TRAIT_KINDS = [
    (ValueType.TEXT, _("text")),
    (ValueType.NUMBER, _("number")),
    (ValueType.DATE, _("date")),
    (ValueType.BOOLEAN, _("yes / no")),
]
MATCHES = [
    ("all", _("all of these conditions (and)")),
    ("any", _("any of these conditions (or)")),
    ("none", _("none of these conditions (and not)")),
]
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
NUMBER = re.compile(r"^-?\d+([.,]\d+)?$")


def _choices(pairs: Any) -> list[list[str]]:
    return [[str(value), str(label)] for value, label in pairs]


def event_types_known() -> list[tuple[str, str]]:
    """The usual event types with their names, then the other types seen among the latest events."""
    names = dict(EventType.choices)
    recent = Event.objects.order_by("-occurred_at").values_list("type", flat=True)[:RECENT_EVENTS_SAMPLE]
    others = sorted({kind for kind in recent if kind not in names and EVENT_TYPE_PATTERN.match(kind)})
    return [*((value, str(label)) for value, label in EventType.choices), *((kind, kind) for kind in others)]


def _value_kind(value: Any) -> str:
    if isinstance(value, bool):
        return ValueType.BOOLEAN
    if isinstance(value, int | float):
        return ValueType.NUMBER
    text = str(value).strip()
    if ISO_DATE.match(text):
        return ValueType.DATE
    if NUMBER.match(text):
        return ValueType.NUMBER
    if text.lower() in ("true", "false", "yes", "no", "oui", "non"):
        return ValueType.BOOLEAN
    return ValueType.TEXT


def trait_keys_seen() -> list[dict[str, str]]:
    """Trait names held by the latest profiles, the most common first, each with the kind its values look like."""
    kinds: dict[str, Counter] = {}
    seen: Counter = Counter()
    recent = Profile.objects.order_by("-pk").values_list("traits", flat=True)[:RECENT_PROFILES_SAMPLE]
    for traits in recent:
        for key, value in (traits or {}).items() if isinstance(traits, dict) else ():
            if value in (None, "") or not TRAIT_KEY_PATTERN.match(str(key)):
                continue
            seen[key] += 1
            kinds.setdefault(key, Counter())[_value_kind(value)] += 1
    return [{"key": key, "kind": kinds[key].most_common(1)[0][0]} for key, _count in seen.most_common()]


def segment_rule_catalogue(*, segment_id: int | None = None) -> dict[str, Any]:
    """Everything the rule builder offers, with labels in the current language (JSON-ready).

    Built from ``segments.rules`` (fields, operators and their value shapes), the
    profiles' choices (identifier kinds, channels, event types) and what the data
    holds (event types and trait names seen lately, the other segments).
    """
    operators = {name: {"label": str(label), "shape": shape} for name, (label, shape) in OPERATORS.items()}
    for name, label in SPECIAL_OPERATOR_LABELS.items():
        operators[name] = {"label": str(label), "shape": "special"}
    fields = {}
    for name, spec in PROFILE_FIELDS.items():
        fields[name] = {"label": str(spec.label), "type": spec.type, "operators": list(OPERATORS_BY_TYPE[spec.type])}
    for name, (label, special_operators) in SPECIAL_FIELDS.items():
        fields[name] = {"label": str(label), "type": name, "operators": list(special_operators)}
    others = Segment.objects.exclude(pk=segment_id).order_by("name").values_list("pk", "name", "kind")
    return {
        "fields": fields,
        "field_groups": [[str(label), list(names)] for label, names in FIELD_GROUPS],
        "operators": operators,
        "operators_by_type": {value_type: list(names) for value_type, names in OPERATORS_BY_TYPE.items()},
        "matches": _choices(MATCHES),
        "trait_kinds": _choices(TRAIT_KINDS),
        "traits": trait_keys_seen(),
        "identifier_kinds": _choices(identifier_kind_choices()),
        "channels": _choices(Channel.choices),
        "event_types": _choices(event_types_known()),
        "windows": _choices(WINDOWS.items()),
        "property_operators": [[name, str(OPERATORS[name][0])] for name in PROPERTY_OPERATORS],
        "revenue_aggregates": _choices(REVENUE_AGGREGATES.items()),
        "rfm_dimensions": _choices(RFM_DIMENSIONS.items()),
        "rfm_bands": list(RFM_BANDS),
        "rfm_default_days": RFM_DEFAULT_DAYS,
        "segments": [{"id": pk, "name": name, "kind": kind} for pk, name, kind in others],
    }


# ---------------------------------------------------------------------------
# Refreshes


def _latest_refresh(column: str) -> Subquery:
    latest = SegmentRefresh.objects.filter(segment=OuterRef("pk")).order_by("-requested_at", "-pk")
    return Subquery(latest.values(column)[:1])


def segments_with_refresh(segments: QuerySet[Segment] | None = None) -> QuerySet[Segment]:
    """Segments with their latest refresh (``refresh_*``) and their last successful one (``last_success_at``)."""
    succeeded = SegmentRefresh.objects.filter(segment=OuterRef("pk"), status=RefreshStatus.SUCCEEDED)
    return (Segment.objects.all() if segments is None else segments).annotate(
        refresh_id=_latest_refresh("pk"),
        refresh_status=_latest_refresh("status"),
        refresh_requested_at=_latest_refresh("requested_at"),
        refresh_started_at=_latest_refresh("started_at"),
        refresh_finished_at=_latest_refresh("finished_at"),
        refresh_error=_latest_refresh("error"),
        last_success_at=Subquery(succeeded.order_by("-finished_at", "-pk").values("finished_at")[:1]),
    )


class RefreshState:
    """What a marketer sees of a refresh: a queued one is a running one that no worker has started yet."""

    NONE = "none"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def refresh_state(status: str | None, started_at: datetime.datetime | None) -> str:
    if status is None:
        return RefreshState.NONE
    if status == RefreshStatus.RUNNING:
        return RefreshState.RUNNING if started_at else RefreshState.QUEUED
    return RefreshState.SUCCEEDED if status == RefreshStatus.SUCCEEDED else RefreshState.FAILED


@dataclass
class RefreshProgress:
    state: str
    refresh: SegmentRefresh | None
    elapsed: datetime.timedelta | None
    previous_duration: datetime.timedelta | None
    percent: int | None  # None while it cannot be estimated (queued, or no previous refresh to compare with)

    @property
    def done(self) -> bool:
        return self.state in (RefreshState.NONE, RefreshState.SUCCEEDED, RefreshState.FAILED)


def segment_refresh_progress(*, segment: Segment, now: datetime.datetime | None = None) -> RefreshProgress:
    """The segment's latest refresh, how long it has run and an estimate of how far it is (two queries)."""
    now = now or timezone.now()
    refreshes = SegmentRefresh.objects.filter(segment=segment)
    latest = refreshes.order_by("-requested_at", "-pk").first()
    if latest is None:
        return RefreshProgress(RefreshState.NONE, None, None, None, None)
    previous = (
        refreshes.filter(status=RefreshStatus.SUCCEEDED, started_at__isnull=False, finished_at__isnull=False)
        .exclude(pk=latest.pk)
        .order_by("-finished_at", "-pk")
        .values_list("started_at", "finished_at")
        .first()
    )
    previous_duration = previous[1] - previous[0] if previous else None
    state = refresh_state(latest.status, latest.started_at)
    percent = None
    if state == RefreshState.QUEUED:
        elapsed = now - latest.requested_at
    elif state == RefreshState.RUNNING:
        elapsed = now - latest.started_at
        if previous_duration:
            percent = min(PROGRESS_CAP, int(100 * elapsed / previous_duration))
    else:
        elapsed = latest.duration
        percent = 100
    return RefreshProgress(state, latest, elapsed, previous_duration, percent)


# ---------------------------------------------------------------------------
# Segments needing attention


@dataclass
class Attention:
    segment: Segment
    reason: str  # "failed", "stuck" or "stale"
    since: datetime.datetime | None
    error: str = ""


def segments_needing_attention(*, now: datetime.datetime | None = None) -> list[Attention]:
    """Segments whose figures cannot be trusted, in one query.

    The latest refresh failed; or it has been queued or running for more than
    15 minutes; or, with no refresh on its way, none succeeded for more than twice
    the interval of the segment's schedule (counted from its creation when it was
    never refreshed).
    Segments refreshed "only when I ask" are never stale.
    """
    now = now or timezone.now()
    stuck_before = now - REFRESH_STUCK_AFTER
    stale = Q()
    for every, interval in SCHEDULE_INTERVALS.items():
        stale |= Q(refresh_every=every, fresh_since__lt=now - 2 * interval)
    segments = (
        segments_with_refresh()
        .annotate(
            fresh_since=Coalesce(F("last_success_at"), F("created_at")),
            refresh_since=Coalesce(F("refresh_started_at"), F("refresh_requested_at")),
        )
        .filter(
            Q(refresh_status=RefreshStatus.FAILED)
            | Q(refresh_status=RefreshStatus.RUNNING, refresh_since__lt=stuck_before)
            # A refresh on its way is given its chance: it shows here if it gets stuck or fails.
            | (stale & (Q(refresh_status__isnull=True) | ~Q(refresh_status=RefreshStatus.RUNNING)))
        )
        .order_by("name")
    )
    found = []
    for segment in segments:
        if segment.refresh_status == RefreshStatus.FAILED:
            found.append(Attention(segment, "failed", segment.refresh_finished_at, segment.refresh_error))
        elif segment.refresh_status == RefreshStatus.RUNNING and segment.refresh_since < stuck_before:
            found.append(Attention(segment, "stuck", segment.refresh_since))
        else:
            found.append(Attention(segment, "stale", segment.last_success_at))
    return found


# ---------------------------------------------------------------------------
# Members: overlap and history


def segment_overlap(segment_ids: list[int]) -> dict[tuple[int, int], int]:
    """How many people each pair of segments shares, the diagonal being each segment's members (one query).

    A self-join of the memberships on the profile, grouped by the two segments
    (written in SQL: the ORM would join the profiles table in between). Both
    (a, b) and (b, a) are in the result; pairs that share nobody are absent.
    """
    ids = [int(pk) for pk in segment_ids]
    if not ids:
        return {}
    table = connection.ops.quote_name(SegmentMembership._meta.db_table)
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.segment_id, b.segment_id, COUNT(*) FROM {table} a "
            f"JOIN {table} b ON b.profile_id = a.profile_id AND b.segment_id >= a.segment_id "
            f"WHERE a.segment_id IN ({placeholders}) AND b.segment_id IN ({placeholders}) "
            f"GROUP BY a.segment_id, b.segment_id",
            [*ids, *ids],
        )
        pairs = cursor.fetchall()
    overlap = {}
    for first, second, shared in pairs:
        overlap[(first, second)] = overlap[(second, first)] = shared
    return overlap


@dataclass
class DayChanges:
    day: datetime.date
    entered: int = 0
    left: int = 0


def segment_membership_history(
    *, segment: Segment, days: int = 30, now: datetime.datetime | None = None
) -> list[DayChanges]:
    """People who entered and left the segment on each of the last ``days`` days (local time), oldest first."""
    today = timezone.localdate(now or timezone.now())
    first_day = today - datetime.timedelta(days=days - 1)
    start = timezone.make_aware(datetime.datetime.combine(first_day, datetime.time.min))
    rows = (
        SegmentMembershipChange.objects.filter(segment=segment, changed_at__gte=start)
        .annotate(day=TruncDate("changed_at", tzinfo=timezone.get_current_timezone()))
        .values_list("day", "change")
        .annotate(count=Count("pk"))
        .order_by()
    )
    history = {day: DayChanges(day) for day in (first_day + datetime.timedelta(days=n) for n in range(days))}
    for day, change, count in rows:
        if day in history:
            if change == MembershipChangeKind.ENTERED:
                history[day].entered += count
            else:
                history[day].left += count
    return list(history.values())


# ---------------------------------------------------------------------------
# Deleting


def segments_using(*, segment_ids: set[int]) -> dict[int, list[str]]:
    """For each of ``segment_ids``, the names of the other segments (outside the set) whose conditions use it."""
    users: dict[int, list[str]] = {}
    for _pk, name, rules in Segment.objects.exclude(pk__in=segment_ids).values_list("pk", "name", "rules"):
        for used in rules_segment_ids(rules or {}) & segment_ids:
            users.setdefault(used, []).append(name)
    return {used: sorted(names) for used, names in users.items()}


def segments_held_rows(*, segment_ids: list[int]) -> list[tuple[Any, int]]:
    """What deleting the segments also deletes, as (name of the rows, count), without loading them."""
    counted = [
        (SegmentMembership, _("people currently in the segment")),
        (SegmentListEntry, _("people on the uploaded list")),
        (SegmentMembershipChange, _("entries and exits in the history")),
        (SegmentRefresh, _("refreshes")),
    ]
    return [(label, model.objects.filter(segment_id__in=segment_ids).count()) for model, label in counted]
