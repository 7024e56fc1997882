"""Benchmark of campaigns: a run planned over a segment of every profile, then sent by a real Celery worker.

It runs on the demo data set of ``bench.profiles`` (``--scale`` profiles, about
half of them with email consent) and times the two halves of a campaign run:

- planning, ``campaign_run_plan``: the segment snapshot with a 10 % control
  group, the consent gate, the pressure cap and the batches, one Delivery row
  per member;
- sending, from the run's task being queued to its last batch delivered: a
  Celery worker started by the benchmark (``celery -A cdp worker``, Redis
  broker, the same database) runs ``campaign_run_task``, which queues one
  ``delivery_batch_send_task`` per batch of 500, and each batch is posted to a
  local webhook receiver. The receiver answers 200 at once and counts the
  recipients' idempotency keys, which must be exactly those of the delivered
  rows: nothing lost, nothing sent twice.

The pressure cap has something to count: a campaign of the week before sent
twice to one person in ten, and the cap allows two emails in seven days.

With ``CELERY_TASK_ALWAYS_EAGER``, or inside a caller's transaction (the test
suite's, which a worker in another process could not see), no worker is
started: the tasks run in this process, one after the other.

What a run adds (the segment and its members, the campaigns, their runs and
deliveries, the destination and the cap) is deleted at its end, and the tables
vacuumed, so that the next run starts from the same state.
"""

import http.server
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from celery import Celery
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from activations.models import (
    BatchStatus,
    Campaign,
    CampaignRun,
    ConnectorKind,
    Delivery,
    DeliveryBatch,
    DeliveryStatus,
    Destination,
    PressureCap,
    RunStatus,
    RunTrigger,
)
from activations.services import campaign_run_counts, campaign_run_create, campaign_run_plan
from activations.tasks import campaign_run_task
from bench import BenchContext, Measurement, benchmark
from bench.profiles import _timed, demo_dataset_ensure
from bench.segments import refresh_checked
from cdp.celery import app
from profiles.models import Channel, Profile
from segments.models import RefreshEvery, Segment, SegmentMembership, SegmentMembershipChange, SegmentRefresh
from segments.services import segment_delete, segment_save

SEGMENT_NAME = "Bench: every profile"
EVERY_PROFILE = {"match": "all", "conditions": [{"field": "created_at", "operator": "is_set"}]}
CAMPAIGN_NAME = "Bench: spring sale"
EARLIER_CAMPAIGN_NAME = "Bench: last week's newsletter"
DESTINATION_NAME = "Bench: local webhook receiver"
CONTENT = {"subject": "Spring sale, {{ first_name }}", "body": "Up to 30 % off until Sunday."}
HOLDOUT_PERCENT = Decimal("10")
# The webhook connector's default: about 100 kB of JSON per request, what ESP batch APIs take.
BATCH_SIZE = 500
# Two emails in seven days; the earlier campaign sent two to one person in ten (3 and 5 days ago).
PRESSURE_CAP = {"channel": Channel.EMAIL, "max_messages": 2, "window_days": 7}
EARLIER_SENDS_DAYS_AGO = (3, 5)
EARLIER_AUDIENCE_EVERY = 10

# A Redis database of its own: the worker is started with --purge, which empties its queue.
BROKER_URL = os.environ.get("BENCH_CELERY_BROKER_URL", "redis://127.0.0.1:6379/13")
WORKER_CONCURRENCY = 2  # prefork processes; the best of 1 to 4 on the 2-core machine (README)
WORKER_START_TIMEOUT = 60
# Seconds without a batch done after which the benchmark gives up on a run (a first retry waits 5 s).
STALLED_AFTER_SECONDS = 120

# The targets.
PLANNING_TARGET_SECONDS = 30
SENDING_TARGET_PER_SECOND = 2_000


# ---------------------------------------------------------------------------
# The webhook receiver


class KeyCountingReceiver:
    """An HTTP peer on loopback that answers 200 to every POST and keeps the recipients' idempotency keys."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.received = 0  # recipients received, a key seen twice counted twice
        self.requests = 0
        self._lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/deliveries"
        self._thread = threading.Thread(target=self.server.serve_forever, name="bench-receiver", daemon=True)
        self._thread.start()

    def _record(self, body: bytes) -> None:
        keys = [recipient["idempotency_key"] for recipient in json.loads(body).get("recipients", [])]
        with self._lock:
            self.requests += 1
            self.received += len(keys)
            self.keys.update(keys)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                receiver._record(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "11")
                self.end_headers()
                self.wfile.write(b'{"ok":true}')

        return Handler


@contextmanager
def receiver_running() -> Iterator[KeyCountingReceiver]:
    receiver = KeyCountingReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


# ---------------------------------------------------------------------------
# The Celery worker


def tasks_run_here() -> bool:
    """True when the tasks are to run in this process rather than in a worker started for the run.

    Either it was asked for (CELERY_TASK_ALWAYS_EAGER), or the benchmark runs
    inside a caller's transaction (the test suite's), whose rows a worker in
    another process could not see.
    """
    return bool(app.conf.task_always_eager) or connection.in_atomic_block


@contextmanager
def tasks_in_this_process() -> Iterator[str]:
    """Tasks run where they are queued (``task_always_eager``) until the block ends; yields how they ran."""
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield "tasks run in this process (CELERY_TASK_ALWAYS_EAGER)"
    finally:
        app.conf.task_always_eager = previous


def broker_client() -> Celery:
    """A Celery client of the benchmark's broker, to ping the worker and queue the run's task.

    Not the project's app: its broker is the one of this process's settings
    (the embedded filesystem broker by default), and its remote control
    publishes through that broker whatever connection it is given.
    """
    client = Celery("bench-campaigns", broker=BROKER_URL, set_as_current=False)
    client.conf.update(task_serializer="json", accept_content=["json"])
    return client


@contextmanager
def celery_worker(*, client: Celery, concurrency: int) -> Iterator[str]:
    """A ``celery -A cdp worker`` subprocess on the client's broker and this process's database.

    It runs as production does (DEBUG off, so no query log), with a throw-away
    secret key when none is set; it is stopped (warm shutdown) on leaving.
    Yields how the tasks ran, for the notes.
    """
    name = f"bench-campaigns-{os.getpid()}@{socket.gethostname()}"
    environment = {
        **os.environ,
        "CELERY_BROKER_URL": client.conf.broker_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(40),
        # Persistent connections, as the README advises for production: a new PostgreSQL connection per
        # batch task costs more than the batch's own queries (1,860 against 7,789 profiles/s at 20,000).
        "CONN_MAX_AGE": os.environ.get("CONN_MAX_AGE") or "60",
    }
    command = [
        sys.executable, "-m", "celery", "-A", "cdp", "worker", "--hostname", name, "--pool", "prefork",
        "--concurrency", str(concurrency), "--loglevel", "WARNING", "--purge",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    project_dir = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            command, env=environment, stdout=log, stderr=subprocess.STDOUT, cwd=project_dir
        )
        try:
            _worker_wait_ready(process, client=client, name=name)
            yield f"a Celery worker (prefork, concurrency {concurrency}, Redis)"
        except Exception:
            log.seek(0)
            print(f"The Celery worker's log:\n{log.read()[-4000:]}", file=sys.stderr)
            raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _worker_wait_ready(process: subprocess.Popen, *, client: Celery, name: str) -> None:
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The Celery worker stopped (exit {process.returncode}).")
        if client.control.ping(destination=[name], timeout=0.5):
            return
    raise RuntimeError(f"The Celery worker did not answer within {WORKER_START_TIMEOUT} s.")


@contextmanager
def sending_tasks_run() -> Iterator[tuple[Celery | None, str]]:
    """Where the run's tasks run: (a client of the started worker's broker, or None in this process; how)."""
    if tasks_run_here():
        with tasks_in_this_process() as how:
            yield None, how
        return
    client = broker_client()
    try:
        with celery_worker(client=client, concurrency=WORKER_CONCURRENCY) as how:
            yield client, how
    finally:
        client.close()


def run_task_queue(run: CampaignRun, *, client: Celery | None) -> None:
    """Queue ``campaign_run_task`` for a planned run, as ``campaign_run_start`` does; it queues the batches."""
    if client is None:
        campaign_run_task.delay(run.pk)
    else:
        client.send_task(campaign_run_task.name, args=[run.pk])


def run_send(run: CampaignRun, *, client: Celery | None) -> None:
    """Queue the run's task and wait until its last batch is done (what the sending figure times)."""
    run_task_queue(run, client=client)
    run_wait_finished(run)


def run_wait_finished(run: CampaignRun) -> None:
    """Wait for the run to finish; RuntimeError when no batch got done for ``STALLED_AFTER_SECONDS``."""
    done, progressed_at = -1, time.monotonic()
    while not CampaignRun.objects.filter(pk=run.pk, status=RunStatus.FINISHED).exists():
        now_done = DeliveryBatch.objects.filter(run=run, status__in=[BatchStatus.DONE, BatchStatus.FAILED]).count()
        if now_done != done:
            done, progressed_at = now_done, time.monotonic()
        elif time.monotonic() - progressed_at > STALLED_AFTER_SECONDS:
            batches = dict(
                DeliveryBatch.objects.filter(run=run).values_list("status").annotate(count=Count("pk")).order_by()
            )
            raise RuntimeError(f"No batch of the run got done in {STALLED_AFTER_SECONDS} s; its batches: {batches}")
        time.sleep(0.05)


# ---------------------------------------------------------------------------
# Setting up and cleaning up


def campaign_tables_settle() -> None:
    """VACUUM ANALYZE the tables a run writes (untimed), as autovacuum does after a while."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    tables = [Delivery, DeliveryBatch, CampaignRun, SegmentMembership, SegmentMembershipChange, SegmentRefresh]
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {', '.join(connection.ops.quote_name(m._meta.db_table) for m in tables)}")


def bench_campaigns_delete() -> None:
    """Everything a run adds, also when a run stopped half-way left it behind.

    Deliveries and members go first in one statement each, rather than row by
    row through the cascades of their run and segment.
    """
    campaigns = Campaign.objects.filter(name__in=[CAMPAIGN_NAME, EARLIER_CAMPAIGN_NAME])
    run_ids = list(CampaignRun.objects.filter(campaign__in=campaigns).values_list("pk", flat=True))
    segments = list(Segment.objects.filter(name=SEGMENT_NAME))
    Delivery.objects.filter(run_id__in=run_ids).delete()
    DeliveryBatch.objects.filter(run_id__in=run_ids).delete()
    CampaignRun.objects.filter(pk__in=run_ids).delete()
    campaigns.delete()
    Destination.objects.filter(name=DESTINATION_NAME).delete()
    PressureCap.objects.filter(**PRESSURE_CAP).delete()
    for segment in segments:
        SegmentMembership.objects.filter(segment=segment).delete()
        SegmentMembershipChange.objects.filter(segment=segment).delete()
        segment_delete(segment=segment)
    if run_ids or segments:
        campaign_tables_settle()


def segment_of_everybody() -> Segment:
    """A segment whose condition every profile meets, refreshed: its members are the whole data set."""
    segment = segment_save(
        segment=Segment(name=SEGMENT_NAME, refresh_every=RefreshEvery.NEVER, holdout_percent=Decimal("0")),
        rules=EVERY_PROFILE,
        actor="bench",
    )
    refresh_checked(segment, now=timezone.now())
    return segment


def earlier_sends_write(destination: Destination) -> int:
    """Last week's campaign: two runs, each delivered to one person in ten. Returns the deliveries written."""
    campaign = Campaign.objects.create(
        name=EARLIER_CAMPAIGN_NAME, slug="bench-newsletter", channel=Channel.EMAIL, destination=destination
    )
    audience = list(Profile.objects.order_by("pk").values_list("pk", flat=True)[::EARLIER_AUDIENCE_EVERY])
    written = 0
    for days_ago in EARLIER_SENDS_DAYS_AGO:
        sent_at = timezone.now() - timedelta(days=days_ago)
        run = CampaignRun.objects.create(
            campaign=campaign, trigger=RunTrigger.SCHEDULE, status=RunStatus.FINISHED, planned_at=sent_at,
            finished_at=sent_at,
        )  # fmt: skip
        deliveries = Delivery.objects.bulk_create(
            [
                Delivery(
                    run=run,
                    profile_id=profile_id,
                    channel=Channel.EMAIL,
                    status=DeliveryStatus.DELIVERED,
                    batch=0,
                    attempts=1,
                    created_at=sent_at,
                    sent_at=sent_at,
                )
                for profile_id in audience
            ],
            batch_size=10_000,
        )
        written += len(deliveries)
    return written


def bench_campaign_create(receiver_url: str, *, seed: int) -> Campaign:
    """The segment, the destination, the cap, last week's sends and the campaign (untimed).

    The campaign's control group seed derives from ``seed``, so that every run
    holds out the same people and plans the same counts.
    """
    bench_campaigns_delete()
    segment = segment_of_everybody()
    destination = Destination.objects.create(
        name=DESTINATION_NAME,
        kind=ConnectorKind.WEBHOOK,
        settings={"url": receiver_url, "batch_size": BATCH_SIZE, "timeout": 30},
        secrets={"signing_secret": "whsec_" + "QmVuY2ggc2lnbmluZyBzZWNyZXQgMzI="},
    )
    PressureCap.objects.create(**PRESSURE_CAP)
    earlier_sends_write(destination)
    campaign = Campaign.objects.create(
        name=CAMPAIGN_NAME, slug="bench-spring-sale", channel=Channel.EMAIL, destination=destination,
        content=CONTENT, holdout_percent=HOLDOUT_PERCENT, control_salt=f"bench-{seed}",
    )  # fmt: skip
    campaign.segments.set([segment])
    campaign_tables_settle()
    return campaign


# ---------------------------------------------------------------------------
# The benchmark


def _counts_text(by_status: dict[str, int]) -> str:
    labels = [
        (DeliveryStatus.HELD_OUT, "held out"),
        (DeliveryStatus.SUPPRESSED_NO_CONSENT, "no consent"),
        (DeliveryStatus.SUPPRESSED_PRESSURE, "over the cap"),
        (DeliveryStatus.PENDING, "to send"),
    ]
    return ", ".join(f"{by_status.get(status, 0):,} {label}" for status, label in labels)


def delivered_keys(run: CampaignRun) -> set[str]:
    keys = Delivery.objects.filter(run=run, status=DeliveryStatus.DELIVERED).values_list("idempotency_key", flat=True)
    return {str(key) for key in keys.iterator(chunk_size=10_000)}


@benchmark(
    "campaign_run",
    description="A webhook campaign on a segment of every profile: planning the run, then sending it "
    "through a Celery worker to a local receiver.",
)
def campaign_run_benchmark(context: BenchContext) -> list[Measurement]:
    demo_dataset_ensure(context)
    with receiver_running() as receiver:
        try:
            campaign = bench_campaign_create(receiver.url, seed=context.seed)
            run = campaign_run_create(campaign=campaign, trigger=RunTrigger.MANUAL)
            planning_seconds, run = _timed(lambda: campaign_run_plan(run=run))
            planned = campaign_run_counts(run=run)
            to_send = planned.by_status.get(DeliveryStatus.PENDING, 0)

            with sending_tasks_run() as (client, worker):
                sending_seconds, _none = _timed(lambda: run_send(run, client=client))
            sent = campaign_run_counts(run=run).by_status
            delivered = sent.get(DeliveryStatus.DELIVERED, 0)
            expected = delivered_keys(run)
            batches = DeliveryBatch.objects.filter(run=run).count()
            retried = DeliveryBatch.objects.filter(run=run, attempts__gt=1).count()
        finally:
            bench_campaigns_delete()
    if receiver.keys != expected or delivered != to_send:
        raise RuntimeError(
            f"The receiver got {len(receiver.keys):,} distinct keys ({len(receiver.keys - expected):,} not delivered "
            f"per the database), {delivered:,} deliveries are marked delivered, {to_send:,} were to send: {sent}"
        )
    return [
        Measurement(
            "planning",
            planning_seconds,
            "s",
            f"target < {PLANNING_TARGET_SECONDS} s; {planned.total:,} members: {_counts_text(planned.by_status)} "
            f"in {run.batches:,} batches",
        ),
        Measurement(
            "sending",
            delivered / sending_seconds if sending_seconds else 0.0,
            "profiles/s",
            f"target >= {SENDING_TARGET_PER_SECOND:,} profiles/s; {delivered:,} delivered in {batches:,} batches "
            f"of {BATCH_SIZE} ({retried:,} retried) in {sending_seconds:.1f} s by {worker}; the receiver got "
            f"{len(receiver.keys):,} distinct keys in {receiver.requests:,} requests, "
            f"{receiver.received - len(receiver.keys):,} twice",
        ),
    ]
