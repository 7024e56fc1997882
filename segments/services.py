"""Writes on segments: rules, refreshes (membership diff + history), real-time evaluation, control groups."""

import datetime
import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from billiard.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from profiles.importing.reading import ImportFileError, csv_layout_detect, csv_rows
from profiles.models import Identifier, IdentifierKind, Profile
from profiles.normalisation import normalise_identifier
from segments.compiler import CompileError, SegmentLookup, rules_q
from segments.control import control_bucket, control_bucket_sql, control_threshold
from segments.models import (
    MembershipChangeKind,
    RefreshEvery,
    RefreshStatus,
    RefreshTrigger,
    Segment,
    SegmentKind,
    SegmentListEntry,
    SegmentMembership,
    SegmentMembershipChange,
    SegmentRefresh,
)
from segments.rules import rules_check, rules_event_types, rules_segment_ids
from segments.selectors import segments_using
from segments.signals import segment_membership_changed

logger = logging.getLogger(__name__)

REFRESH_TASK = "segments.tasks.segment_refresh_task"


# ---------------------------------------------------------------------------
# Rules


def segment_lookup_from_database() -> SegmentLookup:
    """Reads referenced segments once per compilation."""
    cache: dict[int, tuple[str, Any] | None] = {}

    def lookup(segment_id: int) -> tuple[str, Any] | None:
        if segment_id not in cache:
            found = Segment.objects.filter(pk=segment_id).values("kind", "rules").first()
            if found is None:
                cache[segment_id] = None
            elif found["kind"] == SegmentKind.STATIC:
                cache[segment_id] = ("static", segment_id)
            else:
                cache[segment_id] = ("rules", found["rules"])
        return cache[segment_id]

    return lookup


def _references_check(*, segment_id: int | None, rules: dict) -> None:
    """Every referenced segment exists, and none leads back to this one."""
    names = dict(Segment.objects.values_list("pk", "name"))
    graph = {pk: rules_segment_ids(segment_rules) for pk, segment_rules in Segment.objects.values_list("pk", "rules")}
    errors = []
    for referenced in sorted(rules_segment_ids(rules)):
        if referenced not in names:
            errors.append(_("The segment #%(id)s used in a condition does not exist any more.") % {"id": referenced})
            continue
        # Walk from the referenced segment: reaching this segment again is a circle.
        path, stack, seen = {referenced: [referenced]}, [referenced], set()
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            for following in graph.get(current, ()):
                if following == segment_id:
                    circle = [*path[current], following]
                    errors.append(
                        _("Circular reference: %(circle)s. A segment cannot contain itself, even through another.")
                        % {"circle": " → ".join(names.get(pk, f"#{pk}") for pk in [segment_id, *circle])}
                    )
                    stack = []
                    break
                path.setdefault(following, [*path[current], following])
                stack.append(following)
    if errors:
        raise ValidationError(errors)


def segment_rules_check(*, rules: Any, segment_id: int | None = None) -> dict:
    """Checked rules, including references to other segments; ValidationError naming each faulty condition."""
    cleaned = rules_check(rules, segment_id=segment_id)
    _references_check(segment_id=segment_id, rules=cleaned)
    return cleaned


def _event_types_transitive(rules: dict, lookup: SegmentLookup, seen: frozenset[int] = frozenset()) -> set[str]:
    types = set(rules_event_types(rules))
    for referenced in rules_segment_ids(rules) - seen:
        found = lookup(referenced)
        if found and found[0] == "rules":
            types |= _event_types_transitive(found[1], lookup, seen | {referenced})
    return types


def _event_types_update() -> dict[int, list[str]]:
    """Recompute which event types each segment reads (through nested segments too)."""
    lookup = segment_lookup_from_database()
    by_segment = {}
    for segment in Segment.objects.only("pk", "kind", "rules", "event_types"):
        types = sorted(_event_types_transitive(segment.rules, lookup, frozenset({segment.pk})))
        if segment.kind == SegmentKind.STATIC:
            types = []
        if types != segment.event_types:
            Segment.objects.filter(pk=segment.pk).update(event_types=types)
        by_segment[segment.pk] = types
    return by_segment


@transaction.atomic
def segment_save(*, segment: Segment, rules: Any = None, actor: str = "", refresh: bool = False) -> Segment:
    """Create or update a segment: checks its rules, keeps its schedule and the real-time index in step.

    With ``refresh``, a segment whose conditions are new or changed is queued for
    a full refresh, so that its stored members do not wait for the schedule.
    """
    is_new = segment.pk is None
    previous = None if is_new else Segment.objects.filter(pk=segment.pk).values("kind", "rules").first()
    if segment.kind == SegmentKind.STATIC:
        segment.rules = {"match": "all", "conditions": []}
    else:
        segment.rules = segment_rules_check(rules=segment.rules if rules is None else rules, segment_id=segment.pk)
    if is_new and actor:
        segment.created_by = actor
    holdout_changed = not is_new and (
        Segment.objects.filter(pk=segment.pk).values_list("holdout_percent", flat=True).first()
        != segment.holdout_percent
    )
    segment.save()
    segment.event_types = _event_types_update()[segment.pk]
    segment_schedule_sync(segment=segment)
    if holdout_changed:
        segment_holdout_apply(segment=segment)
    if refresh and segment.kind == SegmentKind.RULES and previous != {"kind": segment.kind, "rules": segment.rules}:
        segment_refresh_request(segment=segment, trigger=RefreshTrigger.RULES_CHANGED)
    return segment


def segment_delete(*, segment: Segment) -> None:
    users = segments_using(segment_ids={segment.pk}).get(segment.pk, [])
    if users:
        raise ValidationError(
            _("“%(name)s” is used in the conditions of: %(users)s. Change those segments first.")
            % {"name": segment.name, "users": ", ".join(users)}
        )
    with transaction.atomic():
        task = segment.refresh_task
        segment.delete()
        if task is not None:
            task.delete()


# ---------------------------------------------------------------------------
# Evaluation


def segment_profiles(*, segment: Segment, now: datetime.datetime | None = None) -> QuerySet[Profile]:
    """The profiles the segment's conditions select right now (not the stored membership)."""
    if segment.kind == SegmentKind.STATIC:
        return Profile.objects.filter(pk__in=SegmentListEntry.objects.filter(segment=segment).values("profile_id"))
    return Profile.objects.filter(
        rules_q(segment.rules, segment_lookup=segment_lookup_from_database(), now=now, segment_id=segment.pk)
    )


@dataclass
class Preview:
    count: int
    sample: list[Profile]


def segment_preview(*, rules: Any, segment_id: int | None = None, sample_size: int = 10) -> Preview:
    """Live count and a sample for rules being edited (not saved): what the builder shows as you type."""
    cleaned = segment_rules_check(rules=rules, segment_id=segment_id)
    try:
        matching = Profile.objects.filter(
            rules_q(cleaned, segment_lookup=segment_lookup_from_database(), segment_id=segment_id)
        )
    except CompileError as error:
        raise ValidationError(_("A segment used in the conditions is missing or circular.")) from error
    sample = list(matching.order_by("-pk").prefetch_related("identifiers")[:sample_size])
    return Preview(count=matching.count(), sample=sample)


def _temporary_table(cursor: Any, name: str, sql: str, params: Sequence[Any]) -> None:
    """A temporary table of profile ids holding the result of ``sql``, dropped with the transaction."""
    if connection.vendor == "postgresql":
        # No index: PostgreSQL anti-joins it by hashing, and the write stays cheap.
        cursor.execute(f"CREATE TEMPORARY TABLE {name} (id bigint NOT NULL) ON COMMIT DROP")
        cursor.execute(f"INSERT INTO {name} (id) {sql}", params)
        cursor.execute(f"ANALYZE {name}")
    else:
        cursor.execute(f"CREATE TEMPORARY TABLE {name} (id integer PRIMARY KEY)")
        cursor.execute(f"INSERT INTO {name} (id) {sql}", params)


def _memberships_write(*, segment: Segment, refresh: SegmentRefresh, now: datetime.datetime) -> tuple[int, int]:
    """Diff the stored membership against the rules in a few set-based statements; returns (entered, left)."""
    matching_sql, matching_params = segment_profiles(segment=segment, now=now).values("pk").query.sql_with_params()
    quote = connection.ops.quote_name
    membership, history = quote(SegmentMembership._meta.db_table), quote(SegmentMembershipChange._meta.db_table)
    matching = quote(f"segment_matching_{refresh.pk}")
    newcomers = quote(f"segment_newcomers_{refresh.pk}")
    bucket = control_bucket_sql(connection.vendor, "m.id")
    # As the ORM writes it (SQLite keeps text: the same text compares equal, and sorts, with ORM values).
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        _temporary_table(cursor, matching, matching_sql, matching_params)
        cursor.execute(
            f"INSERT INTO {history} (segment_id, profile_id, change, changed_at, refresh_id) "
            f"SELECT s.segment_id, s.profile_id, %s, %s, %s FROM {membership} s WHERE s.segment_id = %s "
            f"AND NOT EXISTS (SELECT 1 FROM {matching} m WHERE m.id = s.profile_id)",
            [MembershipChangeKind.LEFT, stamp, refresh.pk, segment.pk],
        )
        left = cursor.rowcount
        if left:
            cursor.execute(
                f"DELETE FROM {membership} WHERE segment_id = %s "
                f"AND NOT EXISTS (SELECT 1 FROM {matching} m WHERE m.id = {membership}.profile_id)",
                [segment.pk],
            )
        # The newcomers are set aside first: inserting members while reading the same table for who is
        # already in would read it once per newcomer when its statistics say it is empty (a new instance).
        _temporary_table(
            cursor,
            newcomers,
            f"SELECT m.id FROM {matching} m WHERE NOT EXISTS "
            f"(SELECT 1 FROM {membership} s WHERE s.segment_id = %s AND s.profile_id = m.id)",
            [segment.pk],
        )
        cursor.execute(
            f"INSERT INTO {history} (segment_id, profile_id, change, changed_at, refresh_id) "
            f"SELECT %s, m.id, %s, %s, %s FROM {newcomers} m",
            [segment.pk, MembershipChangeKind.ENTERED, stamp, refresh.pk],
        )
        entered = cursor.rowcount
        if entered:
            cursor.execute(
                f"INSERT INTO {membership} (segment_id, profile_id, in_control, entered_at) "
                f"SELECT %s, m.id, {bucket} < %s, %s FROM {newcomers} m",
                [segment.pk, segment.control_salt, control_threshold(segment.holdout_percent), stamp],
            )
        cursor.execute(f"DROP TABLE {matching}")
        cursor.execute(f"DROP TABLE {newcomers}")
    return entered, left


def _counts_update(segment: Segment) -> None:
    counts = SegmentMembership.objects.filter(segment=segment).aggregate(
        members=Count("pk"), control=Count("pk", filter=Q(in_control=True))
    )
    segment.member_count, segment.control_count = counts["members"], counts["control"]
    Segment.objects.filter(pk=segment.pk).update(member_count=segment.member_count, control_count=segment.control_count)


def segment_refresh_request(*, segment: Segment, trigger: str) -> SegmentRefresh:
    """Queue a full refresh (Celery); the returned row shows its progress in the admin."""
    from segments.tasks import segment_refresh_task

    refresh = SegmentRefresh.objects.create(segment=segment, trigger=trigger)
    transaction.on_commit(lambda: segment_refresh_task.delay(segment.pk, refresh.pk))
    return refresh


def segment_refresh(
    *,
    segment: Segment,
    trigger: str = RefreshTrigger.MANUAL,
    refresh: SegmentRefresh | None = None,
    now: datetime.datetime | None = None,
) -> SegmentRefresh:
    """Evaluate the segment in full and store who entered and who left, with the time.

    The whole diff is one transaction: a failure leaves the previous membership
    in place and the refresh row says why (it is not raised: a scheduled
    refresh that fails must show on the segment page, not only in a worker's log).
    The number of queries does not depend on the number of profiles.
    """
    now = now or timezone.now()
    if refresh is None:
        refresh = SegmentRefresh.objects.create(segment=segment, trigger=trigger)
    refresh.started_at = timezone.now()
    refresh.status, refresh.error = RefreshStatus.RUNNING, ""
    refresh.save(update_fields=["started_at", "status", "error"])
    started = time.monotonic()
    try:
        with transaction.atomic():
            # One refresh of a segment at a time: a second waits for the first.
            segment = Segment.objects.select_for_update().get(pk=segment.pk)
            entered, left = _memberships_write(segment=segment, refresh=refresh, now=now)
            _counts_update(segment)
            refresh.status = RefreshStatus.SUCCEEDED
            refresh.entered, refresh.left = entered, left
            refresh.members, refresh.control = segment.member_count, segment.control_count
            refresh.finished_at = timezone.now()
            refresh.save()
            if entered or left:
                transaction.on_commit(lambda: _refresh_announce(segment, refresh))
    except Exception as error:
        logger.exception("Refresh of segment %s (%s) failed", segment.pk, segment.name)
        refresh.status, refresh.finished_at = RefreshStatus.FAILED, timezone.now()
        refresh.error = _refresh_error_text(error)
        refresh.save(update_fields=["status", "finished_at", "error"])
    logger.info(
        "segment %s refreshed in %.2f s: %s entered, %s left", segment.pk, time.monotonic() - started,
        refresh.entered, refresh.left,
    )  # fmt: skip
    return refresh


def _refresh_error_text(error: Exception) -> str:
    if isinstance(error, CompileError):
        return _("A segment used in the conditions (#%(id)s) is missing or refers back to this one.") % {
            "id": error.args[0]
        }
    if isinstance(error, ValidationError):
        return "; ".join(error.messages)
    if isinstance(error, SoftTimeLimitExceeded):
        return _(
            "The refresh took longer than %(minutes)s minutes and was stopped: simplify the conditions, "
            "or ask an administrator to raise CDP_SEGMENT_REFRESH_TIME_LIMIT."
        ) % {"minutes": settings.CDP_SEGMENT_REFRESH_TIME_LIMIT // 60}
    return f"{type(error).__name__}: {error}"


def _refresh_announce(segment: Segment, refresh: SegmentRefresh) -> None:
    if not segment_membership_changed.has_listeners():
        return
    changes = SegmentMembershipChange.objects.filter(refresh=refresh).values_list("profile_id", "change")
    entered = [pk for pk, change in changes if change == MembershipChangeKind.ENTERED]
    left = [pk for pk, change in changes if change == MembershipChangeKind.LEFT]
    segment_membership_changed.send(sender=Segment, segment=segment, entered=entered, left=left, refresh=refresh)


# ---------------------------------------------------------------------------
# Real time


@dataclass
class ProfileChanges:
    entered: list[int] = field(default_factory=list)
    left: list[int] = field(default_factory=list)


def segment_profile_evaluate(
    *, profile_id: int, event_type: str | None = None, now: datetime.datetime | None = None
) -> ProfileChanges:
    """Re-evaluate one profile against the segments that read ``event_type`` (all rule segments when None).

    One query evaluates every such segment for the profile; entering or leaving
    is written with its history row and announced (``segment_membership_changed``)
    once the transaction commits. Returns the ids of the segments entered and left.
    """
    now = now or timezone.now()
    candidates = [
        segment
        for segment in Segment.objects.filter(kind=SegmentKind.RULES).only(
            "pk", "rules", "event_types", "control_salt", "holdout_percent"
        )
        if event_type is None or event_type in segment.event_types
    ]
    changes = ProfileChanges()
    if not candidates:
        return changes
    lookup = segment_lookup_from_database()
    annotations = {}
    for segment in candidates:
        try:
            q = rules_q(segment.rules, segment_lookup=lookup, now=now, profile_id=profile_id, segment_id=segment.pk)
        except CompileError:
            logger.warning("segment %s cannot be compiled; left to its next full refresh", segment.pk)
            continue
        annotations[f"segment_{segment.pk}"] = ExpressionWrapper(q, output_field=BooleanField())
    verdicts = Profile.objects.filter(pk=profile_id).values(**annotations).first() if annotations else None
    if verdicts is None:
        return changes
    by_id = {segment.pk: segment for segment in candidates}
    current = dict(
        SegmentMembership.objects.filter(profile_id=profile_id, segment_id__in=by_id).values_list(
            "segment_id", "in_control"
        )
    )
    changed = {
        segment_id: bool(inside)
        for segment_id, inside in ((int(name.removeprefix("segment_")), inside) for name, inside in verdicts.items())
        if bool(inside) != (segment_id in current)
    }
    if not changed:
        return changes
    with transaction.atomic():
        for segment_id, inside in changed.items():
            if inside:
                in_control = _membership_add(segment=by_id[segment_id], profile_id=profile_id, now=now)
                if in_control is not None:
                    changes.entered.append(segment_id)
                    _counts_shift(segment_id, +1, in_control)
            elif SegmentMembership.objects.filter(segment_id=segment_id, profile_id=profile_id).delete()[0]:
                SegmentMembershipChange.objects.create(
                    segment_id=segment_id, profile_id=profile_id, change=MembershipChangeKind.LEFT, changed_at=now
                )
                changes.left.append(segment_id)
                _counts_shift(segment_id, -1, current[segment_id])
        if changes.entered or changes.left:
            transaction.on_commit(lambda: _profile_changes_announce(profile_id, changes, by_id))
    return changes


def segment_profiles_evaluate(*, events: Iterable[tuple[int, str]]) -> None:
    """``segment_profile_evaluate`` for each (profile, event type) of a batch whose type a segment reads.

    One query finds the types the rule segments read; a batch of page views no
    segment reads costs nothing more. A profile whose evaluation fails is
    logged and left to the next full refresh; the others are evaluated.
    """
    read = {
        event_type
        for types in Segment.objects.filter(kind=SegmentKind.RULES).values_list("event_types", flat=True)
        for event_type in types or ()
    }
    for profile_id, event_type in events:
        if event_type not in read:
            continue
        try:
            segment_profile_evaluate(profile_id=profile_id, event_type=event_type)
        except Exception:
            # The events are kept; the next full refresh of the segments catches up.
            logger.exception("Real-time evaluation failed for profile %s after a %s event", profile_id, event_type)


def _counts_shift(segment_id: int, step: int, in_control: bool) -> None:
    """One member more or less: a counter update, not a count over a segment that may hold millions."""
    Segment.objects.filter(pk=segment_id).update(
        member_count=F("member_count") + step, control_count=F("control_count") + (step if in_control else 0)
    )


def _membership_add(*, segment: Segment, profile_id: int, now: datetime.datetime) -> bool | None:
    """Add a member; returns whether it is in the control group, or None if it was already in."""
    in_control = control_bucket(segment.control_salt, profile_id) < control_threshold(segment.holdout_percent)
    try:
        with transaction.atomic():
            SegmentMembership.objects.create(
                segment=segment, profile_id=profile_id, in_control=in_control, entered_at=now
            )
    except IntegrityError:
        return None  # a refresh running at the same time added it
    SegmentMembershipChange.objects.create(
        segment=segment, profile_id=profile_id, change=MembershipChangeKind.ENTERED, changed_at=now
    )
    return in_control


def _profile_changes_announce(profile_id: int, changes: ProfileChanges, segments: dict[int, Segment]) -> None:
    for segment_id in changes.entered:
        segment_membership_changed.send(
            sender=Segment, segment=segments[segment_id], entered=[profile_id], left=[], refresh=None
        )
    for segment_id in changes.left:
        segment_membership_changed.send(
            sender=Segment, segment=segments[segment_id], entered=[], left=[profile_id], refresh=None
        )


def memberships_merge(survivor: Profile, absorbed: Profile) -> None:
    """Merge handler: drop the absorbed profile's rows the survivor already has; the rest are re-pointed.

    The survivor is then evaluated against every segment once the merge commits.
    """
    SegmentMembership.objects.filter(
        profile=absorbed, segment_id__in=SegmentMembership.objects.filter(profile=survivor).values("segment_id")
    ).delete()
    SegmentListEntry.objects.filter(
        profile=absorbed, segment_id__in=SegmentListEntry.objects.filter(profile=survivor).values("segment_id")
    ).delete()
    survivor_id = survivor.pk
    transaction.on_commit(lambda: segment_profile_evaluate(profile_id=survivor_id))


# ---------------------------------------------------------------------------
# Control groups


@transaction.atomic
def segment_holdout_apply(*, segment: Segment) -> None:
    """Put each member in or out of the control group after the holdout percentage changed."""
    table = connection.ops.quote_name(SegmentMembership._meta.db_table)
    bucket = control_bucket_sql(connection.vendor, f"{table}.profile_id")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET in_control = ({bucket} < %s) WHERE segment_id = %s",
            [segment.control_salt, control_threshold(segment.holdout_percent), segment.pk],
        )
    _counts_update(segment)


# ---------------------------------------------------------------------------
# Schedules


def _schedule_for(every: str) -> dict[str, Any]:
    tz = settings.TIME_ZONE
    if every == RefreshEvery.FIFTEEN_MINUTES:
        return {"interval": IntervalSchedule.objects.get_or_create(every=15, period=IntervalSchedule.MINUTES)[0]}
    if every == RefreshEvery.HOUR:
        return {"interval": IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.HOURS)[0]}
    day_of_week = "1" if every == RefreshEvery.WEEK else "*"
    crontab, _created = CrontabSchedule.objects.get_or_create(
        minute="0", hour="5", day_of_week=day_of_week, day_of_month="*", month_of_year="*", timezone=tz
    )
    return {"crontab": crontab}


def segment_schedule_sync(*, segment: Segment) -> None:
    """Keep the segment's Celery beat entry in step with its "refresh" choice (the marketer never sees it)."""
    task = segment.refresh_task
    if segment.refresh_every == RefreshEvery.NEVER:
        if task is not None:
            Segment.objects.filter(pk=segment.pk).update(refresh_task=None)
            segment.refresh_task = None
            task.delete()
        return
    schedule = {"interval": None, "crontab": None, **_schedule_for(segment.refresh_every)}
    values = {
        "name": f"Refresh segment #{segment.pk}",
        "task": REFRESH_TASK,
        "args": json.dumps([segment.pk]),
        "kwargs": json.dumps({"trigger": RefreshTrigger.SCHEDULE}),
        "enabled": True,
        "description": f"Full refresh of the segment “{segment.name}”, as chosen on the segment page.",
        **schedule,
    }
    if task is None:
        task = PeriodicTask.objects.create(**values)
        segment.refresh_task = task
        Segment.objects.filter(pk=segment.pk).update(refresh_task=task)
    else:
        for name, value in values.items():
            setattr(task, name, value)
        task.save()


# ---------------------------------------------------------------------------
# Static segments


@dataclass
class ListUpload:
    lines: int = 0
    matched: int = 0
    added: int = 0
    unmatched: list[tuple[int, str, str]] = field(default_factory=list)  # (line, value, reason)


_KIND_HEADERS = {
    "email": IdentifierKind.EMAIL,
    "e-mail": IdentifierKind.EMAIL,
    "mail": IdentifierKind.EMAIL,
    "courriel": IdentifierKind.EMAIL,
    "phone": IdentifierKind.PHONE,
    "mobile": IdentifierKind.PHONE,
    "telephone": IdentifierKind.PHONE,
    "téléphone": IdentifierKind.PHONE,
    "portable": IdentifierKind.PHONE,
    "crm_id": IdentifierKind.CRM_ID,
    "crm id": IdentifierKind.CRM_ID,
    "id crm": IdentifierKind.CRM_ID,
    "customer id": IdentifierKind.CRM_ID,
    "client": IdentifierKind.CRM_ID,
}


def _kind_guess(value: str) -> str:
    if "@" in value:
        return IdentifierKind.EMAIL
    if value.replace(" ", "").replace(".", "").replace("-", "").lstrip("+").isdigit() and len(value) >= 8:
        return IdentifierKind.PHONE
    return IdentifierKind.CRM_ID


@transaction.atomic
def segment_list_upload(*, segment: Segment, stream: BinaryIO, replace: bool = True) -> ListUpload:
    """Set a static segment's people from a CSV of identifiers (email, phone or CRM id; first column).

    A header naming the kind (email, téléphone, crm_id…) is used; otherwise each
    value's kind is guessed. Lines that name nobody are reported with their line
    number and reason; the others are kept. Refreshes the membership at once.
    """
    if segment.kind != SegmentKind.STATIC:
        raise ValidationError(_("Only a segment of type “uploaded list” takes a file."))
    try:
        layout = csv_layout_detect(stream)
    except ImportFileError as error:
        raise ValidationError(str(error)) from error
    result = ListUpload()
    header_kind = _KIND_HEADERS.get(layout.header[0].strip().lower()) if layout.header else None
    wanted: list[tuple[int, str, str, str]] = []  # line, raw, kind, normalised
    rows: Iterable[tuple[int, tuple[str, ...]]] = csv_rows(stream, layout)
    if header_kind is None and layout.header:
        rows = [(1, tuple(layout.header)), *rows]
    try:
        for line, cells in rows:
            raw = (cells[0] if cells else "").strip()
            if not raw:
                continue
            result.lines += 1
            kind = header_kind or _kind_guess(raw)
            try:
                wanted.append((line, raw, kind, normalise_identifier(kind, raw)))
            except ValidationError as error:
                result.unmatched.append((line, raw, "; ".join(error.messages)))
    except ImportFileError as error:  # a line that is no CSV text, in the middle of the file
        raise ValidationError(str(error)) from error
    found: dict[tuple[str, str], int] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        match = Q()
        for _line, _raw, kind, value in chunk:
            match |= Q(kind=kind, value=value)
        found.update(
            {
                (kind, value): pk
                for kind, value, pk in Identifier.objects.filter(match).values_list("kind", "value", "profile_id")
            }
        )
    profile_ids = set()
    for line, raw, kind, value in wanted:
        if (kind, value) in found:
            profile_ids.add(found[(kind, value)])
        else:
            result.unmatched.append((line, raw, _("no profile has this identifier")))
    result.unmatched.sort()
    result.matched = len(profile_ids)
    if replace:
        SegmentListEntry.objects.filter(segment=segment).exclude(profile_id__in=profile_ids).delete()
    existing = set(SegmentListEntry.objects.filter(segment=segment).values_list("profile_id", flat=True))
    new = sorted(profile_ids - existing)
    SegmentListEntry.objects.bulk_create(
        [SegmentListEntry(segment=segment, profile_id=pk) for pk in new], batch_size=1000
    )
    result.added = len(new)
    segment_refresh(segment=segment, trigger=RefreshTrigger.RULES_CHANGED)
    return result


__all__ = [
    "ListUpload",
    "Preview",
    "ProfileChanges",
    "memberships_merge",
    "segment_delete",
    "segment_holdout_apply",
    "segment_list_upload",
    "segment_preview",
    "segment_profile_evaluate",
    "segment_profiles",
    "segment_refresh",
    "segment_refresh_request",
    "segment_rules_check",
    "segment_save",
    "segment_schedule_sync",
]
