"""Checking one row of a CRM export: every value read, normalised, or refused with its column and reason."""

import contextlib
import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from profiles.models import CHANNEL_ADDRESS_KIND, ConsentStatus, IdentifierKind, Profile
from profiles.normalisation import (
    MAX_IDENTIFIER_LENGTH,
    known_identifier_kinds,
    normalise_identifier,
    phone_usual_normalise,
)

MAX_CELL_LENGTH = 10_000

_YES = {"oui", "o", "yes", "y", "1", "true", "vrai", "x", "opt-in", "optin", "opt in", "accepte", "granted", "ok"}
_NO = {
    "non",
    "n",
    "no",
    "0",
    "false",
    "faux",
    "opt-out",
    "optout",
    "opt out",
    "refuse",
    "withdrawn",
    "desabonne",
    "désabonné",
    "désinscrit",
    "desinscrit",
}

_COUNTRIES = {
    "france": "FR",
    "belgique": "BE",
    "belgium": "BE",
    "suisse": "CH",
    "switzerland": "CH",
    "luxembourg": "LU",
    "monaco": "MC",
    "canada": "CA",
    "allemagne": "DE",
    "germany": "DE",
    "espagne": "ES",
    "spain": "ES",
    "italie": "IT",
    "italy": "IT",
    "royaume-uni": "GB",
    "royaume uni": "GB",
    "united kingdom": "GB",
    "uk": "GB",
    "pays-bas": "NL",
    "pays bas": "NL",
    "netherlands": "NL",
    "portugal": "PT",
    "etats-unis": "US",
    "états-unis": "US",
    "united states": "US",
    "usa": "US",
    "maroc": "MA",
    "morocco": "MA",
    "algerie": "DZ",
    "algérie": "DZ",
    "tunisie": "TN",
    "tunisia": "TN",
}
_LANGUAGES = {
    "francais": "fr",
    "français": "fr",
    "french": "fr",
    "anglais": "en",
    "english": "en",
    "allemand": "de",
    "german": "de",
    "espagnol": "es",
    "spanish": "es",
    "italien": "it",
    "italian": "it",
    "neerlandais": "nl",
    "néerlandais": "nl",
    "dutch": "nl",
    "portugais": "pt",
    "portuguese": "pt",
}
_MAX_LENGTHS = {
    field.name: field.max_length for field in Profile._meta.concrete_fields if getattr(field, "max_length", None)
}
_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})")
_YMD = re.compile(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})")
_TIME = re.compile(r"(\d{1,2})[:hH](\d{2})(?::(\d{2}))?")


@dataclass(frozen=True)
class Rejection:
    line: int
    column: str
    value: str
    reason: str


@dataclass(frozen=True)
class ConsentCell:
    channel: str
    status: str
    address: str
    occurred_at: datetime.datetime | None
    column: str
    value: str


@dataclass
class ParsedRow:
    line: int
    identifiers: list[tuple[str, str]] = field(default_factory=list)
    identifier_columns: dict[str, str] = field(default_factory=dict)  # kind -> first column holding it
    fields: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, str] = field(default_factory=dict)
    consents: list[ConsentCell] = field(default_factory=list)


class CellError(ValueError):
    """A value that cannot be read; the message is the reason shown to the user."""


def _date_parts(text: str) -> tuple[datetime.date, str]:
    """A date written dd/mm/yyyy (also with - or .) or yyyy-mm-dd, and what follows it."""
    match = _YMD.match(text)
    if match:
        year, month, day = (int(part) for part in match.groups())
    else:
        match = _DMY.match(text)
        if not match:
            raise CellError(_("“%(value)s” is not a date: write it dd/mm/yyyy or yyyy-mm-dd.") % {"value": text})
        day, month, year = (int(part) for part in match.groups())
        if len(match.group(3)) != 4:
            raise CellError(_("“%(value)s”: write the year with four digits.") % {"value": text})
    try:
        return datetime.date(year, month, day), text[match.end() :].strip()
    except ValueError:
        raise CellError(_("“%(value)s” is not a date that exists.") % {"value": text}) from None


def parse_date(text: str) -> datetime.date:
    date, rest = _date_parts(text)
    # Excel writes "12/05/1980 00:00" for a date.
    if rest and not re.fullmatch(r"0{1,2}[:hH]00(?::00)?", rest):
        raise CellError(_("“%(value)s” is not a date: write it dd/mm/yyyy or yyyy-mm-dd.") % {"value": text})
    return date


def parse_datetime(text: str) -> datetime.datetime:
    """A date with an optional time; without a time zone, the platform's time zone."""
    with_zone = None
    with contextlib.suppress(ValueError):
        with_zone = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if with_zone is not None:
        value = with_zone
    else:
        date, rest = _date_parts(text)
        hour = minute = second = 0
        if rest:
            match = _TIME.fullmatch(rest)
            if not match:
                raise CellError(_("“%(value)s” is not a date and time: write it dd/mm/yyyy hh:mm.") % {"value": text})
            hour, minute, second = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
        try:
            value = datetime.datetime(date.year, date.month, date.day, hour, minute, second)
        except ValueError:
            raise CellError(_("“%(value)s” is not a time that exists.") % {"value": text}) from None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > timezone.now() + datetime.timedelta(days=1):
        raise CellError(_("“%(value)s” is in the future.") % {"value": text})
    return value


def _birth_date(text: str) -> datetime.date:
    value = parse_date(text)
    if value > timezone.localdate() or value.year < 1900:
        raise CellError(_("“%(value)s” is not a plausible birth date.") % {"value": text})
    return value


def _country(text: str) -> str:
    code = _COUNTRIES.get(text.lower(), text.upper())
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise CellError(_("“%(value)s” is not a country: use its two-letter code, such as FR.") % {"value": text})
    return code


def _language(text: str) -> str:
    code = _LANGUAGES.get(text.lower(), text.lower().replace("_", "-"))
    if not re.fullmatch(r"[a-z]{2}(-[a-z]{2})?", code):
        raise CellError(_("“%(value)s” is not a language: use its code, such as fr or en.") % {"value": text})
    return code.split("-")[0]


def _consent_status(text: str) -> str:
    value = text.lower()
    if value in _YES:
        return ConsentStatus.GRANTED
    if value in _NO:
        return ConsentStatus.WITHDRAWN
    raise CellError(_("“%(value)s” is not a yes or a no (oui / non, 1 / 0, x / empty).") % {"value": text})


def _field_value(name: str, text: str) -> Any:
    if name == "birth_date":
        return _birth_date(text)
    if name == "country":
        return _country(text)
    if name == "language":
        return _language(text)
    limit = _MAX_LENGTHS[name]
    if len(text) > limit:
        raise CellError(_("Longer than %(limit)s characters.") % {"limit": limit})
    return text


def row_parse(
    line: int, cells: Sequence[str], header: Sequence[str], mapping: Mapping[str, str]
) -> ParsedRow | list[Rejection]:
    """The row's values read and normalised, or every problem found in it."""
    row = ParsedRow(line=line)
    rejections: list[Rejection] = []
    consent_cells: list[tuple[str, str, str]] = []
    consent_dates: dict[str, tuple[str, str]] = {}
    if len(cells) > len(header) and any(cell.strip() for cell in cells[len(header) :]):
        rejections.append(
            Rejection(
                line,
                "—",
                "",
                _("The row has %(found)s cells but the first line names %(expected)s columns.")
                % {"found": len(cells), "expected": len(header)},
            )
        )
    texts = {column: raw.strip() for column, raw in zip(header, cells, strict=False)}
    identifier_refused = False
    for column, text in texts.items():
        target = mapping[column]
        if not text or target == "ignore":
            continue
        kind, _sep, name = target.partition(":")
        try:
            if len(text) > MAX_CELL_LENGTH:
                raise CellError(_("Longer than %(limit)s characters.") % {"limit": MAX_CELL_LENGTH})
            if kind == "identifier":
                try:
                    value = normalise_identifier(name, text)
                except ValidationError as error:
                    raise CellError(" ".join(error.messages)) from None
                if (name, value) not in row.identifiers:
                    row.identifiers.append((name, value))
                    row.identifier_columns.setdefault(name, column)
            elif kind == "field":
                row.fields[name] = _field_value(name, text)
            elif kind == "trait":
                row.traits[name] = text
            elif kind == "consent":
                consent_cells.append((name, _consent_status(text), column))
            elif kind == "consent_date":
                consent_dates[name] = (text, column)
        except CellError as error:
            rejections.append(Rejection(line, column, text, str(error)))
            identifier_refused = identifier_refused or kind == "identifier"
    if (
        row.fields.get("postcode", "").isdigit()
        and len(row.fields["postcode"]) == 4
        and row.fields.get("country", "FR") == "FR"
    ):
        row.fields["postcode"] = "0" + row.fields["postcode"]  # Excel drops the leading zero of 01000
    dates: dict[str, datetime.datetime] = {}
    for channel, (text, column) in consent_dates.items():
        try:
            dates[channel] = parse_datetime(text)
        except CellError as error:
            rejections.append(Rejection(line, column, text, str(error)))
    for channel, status, column in consent_cells:
        address = ""
        address_kind = CHANNEL_ADDRESS_KIND.get(channel)
        if address_kind is not None:
            address = next((value for kind, value in row.identifiers if kind == address_kind), "")
            if not address and status == ConsentStatus.GRANTED:
                rejections.append(
                    Rejection(
                        line,
                        column,
                        texts[column],
                        _("Consent is given but the row has no email address to send to.")
                        if address_kind == "email"
                        else _("Consent is given but the row has no phone number to send to."),
                    )
                )
                continue
        row.consents.append(ConsentCell(channel, status, address, dates.get(channel), column, texts[column]))
    if not row.identifiers and not identifier_refused:
        rejections.append(
            Rejection(line, "—", "", _("No identifier: the row has no email, phone, CRM id or anonymous id."))
        )
    return rejections or row


class _Unusual(Exception):
    """A cell the fast paths do not read: row_parse reads the whole row."""


_PLAIN_EMAIL = re.compile(
    r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
    r"\.[a-z]{2,63}"
)
_PLAIN_DATE = re.compile(r"(\d\d)/(\d\d)/(\d{4})(?: 00:00)?")  # Excel writes "12/05/1980 00:00" for a date
_PLAIN_DATETIME = re.compile(r"(\d\d)/(\d\d)/(\d{4})(?: (\d\d):(\d\d))?")
_CACHED_VALUES = 1_000  # distinct countries, languages or yes/no words remembered per file


# identifiers, identifier columns, fields, traits and consents (channel, status, address, date, column, cell)
RowValues = tuple[
    list[tuple[str, str]],
    dict[str, str],
    dict[str, Any],
    dict[str, str],
    list[tuple[str, str, str, datetime.datetime | None, str, str]],
]


class RowChecker:
    """``row_parse`` for one file, faster: the same result for every row.

    Built once per file from its header and mapping. The plain cells (a lower-case
    ASCII email, a phone in the usual shapes, dd/mm/yyyy dates, a country or a
    yes/no already seen in the file) are read by fast paths that give what
    row_parse gives; a row holding any other cell, or any problem, is read by
    row_parse itself, which stays the judge of every rejection.
    """

    def __init__(self, header: Sequence[str], mapping: Mapping[str, str]) -> None:
        self.header = tuple(header)
        self.mapping = dict(mapping)
        # Dates are checked against the start of the import; a date near that edge goes to row_parse,
        # which reads the clock again.
        self.today = timezone.localdate()
        self.latest = timezone.now() + datetime.timedelta(days=1)
        self.zone = timezone.get_current_timezone()
        self.phone_region = settings.CDP_DEFAULT_PHONE_REGION
        known_kinds = known_identifier_kinds()
        # One list per kind of target, each in the file's column order: (position, column, name, reader).
        self.plans: dict[str, list[tuple[int, str, str, Any]]] = {
            "identifier": [],
            "field": [],
            "trait": [],
            "consent": [],
            "consent_date": [],
        }
        for index, column in enumerate(self.header):
            target = self.mapping[column]
            if target == "ignore":
                continue
            kind, _sep, name = target.partition(":")
            read: Any = None
            if kind == "identifier":
                if name == IdentifierKind.EMAIL:
                    read = self._email
                elif name == IdentifierKind.PHONE:
                    read = self._phone
                elif name in known_kinds:
                    read = self._opaque
                else:
                    read = self._unusual
            elif kind == "field":
                if name == "birth_date":
                    read = self._birth_date
                elif name in ("country", "language"):
                    read = self._cached(_country if name == "country" else _language)
                else:
                    read = self._text(_MAX_LENGTHS[name])
            elif kind == "consent":
                read = self._cached(_consent_status)
            elif kind == "consent_date":
                read = self._datetime
            self.plans[kind].append((index, column, name, read))

    def __call__(self, line: int, cells: Sequence[str]) -> ParsedRow | list[Rejection]:
        values = self.read(line, cells)
        if isinstance(values, list):
            return values
        identifiers, identifier_columns, fields, traits, consents = values
        return ParsedRow(
            line, identifiers, identifier_columns, fields, traits, [ConsentCell(*cell) for cell in consents]
        )

    def read(self, line: int, cells: Sequence[str]) -> RowValues | list[Rejection]:
        """The row's values as plain lists and dicts (no ParsedRow), or every problem found in it."""
        if len(cells) == len(self.header):
            try:
                return self._read(cells)
            except _Unusual:
                pass
        parsed = row_parse(line, cells, self.header, self.mapping)
        if isinstance(parsed, list):
            return parsed
        consents = [
            (cell.channel, cell.status, cell.address, cell.occurred_at, cell.column, cell.value)
            for cell in parsed.consents
        ]
        return parsed.identifiers, parsed.identifier_columns, parsed.fields, parsed.traits, consents

    def _read(self, cells: Sequence[str]) -> RowValues:
        # The readers refuse (_Unusual) any cell longer than its target allows, so only
        # traits need row_parse's cell-length check here.
        plans = self.plans
        identifiers: list[tuple[str, str]] = []
        identifier_columns: dict[str, str] = {}
        for index, column, name, read in plans["identifier"]:
            text = cells[index].strip()
            if text:
                pair = (name, read(text))
                if pair not in identifiers:
                    identifiers.append(pair)
                    if name not in identifier_columns:
                        identifier_columns[name] = column
        if not identifiers:
            raise _Unusual
        fields: dict[str, Any] = {}
        for index, _column, name, read in plans["field"]:
            text = cells[index].strip()
            if text:
                fields[name] = read(text)
        traits: dict[str, str] = {}
        for index, _column, name, _read in plans["trait"]:
            text = cells[index].strip()
            if text:
                if len(text) > MAX_CELL_LENGTH:
                    raise _Unusual
                traits[name] = text
        dates: dict[str, datetime.datetime] = {}
        for index, _column, name, read in plans["consent_date"]:
            text = cells[index].strip()
            if text:
                dates[name] = read(text)
        postcode = fields.get("postcode", "")
        if len(postcode) == 4 and postcode.isdigit() and fields.get("country", "FR") == "FR":
            fields["postcode"] = "0" + postcode
        consents = []
        for index, column, channel, read in plans["consent"]:
            text = cells[index].strip()
            if not text:
                continue
            status = read(text)
            address = ""
            address_kind = CHANNEL_ADDRESS_KIND.get(channel)
            if address_kind is not None:
                address = next((value for kind, value in identifiers if kind == address_kind), "")
                if not address and status == ConsentStatus.GRANTED:
                    raise _Unusual
            consents.append((channel, status, address, dates.get(channel), column, text))
        return identifiers, identifier_columns, fields, traits, consents

    @staticmethod
    def _unusual(text: str) -> str:
        raise _Unusual

    @staticmethod
    def _email(text: str) -> str:
        value = text.lower()
        if len(value) > MAX_IDENTIFIER_LENGTH or not _PLAIN_EMAIL.fullmatch(value):
            raise _Unusual
        return value

    def _phone(self, text: str) -> str:
        if text.startswith("00"):
            text = "+" + text[2:]
        value = phone_usual_normalise(text, self.phone_region)
        if value is None:
            raise _Unusual
        return value

    @staticmethod
    def _opaque(text: str) -> str:
        if len(text) > MAX_IDENTIFIER_LENGTH:
            raise _Unusual
        return text

    @staticmethod
    def _text(limit: int) -> Any:
        def read(text: str) -> str:
            if len(text) > limit:
                raise _Unusual
            return text

        return read

    @staticmethod
    def _cached(parse: Any) -> Any:
        values: dict[str, Any] = {}

        def read(text: str) -> Any:
            value = values.get(text)
            if value is None:
                try:
                    value = parse(text)
                except CellError:
                    raise _Unusual from None
                if len(values) < _CACHED_VALUES:
                    values[text] = value
            return value

        return read

    def _birth_date(self, text: str) -> datetime.date:
        match = _PLAIN_DATE.fullmatch(text)
        if match is None:
            raise _Unusual
        day, month, year = match.groups()
        try:
            value = datetime.date(int(year), int(month), int(day))
        except ValueError:
            raise _Unusual from None
        if value > self.today or value.year < 1900:
            raise _Unusual
        return value

    def _datetime(self, text: str) -> datetime.datetime:
        match = _PLAIN_DATETIME.fullmatch(text)
        if match is None:
            raise _Unusual
        day, month, year, hour, minute = match.groups()
        try:
            value = datetime.datetime(
                int(year), int(month), int(day), int(hour or 0), int(minute or 0), tzinfo=self.zone
            )
        except ValueError:
            raise _Unusual from None
        if value > self.latest:
            raise _Unusual
        return value
