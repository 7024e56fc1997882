"""The rule compiler: a segment's conditions become one filter on profiles, evaluated by the database.

``rules_q`` turns checked rules (``segments.rules.rules_check``) into a ``Q``
made of lookups, ``Exists`` and ``IN (… GROUP BY … HAVING …)`` subqueries;
nothing is decided in Python per profile. The same compilation serves the full
refresh, the live count and the real-time evaluation of one profile: given a
``profile_id``, the aggregating subqueries are restricted to that profile so
that they read its events only.

Text comparisons ignore case. "Is not" and "does not contain" include profiles
where the value is missing. A total of revenue "less than" an amount includes
people with no revenue at all (their total is 0); an average needs at least
one event.
"""

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db.models import (
    Avg,
    Case,
    Count,
    DecimalField,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    When,
    Window,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, CumeDist, ExtractMonth, Lower, Substr, TruncDate
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    IExact,
    In,
    IsNull,
    IStartsWith,
    LessThan,
    LessThanOrEqual,
    Regex,
)
from django.utils import timezone

from profiles.models import Event, Identifier, Profile
from profiles.selectors import consent_gate, profile_identified_filter
from scores.selectors import score_filter
from segments.rules import PROFILE_FIELDS, RFM_DEFAULT_DAYS, ValueType, date_parse, rules_walk

NOBODY = Q(pk__in=[])
SHARE_EPSILON = 1e-9  # cumulative shares are k/n in floating point: 2/5 must land in band 2
NUMBER_PATTERN = r"^\s*-?[0-9]+(\.[0-9]+)?\s*$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
TRUE_WORDS = ["true", "1", "yes", "oui", "y", "o", "vrai"]
FALSE_WORDS = ["false", "0", "no", "non", "n", "faux"]

# Looks up a referenced segment: returns ("rules", rules) or ("static", segment id), or None if it is gone.
SegmentLookup = Callable[[int], tuple[str, Any] | None]


class CompileError(Exception):
    """Rules that cannot be compiled (a referenced segment is gone, or refers back to itself)."""


class _Compiler:
    def __init__(self, *, now: datetime.datetime, profile_id: int | None, segment_lookup: SegmentLookup) -> None:
        self.now = now
        self.today = timezone.localdate(now)
        self.profile_id = profile_id
        self.segment_lookup = segment_lookup

    # -- tree ------------------------------------------------------------------------------------

    def group(self, rules: dict, seen: frozenset[int]) -> Q:
        parts = [
            self.group(node, seen) if "conditions" in node else self.condition(node, seen)
            for node in rules.get("conditions", [])
        ]
        match = rules.get("match", "all")
        if match == "all":
            combined = Q()
            for part in parts:
                combined &= part
            return combined
        if not parts:
            return NOBODY if match == "any" else Q()
        combined = parts[0]
        for part in parts[1:]:
            combined |= part
        return combined if match == "any" else ~combined

    def condition(self, node: dict, seen: frozenset[int]) -> Q:
        field = node["field"]
        if field in PROFILE_FIELDS:
            spec = PROFILE_FIELDS[field]
            return self.compare(F(spec.column), spec.type, node["operator"], node.get("value"))
        if field == "segment":
            return self.segment(node, seen)
        return getattr(self, f"compile_{field}")(node)

    # -- comparing a value ----------------------------------------------------------------------

    def compare(self, lhs: Any, value_type: str, operator: str, value: Any) -> Q:
        if operator == "is_set":
            present = Q(IsNull(lhs, False))
            return present & ~Q(Exact(lhs, "")) if value_type in (ValueType.TEXT, ValueType.BOOLEAN) else present
        if operator == "is_empty":
            missing = Q(IsNull(lhs, True))
            return missing | Q(Exact(lhs, "")) if value_type in (ValueType.TEXT, ValueType.BOOLEAN) else missing
        if value_type == ValueType.TEXT:
            return self.compare_text(lhs, operator, value)
        if value_type == ValueType.NUMBER:
            # A trait holding something else than a number is left out, not an error for the whole query.
            numeric = DecimalField(max_digits=30, decimal_places=10)
            number = Cast(Case(When(Regex(lhs, NUMBER_PATTERN), then=lhs)), numeric)
            return self.compare_ordered(number, operator, value, convert=Decimal)
        if value_type == ValueType.BOOLEAN:
            words = TRUE_WORDS if operator == "is_true" else FALSE_WORDS
            return Q(In(Lower(lhs), words))
        return self.compare_date(lhs, value_type, operator, value)

    def compare_text(self, lhs: Any, operator: str, value: Any) -> Q:
        if operator in ("not_equals", "not_contains", "not_in"):
            positive = self.compare_text(lhs, operator.removeprefix("not_"), value)
            return ~positive | Q(IsNull(lhs, True))
        if operator == "equals":
            return Q(IExact(lhs, value))
        if operator == "contains":
            return Q(IContains(lhs, value))
        if operator == "starts_with":
            return Q(IStartsWith(lhs, value))
        if operator == "in":
            return Q(In(Lower(lhs), sorted({str(item).lower() for item in value})))
        raise ValueError(operator)

    def compare_ordered(self, lhs: Any, operator: str, value: Any, *, convert: Callable[[Any], Any]) -> Q:
        if operator in ("equals", "on"):
            return Q(Exact(lhs, convert(value)))
        if operator == "not_equals":
            return ~Q(Exact(lhs, convert(value))) | Q(IsNull(lhs, True))
        if operator in ("gt", "after"):
            return Q(GreaterThan(lhs, convert(value)))
        if operator == "gte":
            return Q(GreaterThanOrEqual(lhs, convert(value)))
        if operator in ("lt", "before"):
            return Q(LessThan(lhs, convert(value)))
        if operator == "lte":
            return Q(LessThanOrEqual(lhs, convert(value)))
        if operator == "between":
            low, high = value
            return Q(GreaterThanOrEqual(lhs, convert(low))) & Q(LessThanOrEqual(lhs, convert(high)))
        if operator == "in":
            return Q(In(lhs, [convert(item) for item in value]))
        raise ValueError(operator)

    def compare_date(self, lhs: Any, value_type: str, operator: str, value: Any) -> Q:
        # Dates compare as dates: a datetime column by its local day, a trait by its ISO text.
        if operator == "birthday_this_month":
            return Q(Exact(self.month_of(lhs, value_type), self.today.month))
        if operator == "in_last_days":
            operator, value = "between", [self.today - datetime.timedelta(days=value), self.today]
        elif operator == "more_than_days_ago":
            operator, value = "before", self.today - datetime.timedelta(days=value)
        elif operator == "in_next_days":
            operator, value = "between", [self.today, self.today + datetime.timedelta(days=value)]
        if value_type == ValueType.DATETIME:
            return self.compare_ordered(TruncDate(lhs), operator, value, convert=date_parse)
        if value_type == ValueType.DATE and not isinstance(lhs, KeyTextTransform):
            return self.compare_ordered(lhs, operator, value, convert=date_parse)
        iso = Case(When(Regex(lhs, DATE_PATTERN), then=Substr(lhs, 1, 10)))
        return self.compare_ordered(iso, operator, value, convert=lambda item: date_parse(item).isoformat())

    @staticmethod
    def month_of(lhs: Any, value_type: str) -> Any:
        if isinstance(lhs, KeyTextTransform):
            text = Case(When(Regex(lhs, DATE_PATTERN), then=Substr(lhs, 6, 2)))
            return Cast(text, IntegerField())
        return ExtractMonth(lhs)

    # -- conditions on profiles ---------------------------------------------------------------------

    def compile_trait(self, node: dict) -> Q:
        lhs = KeyTextTransform(node["key"], "traits")
        return self.compare(lhs, node["value_type"], node["operator"], node.get("value"))

    def compile_identifier(self, node: dict) -> Q:
        held = Exists(Identifier.objects.filter(profile=OuterRef("pk"), kind=node["value"]))
        return Q(held) if node["operator"] == "has" else ~Q(held)

    def compile_identity(self, node: dict) -> Q:
        identified = Q(profile_identified_filter())
        return identified if node["operator"] == "identified" else ~identified

    def compile_consent(self, node: dict) -> Q:
        allowed = Q(Exists(consent_gate(channel=node["value"]).filter(profile=OuterRef("pk"))))
        return allowed if node["operator"] == "granted" else ~allowed

    # -- conditions on events ---------------------------------------------------------------------

    def events(self, node: dict) -> QuerySet[Event]:
        events = Event.objects.filter(type=node["event_type"])
        window = node.get("window", "ever")
        if window == "last_days":
            events = events.filter(occurred_at__gte=self.now - datetime.timedelta(days=node["days"]))
        elif window == "between":
            start = _day_start(date_parse(node["from"]))
            end = _day_start(date_parse(node["to"]) + datetime.timedelta(days=1))
            events = events.filter(occurred_at__gte=start, occurred_at__lt=end)
        if node.get("property_key"):
            lhs = KeyTextTransform(node["property_key"], "properties")
            operator = node["property_operator"]
            value_type = ValueType.NUMBER if operator in ("gt", "lt") else ValueType.TEXT
            events = events.filter(self.compare(lhs, value_type, operator, node["property_value"]))
        if self.profile_id is not None:
            events = events.filter(profile_id=self.profile_id)
        return events

    def per_profile(self, events: QuerySet[Event], aggregate: Any, test: Callable[[str], Q]) -> Q:
        """Profiles whose events' aggregate passes ``test``: one GROUP BY … HAVING, not a query per profile."""
        grouped = events.order_by().values("profile_id").annotate(measure=aggregate).filter(test("measure"))
        return Q(pk__in=grouped.values("profile_id"))

    def compile_event(self, node: dict) -> Q:
        events = self.events(node)
        operator, count = node["operator"], node.get("count")
        did = Q(Exists(events.filter(profile=OuterRef("pk"))))
        if operator == "did" or (operator == "at_least" and count == 1):
            return did
        if operator == "did_not" or (operator in ("at_most", "exactly") and count == 0):
            return ~did
        if operator == "at_least":
            return self.per_profile(events, Count("id"), lambda name: Q(**{f"{name}__gte": count}))
        if operator == "at_most":
            return ~self.per_profile(events, Count("id"), lambda name: Q(**{f"{name}__gt": count}))
        return self.per_profile(events, Count("id"), lambda name: Q(**{name: count}))

    def compile_revenue(self, node: dict) -> Q:
        events = self.events(node).filter(revenue__isnull=False)
        aggregate = Sum("revenue") if node["aggregate"] == "sum" else Avg("revenue")
        operator, value = node["operator"], node["value"]
        bounds = [Decimal(str(item)) for item in value] if operator == "between" else [Decimal(str(value))]
        lookups = {"gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte"}

        def passes(name: str) -> Q:
            if operator == "between":
                return Q(**{f"{name}__gte": bounds[0], f"{name}__lte": bounds[1]})
            return Q(**{f"{name}__{lookups[operator]}": bounds[0]})

        zero_passes = _passes_number(Decimal(0), operator, bounds)
        if node["aggregate"] == "sum" and zero_passes:
            # People with no revenue total 0 and pass: keep everybody but those whose total fails.
            return ~self.per_profile(events, aggregate, lambda name: ~passes(name))
        return self.per_profile(events, aggregate, passes)

    def compile_last_event(self, node: dict) -> Q:
        events = self.events({**node, "window": "ever"})
        recent = Q(Exists(events.filter(profile=OuterRef("pk"), occurred_at__gte=self.now - _days(node["value"]))))
        if node["operator"] == "newer_than":
            return recent
        return Q(Exists(events.filter(profile=OuterRef("pk")))) & ~recent

    def compile_rfm(self, node: dict) -> Q:
        """Quintile bands among the people who did the event (purchase) in the window: 5 is the best fifth.

        The band is ceil(5 × cumulative share), so the best buyer is in band 5
        however few buyers there are, and equal values share a band. A band
        depends on everybody's behaviour, so it is computed over all buyers even
        when one profile is evaluated.
        """
        days = node.get("days", RFM_DEFAULT_DAYS)
        events = Event.objects.filter(type=node["event_type"], occurred_at__gte=self.now - _days(days))
        measure = {
            "recency": Max("occurred_at"),
            "frequency": Count("id"),
            "monetary": Sum("revenue", default=Decimal(0)),
        }[node["dimension"]]
        # Band b holds the shares in ((b-1)/5, b/5]; the chosen bands become ranges of shares
        # (the ORM filters on a window function through a subquery, which takes plain comparisons).
        in_bands = Q()
        for low, high in _runs(node["value"]):
            in_bands |= Q(share__gt=(low - 1) / 5 + SHARE_EPSILON, share__lte=high / 5 + SHARE_EPSILON)
        bands = (
            events.order_by()
            .values("profile_id")
            .annotate(measure=measure)
            .annotate(share=Window(CumeDist(), order_by=F("measure").asc()))
            .filter(in_bands)
            .values("profile_id")
        )
        return Q(pk__in=bands)

    def compile_score(self, node: dict) -> Q:
        """Profiles whose current score (the latest computation) passes: one EXISTS on the scores' index.

        A person with no score (not computed yet, or not in the score's population) does not pass.
        """
        value = Decimal(str(node["value"]))
        if node["operator"] == "score_above":
            return score_filter(definition_id=node["score"], above=float(value), profile_id=self.profile_id)
        return score_filter(definition_id=node["score"], top_percent=float(value), profile_id=self.profile_id)

    def segment(self, node: dict, seen: frozenset[int]) -> Q:
        segment_id = node["value"]
        if segment_id in seen:
            raise CompileError(segment_id)
        found = self.segment_lookup(segment_id)
        if found is None:
            raise CompileError(segment_id)
        kind, payload = found
        if kind == "static":
            from segments.models import SegmentListEntry

            inside = Q(Exists(SegmentListEntry.objects.filter(segment_id=segment_id, profile=OuterRef("pk"))))
        else:
            inside = self.group(payload, seen | {segment_id})
        return inside if node["operator"] == "in_segment" else ~inside


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _days(days: int) -> datetime.timedelta:
    return datetime.timedelta(days=days)


def _runs(bands: list[int]) -> list[tuple[int, int]]:
    """[1, 2, 4] -> [(1, 2), (4, 4)]."""
    runs: list[tuple[int, int]] = []
    for band in sorted(bands):
        if runs and runs[-1][1] == band - 1:
            runs[-1] = (runs[-1][0], band)
        else:
            runs.append((band, band))
    return runs


def _passes_number(number: Decimal, operator: str, bounds: list[Decimal]) -> bool:
    if operator == "between":
        return bounds[0] <= number <= bounds[1]
    return {
        "gt": number > bounds[0],
        "gte": number >= bounds[0],
        "lt": number < bounds[0],
        "lte": number <= bounds[0],
    }[operator]


def rules_q(
    rules: dict,
    *,
    segment_lookup: SegmentLookup,
    now: datetime.datetime | None = None,
    profile_id: int | None = None,
    segment_id: int | None = None,
) -> Q:
    """The filter on Profile that selects the people the rules describe.

    Raises CompileError when a referenced segment is missing or refers back to
    the segment being compiled.
    """
    compiler = _Compiler(now=now or timezone.now(), profile_id=profile_id, segment_lookup=segment_lookup)
    seen = frozenset({segment_id}) if segment_id is not None else frozenset()
    return compiler.group(rules, seen)


def rules_profiles(rules: dict, **options: Any) -> QuerySet[Profile]:
    return Profile.objects.filter(rules_q(rules, **options))


__all__ = ["CompileError", "SegmentLookup", "rules_profiles", "rules_q", "rules_walk"]
