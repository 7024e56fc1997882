"""The bench harness at a tiny scale: every benchmark runs and reports its figures."""

import pytest

from bench import BenchContext, benchmarks_load
from bench.__main__ import main
from bench.runner import benchmarks_run, table_format
from profiles.models import Profile


@pytest.mark.django_db
def test_every_benchmark_runs_and_reports_figures():
    registry = benchmarks_load()
    assert {"demo_data", "profile_resolve", "event_track", "consent_gate"} <= set(registry)

    results = benchmarks_run(list(registry.values()), context=BenchContext(scale=60, operations=5), repeat=2)

    figures = {(result.benchmark, result.figure): result for result in results}
    assert ("demo_data", "profiles generated") in figures
    assert ("profile_resolve", "two profiles merged") in figures
    assert ("consent_gate", "consent_gate(email).count()") in figures
    for result in results:
        assert len(result.values) == 2
        assert result.minimum <= result.median <= result.maximum
        assert result.median > 0, result
    assert figures[("profile_resolve", "two profiles merged")].notes == "5 merges per run"
    # The benchmarks leave the demo data set as it was generated.
    assert Profile.objects.count() == 60
    assert not Profile.objects.exclude(source="demo").exists()
    table = table_format(results)
    assert table.splitlines()[0].split() == ["name", "figure", "unit", "median", "spread", "(min-max)", "runs", "notes"]
    assert "profiles/s" in table


def test_refuses_a_database_not_meant_for_benchmarks(capsys):
    # The test database is named test_cdp (or an in-memory SQLite): not a bench database.
    assert main(["--scale", "10", "--repeat", "1"]) == 2

    assert "Refusing to run" in capsys.readouterr().err


def test_unknown_benchmark_is_reported(capsys):
    assert main(["--only", "nothing_like_this"]) == 2

    assert "Unknown benchmark: nothing_like_this" in capsys.readouterr().err
