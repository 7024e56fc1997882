"""What a segment's conditions may say, and the check that turns a marketer's input into clean rules.

Rules are a JSON tree::

    {"match": "all", "conditions": [
        {"field": "city", "operator": "equals", "value": "Lyon"},
        {"match": "any", "conditions": [
            {"field": "event", "event_type": "purchase", "operator": "at_least", "count": 2,
             "window": "last_days", "days": 90},
            {"field": "consent", "operator": "granted", "value": "email"}]}]}

A group matches "all" (and), "any" (or) or "none" (and not) of its conditions.
A condition names a ``field`` (a profile field, ``trait``, ``identifier``,
``identity``, ``consent``, ``event``, ``revenue``, ``last_event``, ``rfm``,
``segment`` or ``score``), an ``operator`` and, for most operators, a ``value``.
A score condition names its score by id (``score``): ``{"field": "score",
"score": 3, "operator": "score_top_percent", "value": 10}``.
``rules_check`` is the one validation: the admin form, the live preview and the
services all call it, and its messages name the condition ("Condition 2.1
(City)") so that a marketer can find the one to fix.
"""

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from profiles.models import Channel, EventType, identifier_kind_choices
from scores.models import ScoreDefinition

MAX_DEPTH = 4
MAX_CONDITIONS = 100
MAX_LIST_VALUES = 1000
TRAIT_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ .-]{0,99}$")
EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class ValueType:
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"


# Operator -> (label, shape of its value). Shapes: "one" value of the field's
# type, "list" of such values, "range" of two, "days" a whole number of days,
# "none" for no value.
OPERATORS: dict[str, tuple[Any, str]] = {
    "equals": (gettext_lazy("is"), "one"),
    "not_equals": (gettext_lazy("is not"), "one"),
    "contains": (gettext_lazy("contains"), "one"),
    "not_contains": (gettext_lazy("does not contain"), "one"),
    "starts_with": (gettext_lazy("starts with"), "one"),
    "in": (gettext_lazy("is one of"), "list"),
    "not_in": (gettext_lazy("is none of"), "list"),
    "gt": (gettext_lazy("is greater than"), "one"),
    "gte": (gettext_lazy("is at least"), "one"),
    "lt": (gettext_lazy("is less than"), "one"),
    "lte": (gettext_lazy("is at most"), "one"),
    "between": (gettext_lazy("is between"), "range"),
    "on": (gettext_lazy("is on"), "one"),
    "before": (gettext_lazy("is before"), "one"),
    "after": (gettext_lazy("is after"), "one"),
    "in_last_days": (gettext_lazy("is in the last … days"), "days"),
    "more_than_days_ago": (gettext_lazy("is more than … days ago"), "days"),
    "in_next_days": (gettext_lazy("is in the next … days"), "days"),
    "birthday_this_month": (gettext_lazy("has its anniversary this month"), "none"),
    "is_true": (gettext_lazy("is yes"), "none"),
    "is_false": (gettext_lazy("is no"), "none"),
    "is_set": (gettext_lazy("is filled in"), "none"),
    "is_empty": (gettext_lazy("is empty"), "none"),
}

OPERATORS_BY_TYPE: dict[str, tuple[str, ...]] = {
    ValueType.TEXT: (
        "equals", "not_equals", "contains", "not_contains", "starts_with", "in", "not_in", "is_set", "is_empty",
    ),
    ValueType.NUMBER: ("equals", "not_equals", "gt", "gte", "lt", "lte", "between", "in", "is_set", "is_empty"),
    ValueType.DATE: (
        "on", "before", "after", "between", "in_last_days", "more_than_days_ago", "in_next_days",
        "birthday_this_month", "is_set", "is_empty",
    ),
    ValueType.DATETIME: (
        "on", "before", "after", "between", "in_last_days", "more_than_days_ago", "is_set", "is_empty",
    ),
    ValueType.BOOLEAN: ("is_true", "is_false", "is_set", "is_empty"),
}  # fmt: skip

# Event property filters compare one key of an event's properties.
PROPERTY_OPERATORS = ("equals", "not_equals", "contains", "in", "gt", "lt")


@dataclass(frozen=True)
class ProfileField:
    label: Any
    type: str
    column: str


PROFILE_FIELDS: dict[str, ProfileField] = {
    "first_name": ProfileField(gettext_lazy("First name"), ValueType.TEXT, "first_name"),
    "last_name": ProfileField(gettext_lazy("Last name"), ValueType.TEXT, "last_name"),
    "city": ProfileField(gettext_lazy("City"), ValueType.TEXT, "city"),
    "postcode": ProfileField(gettext_lazy("Postcode"), ValueType.TEXT, "postcode"),
    "country": ProfileField(gettext_lazy("Country (ISO code)"), ValueType.TEXT, "country"),
    "language": ProfileField(gettext_lazy("Language"), ValueType.TEXT, "language"),
    "source": ProfileField(gettext_lazy("First source"), ValueType.TEXT, "source"),
    "birth_date": ProfileField(gettext_lazy("Birth date"), ValueType.DATE, "birth_date"),
    "created_at": ProfileField(gettext_lazy("Profile created"), ValueType.DATETIME, "created_at"),
}

# The other kinds of condition, with their operators.
SPECIAL_FIELDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "trait": (gettext_lazy("Custom trait"), ()),
    "identifier": (gettext_lazy("Identifier"), ("has", "has_not")),
    "identity": (gettext_lazy("Identified or anonymous"), ("identified", "anonymous")),
    "consent": (gettext_lazy("Consent"), ("granted", "not_granted")),
    "event": (gettext_lazy("Did an action (event)"), ("did", "did_not", "at_least", "at_most", "exactly")),
    "revenue": (gettext_lazy("Revenue"), ("gt", "gte", "lt", "lte", "between")),
    "last_event": (gettext_lazy("Last time an action was done"), ("newer_than", "older_than")),
    "rfm": (gettext_lazy("RFM band"), ("in",)),
    "segment": (gettext_lazy("Segment membership"), ("in_segment", "not_in_segment")),
    "score": (gettext_lazy("Score"), ("score_above", "score_top_percent")),
}

SPECIAL_OPERATOR_LABELS: dict[str, Any] = {
    "has": gettext_lazy("has"),
    "has_not": gettext_lazy("has no"),
    "identified": gettext_lazy("is identified (known by more than a cookie)"),
    "anonymous": gettext_lazy("is anonymous (cookie or device only)"),
    "granted": gettext_lazy("is granted for"),
    "not_granted": gettext_lazy("is not granted for"),
    "did": gettext_lazy("did"),
    "did_not": gettext_lazy("did not do"),
    "at_least": gettext_lazy("did at least … times"),
    "at_most": gettext_lazy("did at most … times"),
    "exactly": gettext_lazy("did exactly … times"),
    "newer_than": gettext_lazy("less than … days ago"),
    "older_than": gettext_lazy("more than … days ago"),
    "in_segment": gettext_lazy("is in"),
    "not_in_segment": gettext_lazy("is not in"),
    "score_above": gettext_lazy("is above"),
    "score_top_percent": gettext_lazy("is in the top … %"),
}

WINDOWS = {
    "ever": gettext_lazy("ever"),
    "last_days": gettext_lazy("in the last … days"),
    "between": gettext_lazy("between two dates"),
}
REVENUE_AGGREGATES = {"sum": gettext_lazy("total"), "avg": gettext_lazy("average per event")}
RFM_DIMENSIONS = {
    "recency": gettext_lazy("Recency (5 = bought most recently)"),
    "frequency": gettext_lazy("Frequency (5 = buys most often)"),
    "monetary": gettext_lazy("Monetary (5 = spends most)"),
}
RFM_BANDS = (1, 2, 3, 4, 5)
RFM_DEFAULT_DAYS = 365


def field_label(field: str) -> str:
    if field in PROFILE_FIELDS:
        return str(PROFILE_FIELDS[field].label)
    if field in SPECIAL_FIELDS:
        return str(SPECIAL_FIELDS[field][0])
    return field


def operator_label(operator: str) -> str:
    if operator in OPERATORS:
        return str(OPERATORS[operator][0])
    return str(SPECIAL_OPERATOR_LABELS.get(operator, operator))


# ---------------------------------------------------------------------------
# Values


def date_parse(raw: Any) -> datetime.date:
    """A date as the date picker sends it (ISO) or as a French user types it (dd/mm/yyyy)."""
    if isinstance(raw, datetime.date):
        return raw
    text = str(raw).strip()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(text)


def number_parse(raw: Any) -> Decimal:
    if isinstance(raw, bool):
        raise ValueError(raw)
    text = str(raw).strip().replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation as error:
        raise ValueError(raw) from error
    if not number.is_finite():
        raise ValueError(raw)
    return number


def _whole_number(raw: Any, *, minimum: int) -> int:
    if isinstance(raw, bool):
        raise ValueError(raw)
    try:
        number = int(str(raw).strip())
    except ValueError:
        raise ValueError(raw) from None
    if number < minimum or number > 100_000:
        raise ValueError(raw)
    return number


class _Checker:
    """Walks the tree, collecting every error (not only the first) with the path of its condition."""

    def __init__(self, *, segment_id: int | None) -> None:
        self.segment_id = segment_id
        self.errors: list[str] = []
        self.count = 0

    def fail(self, path: str, field: str, message: str) -> None:
        name = _("Condition %(path)s (%(field)s)") % {"path": path, "field": field_label(field)} if field else path
        if f"{name}: {message}" not in self.errors:
            self.errors.append(f"{name}: {message}")

    def group(self, node: Any, path: str, depth: int) -> dict:
        if not isinstance(node, dict):
            self.errors.append(_("%(path)s: a group of conditions is expected.") % {"path": path or _("Rules")})
            return {"match": "all", "conditions": []}
        match = node.get("match", "all")
        if match not in ("all", "any", "none"):
            self.errors.append(_("%(path)s: “match” is all, any or none.") % {"path": path or _("Rules")})
            match = "all"
        conditions = node.get("conditions", [])
        if not isinstance(conditions, list):
            self.errors.append(_("%(path)s: the conditions must be a list.") % {"path": path or _("Rules")})
            conditions = []
        if depth > MAX_DEPTH:
            self.errors.append(
                _("Group %(path)s: groups can be nested %(depth)s levels deep at most.")
                % {"path": path, "depth": MAX_DEPTH}
            )
            return {"match": match, "conditions": []}
        if depth > 0 and not conditions:
            self.errors.append(_("Group %(path)s is empty: add a condition or remove the group.") % {"path": path})
        cleaned = []
        for index, child in enumerate(conditions, start=1):
            child_path = f"{path}.{index}" if path else str(index)
            if isinstance(child, dict) and "conditions" in child:
                cleaned.append(self.group(child, child_path, depth + 1))
            else:
                cleaned.append(self.condition(child, child_path))
        return {"match": match, "conditions": cleaned}

    def condition(self, node: Any, path: str) -> dict:
        self.count += 1
        if not isinstance(node, dict):
            self.fail(path, "", _("a condition is expected."))
            return {}
        field = node.get("field")
        if field not in PROFILE_FIELDS and field not in SPECIAL_FIELDS:
            self.errors.append(
                _("Condition %(path)s: choose what the condition is about.")
                if not field
                else _("Condition %(path)s: “%(field)s” is not something a condition can be about.")
                % {"path": path, "field": field}
            )
            return dict(node)
        if field in PROFILE_FIELDS:
            return self.value_condition(node, path, field, PROFILE_FIELDS[field].type)
        return getattr(self, f"check_{field}")(node, path)

    # -- value conditions: profile fields and traits --------------------------------------------

    def value_condition(self, node: dict, path: str, field: str, value_type: str, extra: dict | None = None) -> dict:
        operator = node.get("operator")
        allowed = OPERATORS_BY_TYPE[value_type]
        if operator not in allowed:
            self.fail(path, field, _("choose an operator."))
            return {**(extra or {}), "field": field, "operator": operator}
        cleaned = {**(extra or {}), "field": field, "operator": operator}
        shape = OPERATORS[operator][1]
        value = node.get("value")
        if shape == "none":
            return cleaned
        if shape == "days":
            try:
                cleaned["value"] = _whole_number(value, minimum=1)
            except ValueError:
                self.fail(path, field, _("the number of days must be a whole number from 1 to 100000."))
            return cleaned
        if shape == "one":
            cleaned["value"] = self.typed_value(value, value_type, path, field)
            return cleaned
        if shape == "range":
            if not isinstance(value, list | tuple) or len(value) != 2:
                self.fail(path, field, _("enter both ends of the range."))
                return cleaned
            low = self.typed_value(value[0], value_type, path, field)
            high = self.typed_value(value[1], value_type, path, field)
            if low is not None and high is not None and _sort_key(low, value_type) > _sort_key(high, value_type):
                self.fail(path, field, _("the start of the range is after its end."))
            cleaned["value"] = [low, high]
            return cleaned
        # list
        if isinstance(value, str):
            value = [part for part in re.split(r"[\n;]", value)]
        if not isinstance(value, list | tuple):
            value = []
        value = [item for item in value if str(item).strip() != ""]
        if not value:
            self.fail(path, field, _("the list is empty: enter at least one value."))
        elif len(value) > MAX_LIST_VALUES:
            self.fail(path, field, _("a list holds %(max)s values at most.") % {"max": MAX_LIST_VALUES})
        cleaned["value"] = [self.typed_value(item, value_type, path, field) for item in value[:MAX_LIST_VALUES]]
        return cleaned

    def typed_value(self, value: Any, value_type: str, path: str, field: str) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            self.fail(path, field, _("enter a value."))
            return None
        if value_type == ValueType.NUMBER:
            try:
                number = number_parse(value)
            except ValueError:
                self.fail(path, field, _("“%(value)s” is not a number.") % {"value": value})
                return None
            return int(number) if number == number.to_integral_value() else str(number)
        if value_type in (ValueType.DATE, ValueType.DATETIME):
            try:
                return date_parse(value).isoformat()
            except ValueError:
                self.fail(path, field, _("“%(value)s” is not a date (dd/mm/yyyy).") % {"value": value})
                return None
        text = str(value).strip()
        if len(text) > 255:
            self.fail(path, field, _("a value holds 255 characters at most."))
        return text

    def check_trait(self, node: dict, path: str) -> dict:
        key = str(node.get("key") or "").strip()
        value_type = node.get("value_type") or ValueType.TEXT
        if not TRAIT_KEY_PATTERN.match(key):
            self.fail(path, "trait", _("enter the name of the trait (letters, digits, _ . - and spaces)."))
        if value_type not in (ValueType.TEXT, ValueType.NUMBER, ValueType.DATE, ValueType.BOOLEAN):
            self.fail(path, "trait", _("choose the kind of value: text, number, date or yes/no."))
            value_type = ValueType.TEXT
        return self.value_condition(node, path, "trait", value_type, extra={"key": key, "value_type": value_type})

    # -- the other kinds ----------------------------------------------------------------------

    def operator(self, node: dict, path: str, field: str) -> str | None:
        operator = node.get("operator")
        if operator not in SPECIAL_FIELDS[field][1]:
            self.fail(path, field, _("choose an operator."))
            return None
        return operator

    def check_identifier(self, node: dict, path: str) -> dict:
        operator = self.operator(node, path, "identifier")
        kinds = dict(identifier_kind_choices())
        if node.get("value") not in kinds:
            self.fail(path, "identifier", _("choose a kind of identifier."))
        return {"field": "identifier", "operator": operator, "value": node.get("value")}

    def check_identity(self, node: dict, path: str) -> dict:
        return {"field": "identity", "operator": self.operator(node, path, "identity")}

    def check_consent(self, node: dict, path: str) -> dict:
        operator = self.operator(node, path, "consent")
        if node.get("value") not in Channel.values:
            self.fail(path, "consent", _("choose a channel."))
        return {"field": "consent", "operator": operator, "value": node.get("value")}

    def event_type(self, node: dict, path: str, field: str, default: str = "") -> str:
        event_type = str(node.get("event_type") or default).strip()
        if not EVENT_TYPE_PATTERN.match(event_type):
            self.fail(path, field, _("choose the action (event type), for example purchase."))
        return event_type

    def window(self, node: dict, path: str, field: str, cleaned: dict) -> None:
        window = node.get("window") or "ever"
        if window not in WINDOWS:
            self.fail(path, field, _("choose when: ever, in the last days or between two dates."))
            return
        cleaned["window"] = window
        if window == "last_days":
            try:
                cleaned["days"] = _whole_number(node.get("days"), minimum=1)
            except ValueError:
                self.fail(path, field, _("the number of days must be a whole number from 1 to 100000."))
        elif window == "between":
            dates = []
            for end in ("from", "to"):
                try:
                    dates.append(date_parse(node.get(end)))
                    cleaned[end] = dates[-1].isoformat()
                except ValueError:
                    if not str(node.get(end) or "").strip():
                        self.fail(path, field, _("enter the first and the last day of the period."))
                    else:
                        self.fail(path, field, _("“%(value)s” is not a date (dd/mm/yyyy).") % {"value": node.get(end)})
            if len(dates) == 2 and dates[0] > dates[1]:
                self.fail(path, field, _("the start of the period is after its end."))

    def check_event(self, node: dict, path: str) -> dict:
        operator = self.operator(node, path, "event")
        cleaned = {"field": "event", "operator": operator, "event_type": self.event_type(node, path, "event")}
        if operator in ("at_least", "at_most", "exactly"):
            try:
                cleaned["count"] = _whole_number(node.get("count"), minimum=0 if operator != "at_least" else 1)
            except ValueError:
                self.fail(path, "event", _("the number of times must be a whole number (at least 1)."))
        self.window(node, path, "event", cleaned)
        key = str(node.get("property_key") or "").strip()
        if key:
            if not TRAIT_KEY_PATTERN.match(key):
                self.fail(path, "event", _("the property name may hold letters, digits, _ . - and spaces."))
            property_operator = node.get("property_operator") or "equals"
            if property_operator not in PROPERTY_OPERATORS:
                self.fail(path, "event", _("choose how to compare the property."))
            value_type = ValueType.NUMBER if property_operator in ("gt", "lt") else ValueType.TEXT
            value = node.get("property_value")
            if property_operator == "in":
                items = re.split(r"[\n;]", value) if isinstance(value, str) else value
                items = [str(item).strip() for item in items or [] if str(item).strip()]
                if not items:
                    self.fail(path, "event", _("the list is empty: enter at least one value."))
                typed = items
            else:
                typed = self.typed_value(value, value_type, path, "event")
            cleaned.update(property_key=key, property_operator=property_operator, property_value=typed)
        return cleaned

    def check_revenue(self, node: dict, path: str) -> dict:
        operator = self.operator(node, path, "revenue")
        aggregate = node.get("aggregate") or "sum"
        if aggregate not in REVENUE_AGGREGATES:
            self.fail(path, "revenue", _("choose total or average."))
        cleaned = {
            "field": "revenue",
            "operator": operator,
            "aggregate": aggregate,
            "event_type": self.event_type(node, path, "revenue", default=EventType.PURCHASE),
        }
        value = node.get("value")
        if operator == "between":
            if not isinstance(value, list | tuple) or len(value) != 2:
                self.fail(path, "revenue", _("enter both ends of the range."))
            else:
                low, high = (self.typed_value(item, ValueType.NUMBER, path, "revenue") for item in value)
                if low is not None and high is not None and Decimal(str(low)) > Decimal(str(high)):
                    self.fail(path, "revenue", _("the start of the range is after its end."))
                cleaned["value"] = [low, high]
        elif operator:
            cleaned["value"] = self.typed_value(value, ValueType.NUMBER, path, "revenue")
        self.window(node, path, "revenue", cleaned)
        return cleaned

    def check_last_event(self, node: dict, path: str) -> dict:
        operator = self.operator(node, path, "last_event")
        cleaned = {"field": "last_event", "operator": operator, "event_type": self.event_type(node, path, "last_event")}
        try:
            cleaned["value"] = _whole_number(node.get("value"), minimum=1)
        except ValueError:
            self.fail(path, "last_event", _("the number of days must be a whole number from 1 to 100000."))
        return cleaned

    def check_rfm(self, node: dict, path: str) -> dict:
        dimension = node.get("dimension")
        if dimension not in RFM_DIMENSIONS:
            self.fail(path, "rfm", _("choose recency, frequency or monetary."))
        value = node.get("value")
        bands = sorted({int(band) for band in value if str(band) in {"1", "2", "3", "4", "5"}}) if value else []
        if not bands or (isinstance(value, list) and len(bands) != len(set(map(str, value)))):
            self.fail(path, "rfm", _("choose one or more bands from 1 to 5."))
        cleaned = {
            "field": "rfm",
            "operator": "in",
            "dimension": dimension,
            "value": bands,
            "event_type": self.event_type(node, path, "rfm", default=EventType.PURCHASE),
        }
        try:
            cleaned["days"] = _whole_number(node.get("days") or RFM_DEFAULT_DAYS, minimum=1)
        except ValueError:
            self.fail(path, "rfm", _("the number of days must be a whole number from 1 to 100000."))
        return cleaned

    def check_score(self, node: dict, path: str) -> dict:
        operator = self.operator(node, path, "score")
        try:
            score_id = int(node.get("score"))
        except (TypeError, ValueError):
            self.fail(path, "score", _("choose a score."))
            score_id = None
        if score_id is not None and not ScoreDefinition.objects.filter(pk=score_id).exists():
            self.fail(path, "score", _("the score #%(id)s does not exist any more.") % {"id": score_id})
        cleaned = {"field": "score", "operator": operator, "score": score_id}
        value = node.get("value")
        if operator == "score_above":
            cleaned["value"] = self.typed_value(value, ValueType.NUMBER, path, "score")
        elif operator == "score_top_percent":
            try:
                percent = number_parse(value)
            except ValueError:
                percent = None
            if percent is None or not Decimal("0") < percent <= Decimal("100"):
                self.fail(path, "score", _("the share must be a number of percent from 0 (excluded) to 100."))
                cleaned["value"] = None
            else:
                cleaned["value"] = int(percent) if percent == percent.to_integral_value() else str(percent)
        return cleaned

    def check_segment(self, node: dict, path: str) -> dict:
        operator = self.operator(node, path, "segment")
        try:
            segment_id = int(node.get("value"))
        except (TypeError, ValueError):
            self.fail(path, "segment", _("choose a segment."))
            return {"field": "segment", "operator": operator, "value": None}
        if segment_id == self.segment_id:
            self.fail(path, "segment", _("a segment cannot contain itself."))
        return {"field": "segment", "operator": operator, "value": segment_id}


def _sort_key(value: Any, value_type: str) -> Any:
    return Decimal(str(value)) if value_type == ValueType.NUMBER else str(value)


def rules_check(rules: Any, *, segment_id: int | None = None, require_conditions: bool = True) -> dict:
    """Clean rules, or a ValidationError listing every mistake with the condition it is in.

    Segment references are checked for existence and cycles by
    ``segments.services.segment_rules_set``, which knows the other segments.
    """
    checker = _Checker(segment_id=segment_id)
    cleaned = checker.group(rules, "", 0)
    if require_conditions and not cleaned["conditions"] and not checker.errors:
        checker.errors.append(_("Add at least one condition."))
    if checker.count > MAX_CONDITIONS:
        checker.errors.append(_("A segment holds %(max)s conditions at most.") % {"max": MAX_CONDITIONS})
    if checker.errors:
        raise ValidationError(checker.errors)
    return cleaned


def rules_walk(rules: dict):
    """Every condition of the tree, depth first."""
    for node in rules.get("conditions", []):
        if "conditions" in node:
            yield from rules_walk(node)
        else:
            yield node


def rules_segment_ids(rules: dict) -> set[int]:
    return {node["value"] for node in rules_walk(rules) if node.get("field") == "segment" and node.get("value")}


def rules_score_ids(rules: dict) -> set[int]:
    return {node["score"] for node in rules_walk(rules) if node.get("field") == "score" and node.get("score")}


def rules_event_types(rules: dict) -> set[str]:
    return {node["event_type"] for node in rules_walk(rules) if node.get("event_type")}
