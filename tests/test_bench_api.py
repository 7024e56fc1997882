"""The partner API benchmark (bench/api.py) at a tiny scale: it reports its figures and leaves nothing behind.

The calls go through Django's test client in this process and the tasks run
where they are queued (``task_always_eager``), each delivery posted to the
benchmark's receiver. A transactional test, as a real run commits.
"""

import re

import pytest

from activations.models import Campaign, CampaignRun, Delivery, Destination
from bench import BenchContext, benchmarks_load
from bench.runner import benchmarks_run
from cdp.celery import app
from partners.models import Partner, PartnerCall
from profiles.models import Event, Identifier, Profile
from segments.models import Segment, SegmentMembership

DELIVERED = re.compile(r"^target < 1,000 ms; median \d+ ms over (?P<probes>\d+) probes \(0 not delivered within 15 s\)")


@pytest.mark.django_db(transaction=True)
def test_partner_api_benchmark_reports_its_figures_and_cleans_up(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    selected = [benchmarks_load()["partner_api"]]
    events_before = None

    results = benchmarks_run(selected, context=BenchContext(scale=300, seed=3), repeat=1)

    figures = {result.figure: result for result in results}
    assert set(figures) == {
        "batch ingestion",
        "single event p50",
        "single event p95",
        "event to triggered delivery p95",
    }
    for result in results:
        assert result.median > 0, result
    assert figures["batch ingestion"].notes.startswith("target >= 5,000 events/s; 200 events in batches of 100")
    assert "Django's test client in this process" in figures["batch ingestion"].notes
    assert int(DELIVERED.match(figures["event to triggered delivery p95"].notes)["probes"]) == 3
    # Nothing of the runs is left: the demo data set is as generated.
    events_before = Event.objects.exclude(source="demo").count()
    assert events_before == 0
    assert Profile.objects.count() == 300 and not Profile.objects.exclude(source="demo").exists()
    assert not Identifier.objects.exclude(source="demo").exists()
    assert not Partner.objects.exists() and not PartnerCall.objects.exists()
    assert not Campaign.objects.exists() and not CampaignRun.objects.exists() and not Delivery.objects.exists()
    assert not Destination.objects.exists()
    assert not Segment.objects.exists() and not SegmentMembership.objects.exists()
