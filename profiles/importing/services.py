"""Applying a CRM file: the same rules for the admin and the command, row by row or set-based.

The whole file is applied in one transaction: a failure part-way, or a rejected
row when the user chose "all or nothing", leaves the database as it was. The
rows that were rejected are reported with their line, column and reason, and
kept on the import's record.
"""

import csv
import datetime
import hashlib
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from profiles.importing.mapping import mapping_check, mapping_guess
from profiles.importing.parsing import ParsedRow, Rejection, RowChecker
from profiles.importing.reading import CsvLayout, ImportFileError, csv_layout_detect, csv_rows
from profiles.models import ImportRejection, ImportStatus, MergeReason, ProfileImport
from profiles.services import IdentityConflict, consent_record, profile_resolve, profile_update

REJECTIONS_KEPT = 10_000  # on the import's record; the rejects file has them all
REJECTION_BATCH = 2_000

NEW, UPDATED, MERGED = "new", "updated", "merged"


@dataclass(frozen=True)
class ImportContext:
    profile_import: ProfileImport
    started_at: datetime.datetime
    actor: str

    @property
    def source(self) -> str:
        return self.profile_import.source

    def proof(self, *, line: int, column: str, value: str) -> dict[str, object]:
        record = self.profile_import
        return {
            "import": record.pk,
            "file": record.file_name,
            "file_sha256": record.file_sha256,
            "line": line,
            "column": column,
            "value": value,
        }


class RowRejected(Exception):
    def __init__(self, rejections: list[Rejection]) -> None:
        super().__init__(rejections)
        self.rejections = rejections


def import_row_apply(*, row: ParsedRow, context: ImportContext) -> str:
    """Apply one checked row through the profile services: NEW, UPDATED or MERGED.

    Identity is resolved on all the row's identifiers (merging the profiles they
    belong to); non-empty cells overwrite the profile's fields; each consent cell
    is recorded with the import as source and the file, line and cell as proof.
    Raises RowRejected, having written nothing, when the row names two people.
    """
    try:
        with transaction.atomic():
            resolution = profile_resolve(identifiers=row.identifiers, source=context.source, reason=MergeReason.IMPORT)
            if row.fields or row.traits:
                profile_update(profile=resolution.profile, fields=row.fields, traits=row.traits)
            for consent in row.consents:
                consent_record(
                    profile=resolution.profile,
                    channel=consent.channel,
                    status=consent.status,
                    address=consent.address,
                    source=context.source,
                    occurred_at=consent.occurred_at or context.started_at,
                    proof=context.proof(line=row.line, column=consent.column, value=consent.value),
                    recorded_by=context.actor,
                )
    except IdentityConflict as error:
        kind, messages = next(iter(error.message_dict.items()))
        column = row.identifier_columns.get(kind, "—")
        value = next((value for held_kind, value in row.identifiers if held_kind == kind), "")
        raise RowRejected([Rejection(row.line, column, value, " ".join(messages))]) from None
    except ValidationError as error:
        raise RowRejected([Rejection(row.line, "—", "", " ".join(error.messages))]) from None
    if resolution.created:
        return NEW
    return MERGED if resolution.merged_profile_ids else UPDATED


class _Abort(Exception):
    """Rolls the import's transaction back (a dry run, or rejected rows under "all or nothing")."""


class _CountingReader(io.RawIOBase):
    """Counts the bytes read, for the progress bar (the file's fingerprint is taken before, once)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:
        data = self.stream.read(len(buffer))
        buffer[: len(data)] = data
        self.read_bytes += len(data)
        return len(data)


ProgressCallback = Callable[[int, int], None]  # (bytes read, file size)


@dataclass
class _Run:
    profile_import: ProfileImport
    rejects: tempfile.SpooledTemporaryFile
    writer: "csv._writer"
    rejected_lines: set[int]

    def reject(self, rejections: list[Rejection]) -> None:
        for rejection in rejections:
            self.writer.writerow([rejection.line, rejection.column, rejection.value, rejection.reason])
        self.rejected_lines.add(rejections[0].line)


def _file_fingerprint(stream: BinaryIO) -> tuple[str, int]:
    start = stream.tell()
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(start)
    return digest.hexdigest(), size


def _parsed_rows(
    stream: BinaryIO,
    layout: CsvLayout,
    mapping: Mapping[str, str],
    run: _Run,
    progress: ProgressCallback | None,
    *,
    as_values: bool = False,
) -> Iterator:
    """The file's checked rows, as ParsedRow; with ``as_values``, as (line, RowValues) for the bulk path."""
    size = run.profile_import.file_size
    counting = _CountingReader(stream)
    buffered = io.BufferedReader(counting, buffer_size=1 << 16)
    row_check = RowChecker(layout.header, mapping)
    read = row_check.read if as_values else row_check
    for count, (line, cells) in enumerate(csv_rows(buffered, layout), start=1):
        run.profile_import.rows_read = count
        parsed = read(line, cells)
        if isinstance(parsed, list):
            run.reject(parsed)
        else:
            yield (line, parsed) if as_values else parsed
        if progress is not None and count % 5_000 == 0:
            progress(counting.read_bytes, size)
    if progress is not None:
        progress(size, size)


def rows_apply(
    rows: Iterable[ParsedRow], context: ImportContext, run: "_Run", counts: dict[str, int] | None = None
) -> dict[str, int]:
    """Apply rows one by one with ``import_row_apply``, adding up to ``counts``; rejected rows go to ``run``."""
    counts = counts if counts is not None else {NEW: 0, UPDATED: 0, MERGED: 0}
    for row in rows:
        try:
            counts[import_row_apply(row=row, context=context)] += 1
        except RowRejected as rejected:
            run.reject(rejected.rejections)
    return counts


def import_method_default() -> str:
    return "bulk" if connection.vendor == "postgresql" else "rows"


def profile_import_run(
    *,
    stream: BinaryIO,
    file_name: str,
    mapping: Mapping[str, str] | None = None,
    all_or_nothing: bool = False,
    dry_run: bool = False,
    actor: str = "",
    method: str | None = None,
    progress: ProgressCallback | None = None,
    rejects_out: io.TextIOBase | None = None,
) -> ProfileImport:
    """Import a CRM export from a seekable binary stream; returns the import's record.

    ``mapping`` maps column names to targets (``profiles.importing.mapping``);
    columns it leaves out are guessed. A file that cannot be imported at all
    raises ImportFileError and changes nothing. ``rejects_out`` receives the
    rejected rows as CSV (line, column, value, reason).
    """
    method = method or import_method_default()
    if method not in ("rows", "bulk"):
        raise ValueError(f"unknown import method {method!r}")
    if method == "bulk" and connection.vendor != "postgresql":
        raise ImportFileError(_("The bulk import method needs PostgreSQL."))
    layout = csv_layout_detect(stream)
    checked = mapping_check(layout.header, {**mapping_guess(layout.header), **(mapping or {})})
    sha256, size = _file_fingerprint(stream)
    record = ProfileImport.objects.create(
        file_name=file_name[:255],
        file_sha256=sha256,
        file_size=size,
        encoding=layout.encoding,
        delimiter=layout.delimiter,
        mapping=checked,
        all_or_nothing=all_or_nothing,
        method=method,
        created_by=actor,
        status=ImportStatus.RUNNING,
    )
    with tempfile.SpooledTemporaryFile(max_size=4 << 20, mode="w+", newline="", encoding="utf-8") as rejects:
        run = _Run(profile_import=record, rejects=rejects, writer=csv.writer(rejects), rejected_lines=set())
        context = ImportContext(profile_import=record, started_at=timezone.now(), actor=actor)
        counts = {NEW: 0, UPDATED: 0, MERGED: 0}
        try:
            with transaction.atomic():
                if method == "bulk":
                    from profiles.importing.bulk import rows_apply_bulk

                    rows = _parsed_rows(stream, layout, checked, run, progress, as_values=True)
                    counts = rows_apply_bulk(rows=rows, context=context, run=run)
                else:
                    counts = rows_apply(_parsed_rows(stream, layout, checked, run, progress), context, run)
                if record.rows_read == 0:
                    raise ImportFileError(_("The file has a header line but no rows to import."))
                if dry_run or (all_or_nothing and run.rejected_lines):
                    raise _Abort
        except _Abort:
            pass
        except Exception as error:
            record.status = ImportStatus.FAILED
            record.error = str(error)
            record.finished_at = timezone.now()
            record.rows_rejected = len(run.rejected_lines)
            record.save()
            raise
        record.rows_new, record.rows_updated, record.rows_merged = counts[NEW], counts[UPDATED], counts[MERGED]
        record.rows_rejected = len(run.rejected_lines)
        if dry_run:
            record.status = ImportStatus.PREVIEWED
        elif all_or_nothing and run.rejected_lines:
            record.status = ImportStatus.CANCELLED
        else:
            record.status = ImportStatus.DONE
        record.finished_at = timezone.now()
        record.save()
        _rejections_keep(record=record, rejects=rejects, out=rejects_out)
    return record


def _rejections_keep(
    *, record: ProfileImport, rejects: tempfile.SpooledTemporaryFile, out: io.TextIOBase | None
) -> None:
    rejects.seek(0)
    batch: list[ImportRejection] = []
    kept = 0
    if out is not None:
        csv.writer(out).writerow(["line", "column", "value", "reason"])
    for line, column, value, reason in csv.reader(rejects):
        if out is not None:
            csv.writer(out).writerow([line, column, value, reason])
        if kept < REJECTIONS_KEPT:
            batch.append(
                ImportRejection(
                    profile_import=record, line=int(line), column=column[:255], value=value[:255], reason=reason[:500]
                )
            )
            kept += 1
        if len(batch) >= REJECTION_BATCH:
            ImportRejection.objects.bulk_create(batch)
            batch = []
    ImportRejection.objects.bulk_create(batch)
    rejects.close()
