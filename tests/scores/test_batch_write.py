"""Scores computed together are written together: the same scores whether the table's indexes are kept or rebuilt."""

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from profiles.demo import demo_data_generate
from scores import services
from scores.models import ProfileScore, ScoreKind
from scores.services import score_compute, score_definitions_ensure, scores_compute

pytestmark = pytest.mark.django_db

NOW = timezone.make_aware(datetime.datetime(2026, 6, 15, 12, 0))


def current_scores() -> set[tuple[int, int, float, str]]:
    return set(ProfileScore.objects.values_list("profile_id", "definition_id", "value", "label"))


def test_a_batch_gives_the_same_scores_with_its_indexes_rebuilt_and_keeps_the_others(monkeypatch):
    demo_data_generate(profiles=300, seed=5, now=NOW)
    definitions = score_definitions_ensure()
    scores_compute(definitions=definitions, now=NOW)
    before = current_scores()
    # (On so few people some models do worse than their baseline: not promoted, they score nobody.)
    assert len({definition for _profile, definition, _value, _label in before}) >= 3

    # Every batch rebuilds the indexes now; the RFM score is not in this one and keeps its rows.
    monkeypatch.setattr(services, "REBUILD_ROWS", 0)
    monkeypatch.setattr(services, "REBUILD_SHARE", 0)
    scores_compute(definitions=[d for d in definitions if d.kind != ScoreKind.RFM], now=NOW)

    assert current_scores() == before
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [ProfileScore._meta.db_table])
            names = {row[0] for row in cursor.fetchall()}
        expected = {index.name for index in ProfileScore._meta.indexes}
        expected |= {constraint.name for constraint in ProfileScore._meta.constraints}
        assert expected <= names


def test_one_score_computed_alone_is_written_the_same_way(monkeypatch):
    demo_data_generate(profiles=300, seed=5, now=NOW)
    definitions = {definition.kind: definition for definition in score_definitions_ensure()}
    scores_compute(definitions=definitions.values(), now=NOW)
    before = current_scores()

    monkeypatch.setattr(services, "REBUILD_ROWS", 0)
    monkeypatch.setattr(services, "REBUILD_SHARE", 0)
    assert score_compute(definition=definitions[ScoreKind.BEST_SEND_HOUR], now=NOW) is not None

    assert current_scores() == before
