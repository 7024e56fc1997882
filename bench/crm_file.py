"""A CRM export as the CRM team sends it, for the import benchmark and its tests.

``crm_file_write`` writes what Excel saves from a French CRM: ``;``-delimited
Windows-1252, CRLF line ends, French column names, dates dd/mm/yyyy, phones
written the ways people write them (06 12 34 56 78, 06.12.34.56.78,
+33 6 12 34 56 78...), amounts with a decimal comma. Names, places, email
addresses and mobile numbers come from the demo data generator
(``profiles.demo``).

Planted in it, at random places:

- about 5 % of the rows repeat an earlier person: the same email in another case
  or with spaces around it, or the same phone (written another way) with an
  email added;
- about 2 % of the rows are bad, each for one reason: an invalid email, a date
  that does not exist, no identifier at all, or a phone that is not one.

Every other row is a new person, with identifiers no one else in the file has.
The file is the same for a given seed and number of rows, whatever the day it
is made (dates are drawn before ``REFERENCE_DATE``), and it is written as it is
generated: memory stays flat (a bit map of the identifiers used, a pool of
earlier people to repeat). No cell holds a line break, so a line is a row.

To write one by hand: ``python manage.py shell -c "from bench.crm_file import
crm_file_write; print(crm_file_write('crm.csv', rows=10_000))"``.
"""

import collections
import csv
import datetime
import hashlib
import io
import random
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from profiles.demo import _AGES, _COUNTRIES, COUNTRIES, Country, Weighted, _ascii_slug, _email, _names, _phone

HEADER = (
    "Code client",
    "Civilité",
    "Prénom",
    "Nom",
    "Courriel",
    "Téléphone",
    "Date de naissance",
    "Adresse",
    "CP",
    "Ville",
    "Pays",
    "Optin email",
    "Optin SMS",
    "Date optin",
    "Segment",
    "CA 12 mois",
)
ENCODING = "cp1252"
DELIMITER = ";"
LINE_END = "\r\n"
DUPLICATE_SHARE = 0.05
BAD_SHARE = 0.02
DUPLICATE_KINDS = ("email", "phone")  # same email in another case or spacing; same phone, an email added
BAD_KINDS = ("email", "date", "identifier", "phone")  # the reason the importer must give
REFERENCE_DATE = datetime.date(2026, 6, 30)  # the day of the export: every date in the file is before it
POOL_SIZE = 50_000  # earlier people a duplicate may repeat

_COUNTRY_NAMES = {"FR": "France", "BE": "Belgique", "CH": "Suisse"}
_FRANCE = next(country for country in COUNTRIES if country.code == "FR")
_STREET_TYPES = Weighted(
    (("rue", 55), ("avenue", 14), ("boulevard", 8), ("allée", 6), ("place", 5), ("impasse", 5), ("chemin", 5))
)
_STREET_NAMES = (
    "de la République",
    "Victor Hugo",
    "Jean Jaurès",
    "du Général de Gaulle",
    "Pasteur",
    "de la Gare",
    "des Écoles",
    "Gambetta",
    "du Château",
    "des Lilas",
    "Émile Zola",
    "de Verdun",
    "Saint-Exupéry",
    "des Acacias",
    "Jules Ferry",
    "de l'Église",
    "du Moulin",
    "Voltaire",
    "de la Paix",
    "Anatole France",
    "du Maréchal Foch",
    "Carnot",
    "de Strasbourg",
    "Sainte-Catherine",
    "du Port",
    "des Tilleuls",
)
_COMPLEMENTS = ("Bât. B", "Appt 12", "Résidence Les Tilleuls", "3e étage", "Escalier C", "Lieu-dit Les Côtes")
_SEGMENTS = Weighted((("Prospect", 30), ("Client", 40), ("Client fidèle", 15), ("VIP", 4), ("Inactif", 8), ("", 3)))
_YES = Weighted((("Oui", 80), ("OUI", 5), ("1", 10), ("X", 5)))
_NO = Weighted((("Non", 85), ("NON", 5), ("0", 10)))
_FRENCH_PHONE_STYLES = Weighted(
    (("spaces", 45), ("dots", 15), ("digits", 20), ("international", 12), ("e164", 5), ("double_zero", 3))
)
_IMPOSSIBLE_DATES = (
    "31/02/{year}",
    "30/02/{year}",
    "31/04/{year}",
    "31/06/{year}",
    "31/09/{year}",
    "31/11/{year}",
    "{day:02d}/13/{year}",
    "00/{month:02d}/{year}",
)


@dataclass
class CrmFileSummary:
    """What a generated file holds, as planted: what the importer should find."""

    rows: int = 0
    people: int = 0  # new people among the valid rows: the profiles the file should give
    duplicates: collections.Counter = field(default_factory=collections.Counter)  # by DUPLICATE_KINDS
    bad: collections.Counter = field(default_factory=collections.Counter)  # by BAD_KINDS
    bytes: int = 0
    seconds: float = 0.0

    @property
    def duplicate_rows(self) -> int:
        return sum(self.duplicates.values())

    @property
    def bad_rows(self) -> int:
        return sum(self.bad.values())


@dataclass(slots=True)
class _Person:
    """One person of the file, as first written; what ``profiles.demo._email`` reads, and what a duplicate repeats."""

    country: Country
    first_name: str
    last_name: str
    female: bool
    birth_date: datetime.date | None
    code: str = ""
    email: str = ""
    phone: str = ""  # E.164
    address: str = ""
    postcode: str = ""
    city: str = ""
    segment: str = ""
    revenue: str = ""


class _UsedValues:
    """Which emails and phones are taken, in a fixed-size bit map (a Bloom filter) with a stable hash.

    A "maybe taken" answer gives the person another value, so values are
    unique; the hash is not salted per process, so the file is the same from
    run to run.
    """

    HASHES = 4

    def __init__(self, expected: int) -> None:
        self.size = max(1 << 16, expected * 10)
        self.bits = bytearray(self.size // 8 + 1)

    def _positions(self, value: str) -> list[int]:
        digest = int.from_bytes(hashlib.blake2b(value.encode(), digest_size=16).digest(), "little")
        low, high = digest & 0xFFFF_FFFF_FFFF, (digest >> 64) | 1
        return [(low + number * high) % self.size for number in range(self.HASHES)]

    def add_if_new(self, value: str) -> bool:
        positions = self._positions(value)
        bits = self.bits
        if all(bits[position >> 3] & (1 << (position & 7)) for position in positions):
            return False
        for position in positions:
            bits[position >> 3] |= 1 << (position & 7)
        return True


class _Pool:
    """The last POOL_SIZE people of a kind, to draw an earlier person from (a ring: memory stays flat)."""

    def __init__(self) -> None:
        self.people: list[_Person] = []
        self.next = 0

    def add(self, person: _Person) -> None:
        if len(self.people) < POOL_SIZE:
            self.people.append(person)
        else:
            self.people[self.next] = person
            self.next = (self.next + 1) % POOL_SIZE

    def pick(self, rng: random.Random) -> _Person | None:
        return self.people[int(rng.random() * len(self.people))] if self.people else None


def _french_date(date: datetime.date) -> str:
    return f"{date.day:02d}/{date.month:02d}/{date.year}"


def _without_accents(text: str) -> str:
    return "".join(char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char))


def phone_written(rng: random.Random, e164: str) -> str:
    """A phone as people type it: French numbers in the national styles mostly, others international."""
    code, national = (e164[1:3], e164[3:])  # +33 612345678; Belgian and Swiss codes have two digits too
    if code != "33":
        groups = (
            f"{national[:3]} {national[3:5]} {national[5:7]} {national[7:]}"
            if code == "32"
            else f"{national[:2]} {national[2:5]} {national[5:7]} {national[7:]}"
        )
        return f"00{code} {groups}" if rng.random() < 0.15 else f"+{code} {groups}"
    digits = "0" + national
    pairs = [digits[start : start + 2] for start in range(0, 10, 2)]
    style = _FRENCH_PHONE_STYLES.pick(rng)
    if style == "spaces":
        return " ".join(pairs)
    if style == "dots":
        return ".".join(pairs)
    if style == "digits":
        return digits
    if style == "international":
        return f"+33 {national[0]} " + " ".join(national[start : start + 2] for start in range(1, 9, 2))
    if style == "e164":
        return e164
    return f"0033 {national[0]} " + " ".join(national[start : start + 2] for start in range(1, 9, 2))


def _email_respelled(rng: random.Random, email: str) -> str:
    """The same address as another person typed it: other case, spaces around; never the same text."""
    draw = rng.random()
    if draw < 0.35:
        text = email.upper()
    elif draw < 0.7:
        local, _at, domain = email.partition("@")
        text = ".".join(part.capitalize() for part in local.split(".")) + "@" + domain.capitalize()
    else:
        text = email.capitalize() if rng.random() < 0.5 else email
    if text == email or rng.random() < 0.4:
        text = " " * (1 + int(rng.random() * 2)) + text + " " * int(rng.random() * 2)
    return text


def _amount(rng: random.Random, segment: str) -> str:
    """Revenue over 12 months as Excel writes it in French: 1 234,56 (a no-break space between thousands)."""
    if segment in ("Prospect", "Inactif", ""):
        return "0,00"
    cents = int(rng.lognormvariate(4.8, 1.0) * 100 * (3 if segment == "VIP" else 1))
    euros, rest = divmod(cents, 100)
    text = f"{euros:,}".replace(",", "\xa0" if rng.random() < 0.5 else "")
    return f"{text},{rest:02d}"


class _Generator:
    def __init__(self, *, rows: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.used = _UsedValues(expected=rows * 2)
        self.with_email = _Pool()
        self.phone_only = _Pool()
        self.code = 100_000
        self.female_names, self.male_names, self.last_names = _names()

    # People

    def _unique_email(self, person: _Person) -> str:
        email = _email(self.rng, person)
        attempt = 0
        while not self.used.add_if_new(email):
            attempt += 1
            email = _email(self.rng, person, digits=1 + attempt)
        return email

    def _unique_phone(self, country: Country) -> str:
        phone = _phone(self.rng, country)
        while not self.used.add_if_new(phone):
            phone = _phone(self.rng, country)
        return phone

    def person_new(self, *, unique: bool = True) -> _Person:
        """A new person; ``unique`` reserves their email and phone (a bad row's need not be)."""
        rng = self.rng
        country = _COUNTRIES.pick(rng)
        female = rng.random() < 0.54
        first_names = self.female_names if female else self.male_names
        birth_date = None
        if rng.random() < 0.85:
            youngest, oldest = _AGES.pick(rng)
            age_days = int((youngest + rng.random() * (oldest - youngest + 1)) * 365.25)
            birth_date = REFERENCE_DATE - datetime.timedelta(days=age_days)
        person = _Person(
            country=country,
            first_name=first_names[int(rng.random() * len(first_names))],
            last_name=self.last_names.pick(rng),
            female=female,
            birth_date=birth_date,
        )
        self.code += 1 + int(rng.random() * 3)
        if rng.random() < 0.88:
            person.code = f"CLI-{self.code:07d}"
        has_email = rng.random() < 0.85
        has_phone = rng.random() < 0.55 or not (has_email or person.code)
        if has_email:
            person.email = self._unique_email(person) if unique else _email(rng, person)
        if has_phone:
            person.phone = self._unique_phone(country) if unique else _phone(rng, country)
        city = country.city_picker.pick(rng)
        person.city = city.name
        person.postcode = city.postcodes[int(rng.random() * len(city.postcodes))]
        if rng.random() < 0.93:
            person.address = self._address()
        person.segment = _SEGMENTS.pick(rng)
        person.revenue = _amount(rng, person.segment)
        return person

    def _address(self) -> str:
        rng = self.rng
        number = str(1 + int(rng.expovariate(1 / 25)))
        if rng.random() < 0.04:
            number += " bis" if rng.random() < 0.7 else " ter"
        street = f"{number} {_STREET_TYPES.pick(rng)} {_STREET_NAMES[int(rng.random() * len(_STREET_NAMES))]}"
        draw = rng.random()
        if draw < 0.07:
            return f"{_COMPLEMENTS[int(rng.random() * len(_COMPLEMENTS))]}, {street}"
        if draw < 0.08:  # a semicolon in a cell: Excel quotes it
            return f"{street}; {_COMPLEMENTS[int(rng.random() * len(_COMPLEMENTS))]}"
        return street

    # Rows

    def _consents(self, person: _Person, email_text: str, phone_text: str) -> tuple[str, str, str]:
        rng = self.rng
        optin_email = optin_sms = optin_date = ""
        if email_text:
            draw = rng.random()
            optin_email = _YES.pick(rng) if draw < 0.45 else _NO.pick(rng) if draw < 0.8 else ""
        if phone_text:
            draw = rng.random()
            optin_sms = _YES.pick(rng) if draw < 0.25 else _NO.pick(rng) if draw < 0.75 else ""
        elif rng.random() < 0.3:
            optin_sms = "Non"  # the CRM's default for everyone: a "no" without a number
        if optin_email and optin_email in _YES.values and rng.random() < 0.8:
            day = REFERENCE_DATE - datetime.timedelta(days=1 + int(rng.random() * 3650))
            optin_date = _french_date(day)
            if rng.random() < 0.3:
                optin_date += f" {int(rng.random() * 24):02d}:{int(rng.random() * 60):02d}"
        return optin_email, optin_sms, optin_date

    def row(self, person: _Person, *, email: str, phone: str, code: str, first_name: str, last_name: str) -> list:
        rng = self.rng
        civility = ""
        if rng.random() < 0.95:
            if person.female:
                civility = "Mlle" if rng.random() < 0.03 else "Madame" if rng.random() < 0.1 else "Mme"
            else:
                civility = "Monsieur" if rng.random() < 0.1 else "M."
        birth = ""
        if person.birth_date is not None:
            birth = _french_date(person.birth_date)
            if rng.random() < 0.03:
                birth += " 00:00"  # Excel's date and time cell
        postcode, country_name = person.postcode, _COUNTRY_NAMES[person.country.code]
        if country_name == "France":
            if postcode.startswith("0") and rng.random() < 0.5:
                postcode = postcode[1:]  # Excel read it as a number
            if rng.random() < 0.1:
                country_name = ""
        optin_email, optin_sms, optin_date = self._consents(person, email, phone)
        return [
            code,
            civility,
            first_name,
            last_name,
            email,
            phone,
            birth,
            person.address,
            postcode,
            person.city,
            country_name,
            optin_email,
            optin_sms,
            optin_date,
            person.segment,
            person.revenue,
        ]

    def _spelled(self, person: _Person) -> tuple[str, str]:
        last_name = person.last_name.upper() if self.rng.random() < 0.25 else person.last_name
        return person.first_name, last_name

    def new_row(self) -> list:
        person = self.person_new()
        if person.email:
            self.with_email.add(person)
        elif person.phone:
            self.phone_only.add(person)
        email = person.email.capitalize() if self.rng.random() < 0.05 else person.email
        phone = phone_written(self.rng, person.phone) if person.phone else ""
        first_name, last_name = self._spelled(person)
        return self.row(person, email=email, phone=phone, code=person.code, first_name=first_name, last_name=last_name)

    def duplicate_row(self, kind: str) -> list | None:
        """An earlier person again, never with another customer code (that would be someone else)."""
        rng = self.rng
        person = (self.with_email if kind == "email" else self.phone_only).pick(rng)
        if person is None:
            return None
        code = person.code if rng.random() < 0.5 else ""
        first_name, last_name = self._spelled(person)
        if rng.random() < 0.2:
            first_name, last_name = _without_accents(first_name), _without_accents(last_name)
        if kind == "email":
            email = _email_respelled(rng, person.email)
            phone = phone_written(rng, person.phone) if person.phone and rng.random() < 0.5 else ""
        else:  # the same phone, and now an email
            email = self._unique_email(person)
            phone = phone_written(rng, person.phone)
        return self.row(person, email=email, phone=phone, code=code, first_name=first_name, last_name=last_name)

    def bad_row(self, kind: str) -> list:
        rng = self.rng
        person = self.person_new(unique=False)
        if kind == "identifier":
            person.code = person.email = person.phone = ""
        elif kind == "email" and not person.email:
            person.email = _email(rng, person)
        elif kind == "date":
            person.birth_date = None
        first_name, last_name = self._spelled(person)
        email, phone = person.email, phone_written(rng, person.phone) if person.phone else ""
        if kind == "email":
            local, _at, domain = email.partition("@")
            email = (
                f"{local}@{domain.rpartition('.')[0]}",
                f"{local}.{domain}",
                f"{local}@@{domain}",
                f"{_ascii_slug(person.first_name)} {_ascii_slug(person.last_name)}@{domain}",
            )[int(rng.random() * 4)]
        elif kind == "phone":  # a French mobile number mistyped
            digits = "0" + _phone(rng, _FRANCE)[3:]
            phone = (
                " ".join(digits[start : start + 2] for start in range(0, 8, 2)),
                digits[:-1],
                digits + str(int(rng.random() * 10)),
                "n/c",
            )[int(rng.random() * 4)]
        cells = self.row(person, email=email, phone=phone, code=person.code, first_name=first_name, last_name=last_name)
        if kind == "date":
            year = 1940 + int(rng.random() * 60)
            pattern = _IMPOSSIBLE_DATES[int(rng.random() * len(_IMPOSSIBLE_DATES))]
            cells[HEADER.index("Date de naissance")] = pattern.format(
                year=year, day=1 + int(rng.random() * 28), month=1 + int(rng.random() * 12)
            )
        return cells


def crm_file_write(target: str | Path | BinaryIO, *, rows: int, seed: int = 42) -> CrmFileSummary:
    """Write a CRM export of ``rows`` data rows (plus the header) to a path or a binary stream (left open)."""
    started = time.perf_counter()
    summary = CrmFileSummary()
    generator = _Generator(rows=rows, seed=seed)
    rng = generator.rng
    own = isinstance(target, str | Path)
    raw = open(target, "wb") if own else target  # noqa: SIM115 (closed below, the caller's stream is not)
    first_byte = raw.tell()
    text = io.TextIOWrapper(raw, encoding=ENCODING, newline="", errors="strict")
    try:
        writer = csv.writer(text, delimiter=DELIMITER, lineterminator=LINE_END)
        writer.writerow(HEADER)
        for _number in range(rows):
            draw = rng.random()
            cells = None
            if draw < DUPLICATE_SHARE:
                kind = "email" if rng.random() < 0.6 else "phone"
                cells = generator.duplicate_row(kind)
                if cells is not None:
                    summary.duplicates[kind] += 1
            elif draw < DUPLICATE_SHARE + BAD_SHARE:
                kind = BAD_KINDS[int(rng.random() * len(BAD_KINDS))]
                cells = generator.bad_row(kind)
                summary.bad[kind] += 1
            if cells is None:  # a new person (also a duplicate drawn before anyone could be repeated)
                cells = generator.new_row()
                summary.people += 1
            writer.writerow(cells)
            summary.rows += 1
        text.flush()
        summary.bytes = raw.tell() - first_byte
    finally:
        text.detach()
        if own:
            raw.close()
    summary.seconds = time.perf_counter() - started
    return summary


def crm_file_head(source: str | Path, destination: str | Path, *, rows: int) -> int:
    """Copy the header and the first ``rows`` rows of a generated file (a line is a row); the rows copied."""
    copied = 0
    with open(source, "rb") as reader, open(destination, "wb") as writer:
        writer.write(reader.readline())
        for line in reader:
            if copied == rows:
                break
            writer.write(line)
            copied += 1
    return copied
