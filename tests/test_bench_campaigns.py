"""The campaigns benchmark (bench/campaigns.py) at a tiny scale: it reports its figures and leaves nothing behind.

The worker's part runs in this process: with ``task_always_eager`` the run's
task is executed where it is queued, and so are the batch tasks it queues, each
posting to the benchmark's receiver. A transactional test, as a real run commits.
"""

import re

import pytest

from activations.models import Campaign, CampaignRun, Delivery, DeliveryBatch, Destination, PressureCap
from bench import BenchContext, benchmarks_load
from bench import campaigns as campaigns_bench
from bench.runner import benchmarks_run
from cdp.celery import app
from profiles.models import Profile
from segments.models import Segment, SegmentMembership, SegmentMembershipChange

PLANNED = re.compile(
    r"^target < 30 s; (?P<members>[\d,]+) members: (?P<held_out>[\d,]+) held out, (?P<no_consent>[\d,]+) no consent, "
    r"(?P<over_cap>[\d,]+) over the cap, (?P<to_send>[\d,]+) to send in (?P<batches>[\d,]+) batches$"
)


def number(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.mark.django_db(transaction=True)
def test_campaigns_benchmark_reports_its_figures_and_cleans_up(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    monkeypatch.setattr(campaigns_bench, "BATCH_SIZE", 50)
    selected = [benchmarks_load()["campaign_run"]]

    results = benchmarks_run(selected, context=BenchContext(scale=400, seed=3), repeat=2)

    figures = {result.figure: result for result in results}
    assert set(figures) == {"planning", "sending"}
    for result in results:
        assert len(result.values) == 2 and result.median > 0, result
    planned = {name: number(value) for name, value in PLANNED.match(figures["planning"].notes).groupdict().items()}
    assert planned["members"] == 400  # the segment holds every profile
    assert planned["held_out"] + planned["no_consent"] + planned["over_cap"] + planned["to_send"] == 400
    assert 20 <= planned["held_out"] <= 60  # a 10 % control group
    assert planned["no_consent"] > 100 and planned["over_cap"] > 0 and planned["to_send"] > 100
    # Batches of 50 are numbered before the pressure cap thins them.
    assert -(-planned["to_send"] // 50) <= planned["batches"] <= -(-(planned["to_send"] + planned["over_cap"]) // 50)
    # Every planned delivery reached the receiver once, one request per batch.
    to_send, batches = planned["to_send"], planned["batches"]
    sending = figures["sending"].notes
    assert sending.startswith(f"target >= 2,000 profiles/s; {to_send} delivered in {batches} batches of 50 (0 retried)")
    assert "by tasks run in this process (CELERY_TASK_ALWAYS_EAGER)" in sending
    assert sending.endswith(f"the receiver got {to_send} distinct keys in {batches} requests, 0 twice")
    # Nothing of the runs is left: the demo data set is as generated.
    assert not Campaign.objects.exists() and not CampaignRun.objects.exists()
    assert not Delivery.objects.exists() and not DeliveryBatch.objects.exists()
    assert not Destination.objects.exists() and not PressureCap.objects.exists()
    assert not Segment.objects.exists()
    assert not SegmentMembership.objects.exists() and not SegmentMembershipChange.objects.exists()
    assert Profile.objects.count() == 400 and not Profile.objects.exclude(source="demo").exists()
    assert app.conf.task_always_eager  # as the test set it: the benchmark gave the setting back
