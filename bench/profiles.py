"""Benchmarks of profiles: demo data generation, identity resolution, event tracking, the consent gate.

They share one data set: the demo data at ``--scale`` profiles, which the
``demo_data`` benchmark leaves behind and the others generate when it is
missing. Rows a benchmark adds carry the source "bench" and are deleted after
each run, so the data set stays as generated.
"""

import time
import uuid
from collections.abc import Callable
from typing import Any

from django.db import connection

from bench import BenchContext, Measurement, benchmark
from profiles.demo import demo_data_generate
from profiles.models import ConsentRecord, ConsentState, Event, Identifier, IdentifierKind, MergeReason, Profile
from profiles.selectors import consent_gate, profiles_contactable
from profiles.services import event_track, profile_resolve

BENCH_SOURCE = "bench"


def profile_data_clear() -> None:
    """Empty the profile tables; on PostgreSQL every table pointing at them is emptied too (CASCADE)."""
    if connection.vendor == "postgresql":
        tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in (Profile, Event, Identifier))
        with connection.cursor() as cursor:
            if connection.in_atomic_block:
                # TRUNCATE refuses to run while rows written earlier in the transaction wait for their deferred checks.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {tables} CASCADE")
    else:
        Event.objects.all().delete()
        ConsentState.objects.all().delete()
        ConsentRecord.objects.all().delete()
        Profile.objects.all().delete()


def tables_settle() -> None:
    """VACUUM ANALYZE the profile tables, as autovacuum does after a while (untimed).

    Without it the figures drift from run to run: rows a benchmark deleted
    leave dead index entries that the planner reads through when it probes an
    index's ends, and a fresh load has no visibility map for index-only scans.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    tables = [Profile, Identifier, ConsentRecord, ConsentState, Event]
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {', '.join(connection.ops.quote_name(m._meta.db_table) for m in tables)}")


def bench_rows_delete() -> None:
    events_deleted, _by_model = Event.objects.filter(source=BENCH_SOURCE).delete()
    profiles_deleted, _by_model = Profile.objects.filter(source=BENCH_SOURCE).delete()
    if events_deleted or profiles_deleted:
        tables_settle()


def demo_dataset_ensure(context: BenchContext) -> None:
    """The demo data set of ``context.scale`` profiles, generated (untimed) unless it is there already."""
    bench_rows_delete()
    if Profile.objects.count() == context.scale and not Profile.objects.exclude(source="demo").exists():
        return
    profile_data_clear()
    demo_data_generate(profiles=context.scale, seed=context.seed)
    tables_settle()


def _timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def _demo_emails(count: int) -> list[str]:
    """Emails of tracked demo profiles, spread over the whole data set."""
    emails = Identifier.objects.filter(
        kind=IdentifierKind.EMAIL, profile__source="demo", profile__do_not_track=False
    ).values_list("value", flat=True)
    total = emails.count()
    step = max(1, total // max(count, 1))
    return list(emails.order_by("id")[: step * count : step]) if total else []


@benchmark(
    "demo_data",
    description="Generate the demo data set at --scale: profiles, identifiers, consents, events (COPY on PostgreSQL).",
)
def demo_data(context: BenchContext) -> list[Measurement]:
    profile_data_clear()
    summary = demo_data_generate(profiles=context.scale, seed=context.seed)
    tables_settle()
    return [
        Measurement(
            "profiles generated",
            summary.profiles_per_second,
            "profiles/s",
            f"{summary.profiles:,} profiles in {summary.seconds:.1f} s ({summary.writer})",
        ),
        Measurement(
            "events generated",
            summary.events_per_second,
            "events/s",
            f"{summary.events:,} events, {summary.identifiers:,} identifiers, "
            f"{summary.consent_records:,} consent log entries",
        ),
    ]


@benchmark(
    "profile_resolve",
    description="profiles.services.profile_resolve, one call per person: new, known, and two profiles to merge.",
)
def profile_resolve_benchmark(context: BenchContext) -> list[Measurement]:
    demo_dataset_ensure(context)
    count, tag = context.operations, uuid.uuid4().hex[:10]

    new_people = [
        {"email": f"bench.{tag}.{number}@bench.example", "anonymous_id": f"bench-{tag}-{number}"}
        for number in range(count)
    ]
    new_seconds, _results = _timed(
        lambda: [profile_resolve(identifiers=identifiers, source=BENCH_SOURCE) for identifiers in new_people]
    )

    emails = _demo_emails(count)
    known_seconds, _results = _timed(
        lambda: [profile_resolve(identifiers={"email": email}, source=BENCH_SOURCE) for email in emails]
    )

    # Two profiles per person, one known by an email and one by a cookie, that a call links.
    known = Profile.objects.bulk_create([Profile(source=BENCH_SOURCE) for _number in range(count)])
    visitors = Profile.objects.bulk_create([Profile(source=BENCH_SOURCE) for _number in range(count)])
    Identifier.objects.bulk_create(
        [
            Identifier(profile=profile, kind=IdentifierKind.EMAIL, value=f"merge.{tag}.{number}@bench.example")
            for number, profile in enumerate(known)
        ]
        + [
            Identifier(profile=profile, kind=IdentifierKind.ANONYMOUS_ID, value=f"merge-{tag}-{number}")
            for number, profile in enumerate(visitors)
        ]
    )
    merge_seconds, resolutions = _timed(
        lambda: [
            profile_resolve(
                identifiers={"email": f"merge.{tag}.{number}@bench.example", "anonymous_id": f"merge-{tag}-{number}"},
                source=BENCH_SOURCE,
                reason=MergeReason.EVENT_LINK,
            )
            for number in range(count)
        ]
    )
    merged = sum(len(resolution.merged_profile_ids) for resolution in resolutions)
    bench_rows_delete()
    return [
        Measurement("new person", count / new_seconds, "resolutions/s", "creates a profile and 2 identifiers"),
        Measurement("known person", len(emails) / known_seconds, "resolutions/s", "finds the profile of an email"),
        Measurement("two profiles merged", count / merge_seconds, "resolutions/s", f"{merged:,} merges per run"),
    ]


@benchmark("event_track", description="profiles.services.event_track, one event per call.")
def event_track_benchmark(context: BenchContext) -> list[Measurement]:
    demo_dataset_ensure(context)
    count, tag = context.operations, uuid.uuid4().hex[:10]
    properties = {"path": "/nouveautes", "device": "mobile"}

    emails = _demo_emails(count)
    known_seconds, _events = _timed(
        lambda: [
            event_track(type="page_view", identifiers={"email": email}, source=BENCH_SOURCE, properties=properties)
            for email in emails
        ]
    )
    visitor_seconds, _events = _timed(
        lambda: [
            event_track(
                type="page_view",
                identifiers={"anonymous_id": f"bench-{tag}-{number}"},
                source=BENCH_SOURCE,
                properties=properties,
            )
            for number in range(count)
        ]
    )
    bench_rows_delete()
    return [
        Measurement("known person", len(emails) / known_seconds, "events/s", "page_view by email"),
        Measurement("new visitor", count / visitor_seconds, "events/s", "page_view creating an anonymous profile"),
    ]


@benchmark("consent_gate", description="Counting who may be contacted: consent_gate and profiles_contactable.")
def consent_gate_benchmark(context: BenchContext) -> list[Measurement]:
    demo_dataset_ensure(context)
    measurements = []
    for channel in ("email", "sms"):
        seconds, addresses = _timed(lambda channel=channel: consent_gate(channel=channel).count())
        measurements.append(
            Measurement(f"consent_gate({channel}).count()", seconds * 1000, "ms", f"{addresses:,} addresses")
        )
        seconds, people = _timed(lambda channel=channel: profiles_contactable(channel=channel).count())
        measurements.append(
            Measurement(f"profiles_contactable({channel}).count()", seconds * 1000, "ms", f"{people:,} profiles")
        )
    return measurements
