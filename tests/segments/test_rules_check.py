"""A wrong value is refused with a message naming the condition, before anything is saved."""

import pytest
from django.core.exceptions import ValidationError

from segments.models import Segment
from segments.rules import rules_check
from segments.services import segment_rules_check, segment_save


def errors_of(rules: dict) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        rules_check(rules)
    return caught.value.messages


def one(condition: dict) -> dict:
    return {"match": "all", "conditions": [condition]}


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (
            {"field": "trait", "key": "points", "value_type": "number", "operator": "gt", "value": "beaucoup"},
            "Condition 1 (Custom trait): “beaucoup” is not a number.",
        ),
        (
            {"field": "birth_date", "operator": "on", "value": "31/02/1990"},
            "Condition 1 (Birth date): “31/02/1990” is not a date (dd/mm/yyyy).",
        ),
        (
            {"field": "city", "operator": "in", "value": []},
            "Condition 1 (City): the list is empty: enter at least one value.",
        ),
        (
            {"field": "city", "operator": "in", "value": " ; "},
            "Condition 1 (City): the list is empty: enter at least one value.",
        ),
        ({"field": "city", "operator": "equals", "value": "  "}, "Condition 1 (City): enter a value."),
        ({"field": "city", "operator": "gt", "value": "3"}, "Condition 1 (City): choose an operator."),
        (
            {"field": "birth_date", "operator": "between", "value": ["2000-01-01", "1990-01-01"]},
            "Condition 1 (Birth date): the start of the range is after its end.",
        ),
        (
            {"field": "created_at", "operator": "in_last_days", "value": "thirty"},
            "Condition 1 (Profile created): the number of days must be a whole number from 1 to 100000.",
        ),
        (
            {"field": "event", "event_type": "purchase", "operator": "at_least", "count": "two"},
            "Condition 1 (Did an action (event)): the number of times must be a whole number (at least 1).",
        ),
        (
            {"field": "event", "event_type": "Achat!", "operator": "did"},
            "Condition 1 (Did an action (event)): choose the action (event type), for example purchase.",
        ),
        (
            {"field": "event", "event_type": "purchase", "operator": "did", "window": "between", "from": "2026-02-30"},
            "Condition 1 (Did an action (event)): “2026-02-30” is not a date (dd/mm/yyyy).",
        ),
        (
            {"field": "revenue", "operator": "gt", "value": "lots", "aggregate": "sum"},
            "Condition 1 (Revenue): “lots” is not a number.",
        ),
        ({"field": "consent", "operator": "granted", "value": "pigeon"}, "Condition 1 (Consent): choose a channel."),
        (
            {"field": "rfm", "dimension": "recency", "value": [6]},
            "Condition 1 (RFM band): choose one or more bands from 1 to 5.",
        ),
        (
            {"field": "segment", "operator": "in_segment", "value": ""},
            "Condition 1 (Segment membership): choose a segment.",
        ),
        (
            {"field": "shoe_size", "operator": "equals", "value": "42"},
            "Condition 1: “shoe_size” is not something a condition can be about.",
        ),
    ],
)
def test_a_wrong_value_is_refused_naming_its_condition(condition, message):
    assert message in errors_of(one(condition))


def test_every_mistake_is_listed_with_the_path_of_its_condition():
    rules = {
        "match": "all",
        "conditions": [
            {"field": "city", "operator": "equals", "value": "Lyon"},
            {
                "match": "any",
                "conditions": [
                    {"field": "city", "operator": "equals", "value": "Paris"},
                    {"field": "trait", "key": "points", "value_type": "number", "operator": "gt", "value": "x"},
                ],
            },
            {"match": "any", "conditions": []},
            {"field": "birth_date", "operator": "on", "value": "1990-13-01"},
        ],
    }

    assert errors_of(rules) == [
        "Condition 2.2 (Custom trait): “x” is not a number.",
        "Group 3 is empty: add a condition or remove the group.",
        "Condition 4 (Birth date): “1990-13-01” is not a date (dd/mm/yyyy).",
    ]


def test_no_condition_at_all_is_refused():
    assert errors_of({"match": "all", "conditions": []}) == ["Add at least one condition."]


def test_clean_rules_are_normalised():
    cleaned = rules_check(
        {
            "conditions": [
                {"field": "birth_date", "operator": "between", "value": ["01/01/1980", "31/12/1989"]},
                {"field": "trait", "key": "points", "value_type": "number", "operator": "gte", "value": "1 000,50"},
                {"field": "city", "operator": "in", "value": "Lyon\nParis;"},
                {"field": "event", "event_type": "purchase", "operator": "did", "window": "last_days", "days": "30"},
            ]
        }
    )

    assert cleaned == {
        "match": "all",
        "conditions": [
            {"field": "birth_date", "operator": "between", "value": ["1980-01-01", "1989-12-31"]},
            {"field": "trait", "key": "points", "value_type": "number", "operator": "gte", "value": "1000.50"},
            {"field": "city", "operator": "in", "value": ["Lyon", "Paris"]},
            {"field": "event", "operator": "did", "event_type": "purchase", "window": "last_days", "days": 30},
        ],
    }


@pytest.mark.django_db
def test_circular_references_are_refused_with_the_circle_named():
    base = {"match": "all", "conditions": [{"field": "city", "operator": "equals", "value": "Lyon"}]}
    first = segment_save(segment=Segment(name="First", refresh_every="never"), rules=base)
    second = segment_save(
        segment=Segment(name="Second", refresh_every="never"),
        rules=one({"field": "segment", "operator": "in_segment", "value": first.pk}),
    )

    with pytest.raises(ValidationError) as caught:
        segment_save(segment=first, rules=one({"field": "segment", "operator": "in_segment", "value": second.pk}))

    assert caught.value.messages == [
        "Circular reference: First → Second → First. A segment cannot contain itself, even through another."
    ]
    first.refresh_from_db()
    assert first.rules == base

    with pytest.raises(ValidationError, match="cannot contain itself"):
        segment_rules_check(
            rules=one({"field": "segment", "operator": "in_segment", "value": first.pk}), segment_id=first.pk
        )
    with pytest.raises(ValidationError, match="does not exist any more"):
        segment_rules_check(rules=one({"field": "segment", "operator": "in_segment", "value": 999_999}))
