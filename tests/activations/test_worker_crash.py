"""A real Celery worker killed in the middle of a run: after a restart the run ends, and nothing is sent twice.

The worker is a ``celery -A cdp worker`` process on the local Redis and the
test database, so this runs on PostgreSQL only (SQLite's test database lives in
this process's memory, where a worker cannot see it).
"""

import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection
from django.utils import timezone

from activations.models import Delivery, DeliveryBatch, DeliveryStatus, RunStatus
from activations.services import campaign_run_counts, campaign_run_create, delivery_batches_due
from activations.tasks import campaign_run_task, delivery_batch_send_task
from bench.campaigns import _worker_wait_ready
from tests.activations.campaigns import audience, campaign_to, segment_of, webhook
from tests.activations.conftest import Answer

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a worker in another process needs a shared database"),
]

BROKER_URL = "redis://127.0.0.1:6379/12"  # a database of its own: the worker purges its queue at start


def worker_start(name: str) -> subprocess.Popen:
    database = connection.settings_dict
    environment = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(40),
    }
    command = [
        sys.executable, "-m", "celery", "-A", "cdp", "worker", "--hostname", name, "--pool", "solo",
        "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    return subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        command,
        env=environment,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_until(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


@pytest.fixture
def client():
    celery = Celery("test-worker-crash", broker=BROKER_URL, set_as_current=False)
    celery.conf.update(task_serializer="json", accept_content=["json"])
    with celery.connection_for_write() as broker:
        broker.default_channel.client.flushdb()
    yield celery
    celery.close()


def test_a_worker_killed_during_a_batch_and_restarted_sends_each_delivery_once(receiver, client):
    audience(40, consented=40)
    campaign = campaign_to(webhook(receiver.url, batch_size=10, timeout=60), segment_of("Lyon"))
    # The second batch's request hangs: the worker is killed while it waits for the answer.
    receiver.script(Answer(), Answer(delay=45))
    run = campaign_run_create(campaign=campaign, trigger="manual")
    name = f"crash-{os.getpid()}@test"

    worker = worker_start(name)
    try:
        _worker_wait_ready(worker, client=client, name=name)
        client.send_task(campaign_run_task.name, args=[run.pk])
        wait_until(lambda: len(receiver.requests) == 2)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)

    assert DeliveryBatch.objects.filter(run=run, status="done").count() == 1
    worker = worker_start(name)
    try:
        _worker_wait_ready(worker, client=client, name=name)
        # The batches still queued are sent by the new worker; the one in flight is found by the sweeper.
        wait_until(lambda: DeliveryBatch.objects.filter(run=run, status="done").count() == 3)
        later = timezone.now() + timezone.timedelta(minutes=11)
        for batch_id in delivery_batches_due(now=later):
            client.send_task(delivery_batch_send_task.name, args=[batch_id])
        wait_until(lambda: run.__class__.objects.get(pk=run.pk).status == RunStatus.FINISHED)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)

    assert campaign_run_counts(run=run).by_status == {DeliveryStatus.DELIVERED: 40}
    accepted = Counter(
        recipient["idempotency_key"] for request in receiver.accepted() for recipient in request.json()["recipients"]
    )
    delivered = {str(key) for key in Delivery.objects.filter(run=run).values_list("idempotency_key", flat=True)}
    assert set(accepted) == delivered and set(accepted.values()) == {1}
    # The request cut short by the kill and its resend carry the same message id, for a peer that saw the first.
    message_ids = Counter(request.headers["webhook-id"] for request in receiver.requests)
    assert sorted(message_ids.values()) == [1, 1, 1, 2]
