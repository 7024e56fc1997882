"""The scores benchmark (bench/scores.py) at a tiny scale: it reports every figure and leaves nothing behind."""

import pytest

from bench import BenchContext, benchmarks_load
from bench.runner import benchmarks_run
from profiles.models import Profile
from scores.models import ModelVersion, ProfileScore, ScoreDefinition


@pytest.mark.django_db
def test_scores_benchmark_reports_its_figures_and_cleans_up():
    registry = benchmarks_load()

    results = benchmarks_run([registry["scores"]], context=BenchContext(scale=300, seed=3), repeat=2)

    figures = {result.figure: result for result in results}
    assert set(figures) == {
        "all built-in scores",
        "rfm",
        "engagement",
        "propensity_purchase",
        "churn_risk",
        "complaint_risk",
        "best_send_hour",
        "writing every score at the end",
    }
    total = figures["all built-in scores"]
    assert len(total.values) == 2 and total.median > 0
    assert total.notes.startswith("target < 60 s; 6 scores, ") and "FAILED" not in total.notes
    assert "profiles scored" in figures["propensity_purchase"].notes
    assert not ScoreDefinition.objects.exists() and not ModelVersion.objects.exists()
    assert not ProfileScore.objects.exists()
    assert Profile.objects.count() == 300
