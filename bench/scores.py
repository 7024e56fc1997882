"""Benchmark of scores: every built-in score computed for the whole demo data set.

It runs on the demo data set of ``bench.profiles`` (``--scale`` profiles, about
ten events each) at the moment the data set ends (its newest event), so that
the windows hold the same events however old the data set is. One run
computes the six built-in scores (RFM, engagement, propensity to buy, attrition
risk, unsubscribe risk, best send hour) with ``scores_compute``, as beat does:
features read once per moment, three models trained and judged, every score
staged, then written together (PostgreSQL: the table's indexes built again).
Its score definitions, versions and scores are deleted at the end of the run
(untimed), so each run starts from an instance without scores.
"""

import time

from django.db import connection
from django.db.models import Max
from django.utils import timezone

from bench import BenchContext, Measurement, benchmark
from bench.profiles import demo_dataset_ensure
from profiles.models import Event
from scores.models import ModelVersion, ProfileScore, ScoreDefinition
from scores.services import score_definition_delete, score_definitions_ensure, scores_compute

TARGET_SECONDS = 60


def _scores_clear() -> None:
    for definition in ScoreDefinition.objects.all():
        score_definition_delete(definition=definition)
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(ProfileScore._meta.db_table)}")


@benchmark(
    "scores",
    description="All built-in scores (RFM, engagement, 3 trained models, best send hour) for every profile.",
)
def scores_benchmark(context: BenchContext) -> list[Measurement]:
    demo_dataset_ensure(context)
    _scores_clear()
    now = Event.objects.aggregate(newest=Max("occurred_at"))["newest"] or timezone.now()
    definitions = score_definitions_ensure()
    started = time.perf_counter()
    versions = scores_compute(definitions=definitions, now=now)
    seconds = time.perf_counter() - started
    by_kind = {definition.kind: definition for definition in ScoreDefinition.objects.all()}
    rows = ProfileScore.objects.count()
    trained = ModelVersion.objects.exclude(holdout_auc=None)
    aucs = ", ".join(f"{version.definition.kind} {version.holdout_auc:.3f}" for version in trained)
    failed = [kind for kind, definition in by_kind.items() if definition.status == "failed"]
    measurements = [
        Measurement(
            "all built-in scores",
            seconds,
            "s",
            f"target < {TARGET_SECONDS} s; {len(versions)} scores, {rows:,} scores written; AUC {aucs}"
            + (f"; FAILED: {', '.join(failed)}" if failed else ""),
        )
    ]
    timings = {
        kind: seconds for kind, seconds in ModelVersion.objects.values_list("definition__kind", "details__seconds")
    }
    for kind, definition in sorted(by_kind.items()):
        timing = timings.get(kind) or {}
        measurements.append(
            Measurement(
                f"{kind}",
                definition.seconds or 0.0,
                "s",
                f"{definition.profiles_scored:,} profiles scored; computing {timing.get('compute', 0):.1f} s "
                f"(with the features the first one reads), writing {timing.get('write', 0):.1f} s",
            )
        )
    # On PostgreSQL the scores are staged and written together at the end (indexes rebuilt), then analysed.
    measurements.append(
        Measurement(
            "writing every score at the end",
            max(0.0, seconds - sum(definition.seconds or 0.0 for definition in by_kind.values())),
            "s",
            "staged rows into the scores table, its indexes built again, ANALYZE (PostgreSQL; ~0 elsewhere)",
        )
    )
    _scores_clear()
    return measurements
