"""Two workers send two batches of the same run at once: the lock of one batch never holds up the other."""

import threading

import pytest
from django.db import connection

from activations.models import BatchStatus, CampaignRun, DeliveryBatch, RunStatus
from activations.services import delivery_batch_send
from tests.activations.campaigns import audience, campaign_to, run_planned, segment_of, webhook
from tests.activations.conftest import Answer

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no row locks: it serialises writers"),
]


def test_a_batch_in_flight_locks_only_its_own_row(receiver):
    audience(20, consented=20)
    run = run_planned(campaign_to(webhook(receiver.url, batch_size=10, timeout=10), segment_of("Lyon")))
    first, second = DeliveryBatch.objects.filter(run=run).order_by("number")
    receiver.script(Answer(delay=2))  # the first batch's request takes its time, its batch row locked
    outcome = {}

    def send_first() -> None:
        outcome["first"] = delivery_batch_send(batch_id=first.pk)
        connection.close()

    worker = threading.Thread(target=send_first)
    worker.start()
    while not receiver.requests:
        pass
    sent = delivery_batch_send(batch_id=second.pk)  # another worker, meanwhile: the run's row is not locked
    assert receiver.requests[-1].answered is not None
    worker.join()

    assert sent is not None and sent.status == BatchStatus.DONE
    assert outcome["first"].status == BatchStatus.DONE
    assert len(receiver.accepted()) == 2


def test_two_workers_ending_the_last_two_batches_at_once_finish_the_run(receiver):
    audience(20, consented=20)
    run = run_planned(campaign_to(webhook(receiver.url, batch_size=10, timeout=10), segment_of("Lyon")))
    batches = list(DeliveryBatch.objects.filter(run=run).order_by("number"))
    receiver.script(Answer(delay=1), Answer(delay=1))  # both answered together: both transactions end together
    outcome = {}

    def send(batch: DeliveryBatch) -> None:
        outcome[batch.pk] = delivery_batch_send(batch_id=batch.pk)
        connection.close()

    workers = [threading.Thread(target=send, args=(batch,)) for batch in batches]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert {batch.status for batch in outcome.values()} == {BatchStatus.DONE}
    assert CampaignRun.objects.get(pk=run.pk).status == RunStatus.FINISHED
