"""Benchmark of the partner API, served by gunicorn on loopback and driven by a load client in another process.

On the demo data set of ``bench.profiles`` it measures, through HTTP as a
partner calls it:

- batch ingestion: batches of 1,000 events (``POST /api/v1/events/batch/``)
  sent over two connections for a bounded time and count; events per second
  over the whole phase. A batch is web traffic: visitors known by their email
  (demo people) and new anonymous visitors, five events each, half of the
  anonymous ones logging in as they arrive (their first event carries the
  cookie and an email, which links them), a purchase now and then, each event
  with its message id. No event merges two profiles: a merge takes the
  one-by-one path (``profile_resolve`` benchmark);
- single events: one ``POST /api/v1/events/`` after the other, p50 and p95 of
  the call as the client sees it;
- event to triggered delivery: a demo person with email consent sends an event
  that puts them in a real-time segment ("did bench_signal in the last day"),
  whose segment-entry campaign sends them through a webhook destination: a
  Celery worker (Redis) posts the delivery to a local receiver. The latency is
  from the client sending the event to the receiver getting the delivery, p95.

gunicorn (sync workers) and the worker run as production does (DEBUG off,
persistent database connections). With ``CELERY_TASK_ALWAYS_EAGER``, or inside
a caller's transaction (the test suite's, which another process could not see),
neither gunicorn nor the worker is started: the load client calls the API in
this process through Django's test client, and the tasks run where they are
queued.

What a run adds (the partner and its calls, the events and the profiles they
created, the segment, the campaign and its deliveries) is deleted at its end.
"""

import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from decimal import Decimal
from pathlib import Path
from typing import Any

from celery import Celery
from django.db import connection

from activations.models import (
    Campaign,
    CampaignRun,
    CampaignStatus,
    ConnectorKind,
    Delivery,
    DeliveryBatch,
    Destination,
    ScheduleKind,
)
from bench import BenchContext, Measurement, benchmark
from bench.campaigns import (
    KeyCountingReceiver,
    campaign_tables_settle,
    celery_worker,
    tasks_in_this_process,
    tasks_run_here,
)
from bench.profiles import demo_dataset_ensure, tables_settle
from partners.models import Partner, PartnerCall, Scope
from partners.services import api_key_create
from profiles.models import Channel, Event, Identifier, IdentifierKind, Profile
from profiles.selectors import consent_gate
from segments.models import RefreshEvery, Segment, SegmentMembership, SegmentMembershipChange
from segments.services import segment_delete, segment_save

PARTNER_SLUG = "bench-load-client"
PARTNER_NAME = "Bench: load client"
SEGMENT_NAME = "Bench: sent the signal today"
CAMPAIGN_NAME = "Bench: welcome on signal"
DESTINATION_NAME = "Bench: local webhook receiver (API)"
SIGNAL_EVENT = "bench_signal"
SIGNAL_SEGMENT = {
    "match": "all",
    "conditions": [{"field": "event", "event_type": SIGNAL_EVENT, "operator": "did", "window": "last_days", "days": 1}],
}

# A Redis database no other benchmark uses: the worker is started with --purge, which empties its queue.
BROKER_URL = os.environ.get("BENCH_API_CELERY_BROKER_URL", "redis://127.0.0.1:6379/11")
GUNICORN_WORKERS = 3  # sync workers on the 2-core machine, the database sharing the cores
WORKER_CONCURRENCY = 2
SERVER_START_TIMEOUT = 60

BATCH_EVENTS = 1_000
BATCH_CONNECTIONS = 2
BATCH_SECONDS = 20.0  # each phase stops at its time or its count, whichever comes first
SINGLE_SECONDS = 15.0
PROBE_SECONDS = 60.0
PROBE_GAP_SECONDS = 0.2  # between two probes, so that each is timed alone
DELIVERY_WAIT_SECONDS = 15.0  # a probe not delivered by then counts as lost

# The targets.
BATCH_TARGET_PER_SECOND = 5_000
SINGLE_TARGET_MS = 50
DELIVERY_TARGET_MS = 1_000


# ---------------------------------------------------------------------------
# The load client: no database, only HTTP (run in its own process)


def _batch_events(*, number: int, emails: list[str], tag: str, size: int) -> list[dict[str, Any]]:
    """One batch of web traffic: about five events per visitor, known and anonymous visitors half and half."""
    events: list[dict[str, Any]] = []
    visitor = 0
    while len(events) < size:
        visitor += 1
        key = f"{tag}-{number}-{visitor}"
        if visitor % 2:
            identifiers = {"email": emails[(number * size + visitor) % len(emails)]}
        else:
            identifiers = {"anonymous_id": f"cookie-{key}"}
        for page in range(5):
            event = {
                "type": "page_view" if page < 3 else "product_view" if page == 3 else "add_to_cart",
                "identifiers": identifiers,
                "properties": {"url": f"/products/{visitor % 97}", "page": page},
                "message_id": f"{key}-{page}",
            }
            if page == 0 and visitor % 4 == 0:
                # A visitor who logs in as they arrive: a new cookie linked to a known person, whose
                # profile takes it (no merge: the cookie had no profile of its own yet).
                event["identifiers"] = {**identifiers, "email": emails[(number + visitor) % len(emails)]}
            if page == 4 and visitor % 10 == 1:
                event.update(type="purchase", revenue="59.90", currency="EUR")
            events.append(event)
    return events[:size]


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def load_run(
    post: Callable[[str, dict[str, Any]], int], *, phase: str, emails: list[str], tag: str, limits: dict[str, Any]
) -> dict[str, Any]:
    """One phase of load; ``post(path, body)`` sends a call and returns its status. Returns the phase's figures."""
    if phase == "batch":
        started, sent, failures = time.perf_counter(), [0], []
        numbers = iter(range(limits["batches"]))
        lock = threading.Lock()

        def sender() -> None:
            while time.perf_counter() - started < limits["seconds"]:
                with lock:
                    number = next(numbers, None)
                if number is None:
                    return
                body = {"events": _batch_events(number=number, emails=emails, tag=tag, size=limits["size"])}
                try:
                    status = post("/api/v1/events/batch/", body)
                except Exception as error:  # noqa: BLE001 (reported with the failures)
                    status = repr(error)
                with lock:
                    if status == 200:
                        sent[0] += len(body["events"])
                    else:
                        failures.append(status)

        if limits["connections"] == 1:
            sender()  # in this thread: in this process, the calls use its database connection
        else:
            threads = [threading.Thread(target=sender) for _connection in range(limits["connections"])]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        return {"events": sent[0], "seconds": time.perf_counter() - started, "failures": failures}
    if phase == "single":
        started, timings, failures = time.perf_counter(), [], []
        for number in range(limits["calls"]):
            if time.perf_counter() - started >= limits["seconds"]:
                break
            body = {
                "type": "page_view",
                "identifiers": {"email": emails[number % len(emails)]},
                "properties": {"url": "/"},
                "message_id": f"{tag}-single-{number}",
            }
            before = time.perf_counter()
            status = post("/api/v1/events/", body)
            timings.append((time.perf_counter() - before) * 1000)
            if status != 201:
                failures.append(status)
        return {"timings_ms": timings, "failures": failures}
    if phase == "probe":
        started, sent_at, failures = time.perf_counter(), {}, []
        for number, email in enumerate(emails[: limits["probes"]]):
            if time.perf_counter() - started >= limits["seconds"]:
                break
            sent_at[email] = time.time()
            status = post(
                "/api/v1/events/",
                {"type": SIGNAL_EVENT, "identifiers": {"email": email}, "message_id": f"{tag}-probe-{number}"},
            )
            if status != 201:
                failures.append(status)
            time.sleep(limits["gap"])
        return {"sent_at": sent_at, "failures": failures}
    raise ValueError(f"Unknown phase {phase!r}")


def load_client_main() -> None:
    """The load client's process: reads its orders as JSON on stdin, writes its figures as JSON on stdout."""
    import http.client

    orders = json.load(sys.stdin)
    local = threading.local()

    def post(path: str, body: dict[str, Any]) -> int:
        # One keep-alive connection per client thread, opened again when the server closed it.
        for attempt in range(2):
            if getattr(local, "connection", None) is None:
                local.connection = http.client.HTTPConnection("127.0.0.1", orders["port"], timeout=60)
            try:
                local.connection.request(
                    "POST",
                    path,
                    body=json.dumps(body),
                    headers={"Authorization": f"Bearer {orders['key']}", "Content-Type": "application/json"},
                )
                response = local.connection.getresponse()
                response.read()
                if response.getheader("Connection", "").lower() == "close":
                    local.connection.close()
                    local.connection = None
                return response.status
            except (ConnectionError, http.client.HTTPException):
                local.connection.close()
                local.connection = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    figures = load_run(post, phase=orders["phase"], emails=orders["emails"], tag=orders["tag"], limits=orders["limits"])
    json.dump(figures, sys.stdout)


def _client_process_run(*, port: int, key: str, orders: dict[str, Any]) -> dict[str, Any]:
    """Run one phase in a load client process of its own."""
    command = [
        sys.executable,
        "-c",
        "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'cdp.settings'); django.setup(); "
        "from bench.api import load_client_main; load_client_main()",
    ]
    finished = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
        command,
        input=json.dumps({**orders, "port": port, "key": key}),
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=orders["limits"]["seconds"] + 120,
        check=False,
    )
    if finished.returncode:
        raise RuntimeError(f"The load client failed:\n{finished.stderr[-4000:]}")
    return json.loads(finished.stdout)


def _in_process_post(key: str) -> Callable[[str, dict[str, Any]], int]:
    """Calls through Django's test client, in this process and its transaction (the test suite's)."""
    from django.test import Client, TestCase

    client = Client(headers={"Authorization": f"Bearer {key}"})

    def post(path: str, body: dict[str, Any]) -> int:
        # Inside the caller's transaction nothing commits: what waits for the commit runs after each call.
        with TestCase.captureOnCommitCallbacks(execute=True) if connection.in_atomic_block else nullcontext():
            return client.post(path, data=body, content_type="application/json").status_code

    return post


# ---------------------------------------------------------------------------
# The server, the worker and the receiver


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_environment() -> dict[str, str]:
    return {
        **os.environ,
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(40),
        "CONN_MAX_AGE": os.environ.get("CONN_MAX_AGE") or "60",
    }


@contextmanager
def gunicorn_serving() -> Iterator[int]:
    """gunicorn serving the platform on a free loopback port, against this process's database; yields the port."""
    port = _free_port()
    command = [
        sys.executable, "-m", "gunicorn", "cdp.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", str(GUNICORN_WORKERS), "--worker-class", "sync", "--log-level", "warning",
    ]  # fmt: skip
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            command,
            env=_server_environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parent.parent,
        )
        try:
            _server_wait_ready(process, port)
            yield port
        except Exception:
            log.seek(0)
            print(f"gunicorn's log:\n{log.read()[-4000:]}", file=sys.stderr)
            raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _server_wait_ready(process: subprocess.Popen, port: int) -> None:
    import http.client

    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn stopped (exit {process.returncode}).")
        try:
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            probe.request("GET", "/health/")
            if probe.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {SERVER_START_TIMEOUT} s.")


class DeliveryTimingReceiver(KeyCountingReceiver):
    """The campaigns benchmark's receiver, also noting when each address got its first delivery."""

    def __init__(self) -> None:
        self.arrived_at: dict[str, float] = {}
        super().__init__()

    def _record(self, body: bytes) -> None:
        now = time.time()
        super()._record(body)
        for recipient in json.loads(body).get("recipients", []):
            self.arrived_at.setdefault(recipient.get("address", ""), now)


@contextmanager
def timing_receiver_running() -> Iterator[DeliveryTimingReceiver]:
    receiver = DeliveryTimingReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


@contextmanager
def worker_running() -> Iterator[str]:
    """A Celery worker on this benchmark's Redis database (or the tasks in this process); yields how."""
    if tasks_run_here():
        with tasks_in_this_process() as how:
            yield how
        return
    client = Celery("bench-api", broker=BROKER_URL, set_as_current=False)
    client.conf.update(task_serializer="json", accept_content=["json"])
    try:
        with celery_worker(client=client, concurrency=WORKER_CONCURRENCY) as how:
            yield how
    finally:
        client.close()


# ---------------------------------------------------------------------------
# Setting up and cleaning up


def bench_api_delete() -> None:
    """Everything a run adds, also when a run stopped half-way left it behind."""
    source = f"partner:{PARTNER_SLUG}"
    campaigns = Campaign.objects.filter(name=CAMPAIGN_NAME)
    run_ids = list(CampaignRun.objects.filter(campaign__in=campaigns).values_list("pk", flat=True))
    Delivery.objects.filter(run_id__in=run_ids).delete()
    DeliveryBatch.objects.filter(run_id__in=run_ids).delete()
    CampaignRun.objects.filter(pk__in=run_ids).delete()
    campaigns.delete()
    Destination.objects.filter(name=DESTINATION_NAME).delete()
    for segment in Segment.objects.filter(name=SEGMENT_NAME):
        SegmentMembership.objects.filter(segment=segment).delete()
        SegmentMembershipChange.objects.filter(segment=segment).delete()
        segment_delete(segment=segment)
    PartnerCall.objects.filter(partner__slug=PARTNER_SLUG).delete()
    Partner.objects.filter(slug=PARTNER_SLUG).delete()
    events, _by_model = Event.objects.filter(source=source).delete()
    profiles, _by_model = Profile.objects.filter(source=source).delete()
    Identifier.objects.filter(source=source).delete()
    if events or profiles or run_ids:
        tables_settle()
        campaign_tables_settle()


def partner_with_key() -> str:
    """The load client's partner (events:write, no practical rate limit) and a new key for it."""
    partner = Partner.objects.create(
        name=PARTNER_NAME, slug=PARTNER_SLUG, scopes=[Scope.EVENTS_WRITE], rate_limit_per_minute=1_000_000
    )
    _api_key, raw_key = api_key_create(partner=partner, name="bench", created_by="bench")
    return raw_key


def triggered_campaign_create(receiver_url: str) -> None:
    """A real-time segment reading the signal event, and a campaign sent on entering it to the receiver."""
    segment = segment_save(
        segment=Segment(name=SEGMENT_NAME, refresh_every=RefreshEvery.NEVER, holdout_percent=Decimal("0")),
        rules=SIGNAL_SEGMENT,
        actor="bench",
    )
    destination = Destination.objects.create(
        name=DESTINATION_NAME, kind=ConnectorKind.WEBHOOK, settings={"url": receiver_url, "timeout": 30}
    )
    campaign = Campaign.objects.create(
        name=CAMPAIGN_NAME, slug="bench-welcome-on-signal", channel=Channel.EMAIL, destination=destination,
        content={"subject": "Welcome", "body": "Hello {{ first_name }}"}, holdout_percent=Decimal("0"),
        schedule=ScheduleKind.SEGMENT_ENTRY, status=CampaignStatus.SCHEDULED,
    )  # fmt: skip
    campaign.segments.set([segment])


def demo_emails(count: int, *, excluded: set[str]) -> list[str]:
    """Emails of tracked demo people, spread over the data set."""
    emails = (
        Identifier.objects.filter(kind=IdentifierKind.EMAIL, profile__source="demo", profile__do_not_track=False)
        .exclude(value__in=excluded)
        .values_list("value", flat=True)
    )
    total = emails.count()
    step = max(1, total // max(count, 1))
    return list(emails.order_by("pk")[: step * count : step])


def consented_emails(count: int) -> list[str]:
    """Addresses the consent gate lets a campaign email, of people who are tracked: the probes' people."""
    addresses = (
        consent_gate(channel=Channel.EMAIL).filter(profile__do_not_track=False).values_list("address", flat=True)
    )
    total = addresses.count()
    step = max(1, total // max(count, 1))
    return list(addresses.order_by("pk")[: step * count : step])


# ---------------------------------------------------------------------------
# The benchmark


@benchmark(
    "partner_api",
    description="The partner API through gunicorn: batches of 1,000 events, single events, and an event "
    "to the delivery its real-time segment triggers at a local webhook receiver.",
)
def partner_api_benchmark(context: BenchContext) -> list[Measurement]:
    demo_dataset_ensure(context)
    bench_api_delete()
    in_process = tasks_run_here()
    scale = min(1.0, context.scale / 100_000)  # a tiny data set (the test suite's) gets a tiny load
    batches = max(2, round(100 * scale))
    size = BATCH_EVENTS if scale == 1.0 else 100
    calls, probes = max(5, round(1_000 * scale)), max(3, round(50 * scale))
    tag = uuid.uuid4().hex[:8]  # message ids of this run only
    probe_emails = consented_emails(probes)
    emails = demo_emails(2_000, excluded=set(probe_emails))
    try:
        with timing_receiver_running() as receiver, worker_running() as worker:
            key = partner_with_key()
            triggered_campaign_create(receiver.url)
            with nullcontext(None) if in_process else gunicorn_serving() as port:
                if in_process:
                    post = _in_process_post(key)

                    def run(
                        phase: str, phase_emails: list[str], limits: dict[str, Any], tag: str = tag
                    ) -> dict[str, Any]:
                        return load_run(post, phase=phase, emails=phase_emails, tag=tag, limits=limits)

                    served = "Django's test client in this process"
                else:

                    def run(
                        phase: str, phase_emails: list[str], limits: dict[str, Any], tag: str = tag
                    ) -> dict[str, Any]:
                        orders = {"phase": phase, "emails": phase_emails, "tag": tag, "limits": limits}
                        return _client_process_run(port=port, key=key, orders=orders)

                    served = f"gunicorn ({GUNICORN_WORKERS} sync workers) and a load client process"
                # Untimed: every gunicorn worker loads the platform's code on its first calls.
                # One connection in this process: its database connection is the calls' only one.
                connections = 1 if in_process else BATCH_CONNECTIONS
                warm_up = {"batches": 2 * GUNICORN_WORKERS, "size": 10, "connections": connections, "seconds": 30}
                run("batch", emails, warm_up, tag=f"{tag}-warm-up")
                batch = run(
                    "batch",
                    emails,
                    {"batches": batches, "size": size, "connections": connections, "seconds": BATCH_SECONDS},
                )
                single = run("single", emails, {"calls": calls, "seconds": SINGLE_SECONDS})
                probe = run(
                    "probe", probe_emails, {"probes": probes, "seconds": PROBE_SECONDS, "gap": PROBE_GAP_SECONDS}
                )
                deadline = time.monotonic() + DELIVERY_WAIT_SECONDS
                while set(probe["sent_at"]) - set(receiver.arrived_at) and time.monotonic() < deadline:
                    time.sleep(0.05)
        latencies = [
            (receiver.arrived_at[email] - sent) * 1000
            for email, sent in probe["sent_at"].items()
            if email in receiver.arrived_at
        ]
    finally:
        bench_api_delete()
    failures = batch["failures"] + single["failures"] + probe["failures"]
    if failures or not batch["events"] or not latencies:
        raise RuntimeError(
            f"Calls failed ({failures[:10]}), or nothing was ingested ({batch['events']} events) or delivered "
            f"({len(latencies)} of {len(probe['sent_at'])} probes)"
        )
    lost = len(probe["sent_at"]) - len(latencies)
    timings = single["timings_ms"]
    return [
        Measurement(
            "batch ingestion",
            batch["events"] / batch["seconds"],
            "events/s",
            f"target >= {BATCH_TARGET_PER_SECOND:,} events/s; {batch['events']:,} events in batches of {size:,} "
            f"over {connections} connection(s) in {batch['seconds']:.1f} s; {served}",
        ),
        Measurement(
            "single event p50", statistics.median(timings), "ms", f"{len(timings):,} calls one after the other"
        ),
        Measurement("single event p95", _percentile(timings, 0.95), "ms", f"target < {SINGLE_TARGET_MS} ms"),
        Measurement(
            "event to triggered delivery p95",
            _percentile(latencies, 0.95),
            "ms",
            f"target < {DELIVERY_TARGET_MS:,} ms; median {statistics.median(latencies):.0f} ms over "
            f"{len(latencies)} probes ({lost} not delivered within {DELIVERY_WAIT_SECONDS:.0f} s), "
            f"one every {PROBE_GAP_SECONDS} s; {worker}",
        ),
    ]
