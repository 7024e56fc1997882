"""Writes on scores: definitions and their schedules, computing scores, storing each person's score.

``score_compute`` computes one definition; ``scores_compute`` several, sharing
the features they read (one pass over the events per moment). Each computation
is vectorised: features come from a few aggregating queries into numpy arrays
(``scores.features``), models are fitted with scikit-learn
(``scores.modelling``), and the scores are written in set-based statements
(on PostgreSQL binary COPY into an unindexed staging table, then one INSERT …
SELECT for the whole batch, the table's indexes rebuilt when it replaces much
of it; executemany elsewhere). Nothing loops over profiles through the ORM.
"""

import datetime
import json
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from profiles.models import Profile
from scores import audiences
from scores.features import MODEL_FEATURES, Features, FeatureStore, open_hours_load
from scores.modelling import LinearModel, TrainingResult, quintiles, top_share, train
from scores.models import (
    ComputeEvery,
    ComputeStatus,
    ModelVersion,
    ProfileScore,
    ScoreDefinition,
    ScoreKind,
)

logger = logging.getLogger(__name__)

COMPUTE_TASK = "scores.tasks.score_compute_task"

# Every parameter a kind takes, with its default.
DEFAULT_PARAMETERS: dict[str, dict[str, Any]] = {
    ScoreKind.RFM: {},
    ScoreKind.ENGAGEMENT: {"half_life_days": 30, "click_weight": 3},
    ScoreKind.PROPENSITY_PURCHASE: {"horizon_days": 30, "seed": 42, "minimum_auc": 0.6, "max_training_rows": 100_000},
    ScoreKind.CHURN_RISK: {"horizon_days": 30, "seed": 42, "minimum_auc": 0.6, "max_training_rows": 100_000},
    ScoreKind.COMPLAINT_RISK: {"horizon_days": 30, "seed": 42, "minimum_auc": 0.6, "max_training_rows": 100_000},
    ScoreKind.BEST_SEND_HOUR: {"days": 180, "minimum_events": 5},
    ScoreKind.LOOKALIKE: {
        "seed_segment": None,
        "top_percent": 5,
        "top_count": None,
        "seed": 42,
        "minimum_auc": 0.6,
        "max_training_rows": 100_000,
        "segment_name": "",
    },
}
# (minimum, maximum, whole number) of the numeric parameters.
_BOUNDS: dict[str, tuple[float, float, bool]] = {
    "half_life_days": (1, 3650, False),
    "click_weight": (0, 100, False),
    "horizon_days": (1, 180, True),
    "seed": (0, 2**31 - 1, True),
    "minimum_auc": (0.5, 1, False),
    "max_training_rows": (100, 10_000_000, True),
    "days": (1, 365, True),
    "minimum_events": (1, 1000, True),
    "top_percent": (0.01, 100, False),
    "top_count": (1, 100_000_000, True),
}

# RFM cells from the recency and frequency bands, "R then F" (the usual 11-cell map); every pair has one.
RFM_CELLS: tuple[tuple[str, str], ...] = (
    ("champions", "5[45]"),
    ("loyal_customers", "[34][45]"),
    ("potential_loyalists", "[45][23]"),
    ("new_customers", "51"),
    ("promising", "41"),
    ("need_attention", "33"),
    ("about_to_sleep", "3[12]"),
    ("cannot_lose_them", "[12]5"),
    ("at_risk", "[12][34]"),
    ("hibernating", "2[12]"),
    ("lost", "1[12]"),
)
HOUR_OWN, HOUR_POPULATION = "own", "population"
DEFAULT_SEND_HOUR = 10  # before any opens are known: the brand's usual newsletter time


# ---------------------------------------------------------------------------
# Definitions


def score_parameters_check(*, kind: str, parameters: Any) -> dict[str, Any]:
    """The parameters with the kind's defaults filled in; ValidationError naming each wrong one."""
    if kind not in DEFAULT_PARAMETERS:
        raise ValidationError({"kind": _("Choose a kind of score.")})
    if parameters in (None, ""):
        parameters = {}
    if not isinstance(parameters, dict):
        raise ValidationError({"parameters": _('The parameters are a JSON object, for example {"horizon_days": 30}.')})
    defaults = DEFAULT_PARAMETERS[kind]
    errors = []
    unknown = sorted(set(parameters) - set(defaults))
    if unknown:
        errors.append(
            _("“%(names)s”: not a parameter of this kind of score. It takes: %(allowed)s.")
            % {"names": ", ".join(unknown), "allowed": ", ".join(defaults) or _("no parameter")}
        )
    cleaned = {**defaults}
    for name, value in parameters.items():
        if name not in defaults:
            continue
        if name in _BOUNDS and value not in (None, ""):
            low, high, whole = _BOUNDS[name]
            try:
                number = float(str(value).replace(",", "."))
            except ValueError:
                number = math.nan
            if math.isnan(number) or not low <= number <= high or (whole and number != int(number)):
                kind_of_number = _("a whole number") if whole else _("a number")
                errors.append(
                    _("%(name)s must be %(kind)s from %(low)s to %(high)s.")
                    % {"name": name, "kind": kind_of_number, "low": f"{low:g}", "high": f"{high:g}"}
                )
                continue
            cleaned[name] = int(number) if whole else number
        elif name == "seed_segment":
            try:
                cleaned[name] = int(value) if value not in (None, "") else None
            except (TypeError, ValueError):
                errors.append(_("seed_segment is the number (id) of a segment."))
        elif name == "segment_name":
            cleaned[name] = str(value or "").strip()[:200]
        else:
            cleaned[name] = None if value in ("", None) else value
    if kind == ScoreKind.LOOKALIKE and not errors:
        if cleaned["seed_segment"] is None:
            errors.append(_("Choose the seed segment: the best customers the lookalike should resemble."))
        elif audiences.segment_name(cleaned["seed_segment"]) is None:
            errors.append(_("The seed segment #%(id)s does not exist.") % {"id": cleaned["seed_segment"]})
        if cleaned["top_count"] is None and cleaned["top_percent"] is None:
            errors.append(_("Say how many people the audience takes: top_percent or top_count."))
    if errors:
        raise ValidationError({"parameters": errors})
    return cleaned


@transaction.atomic
def score_definition_save(*, definition: ScoreDefinition) -> ScoreDefinition:
    """Create or update a score: checks its parameters and keeps its schedule in step."""
    definition.parameters = score_parameters_check(kind=definition.kind, parameters=definition.parameters)
    definition.save()
    score_schedule_sync(definition=definition)
    return definition


def score_definition_delete(*, definition: ScoreDefinition) -> None:
    with transaction.atomic():
        task = definition.compute_task
        definition.delete()
        if task is not None:
            task.delete()


def score_definitions_ensure() -> list[ScoreDefinition]:
    """One definition of each built-in kind, computed every day (for a new instance and the demo)."""
    names = {
        ScoreKind.RFM: _("RFM"),
        ScoreKind.ENGAGEMENT: _("Email engagement"),
        ScoreKind.PROPENSITY_PURCHASE: _("Propensity to buy (30 days)"),
        ScoreKind.CHURN_RISK: _("Attrition risk (30 days)"),
        ScoreKind.COMPLAINT_RISK: _("Unsubscribe risk (30 days)"),
        ScoreKind.BEST_SEND_HOUR: _("Best send hour"),
    }
    definitions = []
    for kind, name in names.items():
        found = ScoreDefinition.objects.filter(kind=kind).order_by("pk").first()
        definitions.append(found or score_definition_save(definition=ScoreDefinition(name=name, kind=kind)))
    return definitions


# ---------------------------------------------------------------------------
# Computing


@dataclass
class Outcome:
    """What a computation found: the scores to write and the version to record."""

    profile_ids: np.ndarray
    values: np.ndarray
    label_codes: np.ndarray | None = None
    label_names: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    model: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    training: TrainingResult | None = None
    promoted: bool = True
    note: str = ""
    # Scores made with an earlier promoted version (this one was not promoted): that version's id.
    scored_with: int | None = None


def _previous_model(definition: ScoreDefinition) -> tuple[LinearModel, ModelVersion] | None:
    version = (
        ModelVersion.objects.filter(definition=definition, promoted=True).exclude(model={}).order_by("-number").first()
    )
    if version is None:
        return None
    return LinearModel.from_json(version.features, version.model), version


def _compute_rfm(definition: ScoreDefinition, store: FeatureStore, parameters: dict) -> Outcome:
    """Quintiles of recency, frequency and monetary value among the buyers of the last 365 days."""
    current = store.features()
    purchases = current.columns["purchases"]
    buyers = purchases > 0
    recency = quintiles(-current.days_since("last_purchase_epoch")[buyers])
    frequency = quintiles(purchases[buyers])
    monetary = quintiles(current.columns["revenue"][buyers])
    names = [name for name, _pattern in RFM_CELLS]
    codes = np.full(int(buyers.sum()), -1, dtype=np.int64)
    rf = recency * 10 + frequency
    for position, (_name, pattern) in enumerate(RFM_CELLS):
        matching = np.isin(rf, _pattern_codes(pattern)) & (codes < 0)
        codes[matching] = position
    values = (recency * 100 + frequency * 10 + monetary).astype(np.float64)
    cells = {name: int((codes == position).sum()) for position, name in enumerate(names)}
    return Outcome(
        profile_ids=current.profile_ids[buyers],
        values=values,
        label_codes=codes,
        label_names=names,
        details={"buyers": int(buyers.sum()), "days": 365, "cells": cells},
    )


def _pattern_codes(pattern: str) -> list[int]:
    """'[12][34]' -> [13, 14, 23, 24]."""
    import re

    groups = re.findall(r"\[(\d+)\]|(\d)", pattern)
    choices = [list(bracket or single) for bracket, single in groups]
    return [int(first) * 10 + int(second) for first in choices[0] for second in choices[1]]


ENGAGEMENT_BUCKETS = (  # (opens column, clicks column, subtract, middle of the bucket in days)
    ("email_opens_7", "email_clicks_7", None, 3.5),
    ("email_opens_30", "email_clicks_30", ("email_opens_7", "email_clicks_7"), 18.5),
    ("email_opens_90", "email_clicks_90", ("email_opens_30", "email_clicks_30"), 60.0),
    ("email_opens", "email_clicks", ("email_opens_90", "email_clicks_90"), 227.5),
)


def _compute_engagement(definition: ScoreDefinition, store: FeatureStore, parameters: dict) -> Outcome:
    """Opens and clicks, a click worth ``click_weight`` opens, each halved every ``half_life_days`` of age."""
    current = store.features()
    c = current.columns
    total = np.zeros(len(current))
    weights = {}
    for opens, clicks, subtract, middle in ENGAGEMENT_BUCKETS:
        activity = c[opens] + parameters["click_weight"] * c[clicks]
        if subtract:
            activity = activity - (c[subtract[0]] + parameters["click_weight"] * c[subtract[1]])
        weight = 0.5 ** (middle / parameters["half_life_days"])
        weights[f"{middle:g} days"] = round(weight, 4)
        total += weight * activity
    engaged = total > 0
    return Outcome(
        profile_ids=current.profile_ids[engaged],
        values=np.round(total[engaged], 3),
        details={"engaged": int(engaged.sum()), "bucket_weights": weights},
    )


@dataclass(frozen=True)
class _Target:
    baseline_name: str


_TARGETS = {
    ScoreKind.PROPENSITY_PURCHASE: _Target("the more recent the last purchase, the likelier the next"),
    ScoreKind.CHURN_RISK: _Target("the longer since the last event, the likelier to stay away"),
    ScoreKind.COMPLAINT_RISK: _Target("the longer since the last open or click, the likelier to unsubscribe"),
}


def _population(kind: str, features: Features) -> np.ndarray:
    existing = features.existing()
    if kind == ScoreKind.CHURN_RISK:
        return existing & (features.columns["events"] > 0)
    if kind == ScoreKind.COMPLAINT_RISK:
        return existing & (features.consent("email") > 0)
    return existing


def _baseline(kind: str, features: Features) -> np.ndarray:
    if kind == ScoreKind.PROPENSITY_PURCHASE:
        return -features.days_since("last_purchase_epoch")
    if kind == ScoreKind.CHURN_RISK:
        return features.days_since("last_event_epoch")
    return features.days_since("last_email_epoch")


def _compute_trained(definition: ScoreDefinition, store: FeatureStore, parameters: dict) -> Outcome:
    """Learn from the features at now - horizon what happened in the horizon; score everybody at now."""
    kind = definition.kind
    cutoff = store.now - datetime.timedelta(days=parameters["horizon_days"])
    past = store.features(cutoff)
    labels = store.labels(start=cutoff, end=store.now)
    target = {
        ScoreKind.PROPENSITY_PURCHASE: labels.purchased,
        ScoreKind.CHURN_RISK: ~labels.active,
        ScoreKind.COMPLAINT_RISK: labels.complained,
    }[kind]
    population = _population(kind, past)
    result = train(
        matrix=past.matrix()[population],
        labels=target[population],
        baseline=_baseline(kind, past)[population],
        features=list(MODEL_FEATURES),
        seed=parameters["seed"],
        max_training_rows=parameters["max_training_rows"],
        minimum_auc=parameters["minimum_auc"],
    )
    current = store.features()
    return _scored(
        definition,
        current,
        _population(kind, current),
        result,
        details={"horizon_days": parameters["horizon_days"], "baseline": _TARGETS[kind].baseline_name},
    )


def _scored(
    definition: ScoreDefinition, current: Features, scoring: np.ndarray, result: TrainingResult, details: dict
) -> Outcome:
    """Score ``scoring`` profiles with the new model if promoted, else with the last promoted one (if any)."""
    model, scored_with = (result.model, None) if result.promoted else (None, None)
    if model is None:
        previous = _previous_model(definition)
        if previous is not None:
            model, scored_with = previous[0], previous[1].pk
    outcome = Outcome(
        profile_ids=current.profile_ids[scoring] if model is not None else np.empty(0, dtype=np.int64),
        values=np.round(model.predict(current.matrix()[scoring]) * 100, 2) if model is not None else np.empty(0),
        features=list(MODEL_FEATURES),
        model=result.model.as_json() if result.model is not None else {},
        details={**details, "scored": int(scoring.sum()) if model is not None else 0},
        training=result,
        promoted=result.promoted,
        note=result.note,
        scored_with=scored_with,
    )
    return outcome


def _compute_best_send_hour(definition: ScoreDefinition, store: FeatureStore, parameters: dict) -> Outcome:
    """The local hour of most opens and clicks per person; the population's when they have fewer than N."""
    rows = open_hours_load(since=store.now - datetime.timedelta(days=parameters["days"]), until=store.now)
    population = np.bincount(rows[:, 1], weights=rows[:, 2], minlength=24) if len(rows) else np.zeros(24)
    population_hour = int(np.argmax(population)) if population.sum() else DEFAULT_SEND_HOUR
    profile_ids, inverse = np.unique(rows[:, 0], return_inverse=True) if len(rows) else (np.empty(0, np.int64), None)
    counts = np.zeros((len(profile_ids), 24), dtype=np.float64)
    if len(rows):
        np.add.at(counts, (inverse, rows[:, 1]), rows[:, 2])
    totals = counts.sum(axis=1)
    own = totals >= parameters["minimum_events"]
    # Ties go to the hour most people read at: a small share of the population's pattern breaks them.
    share = population / population.sum() if population.sum() else np.zeros(24)
    best = np.argmax(counts + 0.01 * share, axis=1)
    hours = np.where(own, best, population_hour).astype(np.float64)
    return Outcome(
        profile_ids=profile_ids,
        values=hours,
        label_codes=np.where(own, 0, 1),
        label_names=[HOUR_OWN, HOUR_POPULATION],
        details={
            "population_hour": population_hour,
            "population_by_hour": [int(count) for count in population],
            "minimum_events": parameters["minimum_events"],
            "days": parameters["days"],
            "own_hour": int(own.sum()),
            "population_fallback": int((~own).sum()),
        },
    )


def _compute_lookalike(definition: ScoreDefinition, store: FeatureStore, parameters: dict) -> Outcome:
    """Learn who is in the seed segment from everybody's features; rank the others by the model's probability."""
    current = store.features()
    try:
        seeds = audiences.seed_profile_ids(parameters["seed_segment"])
    except LookupError:
        raise ValidationError(_("The seed segment #%(id)s does not exist.") % {"id": parameters["seed_segment"]})
    in_seed = np.isin(current.profile_ids, seeds)
    result = train(
        matrix=current.matrix(),
        labels=in_seed,
        baseline=current.columns["events"],
        features=list(MODEL_FEATURES),
        seed=parameters["seed"],
        max_training_rows=parameters["max_training_rows"],
        minimum_auc=parameters["minimum_auc"],
    )
    outcome = _scored(
        definition,
        current,
        ~in_seed,
        result,
        details={"seed_segment": parameters["seed_segment"], "seed_size": int(in_seed.sum()), "baseline": "events"},
    )
    outcome.note = f"{result.note}; seed of {int(in_seed.sum())} profiles"
    return outcome


_COMPUTERS = {
    ScoreKind.RFM: _compute_rfm,
    ScoreKind.ENGAGEMENT: _compute_engagement,
    ScoreKind.PROPENSITY_PURCHASE: _compute_trained,
    ScoreKind.CHURN_RISK: _compute_trained,
    ScoreKind.COMPLAINT_RISK: _compute_trained,
    ScoreKind.BEST_SEND_HOUR: _compute_best_send_hour,
    ScoreKind.LOOKALIKE: _compute_lookalike,
}


def _lookalike_audience(definition: ScoreDefinition, parameters: dict, outcome: Outcome) -> dict[str, Any]:
    """The top N (or N %) of the ranked profiles that a list can name, written into the audience segment."""
    if not len(outcome.profile_ids):
        return {}
    order = np.argsort(-outcome.values, kind="stable")
    ranked = outcome.profile_ids[order]
    listable = audiences.listable_profile_ids(np.sort(ranked))
    ranked = ranked[np.isin(ranked, listable)]
    if parameters["top_count"]:
        size = int(parameters["top_count"])
    else:
        size = int(math.ceil(len(outcome.profile_ids) * parameters["top_percent"] / 100))
    chosen = ranked[:size]
    name = parameters["segment_name"] or _("Lookalike: %(name)s") % {"name": definition.name}
    segment_id, members = audiences.audience_segment_write(
        name=name[:200], segment_id=definition.output_segment_id, profile_ids=chosen
    )
    if segment_id != definition.output_segment_id:
        definition.output_segment_id = segment_id
        ScoreDefinition.objects.filter(pk=definition.pk).update(output_segment_id=segment_id)
    return {"audience_segment": segment_id, "audience_size": members}


# A batch staging at least this many rows, and a quarter of the table's, rebuilds the scores' indexes once
# rather than maintaining them row by row (a small batch into a big table is cheaper row by row).
REBUILD_ROWS = 200_000
REBUILD_SHARE = 0.25
_BATCH_TABLE, _BATCH_DEFINITIONS = "scores_batch", "scores_batch_definitions"


def _batch_start() -> None:
    """PostgreSQL: the scores of one or several computations are staged in unindexed tables, written at the end."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {_BATCH_TABLE} (profile_id bigint, value float8, label int2, top_share float8, "
            "definition_id bigint) ON COMMIT DROP"
        )
        cursor.execute(
            f"CREATE TEMPORARY TABLE {_BATCH_DEFINITIONS} (definition_id bigint PRIMARY KEY, model_version_id bigint, "
            "computed_at timestamptz, labels text[]) ON COMMIT DROP"
        )


def _batch_finish() -> int:
    """Replace the staged definitions' scores with the staged rows; returns how many.

    Maintaining the two secondary indexes row by row is most of a bulk write
    (about 13 s of 15 for a million rows on a loaded machine); dropped, then
    built again in one sorted pass, they cost about 1 s per million rows of the
    table. The drop locks the scores table until the commit (seconds, once per
    batch): readers wait for the new scores rather than reading half-written
    ones. A small batch into a big table keeps the indexes.
    """
    table = connection.ops.quote_name(ProfileScore._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT definition_id FROM {_BATCH_DEFINITIONS}")
        definitions = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT COUNT(*) FROM {_BATCH_TABLE}")
        staged = cursor.fetchone()[0]
        cursor.execute("SELECT GREATEST(reltuples, 0) FROM pg_class WHERE oid = %s::regclass", [table])
        rows = cursor.fetchone()[0]
        rebuild = bool(definitions) and staged >= REBUILD_ROWS and staged >= REBUILD_SHARE * rows
        if rebuild:
            # Each index is built from one sort: in memory rather than in temporary files (this transaction only).
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            for index in ProfileScore._meta.indexes:
                cursor.execute(f"DROP INDEX {connection.ops.quote_name(index.name)}")
            for constraint in ProfileScore._meta.constraints:
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {connection.ops.quote_name(constraint.name)}")
        if definitions:
            cursor.execute(f"DELETE FROM {table} WHERE definition_id = ANY(%s)", [definitions])
            # Not joined with profiles (a second of hashing a million ids per score): someone erased in the
            # seconds since the features were read leaves a row no query reaches, replaced at the next computation.
            cursor.execute(
                f"INSERT INTO {table} (profile_id, definition_id, value, label, top_share, model_version_id, "
                f"computed_at) SELECT s.profile_id, s.definition_id, s.value, d.labels[s.label + 1], s.top_share, "
                f"d.model_version_id, d.computed_at FROM {_BATCH_TABLE} s JOIN {_BATCH_DEFINITIONS} d "
                f"ON d.definition_id = s.definition_id" + ("" if rebuild else " ORDER BY s.profile_id, s.definition_id")
                # Kept indexes are inserted into in their order; rebuilt ones sort for themselves.
            )
        cursor.execute(f"DROP TABLE {_BATCH_TABLE}, {_BATCH_DEFINITIONS}")
    if rebuild:
        # The same names and definitions as the migrations', from the model itself.
        with connection.schema_editor(atomic=False) as editor:
            for constraint in ProfileScore._meta.constraints:
                editor.add_constraint(ProfileScore, constraint)
            for index in ProfileScore._meta.indexes:
                editor.add_index(ProfileScore, index)
    return staged


def _scores_write(
    *,
    definition: ScoreDefinition,
    version_id: int,
    outcome: Outcome,
    now: datetime.datetime,
) -> int:
    """Replace the definition's scores with the outcome's, in set-based statements; returns the rows written.

    PostgreSQL: the rows are staged by binary COPY (see ``_batch_start``), and
    ``_batch_finish`` replaces the scores of the whole batch at its end.
    """
    table = connection.ops.quote_name(ProfileScore._meta.db_table)
    ids = outcome.profile_ids.astype(np.int64)
    values = outcome.values.astype(np.float64)
    shares = top_share(values)
    codes = outcome.label_codes if outcome.label_codes is not None else np.zeros(len(ids), dtype=np.int64)
    names = [*outcome.label_names, ""]
    codes = np.where(codes < 0, len(names) - 1, codes)
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Staged even when nobody is scored: the definition's old scores go all the same.
            cursor.execute(
                f"INSERT INTO {_BATCH_DEFINITIONS} (definition_id, model_version_id, computed_at, labels) "
                "VALUES (%s, %s, %s, %s)",
                [definition.pk, version_id, stamp, names],
            )
            if len(ids):
                with cursor.cursor.copy(f"COPY {_BATCH_TABLE} FROM STDIN (FORMAT BINARY)") as copy:
                    copy.write(_binary_copy(ids, values, codes, shares, definition.pk))
            return len(ids)
        cursor.execute(f"DELETE FROM {table} WHERE definition_id = %s", [definition.pk])
        if not len(ids):
            return 0
        existing = set(Profile.objects.filter(pk__in=ids.tolist()).values_list("pk", flat=True))
        rows = [
            (int(pk), definition.pk, float(value), names[int(code)], float(share), version_id, stamp)
            for pk, value, code, share in zip(ids, values, codes, shares, strict=True)
            if int(pk) in existing
        ]
        cursor.executemany(
            f"INSERT INTO {table} (profile_id, definition_id, value, label, top_share, model_version_id, computed_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
        return len(rows)


_COPY_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("id_length", ">i4"),
        ("id", ">i8"),
        ("value_length", ">i4"),
        ("value", ">f8"),
        ("label_length", ">i4"),
        ("label", ">i2"),
        ("share_length", ">i4"),
        ("share", ">f8"),
        ("definition_length", ">i4"),
        ("definition", ">i8"),
    ]
)


def _binary_copy(ids: np.ndarray, values: np.ndarray, codes: np.ndarray, shares: np.ndarray, definition: int) -> bytes:
    """The rows in PostgreSQL's binary COPY format, laid out by numpy in one go."""
    rows = np.empty(len(ids), dtype=_COPY_ROW)
    rows["fields"] = 5
    rows["id_length"], rows["value_length"], rows["label_length"], rows["share_length"] = 8, 8, 2, 8
    rows["definition_length"] = 8
    rows["id"], rows["value"], rows["label"], rows["share"], rows["definition"] = ids, values, codes, shares, definition
    header = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
    return header + rows.tobytes() + (-1).to_bytes(2, "big", signed=True)


def score_compute(
    *,
    definition: ScoreDefinition,
    now: datetime.datetime | None = None,
    store: FeatureStore | None = None,
    batched: bool = False,
) -> ModelVersion | None:
    """Compute one score for everybody and store it with a new model version.

    On PostgreSQL its scores are staged then written like a batch's (see
    ``_batch_finish``), or, with ``batched``, by the caller's batch at its end.

    The version, the scores and the definition's status are written in one
    transaction: a failure leaves the previous scores in place and the
    definition says why (it is not raised, so that a scheduled run that fails
    shows in the admin). A model that is not promoted is recorded with its
    figures; the scores then come from the last promoted version, applied to
    today's data, or stay as they were when there is none.
    """
    if store is None:
        horizon = (definition.parameters or {}).get("horizon_days")
        store = FeatureStore(now=now or timezone.now(), horizons={int(horizon)} if horizon else set())
    started = time.monotonic()
    ScoreDefinition.objects.filter(pk=definition.pk).update(status=ComputeStatus.RUNNING, status_detail="")
    version = None
    own_batch = connection.vendor == "postgresql" and not batched
    try:
        with transaction.atomic():
            if own_batch:
                _batch_start()
            definition = ScoreDefinition.objects.select_for_update().get(pk=definition.pk)
            parameters = score_parameters_check(kind=definition.kind, parameters=definition.parameters)
            outcome = _COMPUTERS[definition.kind](definition, store, parameters)
            computed = time.monotonic()
            training = outcome.training
            number = (ModelVersion.objects.filter(definition=definition).aggregate(top=Max("number"))["top"] or 0) + 1
            version = ModelVersion.objects.create(
                definition=definition,
                number=number,
                trained_at=timezone.now(),
                data_until=store.now,
                seed=int(parameters.get("seed", 0)),
                features=outcome.features,
                model=outcome.model,
                details=outcome.details,
                training_rows=training.training_rows if training else 0,
                holdout_rows=training.holdout_rows if training else 0,
                positive_rate=training.positive_rate if training else None,
                holdout_auc=training.holdout_auc if training else None,
                baseline_auc=training.baseline_auc if training else None,
                baseline=outcome.details.get("baseline", "")[:200],
                calibration=training.calibration if training else [],
                promoted=outcome.promoted,
                promotion_note=(outcome.note or "")[:500],
            )
            written = None
            if outcome.promoted or outcome.scored_with is not None:
                written = _scores_write(
                    definition=definition,
                    version_id=version.pk if outcome.promoted else outcome.scored_with,
                    outcome=outcome,
                    now=store.now,
                )
            if own_batch:
                _batch_finish()
            # Where the time went, for the admin and the benchmark (features are read by the first score).
            timing = {"compute": round(computed - started, 2), "write": round(time.monotonic() - computed, 2)}
            version.details = {**version.details, "seconds": timing}
            version.save(update_fields=["details"])
            if definition.kind == ScoreKind.LOOKALIKE and written:
                audience = _lookalike_audience(definition, parameters, outcome)
                version.details = {**version.details, **audience}
                version.save(update_fields=["details"])
            definition.status = ComputeStatus.SUCCEEDED if outcome.promoted else ComputeStatus.NOT_PROMOTED
            definition.status_detail = outcome.note
            definition.computed_at = timezone.now()
            definition.seconds = round(time.monotonic() - started, 3)
            if written is not None:
                definition.profiles_scored = written
            definition.save(
                update_fields=["status", "status_detail", "computed_at", "seconds", "profiles_scored", "updated_at"]
            )
    except Exception as error:
        logger.exception("Computing score %s (%s) failed", definition.pk, definition.name)
        detail = "; ".join(error.messages) if isinstance(error, ValidationError) else f"{type(error).__name__}: {error}"
        ScoreDefinition.objects.filter(pk=definition.pk).update(
            status=ComputeStatus.FAILED, status_detail=detail, computed_at=timezone.now()
        )
        return None
    logger.info("score %s computed in %.2f s", definition.pk, time.monotonic() - started)
    return version


def scores_compute(
    *, definitions: Iterable[ScoreDefinition], now: datetime.datetime | None = None
) -> list[ModelVersion | None]:
    """Compute several scores on the same data, reading each moment's features once."""
    definitions = list(definitions)
    horizons = {
        int((definition.parameters or {}).get("horizon_days") or DEFAULT_PARAMETERS[definition.kind]["horizon_days"])
        for definition in definitions
        if "horizon_days" in DEFAULT_PARAMETERS.get(definition.kind, {})
    }
    store = FeatureStore(now=now or timezone.now(), horizons=horizons)
    if connection.vendor == "postgresql":
        # One transaction: the scores are staged, then written together (their indexes rebuilt once).
        with transaction.atomic():
            _batch_start()
            versions = [score_compute(definition=definition, store=store, batched=True) for definition in definitions]
            _batch_finish()
    else:
        versions = [score_compute(definition=definition, store=store) for definition in definitions]
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(ProfileScore._meta.db_table)}")
    return versions


def score_compute_request(*, definition: ScoreDefinition) -> None:
    """Queue a computation (Celery), as "compute now" in the admin does."""
    from scores.tasks import score_compute_task

    ScoreDefinition.objects.filter(pk=definition.pk).update(status=ComputeStatus.QUEUED, status_detail="")
    definition_id = definition.pk
    transaction.on_commit(lambda: score_compute_task.delay(definition_id))


def scores_merge(survivor: Profile, absorbed: Profile) -> None:
    """Merge handler: the absorbed profile's scores are dropped where the survivor has one (recomputed next run)."""
    ProfileScore.objects.filter(
        profile=absorbed,
        definition_id__in=ProfileScore.objects.filter(profile=survivor).values("definition_id"),
    ).delete()


# ---------------------------------------------------------------------------
# Schedules


def _schedule_for(every: str) -> dict[str, Any]:
    if every == ComputeEvery.HOUR:
        return {"interval": IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.HOURS)[0]}
    crontab, _created = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour="4",
        day_of_week="1" if every == ComputeEvery.WEEK else "*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    return {"crontab": crontab}


def score_schedule_sync(*, definition: ScoreDefinition) -> None:
    """Keep the score's Celery beat entry in step with its "compute" choice."""
    task = definition.compute_task
    if definition.compute_every == ComputeEvery.NEVER:
        if task is not None:
            ScoreDefinition.objects.filter(pk=definition.pk).update(compute_task=None)
            definition.compute_task = None
            task.delete()
        return
    values = {
        "name": f"Compute score #{definition.pk}",
        "task": COMPUTE_TASK,
        "args": json.dumps([definition.pk]),
        "kwargs": json.dumps({}),
        "enabled": True,
        "description": f"Computes the score “{definition.name}”, as chosen on the score page.",
        "interval": None,
        "crontab": None,
        **_schedule_for(definition.compute_every),
    }
    if task is None:
        task = PeriodicTask.objects.create(**values)
        definition.compute_task = task
        ScoreDefinition.objects.filter(pk=definition.pk).update(compute_task=task)
    else:
        for name, value in values.items():
            setattr(task, name, value)
        task.save()


__all__ = [
    "DEFAULT_PARAMETERS",
    "score_compute",
    "score_compute_request",
    "score_definition_delete",
    "score_definition_save",
    "score_definitions_ensure",
    "score_parameters_check",
    "score_schedule_sync",
    "scores_compute",
    "scores_merge",
]
