"""The set-based import path for PostgreSQL: the same result as the row path, for millions of rows.

1. The checked rows are streamed with COPY into three staging tables (rows,
   identifiers, consents), a chunk at a time, so memory stays flat.
2. Rows that share an identifier, or whose identifiers belong to the same
   existing profile, are one person: connected components, found by label
   propagation in SQL.
3. A component is applied set-based when the row path would neither merge nor
   refuse anything in it: it touches at most one existing profile, names at
   most one CRM id, and each of its rows (but the first, when no profile
   exists yet) shares an identifier with an earlier row or with the profile.
   New profiles, fields (the last non-empty value in file order wins), traits,
   identifiers and consents are then written by a handful of INSERT ... SELECT
   and UPDATE ... FROM statements, and the consent state of the touched
   profiles is rebuilt from the log in one statement.
4. Every other component (a row that merges profiles, or two CRM ids) is
   replayed row by row through ``import_row_apply``, in file order, so merges
   are logged and conflicts rejected exactly as the row path does.

The identifier table is locked against concurrent writers from step 2 to the
end of the import's transaction, so that no identifier appears in between.
When the database role may, the writes of step 3 skip the foreign keys'
per-row triggers: the import locks and checks the profiles it refers to in one
statement instead (``_reference_triggers_off``).
"""

import contextlib
import datetime
import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from json.encoder import encode_basestring as _json_string  # what json.dumps(ensure_ascii=False) uses
from typing import TYPE_CHECKING

import psycopg
from django.db import IntegrityError, connection

from profiles.importing.parsing import ConsentCell, ParsedRow, RowValues
from profiles.models import ConsentRecord, ConsentState, Identifier, IdentifierKind, Profile

if TYPE_CHECKING:
    from profiles.importing.services import ImportContext, _Run

logger = logging.getLogger(__name__)

CHUNK_ROWS = 20_000
_TEMPORARY_TABLES = (
    "import_row",
    "import_identifier",
    "import_identifier_chunk",
    "import_consent",
    "import_key",
    "import_link",
    "import_node",
    "import_group",
    "import_component",
    "import_replayed",
    "import_traits",
    "import_touched",
)
IDENTIFIER_COLUMNS = ("line", "position", "kind", "value", "column_name")
FIELD_COLUMNS = ("first_name", "last_name", "birth_date", "city", "postcode", "country", "language")
SINGLE_VALUED = (IdentifierKind.CRM_ID,)

# Identifiers and consents are compared byte for byte in staging (COLLATE "C"): sorting and indexing
# millions of them is then a third cheaper, and equality is the same in every deterministic collation.
_STAGING = f"""
CREATE TEMP TABLE import_row (
    line integer PRIMARY KEY,
    {", ".join(f"{name} {'date' if name == 'birth_date' else 'text'}" for name in FIELD_COLUMNS)},
    traits jsonb
) ON COMMIT DROP;
CREATE TEMP TABLE import_identifier (
    line integer NOT NULL, position integer NOT NULL,
    kind text COLLATE "C" NOT NULL, value text COLLATE "C" NOT NULL, column_name text NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE import_consent (
    line integer NOT NULL, position integer NOT NULL,
    channel text COLLATE "C" NOT NULL, status text COLLATE "C" NOT NULL, address text COLLATE "C" NOT NULL,
    occurred_at timestamptz, column_name text NOT NULL, cell text NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE import_identifier_chunk (LIKE import_identifier) ON COMMIT DROP;
-- One node per distinct identifier of the file: the first line naming it, how many lines do, its profile if any.
CREATE TEMP TABLE import_key (
    kind text COLLATE "C" NOT NULL, value text COLLATE "C" NOT NULL, first_line integer NOT NULL,
    uses integer NOT NULL, label integer NOT NULL, profile_id bigint, PRIMARY KEY (kind, value)
) ON COMMIT DROP;
"""

# A chunk's identifiers join the others and count in the file's nodes as they arrive: PostgreSQL does this
# while Python checks the next chunk. Chunks come in file order, so a node's first line is its first chunk's.
_KEYS_ADD = """
INSERT INTO import_identifier SELECT * FROM import_identifier_chunk;
INSERT INTO import_key AS k (kind, value, first_line, uses, label)
SELECT kind, value, min(line), count(*), min(line) FROM import_identifier_chunk GROUP BY kind, value
ON CONFLICT (kind, value) DO UPDATE SET uses = k.uses + excluded.uses;
TRUNCATE import_identifier_chunk
"""


def _copy(cursor, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    if rows:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _traits_json(traits: dict[str, str], keys: dict[str, str]) -> str | None:
    """json.dumps(traits, ensure_ascii=False), the keys' JSON remembered: a trait column is the same key every row."""
    if not traits:
        return None
    parts = []
    for key, value in traits.items():
        encoded = keys.get(key)
        if encoded is None:
            encoded = keys[key] = _json_string(key)
        parts.append(encoded + ": " + _json_string(value))
    return "{" + ", ".join(parts) + "}"


def _stage(cursor, rows: Iterator[tuple[int, "RowValues"]]) -> None:
    """COPY the rows into staging, a chunk at a time, from a second thread.

    Reading and checking rows is Python's work, COPY is PostgreSQL's: with the
    writes in a thread (psycopg lets go of the GIL while it waits), both cores work.
    """
    row_columns = ("line", *FIELD_COLUMNS, "traits")
    chunks: queue.Queue = queue.Queue(maxsize=2)  # memory stays at a few chunks
    failure: list[BaseException] = []

    def write() -> None:
        while (chunk := chunks.get()) is not None:
            if failure:
                continue
            staged_rows, identifiers, consents = chunk
            try:
                _copy(cursor, "import_row", row_columns, staged_rows)
                _copy(cursor, "import_identifier_chunk", IDENTIFIER_COLUMNS, identifiers)
                cursor.execute(_KEYS_ADD)
                _copy(
                    cursor,
                    "import_consent",
                    ("line", "position", "channel", "status", "address", "occurred_at", "column_name", "cell"),
                    consents,
                )
            except BaseException as error:  # handed back to the reading thread below
                failure.append(error)

    writer = threading.Thread(target=write, name="crm-import-copy", daemon=True)
    writer.start()
    staged_rows: list[tuple] = []
    identifiers: list[tuple] = []
    consents: list[tuple] = []
    trait_keys: dict[str, str] = {}
    try:
        for line, (row_identifiers, identifier_columns, fields, traits, row_consents) in rows:
            staged_rows.append((line, *map(fields.get, FIELD_COLUMNS), _traits_json(traits, trait_keys)))
            for position, (kind, value) in enumerate(row_identifiers):
                identifiers.append((line, position, kind, value, identifier_columns[kind]))
            for position, consent in enumerate(row_consents):
                consents.append((line, position, *consent))
            if len(staged_rows) >= CHUNK_ROWS:
                chunks.put((staged_rows, identifiers, consents))
                staged_rows, identifiers, consents = [], [], []
                if failure:
                    break
        chunks.put((staged_rows, identifiers, consents))
    finally:
        chunks.put(None)
        writer.join()
    if failure:
        raise failure[0]
    cursor.execute("ANALYZE import_row; ANALYZE import_identifier; ANALYZE import_consent; ANALYZE import_key")


_COMPONENTS = """
-- The profile of each node, if any (the identifier table is locked from here on).
UPDATE import_key k SET profile_id = i.profile_id
FROM profiles_identifier i WHERE i.kind = k.kind COLLATE "default" AND i.value = k.value COLLATE "default";
CREATE INDEX ON import_key (profile_id) WHERE profile_id IS NOT NULL;
-- Most rows are people named once: only the identifiers of rows that can join
-- others (an identifier named twice, or held by a profile) need propagating.
CREATE TEMP TABLE import_link ON COMMIT DROP AS
SELECT s.line, s.kind, s.value FROM import_identifier s
WHERE s.line IN (SELECT s2.line FROM import_identifier s2 JOIN import_key k ON k.kind = s2.kind AND k.value = s2.value
                 WHERE k.uses > 1 OR k.profile_id IS NOT NULL);
CREATE INDEX ON import_link (line);
CREATE TEMP TABLE import_node ON COMMIT DROP AS SELECT line, line AS label FROM import_row;
CREATE UNIQUE INDEX ON import_node (line);
ANALYZE import_key; ANALYZE import_link; ANALYZE import_node;
"""

_PROPAGATE = (
    # A line takes the smallest label of its identifiers...
    """
    UPDATE import_node n SET label = m.label
    FROM (SELECT s.line, min(k.label) AS label FROM import_link s
          JOIN import_key k ON k.kind = s.kind AND k.value = s.value GROUP BY s.line) m
    WHERE n.line = m.line AND m.label < n.label
    """,
    # ...an identifier the smallest label of its lines...
    """
    UPDATE import_key k SET label = m.label
    FROM (SELECT s.kind, s.value, min(n.label) AS label FROM import_link s
          JOIN import_node n ON n.line = s.line GROUP BY s.kind, s.value) m
    WHERE k.kind = m.kind AND k.value = m.value AND m.label < k.label
    """,
    # ...and the identifiers of one existing profile the smallest label among them.
    """
    UPDATE import_key k SET label = m.label
    FROM (SELECT profile_id, min(label) AS label FROM import_key
          WHERE profile_id IS NOT NULL GROUP BY profile_id) m
    WHERE k.profile_id = m.profile_id AND m.label < k.label
    """,
)

_CLASSIFY = """
CREATE INDEX ON import_node (label);
CREATE TEMP TABLE import_group ON COMMIT DROP AS
SELECT n.label, count(*) AS lines, min(n.line) AS first_line,
       coalesce(p.profiles, 0) AS profiles, p.profile_id
FROM import_node n
LEFT JOIN (SELECT label, count(DISTINCT profile_id) AS profiles, min(profile_id) AS profile_id
           FROM import_key WHERE profile_id IS NOT NULL GROUP BY label) p ON p.label = n.label
GROUP BY n.label, p.profiles, p.profile_id;

-- The row path would merge when a row (other than a new person's first) shares
-- nothing with an earlier row or the existing profile...
CREATE TEMP TABLE import_replayed ON COMMIT DROP AS
SELECT DISTINCT n.label
FROM (SELECT s.line, bool_or(k.profile_id IS NOT NULL OR k.first_line < s.line) AS linked
      FROM import_link s JOIN import_key k ON k.kind = s.kind AND k.value = s.value GROUP BY s.line) o
JOIN import_node n ON n.line = o.line
JOIN import_group c ON c.label = n.label
WHERE NOT o.linked AND NOT (c.profiles = 0 AND n.line = c.first_line);
-- ...and would refuse a row naming a second CRM id.
INSERT INTO import_replayed
SELECT v.label FROM (
    SELECT n.label, s.value FROM import_identifier s JOIN import_node n ON n.line = s.line
    WHERE s.kind = ANY(%(single)s)
    UNION
    SELECT c.label, i.value COLLATE "C" FROM import_group c JOIN profiles_identifier i ON i.profile_id = c.profile_id
    WHERE c.profiles = 1 AND i.kind = ANY(%(single)s)
) v GROUP BY v.label HAVING count(DISTINCT v.value) > 1;

-- A component is simple when it touches at most one profile and the row path would neither merge nor
-- refuse in it. New people's profiles are numbered here, in file order, so that their rows can be
-- written in one go (one statement, rather than updating a million rows afterwards).
CREATE TEMP TABLE import_component ON COMMIT DROP AS
SELECT g.label, g.lines, g.first_line, g.profiles, g.simple, g.simple AND g.profiles = 0 AS created,
       CASE WHEN g.simple AND g.profiles = 0 THEN nextval(pg_get_serial_sequence('profiles_profile', 'id'))
            ELSE g.profile_id END AS profile_id
FROM (SELECT c.*, c.profiles <= 1 AND c.label NOT IN (SELECT r.label FROM import_replayed r) AS simple
      FROM import_group c ORDER BY c.label) g;
CREATE UNIQUE INDEX ON import_component (label);
ANALYZE import_component;
"""

# A person on one row takes that row's values; on several, the last non-empty value of each field.
_VALUES = """
SELECT c.profile_id, {single_values}, r.traits
FROM import_component c JOIN import_row r ON r.line = c.label
WHERE c.simple AND c.lines = 1 AND {which}
UNION ALL
SELECT c.profile_id, {last_values}, min(t.traits::text)::jsonb AS traits
FROM import_component c
JOIN import_node n ON n.label = c.label
JOIN import_row r ON r.line = n.line
LEFT JOIN import_traits t ON t.label = c.label
WHERE c.simple AND c.lines > 1 AND {which}
GROUP BY c.profile_id, c.label
"""
_LAST_VALUE = "(array_agg(r.{name} ORDER BY r.line DESC) FILTER (WHERE r.{name} IS NOT NULL))[1] AS {name}"

_APPLY = """
CREATE TEMP TABLE import_traits ON COMMIT DROP AS
SELECT n.label, jsonb_object_agg(t.key, t.value ORDER BY r.line) AS traits
FROM import_component c
JOIN import_node n ON n.label = c.label
JOIN import_row r ON r.line = n.line, jsonb_each(r.traits) t
WHERE c.simple AND c.lines > 1 AND r.traits IS NOT NULL
GROUP BY n.label;
CREATE UNIQUE INDEX ON import_traits (label);

INSERT INTO profiles_profile
    (id, uuid, {fields}, traits, do_not_track, do_not_contact, source, created_at, updated_at)
SELECT v.profile_id, gen_random_uuid(), {blank_fields}, coalesce(v.traits, '{{}}'::jsonb), false, false,
       %(source)s, %(now)s, %(now)s
FROM ({created_values}) v;

UPDATE profiles_profile p SET
    {updates}, traits = p.traits || coalesce(v.traits, '{{}}'::jsonb), updated_at = %(now)s
FROM ({updated_values}) v WHERE p.id = v.profile_id;

-- In the unique index's order: each of its pages is then read and written once, not once per identifier.
INSERT INTO profiles_identifier (profile_id, kind, value, source, created_at)
SELECT c.profile_id, k.kind, k.value, %(source)s, %(now)s
FROM import_key k JOIN import_component c ON c.label = k.label
WHERE c.simple AND k.profile_id IS NULL
ORDER BY k.kind, k.value;

-- The profiles this import updates and gives consents to: their consent states are folded again from the log.
CREATE TEMP TABLE import_touched ON COMMIT DROP AS
SELECT DISTINCT c.profile_id
FROM import_consent s JOIN import_node n ON n.line = s.line JOIN import_component c ON c.label = n.label
WHERE c.simple AND NOT c.created;

-- The consent log's new records, in file order (so are their ids: among words of the same time, the later
-- line wins). The profiles this import created have no other entry: their consent states are folded from
-- these records as they are written, without reading the log back.
WITH inserted AS (
    INSERT INTO profiles_consentrecord
        (profile_id, channel, status, legal_basis, address, source, proof, occurred_at, recorded_at, recorded_by)
    SELECT c.profile_id, s.channel, s.status, 'consent', s.address, %(source)s,
           jsonb_build_object('import', %(import_id)s, 'file', %(file)s, 'file_sha256', %(sha256)s,
                              'line', s.line, 'column', s.column_name, 'value', s.cell),
           coalesce(s.occurred_at, %(started)s), %(now)s, %(actor)s
    FROM import_consent s
    JOIN import_node n ON n.line = s.line
    JOIN import_component c ON c.label = n.label
    WHERE c.simple
    ORDER BY s.line, s.position
    RETURNING id, profile_id, channel, status, address, occurred_at
), created AS (
    SELECT * FROM inserted WHERE profile_id NOT IN (SELECT t.profile_id FROM import_touched t)
)
{created_states};
"""

# The current consent of each (profile, channel, address): its latest log entry,
# a withdrawal without address counting for every address of the channel. The
# same rule as profiles.services.consent_state_fold, set-based.
_CONSENT_STATE_RULE = """
SELECT DISTINCT ON (a.profile_id, a.channel, a.address)
       a.profile_id, a.channel, a.address, r.status, {legal_basis}, r.occurred_at, r.id
FROM (SELECT DISTINCT profile_id, channel, address FROM {records} WHERE {which}) a
JOIN {records} r
  ON r.profile_id = a.profile_id AND r.channel = a.channel
 AND (r.address = a.address OR (r.address = '' AND r.status = 'withdrawn'))
ORDER BY a.profile_id, a.channel, a.address, r.occurred_at DESC, r.id DESC
"""
_STATE_COLUMNS = "profile_id, channel, address, status, legal_basis, occurred_at, record_id"
# The profiles in {touched}, from the whole log.
_CONSENT_STATE = (
    "DELETE FROM profiles_consentstate WHERE profile_id IN (SELECT profile_id FROM {touched});\n"
    f"INSERT INTO profiles_consentstate ({_STATE_COLUMNS})"
    + _CONSENT_STATE_RULE.format(
        legal_basis="r.legal_basis",
        records="profiles_consentrecord",
        which="profile_id IN (SELECT profile_id FROM {touched})",
    )
)
# The profiles this import created, from their records as written (a WITH query named "created").
_CONSENT_STATE_CREATED = f"INSERT INTO profiles_consentstate ({_STATE_COLUMNS})" + _CONSENT_STATE_RULE.format(
    legal_basis="'consent'", records="created", which="true"
)


def _check_tables() -> None:
    # The SQL above names these tables: fail loudly if a model is ever renamed.
    expected = {
        Profile: "profiles_profile",
        Identifier: "profiles_identifier",
        ConsentRecord: "profiles_consentrecord",
        ConsentState: "profiles_consentstate",
    }
    for model, table in expected.items():
        if model._meta.db_table != table:
            raise RuntimeError(f"{model.__name__} is stored in {model._meta.db_table}, not {table}")


def _references_check(cursor) -> None:
    """Check now the foreign keys of the rows written, deferred until the commit otherwise.

    The checks (one per row and reference, millions of them) would take their
    time inside COMMIT; here they show in the step timings. Only the written
    tables' deferred foreign keys are checked, and they are deferred again after.
    """
    cursor.execute(
        "SELECT string_agg(format('%%I.%%I', n.nspname, c.conname), ', ') FROM pg_constraint c "
        "JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE c.contype = 'f' AND c.condeferred AND c.conrelid = ANY(%s::regclass[])",
        [["profiles_identifier", "profiles_consentrecord", "profiles_consentstate"]],
    )
    (names,) = cursor.fetchone()
    if names:
        cursor.execute(f"SET CONSTRAINTS {names} IMMEDIATE")
        cursor.execute(f"SET CONSTRAINTS {names} DEFERRED")


def _reference_triggers_off(cursor) -> bool:
    """Skip the per-row foreign-key triggers of the set-based writes, when the role may; True if skipped.

    Each row written to the identifier, consent log and consent state tables
    queues a foreign-key check (a lookup and a row lock on the profile): about
    six million at a million rows, a fifth of the import's time. Every reference
    this import writes is to a profile it creates in the same transaction (no
    one else can see, so delete, it) or to an existing profile, which
    ``_existing_profiles_lock`` locks and checks as those triggers would, in one
    statement. With ``session_replication_role = replica`` (for superusers, or a
    role granted ``SET ON PARAMETER session_replication_role``, PostgreSQL 15+)
    the triggers do not fire; otherwise they do, and the import is slower.
    The tables written have no other trigger.
    """
    cursor.execute("SAVEPOINT import_triggers")
    try:
        cursor.execute("SET LOCAL session_replication_role = replica")
    except psycopg.errors.InsufficientPrivilege:
        cursor.execute("ROLLBACK TO SAVEPOINT import_triggers")
        logger.info("CRM import: the role may not set session_replication_role, foreign keys are checked row by row")
        return False
    finally:
        cursor.execute("RELEASE SAVEPOINT import_triggers")
    return True


def _existing_profiles_lock(cursor) -> None:
    """Lock the existing profiles this import writes references to, as the foreign keys would, and check them.

    FOR KEY SHARE keeps them from being deleted until the import commits; one of
    them deleted since the import looked it up fails the import, as the foreign
    key check would have.
    """
    cursor.execute(
        """
        SELECT (SELECT count(*) FROM import_component WHERE simple AND NOT created),
               (SELECT count(*) FROM (SELECT p.id FROM profiles_profile p
                WHERE p.id IN (SELECT profile_id FROM import_component WHERE simple AND NOT created)
                FOR KEY SHARE OF p) locked)
        """
    )
    expected, locked = cursor.fetchone()
    if locked != expected:
        raise IntegrityError(f"{expected - locked} of the profiles this import adds to were deleted while it ran")


def _replayed_rows(cursor) -> Iterator[ParsedRow]:
    """The rows of the components the row path must apply, rebuilt from staging, in file order."""
    cursor.execute(
        f"""
        SELECT r.line, {", ".join(f"r.{name}" for name in FIELD_COLUMNS)}, r.traits,
               (SELECT json_agg(json_build_array(s.kind, s.value, s.column_name) ORDER BY s.position)
                FROM import_identifier s WHERE s.line = r.line),
               (SELECT json_agg(json_build_array(s.channel, s.status, s.address, s.occurred_at, s.column_name,
                                                 s.cell) ORDER BY s.position)
                FROM import_consent s WHERE s.line = r.line)
        FROM import_row r JOIN import_node n ON n.line = r.line JOIN import_component c ON c.label = n.label
        WHERE NOT c.simple ORDER BY r.line
        """
    )
    for record in cursor.fetchall():
        line, *values = record
        fields = dict(zip(FIELD_COLUMNS, values[: len(FIELD_COLUMNS)], strict=True))
        traits, identifiers, consents = values[len(FIELD_COLUMNS) :]
        row = ParsedRow(line=line)
        row.fields = {name: value for name, value in fields.items() if value is not None}
        # Django reads jsonb as text (it decodes JSON fields itself).
        row.traits = (json.loads(traits) if isinstance(traits, str) else traits) or {}
        for kind, value, column in identifiers or []:
            row.identifiers.append((kind, value))
            row.identifier_columns.setdefault(kind, column)
        for channel, status, address, occurred_at, column, cell in consents or []:
            when = datetime.datetime.fromisoformat(occurred_at) if occurred_at else None
            row.consents.append(ConsentCell(channel, status, address, when, column, cell))
        yield row


@contextlib.contextmanager
def _step(name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    logger.debug("CRM import, %s: %.2f s", name, time.perf_counter() - start)


def _execute(cursor, script: str, params: dict | None = None) -> None:
    """Run the statements of a script one at a time; at DEBUG level, log the time and WAL of each."""
    timed = logger.isEnabledFor(logging.DEBUG)
    for statement in script.split(";\n"):
        if statement.strip():
            if timed:
                cursor.execute("SELECT pg_current_wal_insert_lsn()")
                (wal_before,) = cursor.fetchone()
            start = time.perf_counter()
            cursor.execute(statement, params if params and "%(" in statement else None)
            if timed:
                seconds = time.perf_counter() - start
                cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)", [wal_before])
                (wal,) = cursor.fetchone()
                logger.debug(
                    "    %.2f s %7.1f MB WAL  %s", seconds, float(wal) / 1e6, " ".join(statement.split())[:100]
                )


def _session_memory(cursor) -> None:
    """Memory for the import's sorts, hashes and temporary tables, for this transaction only.

    The defaults (4 MB per sort, 8 MB of temporary-table buffers) make every
    step at a million rows spill to disk. temp_buffers can only be set before
    the session's first temporary table: a savepoint keeps a refusal harmless.
    """
    cursor.execute("SET LOCAL work_mem = '256MB'; SET LOCAL maintenance_work_mem = '256MB'")
    cursor.execute("SAVEPOINT import_memory")
    try:
        cursor.execute("SET LOCAL temp_buffers = '1GB'")
    except psycopg.Error:
        cursor.execute("ROLLBACK TO SAVEPOINT import_memory")
    cursor.execute("RELEASE SAVEPOINT import_memory")


def rows_apply_bulk(*, rows: Iterator[tuple[int, RowValues]], context: "ImportContext", run: "_Run") -> dict[str, int]:
    """Apply checked rows, (line, values), set-based (see the module's doc): the counts of NEW, UPDATED, MERGED."""
    from profiles.importing.services import MERGED, NEW, UPDATED, rows_apply

    _check_tables()
    record = context.profile_import
    now = datetime.datetime.now(datetime.UTC)
    params = {
        "source": context.source,
        "now": now,
        "started": context.started_at,
        "import_id": record.pk,
        "file": record.file_name,
        "sha256": record.file_sha256,
        "actor": context.actor,
        "single": list(SINGLE_VALUED),
    }
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # psycopg's own cursor, for COPY
        _session_memory(cursor)
        cursor.execute(f"DROP TABLE IF EXISTS {', '.join(_TEMPORARY_TABLES)}")
        cursor.execute(_STAGING)
        with _step("reading and staging the rows"):
            _stage(cursor, rows)
        cursor.execute("LOCK TABLE profiles_identifier IN SHARE ROW EXCLUSIVE MODE")
        with _step("finding the people"):
            _execute(cursor, _COMPONENTS)
            while True:
                changed = 0
                for statement in _PROPAGATE:
                    cursor.execute(statement)
                    changed += cursor.rowcount
                if not changed:
                    break
        with _step("classifying"):
            _execute(cursor, _CLASSIFY, params)
        if triggers_off := _reference_triggers_off(cursor):
            _existing_profiles_lock(cursor)
        with _step("writing profiles, identifiers and consents"):
            values = _VALUES.format(
                single_values=", ".join(f"r.{name}" for name in FIELD_COLUMNS),
                last_values=", ".join(_LAST_VALUE.format(name=name) for name in FIELD_COLUMNS),
                which="{which}",
            )
            _execute(
                cursor,
                _APPLY.format(
                    created_values=values.format(which="c.created"),
                    updated_values=values.format(which="NOT c.created"),
                    created_states=_CONSENT_STATE_CREATED,
                    fields=", ".join(FIELD_COLUMNS),
                    blank_fields=", ".join(
                        f"v.{name}" if name == "birth_date" else f"coalesce(v.{name}, '')" for name in FIELD_COLUMNS
                    ),
                    updates=", ".join(f"{name} = coalesce(v.{name}, p.{name})" for name in FIELD_COLUMNS),
                ),
                params,
            )
        with _step("rebuilding consent states"):
            _execute(cursor, _CONSENT_STATE.format(touched="import_touched"))
        cursor.execute(
            "SELECT coalesce(sum(CASE WHEN created THEN 1 ELSE 0 END), 0), "
            "coalesce(sum(lines) - sum(CASE WHEN created THEN 1 ELSE 0 END), 0) FROM import_component WHERE simple"
        )
        new, updated = cursor.fetchone()
        counts = {NEW: int(new), UPDATED: int(updated), MERGED: 0}
        if triggers_off:
            cursor.execute("SET LOCAL session_replication_role = origin")  # the replayed rows go through the ORM
        else:
            with _step("checking the references"):
                _references_check(cursor)
        replay = list(_replayed_rows(cursor))
        # Dropped now rather than at commit: an outer transaction may import another file.
        cursor.execute(f"DROP TABLE {', '.join(_TEMPORARY_TABLES)}")
    with _step(f"replaying {len(replay)} rows that merge or conflict"):
        return rows_apply(replay, context, run, counts)
