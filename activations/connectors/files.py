"""The CSV file written by the file connectors (SFTP drop, file to download): one writer for both.

A file holds the whole run, up to millions of rows, so it is written row by row
into the output in small encoded chunks: memory stays flat whatever the size of
the run, and the output can be a local file or a remote SFTP file alike.
"""

import codecs
import csv
import datetime
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from typing import Any, BinaryIO

from django.utils.translation import gettext

from activations.connectors import ConnectorError, Recipient

DEFAULT_COLUMNS = ("profile_id", "email", "first_name", "last_name", "city")
DELIMITERS = (",", ";", "\t", "|")
# Codec names as Python normalises them: "windows-1252" and "cp1252" are one encoding.
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252")
# Rows encoded and written at a time: large enough to keep the per-write cost low, small enough to stay flat.
ROWS_PER_CHUNK = 2000

# Columns read from the Recipient itself rather than from its fields. "email", "phone" and "address"
# are the address the run gave for this delivery (the consented one): never an address from the
# profile's fields, which the consent gate did not check.
RECIPIENT_COLUMNS: dict[str, Callable[[Recipient], Any]] = {
    "profile_id": lambda recipient: recipient.profile_id,
    "profile_uuid": lambda recipient: recipient.profile_uuid,
    "delivery_key": lambda recipient: recipient.idempotency_key,
    "email": lambda recipient: recipient.address,
    "phone": lambda recipient: recipient.address,
    "address": lambda recipient: recipient.address,
}


@dataclass(frozen=True)
class FileFormat:
    """What the partner expects in the file: which columns, in which order, with which delimiter and encoding."""

    columns: tuple[str, ...] = DEFAULT_COLUMNS
    delimiter: str = ","
    encoding: str = "utf-8"
    header: bool = True

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> "FileFormat":
        """Read the destination's settings; a wrong value raises ConnectorError naming the setting."""
        columns = settings.get("columns") or DEFAULT_COLUMNS
        if isinstance(columns, str) or not all(isinstance(column, str) and column.strip() for column in columns):
            raise ConnectorError(gettext('“columns” must be a list of field names, for example ["email", "city"].'))
        delimiter = settings.get("delimiter") or ","
        if delimiter not in DELIMITERS:
            raise ConnectorError(
                gettext("Unsupported delimiter %(delimiter)r: use one of %(choices)s.")
                % {"delimiter": delimiter, "choices": " ".join(repr(choice) for choice in DELIMITERS)}
            )
        encoding = settings.get("encoding") or "utf-8"
        try:
            codec = codecs.lookup(encoding).name
        except (LookupError, TypeError):
            codec = None
        if codec not in ENCODINGS:
            raise ConnectorError(
                gettext("Unsupported encoding %(encoding)r: use one of %(choices)s.")
                % {"encoding": encoding, "choices": ", ".join(ENCODINGS)}
            )
        return cls(
            columns=tuple(column.strip() for column in columns),
            delimiter=delimiter,
            encoding=codec,
            header=bool(settings.get("header", True)),
        )


def _text(value: Any) -> Any:
    """A cell's text: the csv module writes str, int and None ("") as they are; the rest needs a choice."""
    if value is None or type(value) in (str, int):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (float, Decimal)):
        return str(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _column_reader(column: str) -> Callable[[Recipient], Any]:
    """How to read one column: from the Recipient itself, else from its fields (profile fields and traits)."""
    if column in RECIPIENT_COLUMNS:
        return RECIPIENT_COLUMNS[column]
    return lambda recipient: _text(recipient.fields.get(column))


def csv_write(*, recipients: Iterable[Recipient], file_format: FileFormat, output: BinaryIO) -> int:
    """Write the recipients as CSV into a binary output and return the number of bytes written.

    Characters the encoding cannot hold (an emoji in Windows-1252) become "?"
    rather than failing the whole file. A UTF-8 BOM ("utf-8-sig") is written once,
    at the start, because the encoder is incremental.
    """
    encoder = codecs.getincrementalencoder(file_format.encoding)(errors="replace")
    text = io.StringIO()
    writer = csv.writer(text, delimiter=file_format.delimiter, lineterminator="\r\n")
    readers = [_column_reader(column) for column in file_format.columns]
    written = 0

    def flush(final: bool = False) -> None:
        nonlocal written
        data = encoder.encode(text.getvalue(), final)
        text.seek(0)
        text.truncate()
        if data:
            output.write(data)
            written += len(data)

    if file_format.header:
        writer.writerow(file_format.columns)
    rows = iter(recipients)
    while chunk := list(islice(rows, ROWS_PER_CHUNK)):
        writer.writerows([[read(recipient) for read in readers] for recipient in chunk])
        flush()
    flush(final=True)
    return written
