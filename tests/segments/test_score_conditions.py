"""Score conditions: "score above a value" and "top N % by score", on scores computed for the population.

RFM at NOW (buyers only): alice (3 purchases, 100 €, last 5 days ago) R3 F5 M3 = 353;
bob (1 purchase, 500 €, 200 days ago) R1 F1 M5 = 115; dora (2, 25 €, 1 day ago) R5 F3 M1 = 531.
"""

import pytest
from django.core.exceptions import ValidationError

from profiles.models import Profile
from scores.models import ProfileScore, ScoreDefinition, ScoreKind
from scores.services import score_compute, score_definition_save
from segments.compiler import rules_q
from segments.forms import RuleBuilderWidget
from segments.models import Segment
from segments.rules import rules_check, rules_score_ids
from segments.services import segment_lookup_from_database, segment_profile_evaluate, segment_save
from tests.segments.conftest import NOW


@pytest.fixture
def rfm(population) -> ScoreDefinition:
    definition = score_definition_save(definition=ScoreDefinition(name="RFM", kind=ScoreKind.RFM))
    score_compute(definition=definition, now=NOW)
    return definition


def members(population, rules: dict) -> set[str]:
    q = rules_q(rules_check(rules), segment_lookup=segment_lookup_from_database(), now=NOW)
    return population.names(Profile.objects.filter(q).values_list("pk", flat=True))


def score(definition: ScoreDefinition, operator: str, value) -> dict:
    return {
        "match": "all",
        "conditions": [{"field": "score", "score": definition.pk, "operator": operator, "value": value}],
    }


def test_rfm_scores_and_cells_of_the_population(population, rfm):
    stored = {
        name: ProfileScore.objects.filter(definition=rfm, profile=getattr(population, name))
        .values_list("value", "label")
        .first()
        for name in ("alice", "bob", "charlie", "dora", "eve")
    }

    assert stored == {
        "alice": (353.0, "loyal_customers"),
        "bob": (115.0, "lost"),
        "charlie": None,
        "dora": (531.0, "potential_loyalists"),
        "eve": None,
    }


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("score_above", 300, {"alice", "dora"}),
        ("score_above", "353", {"dora"}),
        ("score_above", "114,5", {"alice", "bob", "dora"}),
        ("score_above", 600, set()),
        ("score_top_percent", 34, {"dora"}),
        ("score_top_percent", 67, {"alice", "dora"}),
        ("score_top_percent", 100, {"alice", "bob", "dora"}),
        ("score_top_percent", "0.5", set()),
    ],
)
def test_score_conditions_select_by_value_and_by_rank(population, rfm, operator, value, expected):
    assert members(population, score(rfm, operator, value)) == expected


def test_people_without_a_score_are_in_none_of_the_conditions(population, rfm):
    rules = {"match": "none", "conditions": score(rfm, "score_above", 0)["conditions"]}

    assert members(population, rules) == {"charlie", "eve"}


def test_a_segment_with_a_score_condition_is_one_query(population, rfm, django_assert_num_queries):
    rules = rules_check(
        {
            "match": "all",
            "conditions": [
                {"field": "city", "operator": "is_set"},
                {"field": "score", "score": rfm.pk, "operator": "score_top_percent", "value": 70},
            ],
        }
    )
    q = rules_q(rules, segment_lookup=segment_lookup_from_database(), now=NOW)

    with django_assert_num_queries(1):
        assert population.names(Profile.objects.filter(q).values_list("pk", flat=True)) == {"alice", "dora"}


def test_a_profile_is_evaluated_alone_against_a_score_condition(population, rfm):
    segment = segment_save(segment=Segment(name="Best RFM"), rules=score(rfm, "score_above", 500))

    changes = segment_profile_evaluate(profile_id=population.dora.pk, now=NOW)

    assert changes.entered == [segment.pk]
    assert segment_profile_evaluate(profile_id=population.alice.pk, now=NOW).entered == []


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"operator": "score_above", "value": 3}, "Condition 1 (Score): choose a score."),
        (
            {"score": 999999, "operator": "score_above", "value": 3},
            "Condition 1 (Score): the score #999999 does not exist any more.",
        ),
        ({"operator": "score_below", "value": 3}, "Condition 1 (Score): choose an operator."),
        ({"operator": "score_above", "value": "beaucoup"}, "Condition 1 (Score): “beaucoup” is not a number."),
        ({"operator": "score_above", "value": ""}, "Condition 1 (Score): enter a value."),
        (
            {"operator": "score_top_percent", "value": 0},
            "Condition 1 (Score): the share must be a number of percent from 0 (excluded) to 100.",
        ),
        (
            {"operator": "score_top_percent", "value": "150"},
            "Condition 1 (Score): the share must be a number of percent from 0 (excluded) to 100.",
        ),
    ],
)
def test_a_wrong_score_condition_names_what_to_fix(db, condition, message):
    definition = ScoreDefinition.objects.create(name="Engagement", kind=ScoreKind.ENGAGEMENT)
    node = {"field": "score", **condition}
    if "score" not in node and not message.endswith("choose a score."):
        node["score"] = definition.pk

    with pytest.raises(ValidationError) as caught:
        rules_check({"match": "all", "conditions": [node]})

    assert message in caught.value.messages


def test_the_cleaned_condition_keeps_the_score_and_a_number(db):
    definition = ScoreDefinition.objects.create(name="Propensity", kind=ScoreKind.PROPENSITY_PURCHASE)
    rules = rules_check(
        {
            "match": "all",
            "conditions": [
                {"field": "score", "score": str(definition.pk), "operator": "score_top_percent", "value": "12,5"}
            ],
        }
    )

    assert rules["conditions"][0] == {
        "field": "score",
        "score": definition.pk,
        "operator": "score_top_percent",
        "value": "12.5",
    }
    assert rules_score_ids(rules) == {definition.pk}


def test_the_rule_builder_offers_the_scores(db):
    ScoreDefinition.objects.create(name="Propensity to buy", kind=ScoreKind.PROPENSITY_PURCHASE)

    html = RuleBuilderWidget().render("rules", '{"match": "all", "conditions": []}')

    assert '"name": "Propensity to buy"' in html
    assert '"score_top_percent"' in html
    assert '["score"]' in html
