"""What the scores read: per-profile behaviour as numpy arrays, loaded with a few set-based queries.

``FeatureStore`` reads the features of every profile as they were at a moment
(events, consents and identifiers known before it) with one aggregating query
over the events, fetched in chunks; a computation of several scores shares one
store, so each moment is read once. Rows are ordered by profile id and every
array lines up with ``profile_ids``.

Training looks back from a cut-off (the features at ``now - horizon``) and
learns what happened after it (the labels, read from ``now - horizon`` to
``now``); scoring applies the model to the features at ``now``.
"""

import datetime
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import connection
from django.utils import timezone

from profiles.models import Channel, ConsentRecord, ConsentStatus, Event, EventType, Identifier, IdentifierKind, Profile

FETCH_CHUNK = 50_000
LOOKBACK_DAYS = 365
# What the models are trained on: names a marketer can read in the admin, computed from the columns below.
MODEL_FEATURES = (
    "days_as_a_profile",
    "days_since_last_event",
    "days_since_last_purchase",
    "days_since_last_email_activity",
    "events",
    "events_last_30_days",
    "purchases",
    "purchases_last_30_days",
    "revenue",
    "product_views",
    "product_views_last_30_days",
    "add_to_cart",
    "add_to_cart_last_30_days",
    "email_opens",
    "email_opens_last_30_days",
    "email_clicks",
    "email_clicks_last_30_days",
    "email_consent",
    "sms_consent",
    "identified",
)
MISSING_DAYS = LOOKBACK_DAYS + 1  # "never" in the lookback window, for the days-since features
# Counts of events by type over the lookback window and its last N days, for every moment read.
_COUNTED = (
    ("purchases", EventType.PURCHASE, (30,)),
    ("product_views", EventType.PRODUCT_VIEW, (30,)),
    ("add_to_cart", EventType.ADD_TO_CART, (30,)),
    ("email_opens", EventType.EMAIL_OPEN, (30,)),
    ("email_clicks", EventType.EMAIL_CLICK, (30,)),
)
# Read for the latest moment only: the engagement score's recency buckets.
_ENGAGEMENT_WINDOWS = (7, 90)
COMPLAINT_EVENT_TYPES = ("email_complaint", "email_unsubscribe", "spam_complaint")


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _table(model: Any) -> str:
    return _quote(model._meta.db_table)


def epoch_sql(expression: str) -> str:
    """Seconds since 1970 of a datetime expression, as a float, on PostgreSQL and SQLite."""
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM {expression})::float8"
    return f"CAST(strftime('%%s', {expression}) AS REAL)"


def number_sql(expression: str) -> str:
    """A float column; NaN for NULL on PostgreSQL, whose binary COPY needs a value in every cell."""
    if connection.vendor == "postgresql":
        return f"COALESCE(({expression})::float8, 'NaN'::float8)"
    return f"CAST({expression} AS REAL)"


def stamp(moment: datetime.datetime) -> Any:
    """A datetime as the database compares it with stored ones (SQLite keeps UTC text)."""
    return connection.ops.adapt_datetimefield_value(moment)


def fetch_arrays(sql: str, params: dict[str, Any], columns: int) -> np.ndarray:
    """Run ``sql`` (every column a float: ``number_sql``) and return its rows as a float64 matrix, NaN for NULL.

    PostgreSQL sends the rows in its binary COPY format, read by numpy in one
    go; elsewhere they are fetched in chunks.
    """
    if connection.vendor == "postgresql":
        row = np.dtype([("fields", ">i2"), *((name, dtype) for i in range(columns) for name, dtype in
                                              ((f"length{i}", ">i4"), (f"value{i}", ">f8")))])  # fmt: skip
        chunks = []
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)", params) as copy,
        ):
            chunks.extend(bytes(data) for data in copy)
        data = b"".join(chunks)
        header = 19 + int.from_bytes(data[15:19], "big") if len(data) >= 19 else 0
        count = (len(data) - header - 2) // row.itemsize if data else 0
        rows = np.frombuffer(data, dtype=row, count=count, offset=header)
        return np.column_stack([rows[f"value{i}"].astype(np.float64) for i in range(columns)]) if count else (
            np.empty((0, columns), dtype=np.float64))  # fmt: skip
    blocks = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(FETCH_CHUNK):
            blocks.append(np.array(rows, dtype=np.float64).reshape(len(rows), columns))
    if not blocks:
        return np.empty((0, columns), dtype=np.float64)
    return np.concatenate(blocks)


@dataclass
class Features:
    """The features of every profile at ``at``: ``columns[name]`` lines up with ``profile_ids``."""

    at: datetime.datetime
    profile_ids: np.ndarray
    columns: dict[str, np.ndarray]
    _matrix: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.profile_ids)

    def days_since(self, name: str) -> np.ndarray:
        epoch = self.columns[name]
        days = (self.at.timestamp() - epoch) / 86_400
        return np.where(np.isnan(epoch), MISSING_DAYS, np.clip(days, 0, MISSING_DAYS))

    def consent(self, channel: str) -> np.ndarray:
        granted = self.columns[f"{channel}_granted_epoch"]
        withdrawn = self.columns[f"{channel}_withdrawn_epoch"]
        return (~np.isnan(granted) & (np.isnan(withdrawn) | (granted > withdrawn))).astype(np.float64)

    def existing(self) -> np.ndarray:
        """Profiles that existed at ``at`` (mask)."""
        return self.columns["created_epoch"] < self.at.timestamp()

    def matrix(self) -> np.ndarray:
        """The models' features (MODEL_FEATURES order): counts and amounts on a log scale (built once)."""
        if self._matrix is None:
            self._matrix = self._matrix_build()
        return self._matrix

    def _matrix_build(self) -> np.ndarray:
        c = self.columns
        counts = [
            "events", "events_30", "purchases", "purchases_30", "revenue", "product_views", "product_views_30",
            "add_to_cart", "add_to_cart_30", "email_opens", "email_opens_30", "email_clicks", "email_clicks_30",
        ]  # fmt: skip
        parts = [
            np.log1p(np.clip((self.at.timestamp() - c["created_epoch"]) / 86_400, 0, None)),
            np.log1p(self.days_since("last_event_epoch")),
            np.log1p(self.days_since("last_purchase_epoch")),
            np.log1p(self.days_since("last_email_epoch")),
            *(np.log1p(np.clip(np.nan_to_num(c[name]), 0, None)) for name in counts),
            self.consent("email"),
            self.consent("sms"),
            c["identified"],
        ]
        return np.column_stack(parts).astype(np.float64)


@dataclass
class Labels:
    """What happened between ``start`` and ``end``, per profile (aligned with the profiles' ids)."""

    purchased: np.ndarray
    active: np.ndarray
    complained: np.ndarray


@dataclass
class FeatureStore:
    """Reads features and labels for every score computed together, in one pass over the events.

    ``horizons`` (days) are the label windows the trained scores need: the
    features at ``now - horizon`` and what happened from then to ``now`` are
    read with the features at ``now``, in the same queries.
    """

    now: datetime.datetime = field(default_factory=timezone.now)
    horizons: set[int] = field(default_factory=set)
    _features: dict[datetime.datetime, Features] = field(default_factory=dict)
    _labels: dict[datetime.datetime, Labels] = field(default_factory=dict)

    def _load(self, *, moment: datetime.datetime | None = None, label_start: datetime.datetime | None = None) -> None:
        starts = {self.now - datetime.timedelta(days=days) for days in self.horizons}
        if label_start is not None:
            starts.add(label_start)
        moments = sorted({self.now, *starts, *([moment] if moment else [])} - set(self._features), reverse=True)
        starts = sorted(starts - set(self._labels))
        features, labels = features_load(moments=moments, label_starts=starts, end=self.now)
        self._features.update(features)
        self._labels.update(labels)

    def features(self, at: datetime.datetime | None = None) -> Features:
        at = at or self.now
        if at not in self._features:
            self._load(moment=at)
        return self._features[at]

    def labels(self, *, start: datetime.datetime, end: datetime.datetime) -> Labels:
        if end != self.now:
            raise ValueError("Labels are read up to the store's now.")
        if start not in self._labels:
            self._load(label_start=start)
        return self._labels[start]


def _pg_setting(name: str, value: str) -> None:
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL {name} = {value}")


def features_load(
    *, moments: list[datetime.datetime], label_starts: list[datetime.datetime], end: datetime.datetime
) -> tuple[dict[datetime.datetime, Features], dict[datetime.datetime, Labels]]:
    """Every profile's features at each moment, and what happened from each label start to ``end``.

    One aggregate over the events (by profile, every moment in the same pass),
    one over the purchases for revenue, one over the consent log, one over the
    identifiers and the profiles themselves; numpy lines them up by profile id.
    """
    if not moments and not label_starts:
        return {}, {}
    day = datetime.timedelta(days=1)
    earliest = min([*moments, *label_starts]) - LOOKBACK_DAYS * day
    params: dict[str, Any] = {
        "since": stamp(earliest),
        "end": stamp(end),
        "purchase": EventType.PURCHASE,
        "open": EventType.EMAIL_OPEN,
        "click": EventType.EMAIL_CLICK,
        "email": Channel.EMAIL,
        "sms": Channel.SMS,
        "granted": ConsentStatus.GRANTED,
        "withdrawn": ConsentStatus.WITHDRAWN,
        "email_kind": IdentifierKind.EMAIL,
        "phone_kind": IdentifierKind.PHONE,
        "crm_kind": IdentifierKind.CRM_ID,
    }
    for name, event_type, _windows in _COUNTED:
        params[f"type_{name}"] = event_type
    for position, complaint_type in enumerate(COMPLAINT_EVENT_TYPES):
        params[f"complaint_{position}"] = complaint_type
    event_columns: list[tuple[str, str]] = []  # (key, SQL)
    revenue_columns: list[tuple[str, str]] = []
    consent_columns: list[tuple[str, str]] = []
    for number, moment in enumerate(moments):
        params[f"at{number}"] = stamp(moment)
        params[f"from{number}"] = stamp(moment - LOOKBACK_DAYS * day)
        inside = f"occurred_at >= %(from{number})s AND occurred_at < %(at{number})s"

        def recent(days: int, number: int = number, moment: datetime.datetime = moment) -> str:
            params[f"at{number}_{days}"] = stamp(moment - days * day)
            return f"occurred_at >= %(at{number}_{days})s AND occurred_at < %(at{number})s"

        event_columns += [
            (f"{number}:last_event_epoch", epoch_sql(f"MAX(occurred_at) FILTER (WHERE {inside})")),
            (
                f"{number}:last_purchase_epoch",
                epoch_sql(f"MAX(occurred_at) FILTER (WHERE type = %(purchase)s AND {inside})"),
            ),
            (
                f"{number}:last_email_epoch",
                epoch_sql(f"MAX(occurred_at) FILTER (WHERE type IN (%(open)s, %(click)s) AND {inside})"),
            ),
            (f"{number}:events", f"COUNT(*) FILTER (WHERE {inside})"),
            (f"{number}:events_30", f"COUNT(*) FILTER (WHERE {recent(30)})"),
        ]
        for name, _event_type, windows in _COUNTED:
            windows = (*windows, *(_ENGAGEMENT_WINDOWS if number == 0 and name.startswith("email") else ()))
            event_columns.append((f"{number}:{name}", f"COUNT(*) FILTER (WHERE type = %(type_{name})s AND {inside})"))
            for days in windows:
                event_columns.append(
                    (f"{number}:{name}_{days}", f"COUNT(*) FILTER (WHERE type = %(type_{name})s AND {recent(days)})")
                )
        revenue_columns.append((f"{number}:revenue", f"SUM(revenue) FILTER (WHERE {inside})"))
        # Consent as it stood at the moment, from the log: the latest grant against the latest withdrawal.
        for channel in ("email", "sms"):
            for status in ("granted", "withdrawn"):
                consent_columns.append(
                    (
                        f"{number}:{channel}_{status}_epoch",
                        epoch_sql(
                            f"MAX(occurred_at) FILTER (WHERE channel = %({channel})s AND status = %({status})s "
                            f"AND occurred_at < %(at{number})s)"
                        ),
                    )
                )
    complaint_types = ", ".join(f"%(complaint_{position})s" for position in range(len(COMPLAINT_EVENT_TYPES)))
    for number, start in enumerate(label_starts):
        params[f"label{number}"] = stamp(start)
        window = f"occurred_at >= %(label{number})s AND occurred_at < %(end)s"
        event_columns += [
            (f"label{number}:purchased", f"COUNT(*) FILTER (WHERE type = %(purchase)s AND {window})"),
            (f"label{number}:active", f"COUNT(*) FILTER (WHERE {window})"),
            (f"label{number}:complained", f"COUNT(*) FILTER (WHERE type IN ({complaint_types}) AND {window})"),
        ]
        consent_columns.append(
            (
                f"label{number}:withdrew",
                f"COUNT(*) FILTER (WHERE channel = %(email)s AND status = %(withdrawn)s AND {window})",
            )
        )

    def grouped(table: str, columns: list[tuple[str, str]], where: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        if not columns:
            return np.empty(0, dtype=np.int64), {}
        sql = (
            f"SELECT {number_sql('profile_id')}, {', '.join(number_sql(expression) for _key, expression in columns)} "
            f"FROM {table} WHERE {where} GROUP BY profile_id ORDER BY profile_id"
        )
        matrix = fetch_arrays(sql, params, 1 + len(columns))
        return matrix[:, 0].astype(np.int64), {key: matrix[:, position + 1] for position, (key, _sql) in
                                               enumerate(columns)}  # fmt: skip

    # Streaming the aggregate in profile order over the (profile, type, time) index keeps memory flat;
    # a hash of a million profiles' counters would not fit in PostgreSQL's work memory.
    _pg_setting("enable_hashagg", "off")
    event_ids, events = grouped(_table(Event), event_columns, "occurred_at >= %(since)s AND occurred_at < %(end)s")
    _pg_setting("enable_hashagg", "on")
    revenue_ids, revenues = grouped(
        _table(Event), revenue_columns, "type = %(purchase)s AND occurred_at >= %(since)s AND occurred_at < %(end)s"
    )
    consent_ids, consents = grouped(
        _table(ConsentRecord), consent_columns, "channel IN (%(email)s, %(sms)s) AND occurred_at < %(end)s"
    )
    identified = fetch_arrays(
        f"SELECT {number_sql('profile_id')}, {epoch_sql('MIN(created_at)')} FROM {_table(Identifier)} "
        "WHERE kind IN (%(email_kind)s, %(phone_kind)s, %(crm_kind)s) GROUP BY profile_id ORDER BY profile_id",
        params,
        2,
    )
    people = fetch_arrays(
        f"SELECT {number_sql('id')}, {epoch_sql('created_at')} FROM {_table(Profile)} ORDER BY id", params, 2
    )
    profile_ids = people[:, 0].astype(np.int64)

    def on_profiles(found: np.ndarray, values: np.ndarray) -> np.ndarray:
        return align(profile_ids, found, np.nan_to_num(values))

    features = {}
    for number, moment in enumerate(moments):
        prefix = f"{number}:"
        columns = {"created_epoch": people[:, 1]}
        for key, values in events.items():
            if key.startswith(prefix):
                name = key.removeprefix(prefix)
                columns[name] = align(profile_ids, event_ids, values, np.nan) if name.endswith("_epoch") else (
                    on_profiles(event_ids, values))  # fmt: skip
        columns["revenue"] = on_profiles(revenue_ids, revenues[f"{prefix}revenue"])
        for key, values in consents.items():
            if key.startswith(prefix):
                columns[key.removeprefix(prefix)] = align(profile_ids, consent_ids, values, np.nan)
        first_identifier = align(profile_ids, identified[:, 0].astype(np.int64), identified[:, 1], np.nan)
        columns["identified"] = (first_identifier < moment.timestamp()).astype(np.float64)
        features[moment] = Features(at=moment, profile_ids=profile_ids, columns=columns)
    labels = {}
    for number, start in enumerate(label_starts):
        prefix = f"label{number}:"
        complained = on_profiles(event_ids, events[f"{prefix}complained"]) > 0
        complained |= on_profiles(consent_ids, consents[f"{prefix}withdrew"]) > 0
        labels[start] = Labels(
            purchased=on_profiles(event_ids, events[f"{prefix}purchased"]) > 0,
            active=on_profiles(event_ids, events[f"{prefix}active"]) > 0,
            complained=complained,
        )
    return features, labels


def align(profile_ids: np.ndarray, found_ids: np.ndarray, values: np.ndarray, default: float = 0.0) -> np.ndarray:
    """``values`` of ``found_ids`` placed on ``profile_ids`` (sorted), ``default`` for the others."""
    result = np.full(len(profile_ids), default, dtype=np.float64)
    if len(found_ids) == 0 or len(profile_ids) == 0:
        return result
    positions = np.searchsorted(profile_ids, found_ids)
    inside = positions < len(profile_ids)
    inside[inside] = profile_ids[positions[inside]] == found_ids[inside]
    result[positions[inside]] = values[inside]
    return result


def open_hours_load(*, since: datetime.datetime, until: datetime.datetime) -> np.ndarray:
    """(profile id, local hour, count) of email opens and clicks between the two moments, as an int64 matrix.

    PostgreSQL groups by the local hour itself; elsewhere the times are read
    and converted here, the time-zone offset looked up once per distinct hour.
    """
    params = {
        "since": stamp(since),
        "until": stamp(until),
        "open": EventType.EMAIL_OPEN,
        "click": EventType.EMAIL_CLICK,
    }
    where = "type IN (%(open)s, %(click)s) AND occurred_at >= %(since)s AND occurred_at < %(until)s"
    if connection.vendor == "postgresql":
        params["zone"] = timezone.get_current_timezone_name()
        rows = fetch_arrays(
            f"""
            SELECT {number_sql("profile_id")}, {number_sql("EXTRACT(HOUR FROM occurred_at AT TIME ZONE %(zone)s)")},
                {number_sql("COUNT(*)")}
            FROM {_table(Event)} WHERE {where} GROUP BY profile_id, 2
            """,
            params,
            3,
        )
        return rows.astype(np.int64)
    rows = fetch_arrays(f"SELECT profile_id, {epoch_sql('occurred_at')} FROM {_table(Event)} WHERE {where}", params, 2)
    if not len(rows):
        return np.empty((0, 3), dtype=np.int64)
    epochs = rows[:, 1].astype(np.int64)
    utc_hours = epochs // 3600
    distinct, inverse = np.unique(utc_hours, return_inverse=True)
    zone = timezone.get_current_timezone()
    offsets = np.array(
        [
            datetime.datetime.fromtimestamp(int(hour) * 3600, zone).utcoffset().total_seconds() // 3600
            for hour in distinct
        ],
        dtype=np.int64,
    )
    local_hours = (utc_hours + offsets[inverse]) % 24
    pairs, counts = np.unique(np.column_stack([rows[:, 0].astype(np.int64), local_hours]), axis=0, return_counts=True)
    return np.column_stack([pairs, counts]).astype(np.int64)
