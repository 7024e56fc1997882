"""Benchmarks of segments: full refresh, live count, one-profile re-evaluation, event to "entered segment".

They run on the demo data set of ``bench.profiles`` (``--scale`` profiles with
about ten events each, so 10,000,000 events at a million profiles), and time
one segment of three conditions, one of them behavioural with a time window:
people in a big city, who may be emailed, and who bought in the last 90 days.

The segment is evaluated at the moment the data set ends (its newest event)
rather than at the wall clock, so that the 90-day window holds the same
purchases however old the data set is, and the figures of two days compare.
Event to signal is the exception: it goes through ``event_track``, which reads
the clock, as a live event does.

What a run adds (the segment, its members and history, purchases tracked with
the source "bench") is deleted at its end, and the tables vacuumed, so the
next run starts from the same state: the first refresh writes into an empty
membership table, as the first segments of an instance do.
"""

import datetime
import random
import statistics
import time
from typing import Any

from django.db import connection
from django.db.models import Max, Min
from django.utils import timezone

from bench import BenchContext, Measurement, benchmark
from bench.profiles import BENCH_SOURCE, _timed, bench_rows_delete, demo_dataset_ensure
from profiles.models import Event, EventType, Identifier, IdentifierKind, Profile
from profiles.services import event_track
from segments.compiler import rules_profiles
from segments.models import (
    RefreshEvery,
    RefreshStatus,
    Segment,
    SegmentMembership,
    SegmentMembershipChange,
    SegmentRefresh,
)
from segments.services import (
    segment_delete,
    segment_lookup_from_database,
    segment_profile_evaluate,
    segment_profiles,
    segment_refresh,
    segment_save,
)
from segments.signals import segment_membership_changed

SEGMENT_NAME = "Bench: big-city buyers who may be emailed"
BIG_CITIES = ["Paris", "Marseille", "Lyon", "Toulouse", "Nice", "Nantes", "Bordeaux", "Lille"]
IN_A_BIG_CITY = {"field": "city", "operator": "in", "value": BIG_CITIES}
MAY_BE_EMAILED = {"field": "consent", "operator": "granted", "value": "email"}
BOUGHT_IN_90_DAYS = {
    "field": "event",
    "event_type": EventType.PURCHASE,
    "operator": "did",
    "window": "last_days",
    "days": 90,
}
SEGMENT_RULES = {"match": "all", "conditions": [IN_A_BIG_CITY, MAY_BE_EMAILED, BOUGHT_IN_90_DAYS]}
# Those one purchase away from the segment: the people a purchase puts in it.
ONE_PURCHASE_AWAY = {
    "match": "all",
    "conditions": [IN_A_BIG_CITY, MAY_BE_EMAILED, {**BOUGHT_IN_90_DAYS, "operator": "did_not"}],
}
HOLDOUT_PERCENT = 10  # a control group, as campaigns use: the refresh hashes each newcomer into a bucket

# The targets, in the unit of each figure.
REFRESH_TARGET_SECONDS = 10
COUNT_TARGET_MS = 2_000
EVALUATE_TARGET_MS = 50
SIGNAL_TARGET_MS = 1_000


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def segment_tables_settle() -> None:
    """VACUUM ANALYZE the membership tables after a run emptied them (untimed), as ``tables_settle`` does."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    tables = [Segment, SegmentRefresh, SegmentMembership, SegmentMembershipChange]
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {', '.join(connection.ops.quote_name(m._meta.db_table) for m in tables)}")


def bench_segment_delete() -> None:
    """The bench segment with its members and history, also when a run stopped half-way left it behind.

    Members and history go first in one statement each, rather than row by row
    through the segment's cascade.
    """
    segments = list(Segment.objects.filter(name=SEGMENT_NAME))
    for segment in segments:
        SegmentMembership.objects.filter(segment=segment).delete()
        SegmentMembershipChange.objects.filter(segment=segment).delete()
        segment_delete(segment=segment)
    bench_rows_delete()
    if segments:
        segment_tables_settle()


def bench_segment_create() -> Segment:
    """A new bench segment, saved as the admin saves one (so that real time knows it reads purchases)."""
    bench_segment_delete()
    segment = Segment(name=SEGMENT_NAME, refresh_every=RefreshEvery.NEVER, holdout_percent=HOLDOUT_PERCENT)
    return segment_save(segment=segment, rules=SEGMENT_RULES, actor="bench")


def dataset_end() -> datetime.datetime:
    """When the data set's history ends: its newest event (now for a data set without events)."""
    return Event.objects.aggregate(newest=Max("occurred_at"))["newest"] or timezone.now()


def refresh_checked(segment: Segment, *, now: datetime.datetime) -> SegmentRefresh:
    """``segment_refresh``, which records a failure on its row rather than raising: a failed refresh is no figure."""
    refresh = segment_refresh(segment=segment, now=now)
    if refresh.status != RefreshStatus.SUCCEEDED:
        raise RuntimeError(f"The refresh of the bench segment failed: {refresh.error}")
    return refresh


def profile_ids_sample(count: int, rng: random.Random) -> list[int]:
    """Ids of ``count`` demo profiles drawn at random (fewer when there are fewer)."""
    bounds = Profile.objects.filter(source="demo").aggregate(lowest=Min("pk"), highest=Max("pk"))
    if bounds["lowest"] is None:
        return []
    pool = range(bounds["lowest"], bounds["highest"] + 1)
    drawn = rng.sample(pool, min(len(pool), count * 2))
    # Ids are nearly dense (COPY takes them from the sequence); keep those that exist, in drawing order.
    existing = set(Profile.objects.filter(pk__in=drawn, source="demo").values_list("pk", flat=True))
    return [pk for pk in drawn if pk in existing][:count]


def one_purchase_away(*, now: datetime.datetime, count: int, rng: random.Random) -> list[tuple[int, str]]:
    """(profile id, email) of ``count`` tracked people one purchase away from the segment, drawn at random."""
    matching = rules_profiles(ONE_PURCHASE_AWAY, segment_lookup=segment_lookup_from_database(), now=now)
    profile_ids = list(matching.filter(do_not_track=False).values_list("pk", flat=True))
    chosen = rng.sample(profile_ids, min(count, len(profile_ids)))
    emails = dict(
        Identifier.objects.filter(profile_id__in=chosen, kind=IdentifierKind.EMAIL)
        .order_by("profile_id", "-id")
        .values_list("profile_id", "value")
    )
    return [(pk, emails[pk]) for pk in chosen if pk in emails]


@benchmark(
    "segment_refresh",
    description="A segment of 3 conditions (city, email consent, purchase in 90 days): full refreshes, live count.",
)
def segment_refresh_benchmark(context: BenchContext) -> list[Measurement]:
    demo_dataset_ensure(context)
    segment = bench_segment_create()
    now = dataset_end()
    profiles = Profile.objects.count()
    try:
        first_seconds, first = _timed(lambda: refresh_checked(segment, now=now))

        count_seconds, members = _timed(lambda: segment_profiles(segment=segment, now=now).count())

        # The next day's refresh: yesterday's purchases came in by a batch load (no real-time
        # evaluation), and purchases 90 days old leave the window.
        rng = random.Random(context.seed * 1000 + context.run)
        buyers = one_purchase_away(now=now, count=context.operations, rng=rng)
        bought_at = now + datetime.timedelta(hours=12)
        Event.objects.bulk_create(
            [
                Event(profile_id=pk, type=EventType.PURCHASE, occurred_at=bought_at, source=BENCH_SOURCE, revenue=50)
                for pk, _email in buyers
            ]
        )
        next_seconds, following = _timed(lambda: refresh_checked(segment, now=now + datetime.timedelta(days=1)))
    finally:
        bench_segment_delete()
    share = members / profiles if profiles else 0
    return [
        Measurement(
            "first refresh, all enter",
            first_seconds,
            "s",
            f"target < {REFRESH_TARGET_SECONDS} s; {first.entered:,} entered "
            f"({share:.1%} of {profiles:,} profiles, {first.control:,} in control)",
        ),
        Measurement(
            "next-day refresh",
            next_seconds,
            "s",
            f"target < {REFRESH_TARGET_SECONDS} s; {following.entered:,} entered, {following.left:,} left",
        ),
        Measurement(
            "live count",
            count_seconds * 1000,
            "ms",
            f"target < {COUNT_TARGET_MS:,} ms; segment_profiles().count() = {members:,}",
        ),
    ]


@benchmark(
    "segment_realtime",
    description="One profile re-evaluated against the segment, and an event's way to the 'entered segment' signal.",
)
def segment_realtime_benchmark(context: BenchContext) -> list[Measurement]:
    demo_dataset_ensure(context)
    segment = bench_segment_create()
    now = dataset_end()
    rng = random.Random(context.seed * 1000 + context.run)
    measurements = []
    try:
        refresh_checked(segment, now=now)

        evaluations = []
        for profile_id in profile_ids_sample(context.operations, rng):
            seconds, _changes = _timed(
                lambda profile_id=profile_id: segment_profile_evaluate(
                    profile_id=profile_id, event_type=EventType.PURCHASE, now=now
                )
            )
            evaluations.append(seconds * 1000)
        measurements.append(
            Measurement(
                "one profile re-evaluated",
                statistics.median(evaluations),
                "ms",
                f"target < {EVALUATE_TARGET_MS} ms; median of {len(evaluations):,} random profiles, "
                f"95th percentile {_percentile(evaluations, 0.95):.1f} ms",
            )
        )
        # Inside a caller's transaction (the test suite's) nothing commits, so no signal is sent.
        if not connection.in_atomic_block:
            measurements.append(signal_latency_measure(segment, now=now, count=context.operations, rng=rng))
    finally:
        bench_segment_delete()
    return measurements


def signal_latency_measure(segment: Segment, *, now: datetime.datetime, count: int, rng: random.Random) -> Measurement:
    """From ``event_track`` being called to ``segment_membership_changed`` announcing the entry, per purchase.

    Both happen in this process: the event commits, ``event_tracked`` re-evaluates
    the profile (segments.receivers), and the entry is announced once that commits.
    """
    entered_at: dict[int, float] = {}
    bench_segment_id = segment.pk

    def listener(sender: type, *, segment: Segment, entered: list[int], **kwargs: Any) -> None:
        if segment.pk == bench_segment_id:
            at = time.perf_counter()
            for profile_id in entered:
                entered_at.setdefault(profile_id, at)

    buyers = one_purchase_away(now=now, count=count, rng=rng)
    latencies = []
    segment_membership_changed.connect(listener, weak=False, dispatch_uid="bench_segment_entered")
    try:
        for profile_id, email in buyers:
            started = time.perf_counter()
            event_track(
                type=EventType.PURCHASE,
                identifiers={"email": email},
                source=BENCH_SOURCE,
                properties={"order_id": f"BENCH-{profile_id}"},
                revenue="49.90",
            )
            if profile_id in entered_at:
                latencies.append((entered_at[profile_id] - started) * 1000)
    finally:
        segment_membership_changed.disconnect(dispatch_uid="bench_segment_entered")
    if not latencies:
        raise RuntimeError(f"No 'entered segment' signal for {len(buyers)} purchases: is real time wired?")
    return Measurement(
        "event to 'entered' signal",
        statistics.median(latencies),
        "ms",
        f"target < {SIGNAL_TARGET_MS:,} ms; median of {len(latencies):,} purchases "
        f"({len(buyers) - len(latencies)} without a signal), 95th percentile {_percentile(latencies, 0.95):.1f} ms",
    )
