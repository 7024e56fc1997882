"""Reading a CRM export: encoding, delimiter and rows with their line numbers, streamed."""

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# Enough of the file to tell its encoding and delimiter apart.
SAMPLE_BYTES = 1 << 20
DELIMITERS = (";", ",", "\t", "|")


class ImportFileError(Exception):
    """The file as a whole cannot be imported; the message says why and what to do."""


ENCODING_LABELS = {"utf-8-sig": "UTF-8 (BOM)", "utf-8": "UTF-8", "cp1252": "Windows-1252", "utf-16": "UTF-16"}
DELIMITER_LABELS = {
    ";": gettext_lazy("semicolon (;)"),
    ",": gettext_lazy("comma (,)"),
    "\t": gettext_lazy("tab"),
    "|": gettext_lazy("vertical bar (|)"),
}


def encoding_label(encoding: str) -> str:
    return ENCODING_LABELS.get(encoding, encoding)


def delimiter_label(delimiter: str) -> str:
    return str(DELIMITER_LABELS.get(delimiter, delimiter))


@dataclass(frozen=True)
class CsvLayout:
    encoding: str
    delimiter: str
    header: tuple[str, ...]

    @property
    def encoding_label(self) -> str:
        return encoding_label(self.encoding)

    @property
    def delimiter_label(self) -> str:
        return delimiter_label(self.delimiter)


def _not_text() -> ImportFileError:
    return ImportFileError(
        _("This is not a CSV text file (it holds binary data): export the file from your CRM or Excel as CSV.")
    )


def _encoding_detect(sample: bytes, complete: bool) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in sample:
        raise _not_text()
    try:
        # A multi-byte character may be cut at the end of the sample.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    text = sample.decode("cp1252", errors="replace")
    controls = sum(1 for char in text if ord(char) < 32 and char not in "\r\n\t")
    if "\ufffd" in text or controls > len(text) / 100:
        raise _not_text()
    return "cp1252"


def _delimiter_detect(first_line: str) -> str:
    counts = {delimiter: first_line.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def csv_layout_detect(stream: BinaryIO) -> CsvLayout:
    """Encoding, delimiter and header of the file; the stream is left at its start."""
    start = stream.tell()
    sample = stream.read(SAMPLE_BYTES)
    complete = len(sample) < SAMPLE_BYTES
    stream.seek(start)
    if not sample.strip(b" \t\r\n" + codecs.BOM_UTF8):
        raise ImportFileError(_("The file is empty."))
    encoding = _encoding_detect(sample, complete)
    text = sample.decode(encoding, errors="replace")
    first_line = text.splitlines()[0] if text.splitlines() else ""
    delimiter = _delimiter_detect(first_line)
    header_row = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    header = tuple(cell.strip() for cell in header_row)
    if not any(header):
        raise ImportFileError(_("The first line must name the columns; it is empty."))
    empty = [str(position) for position, name in enumerate(header, start=1) if not name]
    if empty:
        raise ImportFileError(
            _("Every column needs a name on the first line; these columns have none (by position): %(columns)s.")
            % {"columns": ", ".join(empty)}
        )
    seen: set[str] = set()
    duplicates = sorted({name for name in header if name.casefold() in seen or seen.add(name.casefold())})
    if duplicates:
        raise ImportFileError(
            _("Two columns have the same name on the first line: %(columns)s.") % {"columns": ", ".join(duplicates)}
        )
    return CsvLayout(encoding=encoding, delimiter=delimiter, header=header)


class _DecodedLines:
    """Feeds csv.reader one decoded line at a time, counting physical lines.

    Lines are decoded one by one (but for UTF-16, whose line ends are two bytes),
    so a byte that is not valid in the file's encoding is reported on its own line.
    """

    def __init__(self, stream: BinaryIO, encoding: str) -> None:
        self.encoding = encoding
        self.lines = 0
        if encoding == "utf-16":
            self.source = io.TextIOWrapper(stream, encoding=encoding, newline="")
        else:
            self.source = stream
            self.decode = codecs.getdecoder(encoding)
            if encoding == "utf-8-sig":
                stream.read(len(codecs.BOM_UTF8))
                self.decode = codecs.getdecoder("utf-8")

    def __iter__(self) -> "_DecodedLines":
        return self

    def __next__(self) -> str:
        line = next(self.source)
        self.lines += 1
        if isinstance(line, str):
            return line
        return self.decode(line)[0]


def csv_rows(stream: BinaryIO, layout: CsvLayout) -> Iterator[tuple[int, tuple[str, ...]]]:
    """(line number, cells) for each data row, the header being line 1. Blank lines are skipped.

    Memory stays flat: the file is decoded and split as it is read.
    """
    lines = _DecodedLines(stream, layout.encoding)
    reader = csv.reader(lines, delimiter=layout.delimiter)
    try:
        next(reader)  # the header, read by csv_layout_detect
        while True:
            start = lines.lines + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise ImportFileError(
                    _("Line %(line)s cannot be read as CSV (%(error)s).") % {"line": start, "error": error}
                ) from None
            if not any(cell.strip() for cell in cells):
                continue
            yield start, tuple(cells)
    except UnicodeError:
        raise ImportFileError(
            _("Line %(line)s is not valid %(encoding)s text: save the file again as UTF-8 or Windows-1252.")
            % {"line": lines.lines, "encoding": layout.encoding_label}
        ) from None
