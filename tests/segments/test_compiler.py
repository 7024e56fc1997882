"""Every condition kind and operator against the hand-built population (tests/segments/conftest.py).

Each case is checked twice: evaluated for everybody in one query (refreshes,
live counts), and evaluated for one profile at a time (real time). Both must
give the members written in the case.
"""

import pytest

from profiles.models import Profile
from segments.compiler import rules_q
from segments.models import Segment, SegmentKind, SegmentListEntry
from segments.rules import rules_check
from segments.services import segment_lookup_from_database
from tests.segments.conftest import NOW

pytestmark = pytest.mark.django_db

EVERYBODY = {"alice", "bob", "charlie", "dora", "eve"}


def members(population, rules: dict, *, segment_id=None) -> set[str]:
    cleaned = rules_check(rules, segment_id=segment_id)
    lookup = segment_lookup_from_database()
    everybody = Profile.objects.filter(rules_q(cleaned, segment_lookup=lookup, now=NOW, segment_id=segment_id))
    found = population.names(everybody.values_list("pk", flat=True))
    one_by_one = {
        pk
        for pk in Profile.objects.values_list("pk", flat=True)
        if Profile.objects.filter(pk=pk)
        .filter(rules_q(cleaned, segment_lookup=lookup, now=NOW, profile_id=pk, segment_id=segment_id))
        .exists()
    }
    assert population.names(one_by_one) == found, "evaluating one profile at a time disagrees"
    return found


def one(condition: dict) -> dict:
    return {"match": "all", "conditions": [condition]}


FIELD_CASES = [
    ({"field": "city", "operator": "equals", "value": "lyon"}, {"alice"}),
    ({"field": "city", "operator": "not_equals", "value": "Lyon"}, {"bob", "charlie", "dora", "eve"}),
    ({"field": "city", "operator": "contains", "value": "AN"}, {"bob", "dora"}),
    ({"field": "city", "operator": "not_contains", "value": "an"}, {"alice", "charlie", "eve"}),
    ({"field": "city", "operator": "starts_with", "value": "vil"}, {"dora"}),
    ({"field": "city", "operator": "in", "value": ["Lyon", "PARIS"]}, {"alice", "eve"}),
    ({"field": "city", "operator": "in", "value": "Lyon;Paris"}, {"alice", "eve"}),
    ({"field": "city", "operator": "not_in", "value": ["Lyon", "Paris"]}, {"bob", "charlie", "dora"}),
    ({"field": "city", "operator": "is_set"}, {"alice", "bob", "dora", "eve"}),
    ({"field": "city", "operator": "is_empty"}, {"charlie"}),
    ({"field": "birth_date", "operator": "on", "value": "03/06/1990"}, {"alice"}),
    ({"field": "birth_date", "operator": "before", "value": "1988-01-01"}, {"bob"}),
    ({"field": "birth_date", "operator": "after", "value": "1988-01-01"}, {"alice"}),
    ({"field": "birth_date", "operator": "between", "value": ["1980-01-01", "1989-12-31"]}, {"bob"}),
    ({"field": "birth_date", "operator": "birthday_this_month"}, {"alice"}),
    ({"field": "birth_date", "operator": "more_than_days_ago", "value": 365}, {"alice", "bob"}),
    ({"field": "birth_date", "operator": "is_set"}, {"alice", "bob"}),
    ({"field": "birth_date", "operator": "is_empty"}, {"charlie", "dora", "eve"}),
    ({"field": "created_at", "operator": "in_last_days", "value": 7}, {"charlie", "eve"}),
    ({"field": "created_at", "operator": "more_than_days_ago", "value": 30}, {"alice", "dora"}),
    ({"field": "created_at", "operator": "before", "value": "2026-01-01"}, {"alice"}),
    ({"field": "created_at", "operator": "on", "value": "2026-06-05"}, {"bob"}),
    ({"field": "created_at", "operator": "after", "value": "2026-06-12"}, {"charlie", "eve"}),
    ({"field": "created_at", "operator": "between", "value": ["2026-05-01", "2026-06-10"]}, {"bob", "dora"}),
]


@pytest.mark.parametrize(("condition", "expected"), FIELD_CASES, ids=lambda case: str(case))
def test_profile_fields(population, condition, expected):
    assert members(population, one(condition)) == expected


def trait(key: str, value_type: str, operator: str, value=None) -> dict:
    condition = {"field": "trait", "key": key, "value_type": value_type, "operator": operator}
    if value is not None:
        condition["value"] = value
    return condition


TRAIT_CASES = [
    # Numbers: 120 (a JSON number), "45" (text from a CSV), "n/a" (not a number: never matches a comparison).
    (trait("loyalty_points", "number", "gt", "100"), {"alice"}),
    (trait("loyalty_points", "number", "gte", "45"), {"alice", "bob"}),
    (trait("loyalty_points", "number", "lt", "100"), {"bob"}),
    (trait("loyalty_points", "number", "lte", "120"), {"alice", "bob"}),
    (trait("loyalty_points", "number", "between", ["40", "130"]), {"alice", "bob"}),
    (trait("loyalty_points", "number", "equals", "45,0"), {"bob"}),
    (trait("loyalty_points", "number", "not_equals", "45"), {"alice", "charlie", "dora", "eve"}),
    (trait("loyalty_points", "number", "in", ["45", "120"]), {"alice", "bob"}),
    (trait("loyalty_points", "number", "is_set"), {"alice", "bob", "dora"}),
    (trait("loyalty_points", "number", "is_empty"), {"charlie", "eve"}),
    (trait("tier", "text", "equals", "GOLD"), {"alice"}),
    (trait("tier", "text", "not_equals", "gold"), {"bob", "charlie", "dora", "eve"}),
    (trait("tier", "text", "contains", "ilv"), {"bob"}),
    (trait("tier", "text", "starts_with", "g"), {"alice"}),
    (trait("tier", "text", "in", ["gold", "silver"]), {"alice", "bob"}),
    (trait("tier", "text", "is_empty"), {"charlie", "dora", "eve"}),
    (trait("vip", "boolean", "is_true"), {"alice"}),
    (trait("vip", "boolean", "is_false"), {"bob"}),
    (trait("vip", "boolean", "is_set"), {"alice", "bob"}),
    # Dates: ISO text is compared; "01/05/2026" is not a date a trait comparison reads.
    (trait("last_store_visit", "date", "in_last_days", 30), {"alice"}),
    (trait("last_store_visit", "date", "before", "2026-06-02"), {"alice"}),
    (trait("last_store_visit", "date", "after", "2026-01-01"), {"alice"}),
    (trait("last_store_visit", "date", "on", "2026-06-01"), {"alice"}),
    (trait("next_renewal", "date", "in_next_days", 10), {"alice"}),
    (trait("next_renewal", "date", "between", ["2026-07-01", "2026-08-31"]), {"dora"}),
    (trait("next_renewal", "date", "birthday_this_month"), {"alice"}),
    (trait("last_store_visit", "date", "is_set"), {"alice", "dora"}),
]


@pytest.mark.parametrize(("condition", "expected"), TRAIT_CASES, ids=lambda case: str(case))
def test_custom_traits(population, condition, expected):
    assert members(population, one(condition)) == expected


IDENTITY_CASES = [
    ({"field": "identifier", "operator": "has", "value": "email"}, {"alice", "dora"}),
    ({"field": "identifier", "operator": "has_not", "value": "email"}, {"bob", "charlie", "eve"}),
    ({"field": "identifier", "operator": "has", "value": "phone"}, {"bob"}),
    ({"field": "identifier", "operator": "has", "value": "crm_id"}, {"alice", "eve"}),
    ({"field": "identity", "operator": "identified"}, {"alice", "bob", "dora", "eve"}),
    ({"field": "identity", "operator": "anonymous"}, {"charlie"}),
    # Consent goes through the consent gate: dora's withdrawal wins over her earlier grant.
    ({"field": "consent", "operator": "granted", "value": "email"}, {"alice"}),
    ({"field": "consent", "operator": "not_granted", "value": "email"}, {"bob", "charlie", "dora", "eve"}),
    ({"field": "consent", "operator": "granted", "value": "sms"}, {"bob"}),
]


@pytest.mark.parametrize(("condition", "expected"), IDENTITY_CASES, ids=lambda case: str(case))
def test_identity_and_consent(population, condition, expected):
    assert members(population, one(condition)) == expected


def test_consent_condition_follows_do_not_contact(population):
    from profiles.services import profile_set_do_not_contact

    profile_set_do_not_contact(profile=population.alice, value=True, actor="test")

    assert members(population, one({"field": "consent", "operator": "granted", "value": "email"})) == set()


def event(operator: str, event_type: str = "purchase", **extra) -> dict:
    return {"field": "event", "event_type": event_type, "operator": operator, **extra}


EVENT_CASES = [
    (event("did"), {"alice", "bob", "dora"}),
    (event("did_not"), {"charlie", "eve"}),
    (event("did", window="last_days", days=30), {"alice", "dora"}),
    (event("did_not", window="last_days", days=30), {"bob", "charlie", "eve"}),
    (event("at_least", count=1), {"alice", "bob", "dora"}),
    (event("at_least", count=2), {"alice", "dora"}),
    (event("at_least", count=3), {"alice"}),
    (event("at_least", count=2, window="last_days", days=30), {"alice"}),
    (event("at_most", count=1), {"bob", "charlie", "eve"}),
    (event("at_most", count=0), {"charlie", "eve"}),
    (event("exactly", count=2), {"dora"}),
    (event("exactly", count=0), {"charlie", "eve"}),
    (event("did", window="between", **{"from": "01/05/2026", "to": "2026-05-16"}), {"dora"}),
    (event("did", window="between", **{"from": "2026-05-06", "to": "2026-05-06"}), {"dora"}),
    (event("did", "product_view", property_key="category", property_value="SHOES"), {"alice"}),
    (
        event("did", "product_view", property_key="category", property_operator="not_equals", property_value="shoes"),
        {"bob"},
    ),
    (
        event("did", "product_view", property_key="category", property_operator="contains", property_value="oat"),
        {"bob"},
    ),
    (
        event("did", "product_view", property_key="category", property_operator="in", property_value="shoes;coats"),
        {"alice", "bob"},
    ),
    (event("did", "product_view", property_key="price", property_operator="gt", property_value="100"), {"bob"}),
    (event("did", "product_view", property_key="price", property_operator="lt", property_value="100"), {"alice"}),
    (
        event("did_not", "product_view", property_key="category", property_value="shoes", window="last_days", days=30),
        {"bob", "charlie", "dora", "eve"},
    ),
]


@pytest.mark.parametrize(("condition", "expected"), EVENT_CASES, ids=lambda case: str(case))
def test_behaviour_on_events(population, condition, expected):
    assert members(population, one(condition)) == expected


def revenue(operator: str, value, aggregate: str = "sum", **extra) -> dict:
    return {"field": "revenue", "operator": operator, "value": value, "aggregate": aggregate, **extra}


REVENUE_CASES = [
    # Totals: alice 100, bob 500, dora 25; charlie and eve 0.
    (revenue("gt", "90"), {"alice", "bob"}),
    (revenue("gte", "100"), {"alice", "bob"}),
    (revenue("lt", "50"), {"charlie", "dora", "eve"}),
    (revenue("lte", "25"), {"charlie", "dora", "eve"}),
    (revenue("between", ["20", "150"]), {"alice", "dora"}),
    (revenue("between", ["0", "30"]), {"charlie", "dora", "eve"}),
    (revenue("gt", "50", window="last_days", days=30), {"alice"}),
    # Averages need at least one purchase: alice 33.33, bob 500, dora 12.50.
    (revenue("gte", "30", aggregate="avg"), {"alice", "bob"}),
    (revenue("lt", "20", aggregate="avg"), {"dora"}),
]


@pytest.mark.parametrize(("condition", "expected"), REVENUE_CASES, ids=lambda case: str(case))
def test_revenue(population, condition, expected):
    assert members(population, one(condition)) == expected


RECENCY_CASES = [
    ({"field": "last_event", "event_type": "purchase", "operator": "newer_than", "value": 7}, {"alice", "dora"}),
    ({"field": "last_event", "event_type": "purchase", "operator": "older_than", "value": 30}, {"bob"}),
    ({"field": "last_event", "event_type": "page_view", "operator": "older_than", "value": 3}, {"charlie"}),
    ({"field": "last_event", "event_type": "page_view", "operator": "newer_than", "value": 3}, set()),
]


@pytest.mark.parametrize(("condition", "expected"), RECENCY_CASES, ids=lambda case: str(case))
def test_recency(population, condition, expected):
    assert members(population, one(condition)) == expected


def rfm(dimension: str, bands: list[int], **extra) -> dict:
    return {"field": "rfm", "dimension": dimension, "value": bands, **extra}


RFM_CASES = [
    # Three buyers in the last 365 days: bands are ceil(5 x cumulative share) = 2, 4, 5.
    (rfm("recency", [5]), {"dora"}),  # bought 1 day ago
    (rfm("recency", [4]), {"alice"}),
    (rfm("recency", [1, 2]), {"bob"}),  # 200 days ago
    (rfm("recency", [2, 5]), {"bob", "dora"}),
    (rfm("frequency", [5]), {"alice"}),  # 3 purchases
    (rfm("frequency", [4, 5]), {"alice", "dora"}),
    (rfm("monetary", [5]), {"bob"}),  # 500
    (rfm("monetary", [1, 2, 3]), {"dora"}),  # 25
    # In the last 100 days bob is no buyer at all: two buyers, bands 3 (dora) and 5 (alice).
    (rfm("monetary", [5], days=100), {"alice"}),
    (rfm("monetary", [3], days=100), {"dora"}),
]


@pytest.mark.parametrize(("condition", "expected"), RFM_CASES, ids=lambda case: str(case))
def test_rfm_bands(population, condition, expected):
    assert members(population, one(condition)) == expected


def test_groups_nest_all_any_none(population):
    # Bought something and (lives in Lyon or can be reached by SMS).
    rules = {
        "match": "all",
        "conditions": [
            event("did"),
            {
                "match": "any",
                "conditions": [
                    {"field": "city", "operator": "equals", "value": "Lyon"},
                    {"field": "consent", "operator": "granted", "value": "sms"},
                ],
            },
        ],
    }
    assert members(population, rules) == {"alice", "bob"}

    none_of = {
        "match": "none",
        "conditions": [
            {"field": "identity", "operator": "anonymous"},
            {"field": "identifier", "operator": "has", "value": "email"},
        ],
    }
    assert members(population, none_of) == {"bob", "eve"}

    any_of = {
        "match": "any",
        "conditions": [{"field": "city", "operator": "equals", "value": "Paris"}, event("exactly", count=2)],
    }
    assert members(population, any_of) == {"dora", "eve"}


def test_membership_of_other_segments(population):
    lyon_or_paris = Segment.objects.create(
        name="Lyon or Paris",
        rules=one({"field": "city", "operator": "in", "value": ["Lyon", "Paris"]}),
    )
    uploaded = Segment.objects.create(name="Uploaded", kind=SegmentKind.STATIC)
    SegmentListEntry.objects.create(segment=uploaded, profile=population.bob)

    assert members(population, one({"field": "segment", "operator": "in_segment", "value": lyon_or_paris.pk})) == {
        "alice",
        "eve",
    }
    assert members(population, one({"field": "segment", "operator": "not_in_segment", "value": lyon_or_paris.pk})) == {
        "bob",
        "charlie",
        "dora",
    }
    assert members(population, one({"field": "segment", "operator": "in_segment", "value": uploaded.pk})) == {"bob"}
    # Segments nest: "in (Lyon or Paris)" and "has an email".
    nested = Segment.objects.create(
        name="Nested",
        rules={
            "match": "all",
            "conditions": [
                {"field": "segment", "operator": "in_segment", "value": lyon_or_paris.pk},
                {"field": "identifier", "operator": "has", "value": "email"},
            ],
        },
    )
    assert members(population, one({"field": "segment", "operator": "in_segment", "value": nested.pk})) == {"alice"}


def test_the_whole_segment_is_one_query(population, django_assert_num_queries):
    rules = rules_check(
        {
            "match": "all",
            "conditions": [
                {"field": "city", "operator": "is_set"},
                event("at_least", count=2, window="last_days", days=90),
                revenue("gt", "10"),
                rfm("monetary", [4, 5]),
                {"field": "consent", "operator": "not_granted", "value": "sms"},
            ],
        }
    )
    q = rules_q(rules, segment_lookup=segment_lookup_from_database(), now=NOW)

    with django_assert_num_queries(1):
        assert population.names(Profile.objects.filter(q).values_list("pk", flat=True)) == {"alice"}
