"""The issue's acceptance on demo data with planted signals (``profiles.demo.persona_with_signals``).

One small data set (2,000 people, 90 days) is generated once for this module
and every built-in score computed on it, inside a transaction rolled back at
the end; each test reads what it needs.
"""

import datetime

import numpy as np
import pytest
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from profiles.demo import demo_data_generate, persona_with_signals
from profiles.models import Event, EventType, Profile
from scores.modelling import auc
from scores.models import ModelVersion, ProfileScore, ScoreDefinition, ScoreKind
from scores.selectors import best_send_hours
from scores.services import score_compute, score_definition_save, score_definitions_ensure, scores_compute
from segments.models import Segment, SegmentKind, SegmentListEntry, SegmentMembership

NOW = timezone.make_aware(datetime.datetime(2026, 6, 15, 12, 0))
PEOPLE = 2000
SEED = 7


@pytest.fixture(scope="module")
def planted(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        demo_data_generate(profiles=PEOPLE, seed=SEED, now=NOW, persona_factory=persona_with_signals)
        definitions = {definition.kind: definition for definition in score_definitions_ensure()}
        scores_compute(definitions=definitions.values(), now=NOW)
        signals = {
            pk: traits["demo_signals"]
            for pk, traits in Profile.objects.values_list("pk", "traits")
            if "demo_signals" in (traits or {})
        }
        yield definitions, signals
        transaction.set_rollback(True)


def scores_of(definition: ScoreDefinition) -> dict[int, float]:
    return dict(ProfileScore.objects.filter(definition=definition).values_list("profile_id", "value"))


def latest_version(definition: ScoreDefinition) -> ModelVersion:
    return ModelVersion.objects.filter(definition=definition).order_by("-number").first()


def test_propensity_beats_its_baseline_on_the_holdout(db, planted):
    definitions, _signals = planted
    version = latest_version(definitions[ScoreKind.PROPENSITY_PURCHASE])

    assert version.holdout_auc >= 0.70
    assert version.holdout_auc > version.baseline_auc
    assert version.promoted
    assert version.holdout_rows > 100
    # The calibration bins cover the holdout and compare predicted with observed rates.
    assert sum(row["count"] for row in version.calibration) == version.holdout_rows
    assert all(0 <= row["observed"] <= 1 for row in version.calibration)


def test_propensity_ranks_the_warming_up_buyers_first(db, planted):
    definitions, signals = planted
    scores = scores_of(definitions[ScoreKind.PROPENSITY_PURCHASE])
    ids = sorted(pk for pk in scores if pk in signals)
    planted_buyer = np.array([signals[pk]["intender"] for pk in ids])

    assert len(scores) == Profile.objects.count()
    assert auc(planted_buyer, np.array([scores[pk] for pk in ids])) >= 0.8


def test_best_send_hour_recovers_the_planted_hour(db, planted):
    _definitions, signals = planted
    opens = Event.objects.filter(type=EventType.EMAIL_OPEN, profile_id__in=list(signals))
    counts = opens.values("profile_id").annotate(opens=Count("pk")).values_list("profile_id", "opens")
    frequent = [pk for pk, count in counts if count >= 10]
    hours = best_send_hours(profile_ids=frequent)

    assert len(frequent) >= 50
    recovered = sum(hours[pk] == signals[pk]["best_hour"] for pk in frequent)
    assert recovered / len(frequent) >= 0.80


def test_best_send_hour_falls_back_to_everybodys_hour(db, planted):
    definitions, signals = planted
    version = latest_version(definitions[ScoreKind.BEST_SEND_HOUR])
    population_hour = version.details["population_hour"]
    thin = list(
        ProfileScore.objects.filter(definition=definitions[ScoreKind.BEST_SEND_HOUR], label="population").values_list(
            "profile_id", flat=True
        )[:20]
    )
    never_opened = list(Profile.objects.exclude(events__type=EventType.EMAIL_OPEN).values_list("pk", flat=True)[:20])

    hours = best_send_hours(profile_ids=thin + never_opened)

    assert thin and never_opened
    assert set(hours.values()) == {population_hour}
    assert version.details["own_hour"] > 0


def test_lookalike_ranks_the_planted_lookalikes_above_the_rest(db, planted):
    _definitions, signals = planted
    lookalikes = sorted(pk for pk, signal in signals.items() if signal["lookalike"])
    seed_ids = lookalikes[::2]  # half of them are the known best customers
    seed = Segment.objects.create(name="Best customers", kind=SegmentKind.STATIC, refresh_every="never")
    SegmentListEntry.objects.bulk_create([SegmentListEntry(segment=seed, profile_id=pk) for pk in seed_ids])
    definition = score_definition_save(
        definition=ScoreDefinition(
            name="Like our best customers",
            kind=ScoreKind.LOOKALIKE,
            compute_every="never",
            parameters={"seed_segment": seed.pk, "top_count": 50, "segment_name": "Look-alikes of the best"},
        )
    )

    version = score_compute(definition=definition, now=NOW)

    scores = scores_of(definition)
    assert not set(seed_ids) & set(scores)  # the seed is not ranked against itself
    hidden = set(lookalikes) - set(seed_ids)
    ids = sorted(scores)
    assert auc(np.array([pk in hidden for pk in ids]), np.array([scores[pk] for pk in ids])) >= 0.70
    assert version.promoted and version.holdout_auc >= 0.70
    # The audience: a static segment of the 50 best-ranked people a list can name.
    definition.refresh_from_db()
    audience = Segment.objects.get(pk=definition.output_segment_id)
    assert audience.kind == SegmentKind.STATIC and audience.name == "Look-alikes of the best"
    members = set(SegmentMembership.objects.filter(segment=audience).values_list("profile_id", flat=True))
    assert len(members) == 50
    assert len(members & hidden) >= 25


def test_same_data_and_seed_give_the_same_scores(db, planted):
    definitions, _signals = planted
    trained = [definitions[kind] for kind in (ScoreKind.PROPENSITY_PURCHASE, ScoreKind.CHURN_RISK)]
    before = {definition.pk: scores_of(definition) for definition in trained}
    models_before = {definition.pk: latest_version(definition).model for definition in trained}

    scores_compute(definitions=trained, now=NOW)

    for definition in trained:
        assert latest_version(definition).number == 2
        assert latest_version(definition).model == models_before[definition.pk]
        assert scores_of(definition) == before[definition.pk]


def test_another_seed_draws_another_holdout(db, planted):
    definitions, _signals = planted
    definition = definitions[ScoreKind.PROPENSITY_PURCHASE]
    first = latest_version(definition)
    definition.parameters = {**definition.parameters, "seed": 8}
    score_definition_save(definition=definition)

    second = score_compute(definition=definition, now=NOW)

    assert second.seed == 8 and first.seed == 42
    assert second.model != first.model


def test_a_model_that_does_not_beat_the_bar_is_not_promoted_and_the_last_one_keeps_scoring(db, planted):
    definitions, _signals = planted
    definition = definitions[ScoreKind.CHURN_RISK]
    promoted = latest_version(definition)
    definition.parameters = {**definition.parameters, "minimum_auc": 0.99}
    score_definition_save(definition=definition)

    version = score_compute(definition=definition, now=NOW)

    definition.refresh_from_db()
    assert not version.promoted and "below the minimum 0.99" in version.promotion_note
    assert version.holdout_auc is not None and version.calibration
    assert definition.status == "not_promoted"
    tagged = set(ProfileScore.objects.filter(definition=definition).values_list("model_version_id", flat=True))
    assert tagged == {promoted.pk}


def test_a_lookalike_whose_seed_segment_is_gone_fails_with_the_reason(db, planted):
    seed = Segment.objects.create(name="Gone soon", kind=SegmentKind.STATIC, refresh_every="never")
    definition = score_definition_save(
        definition=ScoreDefinition(
            name="Like a gone segment", kind=ScoreKind.LOOKALIKE, compute_every="never",
            parameters={"seed_segment": seed.pk},
        )
    )  # fmt: skip
    seed_id = seed.pk
    seed.delete()

    assert score_compute(definition=definition, now=NOW) is None

    definition.refresh_from_db()
    assert definition.status == "failed"
    assert f"The seed segment #{seed_id} does not exist." in definition.status_detail
