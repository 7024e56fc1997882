"""The reporting benchmark (bench/reporting.py) at a tiny scale: it reports its figures and leaves nothing behind."""

import pytest

from activations.models import Campaign, Delivery, Destination
from bench import BenchContext, benchmarks_load
from bench.runner import benchmarks_run
from reporting.models import AttributionDay, CampaignDay, LinkClick


@pytest.mark.django_db
def test_reporting_benchmark_reports_its_figures_and_cleans_up():
    results = benchmarks_run(
        [benchmarks_load()["reporting_dashboard"]], context=BenchContext(scale=300, seed=3), repeat=1
    )

    figures = {result.figure: result for result in results}
    assert set(figures) == {"aggregates refreshed", "dashboard opened"}
    assert "100 campaigns, 300 deliveries" in figures["aggregates refreshed"].notes
    assert not Campaign.objects.exists() and not Delivery.objects.exists() and not LinkClick.objects.exists()
    assert not Destination.objects.exists() and not CampaignDay.objects.exists()
    assert not AttributionDay.objects.exists()
