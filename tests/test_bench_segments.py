"""The segments benchmarks (bench/segments.py) at a tiny scale: they report every figure and leave nothing behind.

A transactional test: the event to "entered segment" figure needs real commits,
since the signal is sent once the event's transaction commits.
"""

import pytest

from bench import BenchContext, benchmarks_load
from bench.runner import benchmarks_run
from bench.segments import SEGMENT_NAME
from profiles.models import Event, Profile
from segments.models import Segment, SegmentMembership, SegmentMembershipChange


@pytest.mark.django_db(transaction=True)
def test_segments_benchmarks_report_their_figures_and_clean_up():
    registry = benchmarks_load()
    selected = [registry["segment_refresh"], registry["segment_realtime"]]

    results = benchmarks_run(selected, context=BenchContext(scale=400, operations=5, seed=3), repeat=2)

    figures = {(result.benchmark, result.figure): result for result in results}
    assert set(figures) == {
        ("segment_refresh", "first refresh, all enter"),
        ("segment_refresh", "next-day refresh"),
        ("segment_refresh", "live count"),
        ("segment_realtime", "one profile re-evaluated"),
        ("segment_realtime", "event to 'entered' signal"),
    }
    for result in results:
        assert len(result.values) == 2
        assert result.median > 0, result
        assert result.notes.startswith("target < "), result
    first = figures[("segment_refresh", "first refresh, all enter")].notes
    count = figures[("segment_refresh", "live count")].notes
    members = int(count.rsplit("= ", 1)[1].replace(",", ""))
    assert 0 < members < 400 and f"; {members} entered (" in first
    assert "of 400 profiles" in first
    # Purchases loaded for the next day put people in; the signal came for purchases tracked live.
    assert "5 entered" in figures[("segment_refresh", "next-day refresh")].notes
    signal = figures[("segment_realtime", "event to 'entered' signal")]
    assert "median of 5 purchases (0 without a signal)" in signal.notes
    # Nothing of the runs is left: the demo data set is as generated.
    assert not Segment.objects.filter(name=SEGMENT_NAME).exists()
    assert not SegmentMembership.objects.exists() and not SegmentMembershipChange.objects.exists()
    assert not Event.objects.exclude(source="demo").exists()
    assert Profile.objects.count() == 400 and not Profile.objects.exclude(source="demo").exists()
