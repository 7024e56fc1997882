"""Writes on campaigns: planning a run (snapshot, control group, consent gate, pressure cap, batches) and sending.

Planning is set-based: a few statements whatever the audience size. Sending
takes one batch at a time, locks it, re-checks consent (a withdrawal since the
plan is honoured), calls the destination's connector and records each
delivery's fate in the same transaction. A failed attempt is retried on a
schedule like the established webhook services (seconds, then minutes, then
hours, with jitter, honouring Retry-After), then marked failed with the reason.
"""

import datetime
import json
import logging
import random
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Count, Exists, F, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, PeriodicTask

from activations.audiences import audience_run_sync
from activations.connectors import Batch, BatchOutcome, Recipient, connector_for
from activations.models import (
    BatchStatus,
    Campaign,
    CampaignRun,
    CampaignStatus,
    Delivery,
    DeliveryBatch,
    DeliveryStatus,
    Destination,
    PressureCap,
    Recurrence,
    RunStatus,
    RunTrigger,
    ScheduleKind,
    WithdrawalNotice,
)
from profiles.models import Channel, Event, Profile
from profiles.selectors import consent_gate
from scores.selectors import send_hour_scores
from segments.control import BUCKETS, control_bucket_sql, control_threshold
from segments.models import SegmentMembership

logger = logging.getLogger(__name__)

PROFILE_FIELDS = ("first_name", "last_name", "city", "postcode", "country", "language", "birth_date")
# The channels a campaign may send at each person's best hour (a message they read when it arrives).
BEST_HOUR_CHANNELS = (Channel.EMAIL, Channel.SMS)
# Batch numbers of a run sent at best hours: (k × SLOTS + slot) × variants + variant, slot 0 sent at once.
SLOTS = 25
# A run planning this many deliveries or more refreshes the deliveries' statistics (PostgreSQL).
ANALYZE_AFTER = 10_000


# ---------------------------------------------------------------------------
# Planning


@dataclass(frozen=True)
class Variant:
    """What one share of the treatment group receives: the campaign's own message or an A/B test arm."""

    arm_id: int | None
    name: str
    channel: str
    destination: Destination
    content: dict[str, Any]
    bucket_below: int  # people whose arm bucket is below this (and not below the previous variant's) get it


def campaign_variants(campaign: Campaign) -> list[Variant]:
    """The arms, each with its share of the treatment group, then the campaign's own message with the rest."""
    variants, upper = [], 0
    for arm in campaign.arms.select_related("destination").order_by("pk"):
        upper += control_threshold(arm.share_percent)
        variants.append(
            Variant(
                arm_id=arm.pk,
                name=arm.name,
                channel=arm.channel or campaign.channel,
                destination=arm.destination or campaign.destination,
                content=arm.content or campaign.content,
                bucket_below=min(upper, BUCKETS),
            )
        )
    if upper < BUCKETS:
        variants.append(
            Variant(
                arm_id=None,
                name=campaign.name,
                channel=campaign.channel,
                destination=campaign.destination,
                content=campaign.content,
                bucket_below=BUCKETS,
            )
        )
    return variants


def campaign_arms_check(*, shares: list[Decimal]) -> None:
    """The arms' shares of the treatment group add up to 100 % at most."""
    total = sum(shares, Decimal("0"))
    if total > 100:
        raise ValidationError(
            _("The variants' shares add up to %(total)s %%: they can take 100 %% of the treatment group at most.")
            % {"total": total}
        )


def _gate_sql(channel: str) -> tuple[str, list]:
    """SQL of the consent gate for ``channel``: one row per allowed profile, with its consented address."""
    gate = consent_gate(channel=channel).values("profile_id").annotate(address=Min("address")).order_by()
    sql, params = gate.query.sql_with_params()
    return sql, list(params)


def best_hour_starts(*, now: datetime.datetime, window_hours: int) -> dict[int, datetime.datetime | None]:
    """When a person whose best hour is h (0-23, local time: settings.TIME_ZONE) gets a message planned ``now``.

    The next time the clock shows h:00, if it comes within the window; None (at
    once) when it is that hour now, or when the hour is further than the window.
    """
    zone = timezone.get_default_timezone()
    local = timezone.localtime(now, zone)
    window = datetime.timedelta(hours=window_hours)
    starts: dict[int, datetime.datetime | None] = {}
    for hour in range(24):
        day = local.date() if hour > local.hour else local.date() + datetime.timedelta(days=1)
        start = datetime.datetime.combine(day, datetime.time(hour), tzinfo=zone)
        starts[hour] = None if hour == local.hour or start - now > window else start
    return starts


def _best_hour_sql(starts: dict[int, datetime.datetime | None]) -> tuple[str, str, list]:
    """(join, slot, params): a LEFT JOIN on the best send hour scores and each person's slot (hour + 1, 0: at once)."""
    scores, fallback = send_hour_scores()
    if scores.query.is_empty():
        join, hour, params = "", str(int(fallback)), []
    else:
        sql, scores_params = scores.query.sql_with_params()
        join = f"LEFT JOIN ({sql}) h ON h.profile_id = a.profile_id"
        hour, params = f"COALESCE(CAST(h.value AS INTEGER), {int(fallback)})", list(scores_params)
    timed = [hour_of_day for hour_of_day, start in starts.items() if start is not None]
    if not timed:
        return join, "0", params
    slot = f"CASE {hour} " + " ".join(f"WHEN {h} THEN {h + 1}" for h in timed) + " ELSE 0 END"
    return join, slot, params


def _snapshot(
    *,
    run: CampaignRun,
    now: datetime.datetime,
    profile_ids: list[int] | None = None,
    hour_starts: dict[int, datetime.datetime | None] | None = None,
) -> int:
    """One Delivery per member of the campaign's segments, in one INSERT … SELECT; returns how many.

    Each member is held out when the campaign's own bucket puts them in its
    control group, or when they are in the control group of one of its
    segments (a control group is kept out of every send). The others get a
    variant by a second bucket, then the consent gate of that variant's channel
    (profiles.selectors.consent_gate, joined here) gives their consented address
    or suppresses them. Planned runs number the pending deliveries into batches
    of each variant's destination's size, all in the same statement.

    With ``hour_starts`` (send-time optimisation) each person's best send hour
    (scores.selectors.send_hour_scores, joined here) gives them a slot, and a
    batch holds the people of one slot only: see ``best_hour_starts``.

    With ``profile_ids`` (a triggered send) only those people are taken, those
    already in the run are skipped, a campaign without segments takes them as
    they are, and no batch is numbered.
    """
    campaign = run.campaign
    quote = connection.ops.quote_name
    deliveries, members = quote(Delivery._meta.db_table), quote(SegmentMembership._meta.db_table)
    segment_ids = list(campaign.segments.values_list("pk", flat=True))
    if not segment_ids and profile_ids is None:
        return 0
    variants = campaign_variants(campaign)
    postgres = connection.vendor == "postgresql"
    # As the ORM writes it (SQLite keeps text: the same text compares equal, and sorts, with ORM values).
    stamp = connection.ops.adapt_datetimefield_value(now)
    key = "md5(%s || ':' || p.profile_id::text)::uuid" if postgres else "cdp_md5(%s || ':' || p.profile_id)"
    if segment_ids:
        source = f"{members} m WHERE m.segment_id IN ({', '.join(['%s'] * len(segment_ids))})"
        in_segment_control = "MAX(CASE WHEN m.in_control THEN 1 ELSE 0 END) = 1"
        source_params: list = list(segment_ids)
    else:
        profiles = quote(Profile._meta.db_table)
        source = f"(SELECT id AS profile_id FROM {profiles}) m WHERE 1 = 1"
        in_segment_control = "1 = 0"
        source_params = []
    if profile_ids is not None:
        source += f" AND m.profile_id IN ({', '.join(['%s'] * len(profile_ids))})"
        source += f" AND NOT EXISTS (SELECT 1 FROM {deliveries} d WHERE d.run_id = %s AND d.profile_id = m.profile_id)"
        source_params += [*profile_ids, run.pk]

    # Members with their control group flag and variant number.
    bucket = control_bucket_sql(connection.vendor, "m.profile_id")
    variant_cases = " ".join(f"WHEN {bucket} < %s THEN {number}" for number in range(len(variants) - 1))
    variant_sql = f"CASE {variant_cases} ELSE {len(variants) - 1} END" if variant_cases else "0"
    variant_params: list = []
    for variant in variants[:-1]:
        variant_params += [f"{campaign.control_salt}:arms", variant.bucket_below]
    assigned = (
        f"SELECT m.profile_id, CASE WHEN {bucket} < %s OR {in_segment_control} THEN 1 ELSE 0 END AS held, "
        f"{variant_sql} AS variant FROM {source} GROUP BY m.profile_id"
    )
    assigned_params = [
        campaign.control_salt,
        control_threshold(campaign.holdout_percent),
        *variant_params,
        *source_params,
    ]

    # One join on the consent gate per channel the variants use.
    channels = list(dict.fromkeys(variant.channel for variant in variants))
    joins, join_params = [], []
    for number, channel in enumerate(channels):
        gate, gate_params = _gate_sql(channel)
        joins.append(f"LEFT JOIN ({gate}) g{number} ON g{number}.profile_id = a.profile_id")
        join_params += gate_params

    def per_variant(values: list[str]) -> str:
        return "CASE a.variant " + " ".join(f"WHEN {n} THEN {value}" for n, value in enumerate(values)) + " END"

    address = per_variant([f"g{channels.index(variant.channel)}.address" for variant in variants])
    slot, hour_join, hour_params = "0", "", []
    if hour_starts is not None and profile_ids is None:
        hour_join, hour_slot, hour_params = _best_hour_sql(hour_starts)
        slot = per_variant([hour_slot if variant.channel in BEST_HOUR_CHANNELS else "0" for variant in variants])
        joins.append(hour_join)
    planned = (
        f"SELECT a.profile_id, a.variant, {slot} AS slot, "
        f"CASE WHEN a.held = 1 THEN %s ELSE {per_variant(['%s'] * len(variants))} END AS channel, "
        f"CASE WHEN a.held = 1 THEN NULL ELSE {per_variant(['CAST(%s AS BIGINT)'] * len(variants))} END AS arm_id, "
        f"CASE WHEN a.held = 1 THEN %s WHEN {address} IS NULL THEN %s ELSE %s END AS status, "
        f"CASE WHEN a.held = 1 THEN '' ELSE COALESCE({address}, '') END AS address "
        f"FROM ({assigned}) a {' '.join(joins)}"
    )
    planned_params = [
        campaign.channel,
        *[variant.channel for variant in variants],
        *[variant.arm_id for variant in variants],
        DeliveryStatus.HELD_OUT,
        DeliveryStatus.SUPPRESSED_NO_CONSENT,
        DeliveryStatus.PENDING,
        *assigned_params,
        *join_params,
        *hour_params,
    ]
    if profile_ids is None:
        # Batch k of variant v is number k × (variants) + v: unique in the run without counting first.
        sizes = [connector_for(variant.destination).batch_size or 2**31 for variant in variants]
        size = "CASE p.variant " + " ".join(f"WHEN {n} THEN %s" for n in range(len(variants))) + " END"
        batch = (
            f"CASE WHEN p.status = %s THEN ((ROW_NUMBER() OVER (PARTITION BY p.status, p.variant "
            f"ORDER BY p.profile_id) - 1) / {size}) * {len(variants)} + p.variant END"
        )
        if hour_starts is not None:
            # One hour per batch: batch k of variant v and slot s is number (k × SLOTS + s) × (variants) + v.
            batch = (
                f"CASE WHEN p.status = %s THEN (((ROW_NUMBER() OVER (PARTITION BY p.status, p.variant, p.slot "
                f"ORDER BY p.profile_id) - 1) / {size}) * {SLOTS} + p.slot) * {len(variants)} + p.variant END"
            )
        batch_params: list = [DeliveryStatus.PENDING, *sizes]
    else:
        batch, batch_params = "NULL", []
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {deliveries} (run_id, profile_id, channel, arm_id, status, address, batch, "
            f"idempotency_key, attempts, error, created_at, triggered_at) "
            f"SELECT %s, p.profile_id, p.channel, p.arm_id, p.status, p.address, {batch}, {key}, 0, "
            f"CASE WHEN p.status = %s THEN %s ELSE '' END, %s, %s FROM ({planned}) p",
            [
                run.pk,
                *batch_params,
                run.uuid.hex,
                DeliveryStatus.SUPPRESSED_NO_CONSENT,
                _("No consent for this channel."),
                stamp,
                stamp if profile_ids is not None else None,
                *planned_params,
            ],
        )
        return cursor.rowcount


def _consent_apply(*, run: CampaignRun, channel: str, deliveries: Q) -> int:
    """At the send: pending deliveries that lost consent for the channel are suppressed, the others get the address.

    This is the consent gate (profiles.selectors.consent_gate) again, so that a
    withdrawal since the plan is honoured. Returns how many were suppressed.
    """
    gate = consent_gate(channel=channel).filter(profile=OuterRef("profile"))
    pending = Delivery.objects.filter(run=run, status=DeliveryStatus.PENDING).filter(deliveries)
    suppressed = pending.exclude(Exists(gate)).update(
        status=DeliveryStatus.SUPPRESSED_NO_CONSENT, error=_("No consent for this channel.")
    )
    pending.update(address=Subquery(gate.order_by("address").values("address")[:1]))
    return suppressed


def _pressure_caps(campaign: Campaign, channel: str) -> list[tuple[str, int, int]]:
    """(channel or "" for all channels, max messages, window in days) of every cap a send on ``channel`` obeys."""
    caps = [
        (cap.channel, cap.max_messages, cap.window_days)
        for cap in PressureCap.objects.filter(Q(channel="") | Q(channel=channel))
    ]
    if campaign.pressure_max_messages:
        caps.append((channel, campaign.pressure_max_messages, campaign.pressure_window_days))
    return caps


def _pressure_apply(*, run: CampaignRun, channel: str, now: datetime.datetime, deliveries: Q | None = None) -> int:
    """Suppress pending deliveries on ``channel`` of people who already got as many messages as a cap allows.

    Counted, within each cap's window: messages of other runs sent or delivered,
    and those still waiting to be sent when their campaign goes first (a lower
    priority number, or the same priority and planned earlier). It runs when a
    run is planned and again when each batch is sent, so when two campaigns
    compete for the same people, the one that goes first keeps them as long as
    neither has sent yet. Returns how many were suppressed.
    """
    campaign = run.campaign
    goes_first = Q(run__campaign__priority__lt=campaign.priority) | Q(
        run__campaign__priority=campaign.priority, run_id__lt=run.pk
    )
    counted = Q(status__in=[DeliveryStatus.SENT, DeliveryStatus.DELIVERED]) | (
        Q(status=DeliveryStatus.PENDING) & goes_first
    )
    pending = Delivery.objects.filter(run=run, status=DeliveryStatus.PENDING, channel=channel)
    if deliveries is not None:
        pending = pending.filter(deliveries)
    suppressed = 0
    for cap_channel, max_messages, window_days in _pressure_caps(campaign, channel):
        recent = Delivery.objects.filter(counted, created_at__gte=now - datetime.timedelta(days=window_days)).exclude(
            run=run
        )
        if cap_channel:
            recent = recent.filter(channel=cap_channel)
        if deliveries is not None:
            # A batch or a trigger: count the messages of its few people only, not of everyone in the window.
            recent = recent.filter(profile_id__in=pending.values("profile_id"))
        over = (
            recent.order_by()
            .values("profile_id")
            .annotate(messages=Count("pk"))
            .filter(messages__gte=max_messages)
            .values("profile_id")
        )
        scope = _("on this channel") if cap_channel else _("on all channels")
        suppressed += pending.filter(profile_id__in=over).update(
            status=DeliveryStatus.SUPPRESSED_PRESSURE,
            batch=None,
            error=_("Already %(count)s messages in %(days)s days %(scope)s.")
            % {"count": max_messages, "days": window_days, "scope": scope},
        )
    return suppressed


def _batches_create(*, run: CampaignRun, hour_starts: dict[int, datetime.datetime | None] | None = None) -> int:
    """A DeliveryBatch for each batch number the snapshot gave pending deliveries; returns how many.

    With ``hour_starts``, a batch of people whose best hour is later is not sent before that hour.
    """
    quote = connection.ops.quote_name
    deliveries, batches = quote(Delivery._meta.db_table), quote(DeliveryBatch._meta.db_table)
    not_before, not_before_params = "NULL", []
    timed = {hour: start for hour, start in (hour_starts or {}).items() if start is not None}
    if timed:
        variants = len(campaign_variants(run.campaign))
        not_before = (
            f"CASE (batch / {variants}) %% {SLOTS} " + " ".join(f"WHEN {hour + 1} THEN %s" for hour in timed) + " END"
        )
        not_before_params = [connection.ops.adapt_datetimefield_value(start) for start in timed.values()]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {batches} (run_id, number, arm_id, status, attempts, error, not_before) "
            f"SELECT %s, batch, MIN(arm_id), %s, 0, '', {not_before} FROM {deliveries} "
            f"WHERE run_id = %s AND status = %s AND batch IS NOT NULL GROUP BY batch",
            [run.pk, BatchStatus.PENDING, *not_before_params, run.pk, DeliveryStatus.PENDING],
        )
        return cursor.rowcount


@dataclass
class RunCounts:
    total: int
    by_status: dict[str, int]


def campaign_run_counts(*, run: CampaignRun) -> RunCounts:
    rows = Delivery.objects.filter(run=run).values_list("status").annotate(n=Count("pk")).order_by()
    by_status = {status: count for status, count in rows}
    return RunCounts(total=sum(by_status.values()), by_status=by_status)


def campaign_run_create(*, campaign: Campaign, trigger: str) -> CampaignRun:
    batch_size = connector_for(campaign.destination).batch_size
    return CampaignRun.objects.create(campaign=campaign, trigger=trigger, batch_size=batch_size or 0)


@transaction.atomic
def campaign_run_plan(*, run: CampaignRun, now: datetime.datetime | None = None) -> CampaignRun:
    """Snapshot, control group, consent gate, pressure cap and batches for ``run``: one transaction.

    A campaign sent at each person's best hour gets batches of one hour each,
    not sent before that hour (the sweeper sends them when it comes). Planning
    a run twice does nothing the second time.
    """
    now = now or timezone.now()
    run = CampaignRun.objects.select_for_update().select_related("campaign").get(pk=run.pk)
    if run.status != RunStatus.PLANNING:
        return run
    # Runs of one campaign are planned one after the other, so the pressure cap sees the previous one.
    Campaign.objects.select_for_update().filter(pk=run.campaign_id).first()
    hour_starts = None
    if run.campaign.send_at_best_hour:
        hour_starts = best_hour_starts(now=now, window_hours=run.campaign.best_hour_window_hours)
    planned = _snapshot(run=run, now=now, hour_starts=hour_starts)
    if planned >= ANALYZE_AFTER and connection.vendor == "postgresql":
        # The run's rows are new to the planner's statistics, which then take "this run" for a handful of
        # rows and filter all of them for each batch's 500 (230 ms a batch at 1,000,000 instead of 1 ms).
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(Delivery._meta.db_table)}")
    for channel in {variant.channel for variant in campaign_variants(run.campaign)}:
        _pressure_apply(run=run, channel=channel, now=now)
    removal_ids = audience_run_sync(run=run, now=now)
    transaction.on_commit(lambda: _audience_removals_queue(removal_ids))
    run.batches = _batches_create(run=run, hour_starts=hour_starts)
    run.planned_at = now
    run.status = RunStatus.SENDING if run.batches else RunStatus.FINISHED
    if not run.batches:
        run.finished_at = now
    run.save(update_fields=["batches", "planned_at", "status", "finished_at"])
    return run


def _audience_removals_queue(removal_ids: list[int]) -> None:
    from activations.tasks import audience_removal_send_task

    for removal_id in removal_ids:
        audience_removal_send_task.delay(removal_id)


# ---------------------------------------------------------------------------
# Sending


def retry_schedule() -> list[float]:
    """Seconds to wait before each retry (the established webhook services' schedule, by default)."""
    return [float(seconds) for seconds in settings.CDP_DELIVERY_RETRY_SCHEDULE]


def retry_delay(*, attempt: int, retry_after: float | None) -> float | None:
    """Seconds before the next attempt after ``attempt`` failed ones, or None when it was the last."""
    schedule = retry_schedule()
    if attempt > len(schedule):
        return None
    delay = schedule[attempt - 1] * random.uniform(0.8, 1.2)  # noqa: S311 (jitter, not a secret)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def attempt_outcome_apply(*, attempt: Any, outcome: BatchOutcome, now: datetime.datetime) -> None:
    """Record one attempt at a single message (a withdrawal notice, an audience removal) on its row.

    Done when the peer took it, failed when it refused it for good, otherwise
    retried on the deliveries' schedule, then failed with the reason. The
    caller saves the row in the transaction that holds its lock.
    """
    if outcome.delivered:
        attempt.status, attempt.sent_at, attempt.error, attempt.next_attempt_at = BatchStatus.DONE, now, "", None
    elif outcome.failed:
        attempt.status, attempt.error = BatchStatus.FAILED, next(iter(outcome.failed.values()))[:500]
    else:
        reason = next(iter(outcome.retry.values()))
        delay = retry_delay(attempt=attempt.attempts, retry_after=outcome.retry_after)
        if delay is None:
            attempt.status = BatchStatus.FAILED
            attempt.error = (
                _("Gave up after %(attempts)s attempts: %(reason)s") % {"attempts": attempt.attempts, "reason": reason}
            )[:500]
        else:
            attempt.status, attempt.error = BatchStatus.RETRYING, reason[:500]
            attempt.next_attempt_at = now + datetime.timedelta(seconds=delay)


def attempts_due(queryset: QuerySet, *, now: datetime.datetime | None = None) -> list[int]:
    """Single messages to (re)send now: retries whose time has come, and pending ones whose task may be lost."""
    now = now or timezone.now()
    due = Q(status=BatchStatus.RETRYING, next_attempt_at__lte=now) | Q(
        status=BatchStatus.PENDING, created_at__lte=now - datetime.timedelta(minutes=10)
    )
    return list(queryset.filter(due).order_by("pk").values_list("pk", flat=True))


def _recipients(deliveries: list[Delivery]) -> list[Recipient]:
    recipients = []
    for delivery in deliveries:
        profile = delivery.profile
        fields = {name: getattr(profile, name) for name in PROFILE_FIELDS}
        fields = {name: ("" if value is None else str(value)) for name, value in fields.items()}
        recipients.append(
            Recipient(
                delivery_id=delivery.pk,
                idempotency_key=str(delivery.idempotency_key),
                profile_id=profile.pk,
                profile_uuid=str(profile.uuid),
                address=delivery.address,
                fields={**{str(key): value for key, value in (profile.traits or {}).items()}, **fields},
            )
        )
    return recipients


def _outcome_record(
    *, batch: DeliveryBatch, outcome: BatchOutcome, accepted_status: str, now: datetime.datetime
) -> None:
    run_deliveries = Delivery.objects.filter(run_id=batch.run_id, batch=batch.number)
    if outcome.delivered:
        run_deliveries.filter(pk__in=outcome.delivered).update(
            status=accepted_status, sent_at=now, error="", attempts=F("attempts") + 1
        )
    for delivery_id, reason in outcome.failed.items():
        run_deliveries.filter(pk=delivery_id).update(
            status=DeliveryStatus.FAILED, error=reason[:500], attempts=F("attempts") + 1
        )
    if not outcome.retry:
        batch.status, batch.finished_at, batch.next_attempt_at = BatchStatus.DONE, now, None
        batch.error = next(iter(outcome.failed.values()), "")[:500]
        return
    reason = next(iter(outcome.retry.values()))
    delay = retry_delay(attempt=batch.attempts, retry_after=outcome.retry_after)
    retrying = run_deliveries.filter(pk__in=list(outcome.retry))
    if delay is None:
        given_up = _("Gave up after %(attempts)s attempts: %(reason)s") % {"attempts": batch.attempts, "reason": reason}
        retrying.update(status=DeliveryStatus.FAILED, error=given_up[:500], attempts=F("attempts") + 1)
        batch.status, batch.finished_at, batch.next_attempt_at, batch.error = (
            BatchStatus.FAILED, now, None, given_up[:500]
        )  # fmt: skip
        return
    retrying.update(error=reason[:500], attempts=F("attempts") + 1)
    batch.status, batch.error = BatchStatus.RETRYING, reason[:500]
    batch.next_attempt_at = now + datetime.timedelta(seconds=delay)


def delivery_batch_send(*, batch_id: int, now: datetime.datetime | None = None) -> DeliveryBatch | None:
    """Send one batch (one attempt). Safe to call twice or concurrently: a batch done is not sent again.

    The batch row stays locked while its request is made, so two workers never
    send it at once; the outcome is written in the same transaction. A crash
    after the peer accepted and before the commit resends the same batch id and
    the same delivery keys, which the peer recognises.
    """
    with transaction.atomic():
        batch = (
            DeliveryBatch.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("run__campaign__destination")
            .filter(pk=batch_id)
            .first()
        )
        now = now or timezone.now()
        if batch is None or batch.status in (BatchStatus.DONE, BatchStatus.FAILED):
            return batch
        if batch.status == BatchStatus.RETRYING and batch.next_attempt_at and batch.next_attempt_at > now:
            return batch  # queued twice (countdown and sweeper): the second waits for its time
        if batch.not_before and batch.not_before > now:
            return batch  # its people's best hour has not come: the sweeper sends it then
        run, campaign = batch.run, batch.run.campaign
        variant = next(variant for variant in campaign_variants(campaign) if variant.arm_id == batch.arm_id)
        in_batch = Q(batch=batch.number)
        # A consent withdrawn since the plan is honoured at this send, and so is a campaign that goes first.
        _consent_apply(run=run, channel=variant.channel, deliveries=in_batch)
        _pressure_apply(run=run, channel=variant.channel, now=now, deliveries=in_batch)
        if campaign.cancel_event_type:
            _cancelled_apply(run=run, deliveries=in_batch)
        pending = list(
            Delivery.objects.filter(run=run, status=DeliveryStatus.PENDING)
            .filter(in_batch)
            .select_related("profile")
            .order_by("pk")
        )
        batch.attempts += 1
        if pending:
            connector = connector_for(variant.destination)
            outcome = connector.send(
                Batch(
                    message_id=batch.message_id,
                    campaign=campaign.slug,
                    run=str(run.uuid),
                    channel=variant.channel,
                    content=variant.content,
                    recipients=_recipients(pending),
                )
            )
            accepted = getattr(connector, "accepted_status", DeliveryStatus.DELIVERED)
            _outcome_record(batch=batch, outcome=outcome, accepted_status=accepted, now=now)
        else:
            batch.status, batch.finished_at = BatchStatus.DONE, now
        batch.save()
        if batch.status in (BatchStatus.DONE, BatchStatus.FAILED):
            _run_finish_if_done(run=run, now=now)
        # Counting the run's failures reads all its deliveries: only after an attempt that met some.
        if batch.error and run.alerted_at is None:
            campaign_run_failure_alert(run=run, now=now)
    return batch


def _cancelled_apply(*, run: CampaignRun, deliveries: Q) -> int:
    """Triggered sends whose person did the cancelling event since the trigger are not sent."""
    cancelling = Event.objects.filter(
        profile=OuterRef("profile"), type=run.campaign.cancel_event_type, occurred_at__gte=OuterRef("triggered_at")
    )
    return (
        Delivery.objects.filter(run=run, status=DeliveryStatus.PENDING, triggered_at__isnull=False)
        .filter(deliveries)
        .filter(Exists(cancelling))
        .update(
            status=DeliveryStatus.CANCELLED,
            error=_("Cancelled: “%(event)s” happened during the wait.") % {"event": run.campaign.cancel_event_type},
        )
    )


def campaign_runs_finish(*, runs: QuerySet[CampaignRun], now: datetime.datetime | None = None) -> int:
    """Runs still sending whose batches are all done or failed are finished; returns how many."""
    open_batches = DeliveryBatch.objects.filter(
        run=OuterRef("pk"), status__in=(BatchStatus.PENDING, BatchStatus.RETRYING)
    )
    return (
        runs.filter(status=RunStatus.SENDING)
        .exclude(Exists(open_batches))
        .update(status=RunStatus.FINISHED, finished_at=now or timezone.now())
    )


def _run_finish_if_done(*, run: CampaignRun, now: datetime.datetime) -> None:
    # The run's row is locked first: two workers ending the last two batches at once would each see the
    # other's batch still open and neither would finish the run. The second now waits, then sees both done.
    CampaignRun.objects.select_for_update().filter(pk=run.pk).first()
    campaign_runs_finish(runs=CampaignRun.objects.filter(pk=run.pk), now=now)


def delivery_batches_due(*, now: datetime.datetime | None = None, stale_after: int = 600, every: int = 60) -> list[int]:
    """Batches to (re)send now: retries whose time has come, and pending ones whose message may be lost.

    A batch kept for its people's best hour is due once in the ``every``
    seconds (the sweeper's period) after its hour comes, and again, as a lost
    message, when it is still pending ``stale_after`` seconds later: never before.
    """
    now = now or timezone.now()
    stale = now - datetime.timedelta(seconds=stale_after)
    due = (
        Q(status=BatchStatus.RETRYING, next_attempt_at__lte=now)
        | Q(status=BatchStatus.PENDING, not_before__isnull=True, run__planned_at__lte=stale)
        | Q(status=BatchStatus.PENDING, not_before__lte=now, not_before__gt=now - datetime.timedelta(seconds=every))
        | Q(status=BatchStatus.PENDING, not_before__lte=stale)
    )
    return list(
        DeliveryBatch.objects.filter(due, run__status=RunStatus.SENDING).order_by("pk").values_list("pk", flat=True)
    )


# ---------------------------------------------------------------------------
# Starting, previewing and retrying runs


def run_batches_ready(*, run: CampaignRun, now: datetime.datetime | None = None) -> list[int]:
    """The run's pending batches to queue now: all but those waiting for their people's best hour."""
    ready = Q(not_before__isnull=True) | Q(not_before__lte=now or timezone.now())
    return list(
        run.delivery_batches.filter(ready, status=BatchStatus.PENDING).order_by("number").values_list("pk", flat=True)
    )


def campaign_run_start(*, campaign: Campaign, trigger: str) -> CampaignRun:
    """Create a run and have a worker plan and send it once this transaction commits."""
    from activations.tasks import campaign_run_task

    if campaign.status == CampaignStatus.PAUSED:
        raise ValidationError(_("The campaign is paused: resume it before sending."))
    run = campaign_run_create(campaign=campaign, trigger=trigger)
    if campaign.status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.RUNNING)
    transaction.on_commit(lambda: campaign_run_task.delay(run.pk))
    return run


@dataclass
class Preview:
    counts: dict[str, int]
    samples: dict[str, list[Delivery]]  # status -> a few deliveries with their profile, variant and reason
    variants: dict[str, dict[str, int]]  # A/B test variant name -> status -> count, the control group left out


class _PreviewDone(Exception):
    pass


def campaign_preview(*, campaign: Campaign, sample_size: int = 5) -> Preview:
    """What a run would do now: counts per status and a sample of each, with the reason. Nothing is kept.

    The real planning runs in a transaction that is then rolled back, so the
    preview can never disagree with the run.
    """
    result: Preview | None = None
    try:
        with transaction.atomic():
            run = campaign_run_plan(run=campaign_run_create(campaign=campaign, trigger=RunTrigger.MANUAL))
            counts = campaign_run_counts(run=run).by_status
            samples = {
                status: list(
                    Delivery.objects.filter(run=run, status=status)
                    .select_related("profile", "arm")
                    .order_by("pk")[:sample_size]
                )
                for status in counts
            }
            variants: dict[str, dict[str, int]] = {}
            if campaign.arms.exists():
                rows = (
                    Delivery.objects.filter(run=run)
                    .exclude(status=DeliveryStatus.HELD_OUT)
                    .values_list("arm__name", "status")
                    .annotate(count=Count("pk"))
                    .order_by("arm__name")
                )
                for arm_name, status, count in rows:
                    variants.setdefault(arm_name or campaign.name, {})[status] = count
            result = Preview(counts=counts, samples=samples, variants=variants)
            raise _PreviewDone
    except _PreviewDone:
        pass
    assert result is not None
    return result


@transaction.atomic
def campaign_run_retry_failed(*, run: CampaignRun) -> int:
    """Send the failed deliveries of a run again (consent and all re-checked at the send); returns how many."""
    from activations.tasks import delivery_batch_send_task

    failed = Delivery.objects.filter(run=run, status=DeliveryStatus.FAILED)
    numbers = set(failed.values_list("batch", flat=True))
    count = failed.update(status=DeliveryStatus.PENDING, error="")
    if not count:
        return 0
    batches = DeliveryBatch.objects.filter(run=run, number__in=numbers)
    batches.update(status=BatchStatus.PENDING, attempts=0, next_attempt_at=None, error="", finished_at=None)
    CampaignRun.objects.filter(pk=run.pk).update(status=RunStatus.SENDING, finished_at=None)
    batch_ids = list(batches.values_list("pk", flat=True))
    transaction.on_commit(lambda: [delivery_batch_send_task.delay(batch_id) for batch_id in batch_ids])
    return count


# ---------------------------------------------------------------------------
# Schedules

SCHEDULED_TASK = "activations.tasks.campaign_scheduled_task"


def campaign_schedule_check(campaign: Campaign) -> None:
    errors = {}
    if campaign.schedule == ScheduleKind.ONCE and campaign.send_at is None:
        errors["send_at"] = _("Give the date and time of the send.")
    if campaign.schedule == ScheduleKind.RECURRING:
        if not campaign.recurrence:
            errors["recurrence"] = _("Choose how often to send.")
        if campaign.send_time is None:
            errors["send_time"] = _("Give the time of day of the send.")
        if campaign.recurrence == Recurrence.WEEKLY and campaign.send_weekday is None:
            errors["send_weekday"] = _("Choose the day of the week.")
        if campaign.recurrence == Recurrence.MONTHLY and campaign.send_monthday is None:
            errors["send_monthday"] = _("Choose the day of the month.")
    if campaign.schedule == ScheduleKind.EVENT and not campaign.trigger_event_type:
        errors["trigger_event_type"] = _("Name the event that triggers the send, for example add_to_cart.")
    if campaign.send_at_best_hour and campaign.channel not in BEST_HOUR_CHANNELS:
        errors["send_at_best_hour"] = _("Only an email or SMS campaign can be sent at each person's best hour.")
    elif campaign.send_at_best_hour and campaign.schedule in (ScheduleKind.EVENT, ScheduleKind.SEGMENT_ENTRY):
        errors["send_at_best_hour"] = _(
            "A campaign sent when a person does something goes after its wait, not at their best hour: "
            "untick this or send it once or again and again."
        )
    if errors:
        raise ValidationError(errors)


def campaign_schedule_sync(*, campaign: Campaign) -> None:
    """Keep the campaign's Celery beat entry in step with its schedule and status (the marketer never sees it)."""
    task = campaign.schedule_task
    wanted = campaign.schedule in (ScheduleKind.ONCE, ScheduleKind.RECURRING)
    if not wanted:
        if task is not None:
            Campaign.objects.filter(pk=campaign.pk).update(schedule_task=None)
            campaign.schedule_task = None
            task.delete()
        return
    values: dict = {
        "name": f"Campaign #{campaign.pk}",
        "task": SCHEDULED_TASK,
        "args": json.dumps([campaign.pk]),
        "description": f"Sends the campaign “{campaign.name}”, as scheduled on its page.",
        "enabled": campaign.status == CampaignStatus.SCHEDULED,
        "interval": None,
        "crontab": None,
        "clocked": None,
        "one_off": False,
    }
    if campaign.schedule == ScheduleKind.ONCE:
        values["clocked"], _created = ClockedSchedule.objects.get_or_create(clocked_time=campaign.send_at)
        values["one_off"] = True
    else:
        time_of_day = campaign.send_time
        values["crontab"], _created = CrontabSchedule.objects.get_or_create(
            minute=str(time_of_day.minute),
            hour=str(time_of_day.hour),
            day_of_week=str(campaign.send_weekday) if campaign.recurrence == Recurrence.WEEKLY else "*",
            day_of_month=str(campaign.send_monthday) if campaign.recurrence == Recurrence.MONTHLY else "*",
            month_of_year="*",
            timezone=settings.TIME_ZONE,
        )
    if task is None:
        task = PeriodicTask.objects.create(**values)
        Campaign.objects.filter(pk=campaign.pk).update(schedule_task=task)
        campaign.schedule_task = task
    else:
        for name, value in values.items():
            setattr(task, name, value)
        task.save()


@transaction.atomic
def campaign_save(*, campaign: Campaign) -> Campaign:
    """Create or update a campaign: its schedule is checked and its beat entry kept in step.

    A campaign with a schedule becomes "scheduled" when saved as a draft; a
    paused one keeps its schedule but its beat entry is disabled.
    """
    campaign_schedule_check(campaign)
    if campaign.schedule != ScheduleKind.MANUAL and campaign.status == CampaignStatus.DRAFT:
        campaign.status = CampaignStatus.SCHEDULED
    if campaign.schedule == ScheduleKind.MANUAL and campaign.status == CampaignStatus.SCHEDULED:
        campaign.status = CampaignStatus.DRAFT
    campaign.save()
    campaign_schedule_sync(campaign=campaign)
    return campaign


# ---------------------------------------------------------------------------
# Triggered sends


def _day_start(now: datetime.datetime) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(timezone.localdate(now), datetime.time.min))


@transaction.atomic
def campaign_trigger(
    *, campaign: Campaign, profile_ids: list[int], trigger: str, now: datetime.datetime | None = None
) -> list[int]:
    """People who just did the triggering event (or entered a segment) get a delivery, sent after the wait.

    Triggered deliveries go into the campaign's run of the day: a person gets at
    most one message of a triggered campaign per day, however often they
    trigger it. The same rules as a planned run apply (control groups, consent
    gate, pressure cap), and again at the send, with the cancelling event
    checked then. Returns the ids of the batches to send at once (no wait).
    """
    now = now or timezone.now()
    if not profile_ids or campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING):
        return []
    Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
    run = (
        CampaignRun.objects.filter(campaign=campaign, trigger=trigger, created_at__gte=_day_start(now))
        .order_by("-pk")
        .first()
    )
    if run is None:
        run = CampaignRun.objects.create(campaign=campaign, trigger=trigger, batch_size=1, planned_at=now)
    run.campaign = campaign
    profile_ids = sorted(set(profile_ids))
    _snapshot(run=run, now=now, profile_ids=profile_ids)
    fresh = Q(profile_id__in=profile_ids, created_at=now)
    for channel in {variant.channel for variant in campaign_variants(campaign)}:
        _pressure_apply(run=run, channel=channel, now=now, deliveries=fresh)
    pending = list(
        Delivery.objects.filter(run=run, status=DeliveryStatus.PENDING).filter(fresh).values_list("pk", "arm_id")
    )
    if not pending:
        return []
    wait = datetime.timedelta(minutes=campaign.trigger_delay_minutes)
    delayed = bool(campaign.trigger_delay_minutes)
    Delivery.objects.filter(pk__in=[pk for pk, _arm in pending]).update(batch=F("pk"))
    batches = DeliveryBatch.objects.bulk_create(
        [
            DeliveryBatch(
                run=run,
                number=pk,
                arm_id=arm_id,
                status=BatchStatus.RETRYING if delayed else BatchStatus.PENDING,
                next_attempt_at=now + wait if delayed else None,
            )
            for pk, arm_id in pending
        ]
    )
    CampaignRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SENDING, finished_at=None, batches=F("batches") + len(batches)
    )
    return [] if delayed else [batch.pk for batch in batches]


# ---------------------------------------------------------------------------
# Alerts


def campaign_run_failure_rate(*, run: CampaignRun) -> tuple[int, int]:
    """(failed, attempted) deliveries of the run: attempted = sent, delivered or failed."""
    counts = Delivery.objects.filter(run=run).aggregate(
        failed=Count("pk", filter=Q(status=DeliveryStatus.FAILED)),
        attempted=Count(
            "pk", filter=Q(status__in=[DeliveryStatus.FAILED, DeliveryStatus.SENT, DeliveryStatus.DELIVERED])
        ),
    )
    return counts["failed"], counts["attempted"]


def campaign_run_failure_alert(*, run: CampaignRun, now: datetime.datetime | None = None) -> bool:
    """Flag the run and email the staff once, when its failure rate passes the threshold; True if it did."""
    failed, attempted = campaign_run_failure_rate(run=run)
    if attempted < settings.CDP_RUN_FAILURE_ALERT_MINIMUM or failed <= attempted * settings.CDP_RUN_FAILURE_ALERT_RATE:
        return False
    flagged = CampaignRun.objects.filter(pk=run.pk, alerted_at__isnull=True).update(alerted_at=now or timezone.now())
    if not flagged:
        return False  # another worker sent the alert
    run.alerted_at = now or timezone.now()
    reason = (
        Delivery.objects.filter(run=run, status=DeliveryStatus.FAILED)
        .exclude(error="")
        .values_list("error", flat=True)
        .first()
        or ""
    )
    recipients = list(
        get_user_model().objects.filter(is_active=True, is_staff=True).exclude(email="").values_list("email", flat=True)
    )
    subject = _("Campaign “%(campaign)s”: %(failed)s of %(attempted)s deliveries failed") % {
        "campaign": run.campaign.name,
        "failed": failed,
        "attempted": attempted,
    }
    body = _(
        "The run started at %(started)s of the campaign “%(campaign)s” has %(failed)s failed deliveries out of "
        "%(attempted)s tried. First reason: %(reason)s\n\nOpen the run in the admin to retry the failed deliveries "
        "once the destination works again."
    ) % {
        "started": timezone.localtime(run.created_at).strftime("%Y-%m-%d %H:%M"),
        "campaign": run.campaign.name,
        "failed": failed,
        "attempted": attempted,
        "reason": reason,
    }
    if recipients:
        transaction.on_commit(lambda: send_mail(subject, body, None, recipients, fail_silently=True))
    logger.warning("Campaign run %s: %s of %s deliveries failed", run.pk, failed, attempted)
    return True


# ---------------------------------------------------------------------------
# Test sends


def campaign_test_send(*, campaign: Campaign, user: Any) -> list[tuple[str, BatchOutcome]]:
    """Send each variant of the campaign's message once to the staff member asking, at their own email address.

    The only send that does not pass the consent gate: it goes to a staff
    account's address, never to a profile, and is marked as a test. Returns the
    outcome of each variant, by name.
    """
    if not (user.is_active and user.is_staff and user.email):
        raise ValidationError(_("Only a staff member with an email address on their account can receive a test."))
    outcomes = []
    for variant in campaign_variants(campaign):
        recipient = Recipient(
            delivery_id=0,
            idempotency_key=str(uuid.uuid4()),
            profile_id=0,
            profile_uuid="",
            address=user.email if variant.channel == "email" else "",
            fields={"first_name": user.first_name, "last_name": user.last_name, "email": user.email, "test": "true"},
        )
        batch = Batch(
            message_id=f"test_{uuid.uuid4().hex}",
            campaign=campaign.slug,
            run="test",
            channel=variant.channel,
            content=variant.content,
            recipients=[recipient],
        )
        outcomes.append((variant.name, connector_for(variant.destination).send(batch)))
    return outcomes


# ---------------------------------------------------------------------------
# Consent withdrawals passed on to destinations that keep lists


def consent_withdrawal_propagate(*, profile_id: int, channel: str, address: str) -> list[int]:
    """One notice per destination that keeps its own list and was sent this person on this channel.

    Returns the notice ids, to send once the transaction commits.
    """
    from activations.connectors import connectors_load

    kinds = [kind for kind, connector in connectors_load().items() if connector.keeps_lists]
    sent_through = Delivery.objects.filter(
        profile_id=profile_id, channel=channel, status__in=[DeliveryStatus.SENT, DeliveryStatus.DELIVERED]
    ).values(destination=Coalesce("arm__destination_id", "run__campaign__destination_id"))
    destinations = Destination.objects.filter(kind__in=kinds, pk__in=sent_through)
    notices = WithdrawalNotice.objects.bulk_create(
        WithdrawalNotice(destination=destination, profile_id=profile_id, channel=channel, address=address)
        for destination in destinations
    )
    return [notice.pk for notice in notices]


def withdrawal_notice_send(*, notice_id: int, now: datetime.datetime | None = None) -> WithdrawalNotice | None:
    """One attempt at passing a withdrawal on, retried on the deliveries' schedule; safe to call twice."""
    now = now or timezone.now()
    with transaction.atomic():
        notice = (
            WithdrawalNotice.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("destination", "profile")
            .filter(pk=notice_id)
            .first()
        )
        if notice is None or notice.status in (BatchStatus.DONE, BatchStatus.FAILED):
            return notice
        if notice.next_attempt_at and notice.next_attempt_at > now:
            return notice
        notice.attempts += 1
        outcome = connector_for(notice.destination).withdrawal_notify(
            message_id=f"withdrawal_{notice.pk}",
            profile_uuid=str(notice.profile.uuid),
            channel=notice.channel,
            address=notice.address,
        )
        attempt_outcome_apply(attempt=notice, outcome=outcome, now=now)
        notice.save()
    return notice


def withdrawal_notices_due(*, now: datetime.datetime | None = None) -> list[int]:
    return attempts_due(WithdrawalNotice.objects.all(), now=now)
