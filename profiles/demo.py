"""Demo data: realistic French customers, their identifiers, consents and events.

``demo_data_generate`` fills an instance for a demonstration (``make run``), the
benchmarks (``make bench``) and tests, from a few hundred profiles to millions.

Everything comes from one seed. Each person draws from their own random
generator, seeded with the run's seed and their rank, so a person is the same
whatever the batch size. How a person behaves is a ``Persona``, made by a
persona factory from that generator: a later generator plants known signals (a
favourite hour, a propensity to buy) by passing its own factory, usually one
that calls ``persona_default`` and changes a few fields.

Rows are written in batches, each in its own transaction, so memory stays flat:
PostgreSQL through COPY, any other database with executemany INSERTs. Both
write the timestamps themselves (``created_at``, ``recorded_at``,
``received_at``): the history is in the past, and ``auto_now_add`` would stamp
it with now.

Email addresses use the reserved ``.example`` top-level domain, so no demo
message can ever reach a real mailbox; phone numbers are valid mobile numbers.
"""

import bisect
import collections
import datetime
import functools
import itertools
import json
import math
import queue
import random
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone

from profiles.models import (
    Channel,
    ConsentRecord,
    ConsentState,
    ConsentStatus,
    Event,
    EventType,
    Identifier,
    IdentifierKind,
    LegalBasis,
    Profile,
)
from profiles.services import consent_state_fold

DEMO_SOURCE = "demo"


class Weighted:
    """Draws from fixed weights with one random number (``rng.choices`` sums the weights on every call)."""

    __slots__ = ("values", "cumulative", "total")

    def __init__(self, pairs: Iterable[tuple[Any, float]]) -> None:
        values, weights = zip(*pairs, strict=True)
        self.values = values
        self.cumulative = list(itertools.accumulate(weights))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random) -> Any:
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


def _between(rng: random.Random, lowest: int, highest: int) -> int:
    """Like ``rng.randint`` (both ends included), at a fraction of its cost."""
    return lowest + int(rng.random() * (highest - lowest + 1))


# ---------------------------------------------------------------------------
# Reference data: places, names, the shop's catalogue


@dataclass(frozen=True)
class City:
    name: str
    postcodes: tuple[str, ...]
    population: int  # the weight of the city when drawing where a person lives


def _postcodes(first: int, last: int) -> tuple[str, ...]:
    return tuple(f"{code:05d}" for code in range(first, last + 1))


# The largest French cities (INSEE municipal populations, rounded) and their postcodes.
FRENCH_CITIES: tuple[City, ...] = (
    City("Paris", _postcodes(75001, 75020), 2_133_000),
    City("Marseille", _postcodes(13001, 13016), 873_000),
    City("Lyon", _postcodes(69001, 69009), 522_000),
    City("Toulouse", ("31000", "31100", "31200", "31300", "31400", "31500"), 504_000),
    City("Nice", ("06000", "06100", "06200", "06300"), 348_000),
    City("Nantes", ("44000", "44100", "44200", "44300"), 321_000),
    City("Montpellier", ("34000", "34070", "34080", "34090"), 302_000),
    City("Strasbourg", ("67000", "67100", "67200"), 291_000),
    City("Bordeaux", ("33000", "33100", "33200", "33300", "33800"), 262_000),
    City("Lille", ("59000", "59160", "59260", "59777", "59800"), 237_000),
    City("Rennes", ("35000", "35200", "35700"), 225_000),
    City("Toulon", ("83000", "83100", "83200"), 181_000),
    City("Reims", ("51100",), 180_000),
    City("Saint-Étienne", ("42000", "42100"), 174_000),
    City("Le Havre", ("76600", "76610", "76620"), 166_000),
    City("Dijon", ("21000",), 159_000),
    City("Angers", ("49000", "49100"), 157_000),
    City("Villeurbanne", ("69100",), 157_000),
    City("Grenoble", ("38000", "38100"), 156_000),
    City("Nîmes", ("30000", "30900"), 148_000),
    City("Aix-en-Provence", ("13080", "13090", "13100", "13290", "13540"), 147_000),
    City("Clermont-Ferrand", ("63000", "63100"), 147_000),
    City("Le Mans", ("72000", "72100"), 145_000),
    City("Brest", ("29200",), 140_000),
    City("Tours", ("37000", "37100", "37200"), 136_000),
    City("Amiens", ("80000", "80080", "80090"), 134_000),
    City("Annecy", ("74000",), 131_000),
    City("Limoges", ("87000", "87100", "87280"), 130_000),
    City("Boulogne-Billancourt", ("92100",), 122_000),
    City("Metz", ("57000", "57050", "57070"), 121_000),
    City("Perpignan", ("66000", "66100"), 120_000),
    City("Besançon", ("25000",), 119_000),
    City("Orléans", ("45000", "45100"), 117_000),
    City("Saint-Denis", ("93200", "93210"), 114_000),
    City("Rouen", ("76000", "76100"), 114_000),
    City("Argenteuil", ("95100",), 111_000),
    City("Montreuil", ("93100",), 111_000),
    City("Caen", ("14000",), 108_000),
    City("Mulhouse", ("68100", "68200"), 105_000),
    City("Nancy", ("54000", "54100"), 105_000),
    City("Roubaix", ("59100",), 99_000),
    City("Avignon", ("84000",), 91_000),
    City("La Rochelle", ("17000",), 77_000),
    City("Pau", ("64000",), 75_000),
    City("Ajaccio", ("20000", "20090"), 73_000),
)
BELGIAN_CITIES: tuple[City, ...] = (
    City("Bruxelles", ("1000",), 196_000),
    City("Charleroi", ("6000",), 203_000),
    City("Liège", ("4000",), 197_000),
    City("Namur", ("5000",), 113_000),
    City("Mons", ("7000",), 96_000),
)
SWISS_CITIES: tuple[City, ...] = (
    City("Genève", ("1201", "1202", "1203", "1204", "1205", "1206", "1207", "1208", "1209"), 203_000),
    City("Lausanne", ("1003", "1004", "1005", "1006", "1007", "1010", "1012", "1018"), 140_000),
    City("Neuchâtel", ("2000",), 45_000),
    City("Fribourg", ("1700",), 38_000),
    City("Sion", ("1950",), 35_000),
)


@dataclass(frozen=True)
class Country:
    code: str
    weight: int
    cities: tuple[City, ...]
    languages: tuple[tuple[str, int], ...]
    # National mobile numbers: E.164 country code and first digits of the national number.
    calling_code: str
    mobile_starts: tuple[str, ...]
    email_domains: tuple[tuple[str, int], ...]

    @functools.cached_property
    def city_picker(self) -> Weighted:
        return Weighted((city, city.population) for city in self.cities)

    @functools.cached_property
    def language_picker(self) -> Weighted:
        return Weighted(self.languages)

    @functools.cached_property
    def email_domain_picker(self) -> Weighted:
        return Weighted(self.email_domains)


# Mailbox providers by their French, Belgian and Swiss market shares, under the
# reserved .example top-level domain (RFC 2606): realistic, never deliverable.
_FRENCH_DOMAINS = (
    ("gmail.example", 34),
    ("orange.example", 15),
    ("hotmail.example", 11),
    ("free.example", 8),
    ("yahoo.example", 6),
    ("laposte.example", 5),
    ("sfr.example", 5),
    ("outlook.example", 5),
    ("wanadoo.example", 4),
    ("icloud.example", 4),
    ("live.example", 3),
)
COUNTRIES: tuple[Country, ...] = (
    Country("FR", 92, FRENCH_CITIES, (("fr", 97), ("en", 3)), "33", ("6", "7"), _FRENCH_DOMAINS),
    Country(
        "BE",
        5,
        BELGIAN_CITIES,
        (("fr", 80), ("nl", 20)),
        "32",
        ("4",),
        (("gmail.example", 40), ("skynet.example", 20), ("telenet.example", 20), ("hotmail.example", 20)),
    ),
    Country(
        "CH",
        3,
        SWISS_CITIES,
        (("fr", 85), ("de", 15)),
        "41",
        ("7",),
        (("gmail.example", 40), ("bluewin.example", 35), ("hotmail.example", 25)),
    ),
)
_COMPANY_DOMAINS = (
    "cabinet-durand.example",
    "groupe-atlantique.example",
    "mairie.example",
    "clinique-du-parc.example",
    "atelier-lumiere.example",
    "transports-rhone.example",
)


@functools.cache
def _names() -> tuple[tuple[str, ...], tuple[str, ...], Weighted]:
    """Faker's French first and last names, read once; last names weighted by their rank (Martin first)."""
    from faker.providers.person.fr_FR import Provider

    last_names = Weighted((name, 1 / (rank + 8)) for rank, name in enumerate(Provider.last_names))
    return tuple(Provider.first_names_female), tuple(Provider.first_names_male), last_names


@functools.cache
def _mobile_prefixes(calling_code: str, starts: tuple[str, ...]) -> tuple[str, ...]:
    """Three-digit national prefixes that phonenumbers accepts as mobile numbers (06 39, 07 0x... are not)."""
    prefixes = []
    for start in starts:
        for rest in range(100):
            prefix = f"{start}{rest:02d}"
            digits = 9 - len(prefix)
            numbers = [phonenumbers.parse(f"+{calling_code}{prefix}{sample * digits}") for sample in "059"]
            if all(
                phonenumbers.is_valid_number(number)
                and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
                for number in numbers
            ):
                prefixes.append(prefix)
    return tuple(prefixes)


# The shop: a clothing and accessories brand. Price ranges per category, in euros.
CATEGORIES: dict[str, tuple[int, int]] = {
    "shoes": (39, 189),
    "bags": (29, 349),
    "dresses": (35, 159),
    "tops": (15, 59),
    "trousers": (29, 99),
    "coats": (69, 299),
    "accessories": (9, 49),
    "jewellery": (15, 129),
}
PRODUCTS_PER_CATEGORY = 120
PAGE_PATHS: tuple[tuple[str, int], ...] = (
    ("/", 30),
    ("/nouveautes", 12),
    ("/soldes", 10),
    ("/femme", 12),
    ("/homme", 6),
    ("/magasins", 4),
    ("/compte", 5),
    ("/panier", 6),
    *((f"/c/{category}", 2) for category in CATEGORIES),
)
DEVICES: tuple[tuple[str, int], ...] = (("mobile", 60), ("desktop", 32), ("tablet", 8))


@dataclass(frozen=True)
class Product:
    id: str
    category: str
    price: Decimal
    view_properties: str  # the JSON of a product_view, written once
    cart_properties: str  # the JSON of an add_to_cart


@functools.cache
def catalogue() -> dict[str, tuple[Product, ...]]:
    """The products of each category, most popular first; the same for every seed."""
    rng = random.Random(0)
    products: dict[str, tuple[Product, ...]] = {}
    for category, (lowest, highest) in CATEGORIES.items():
        items = []
        for number in range(PRODUCTS_PER_CATEGORY):
            product_id = f"SKU-{category[:3].upper()}-{number + 1:04d}"
            price = Decimal(f"{rng.randint(lowest, highest)}.{rng.choice(('00', '90', '99', '50'))}")
            properties = {"category": category, "product_id": product_id, "price": float(price)}
            items.append(
                Product(
                    product_id,
                    category,
                    price,
                    json.dumps(properties),
                    json.dumps({**properties, "quantity": 1}),
                )
            )
        products[category] = tuple(items)
    return products


# ---------------------------------------------------------------------------
# Personas: how a person behaves. The only input of the event generator.

# Relative activity per local hour (0h..23h) and per weekday (Monday..Sunday).
HOURS_EVENING = (
    0.5, 0.3, 0.2, 0.1, 0.1, 0.2, 0.5, 1.0, 1.5, 1.9, 2.2, 2.5,
    3.1, 3.0, 2.3, 2.1, 2.2, 2.5, 3.0, 3.8, 4.4, 4.6, 3.6, 1.6,
)  # fmt: skip
HOURS_LUNCH = (
    0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.6, 1.2, 2.0, 2.4, 2.8, 3.6,
    5.2, 5.0, 2.6, 2.2, 2.2, 2.4, 2.6, 2.8, 2.9, 2.6, 1.8, 0.8,
)  # fmt: skip
HOURS_MORNING = (
    0.2, 0.1, 0.1, 0.1, 0.3, 0.9, 2.6, 4.2, 4.4, 3.6, 3.0, 2.8,
    2.8, 2.6, 2.2, 2.0, 2.0, 2.2, 2.4, 2.4, 2.2, 1.6, 0.9, 0.4,
)  # fmt: skip
WEEKDAYS_DEFAULT = (1.0, 0.95, 0.95, 1.0, 1.05, 0.9, 1.3)
PERSONA_KINDS = Weighted((("anonymous_visitor", 12), ("prospect", 33), ("customer", 42), ("loyal_customer", 13)))
_RHYTHMS = Weighted(((HOURS_EVENING, 55), (HOURS_LUNCH, 25), (HOURS_MORNING, 20)))
_FAVOURITE_CATEGORIES = Weighted(zip(CATEGORIES, (18, 14, 16, 16, 12, 8, 10, 6), strict=True))
_DEVICES = Weighted(DEVICES)


@dataclass(frozen=True)
class _KindBehaviour:
    sessions_per_90_days: float
    product_views_per_session: float
    add_to_cart_rate: float  # per product view
    purchase_rate: float  # per visit with a cart
    email_open_rate: float  # per newsletter received
    email_click_rate: float  # per open


_KIND_BEHAVIOUR = {
    "anonymous_visitor": _KindBehaviour(1.5, 0.8, 0.03, 0.0, 0.0, 0.0),
    "prospect": _KindBehaviour(1.8, 1.0, 0.07, 0.25, 0.12, 0.15),
    "customer": _KindBehaviour(2.3, 1.2, 0.11, 0.4, 0.16, 0.2),
    "loyal_customer": _KindBehaviour(4.5, 1.5, 0.14, 0.5, 0.3, 0.25),
}


@dataclass
class Persona:
    """How one demo person behaves: what the generators read, and the place to plant signals.

    ``kind`` (anonymous_visitor, prospect, customer, loyal_customer) decides who
    the person is to the brand: which identifiers and consents they have. The
    other fields decide their events. ``planted`` is free room for a generator
    that plants known signals, to keep what it planted next to the behaviour.
    """

    kind: str
    sessions_per_90_days: float
    hour_weights: Sequence[float]  # 24 local hours
    weekday_weights: Sequence[float]  # Monday..Sunday
    favourite_category: str
    product_views_per_session: float
    add_to_cart_rate: float
    purchase_rate: float
    email_open_rate: float
    email_click_rate: float
    device: str
    planted: dict[str, Any] = field(default_factory=dict)


PersonaFactory = Callable[[random.Random, int], Persona]


def persona_default(rng: random.Random, index: int) -> Persona:
    """A persona drawn like the brand's audience: most people do little, a few do a lot.

    ``index`` is the person's rank in the run, for factories that plant signals
    on a known share of people; the default ignores it.
    """
    kind = PERSONA_KINDS.pick(rng)
    behaviour = _KIND_BEHAVIOUR[kind]
    # Log-normal factors with mean 1: the long tail of very active people.
    activity = rng.lognormvariate(-0.5, 1.0)
    engagement = rng.lognormvariate(-0.32, 0.8)
    return Persona(
        kind=kind,
        sessions_per_90_days=behaviour.sessions_per_90_days * activity,
        hour_weights=_RHYTHMS.pick(rng),
        weekday_weights=WEEKDAYS_DEFAULT,
        favourite_category=_FAVOURITE_CATEGORIES.pick(rng),
        product_views_per_session=behaviour.product_views_per_session,
        add_to_cart_rate=behaviour.add_to_cart_rate,
        purchase_rate=behaviour.purchase_rate,
        email_open_rate=min(0.95, behaviour.email_open_rate * engagement),
        email_click_rate=min(0.9, behaviour.email_click_rate * rng.uniform(0.6, 1.4)),
        device=_DEVICES.pick(rng),
    )


PLANTED_INTENDER_SHARE = 0.12
PLANTED_LOOKALIKE_SHARE = 0.06
PLANTED_BUYS_AFTER_SHARE = 2 / 3  # a "warming up" buyer buys in the last 30 of 90 days only


def persona_with_signals(rng: random.Random, index: int) -> Persona:
    """``persona_default`` with known signals planted, for the tests and demonstrations of scores.

    Every known person reads their email at one hour of the day (``best_hour``,
    from 7:00 to 22:00, three times out of four) and opens more newsletters.
    About 12 % are "warming up" buyers (``intender``): they view and put in
    their cart many products all along but buy only in the last third of the
    window, so their browsing predicts their next purchase. About 6 % are
    look-alikes of the best customers (``lookalike``): frequent visits, heavy
    email engagement, purchases all along. What was planted is kept in the
    ``demo_signals`` trait. Pass it as ``persona_factory``; the default data
    set stays as it was.
    """
    persona = persona_default(rng, index)
    if persona.kind == "anonymous_visitor":
        return persona
    best_hour = 7 + int(rng.random() * 16)
    draw = rng.random()
    intender = draw < PLANTED_INTENDER_SHARE
    lookalike = PLANTED_INTENDER_SHARE <= draw < PLANTED_INTENDER_SHARE + PLANTED_LOOKALIKE_SHARE
    persona.hour_weights = tuple(10.0 if hour == best_hour else 0.15 for hour in range(24))
    persona.email_open_rate = min(0.95, max(persona.email_open_rate * 2.5, 0.2))
    persona.planted = {"signals": {"best_hour": best_hour, "intender": intender, "lookalike": lookalike}}
    if intender:
        persona.sessions_per_90_days = 9.0
        persona.product_views_per_session = 3.0
        persona.add_to_cart_rate = 0.35
        persona.purchase_rate = 0.6
        persona.planted["buys_after_share"] = PLANTED_BUYS_AFTER_SHARE
    elif lookalike:
        persona.sessions_per_90_days = 12.0
        persona.product_views_per_session = 2.0
        persona.add_to_cart_rate = 0.2
        persona.purchase_rate = 0.6
        persona.email_open_rate = 0.9
        persona.email_click_rate = 0.6
    else:
        # Everybody else rarely buys: the planted buyers stand out.
        persona.purchase_rate = min(persona.purchase_rate, 0.15)
    return persona


# ---------------------------------------------------------------------------
# The time window


@dataclass(frozen=True)
class DemoWindow:
    """The last ``days`` days before ``now`` as Unix timestamps, with local days and newsletter sends."""

    now: datetime.datetime
    today: datetime.date
    days: int
    start: int
    end: int
    day_starts: tuple[int, ...]  # local midnight of each calendar day the window touches
    weekdays: tuple[int, ...]
    email_sends: tuple[tuple[int, int, str], ...]  # (sent at, day number, campaign)

    @classmethod
    def build(cls, *, now: datetime.datetime, days: int) -> "DemoWindow":
        zone = timezone.get_current_timezone()
        end = int(now.timestamp())
        start = end - days * 86_400
        first_day = datetime.datetime.fromtimestamp(start, zone).date()
        today = datetime.datetime.fromtimestamp(end, zone).date()
        dates = [first_day + datetime.timedelta(days=number) for number in range((today - first_day).days + 1)]
        day_starts = tuple(int(datetime.datetime.combine(day, datetime.time(), zone).timestamp()) for day in dates)
        sends = []
        # The brand's newsletters: Tuesday 10:00 and Thursday 18:00, local time.
        for number, day in enumerate(dates):
            hour = {1: 10, 3: 18}.get(day.weekday())
            if hour is None:
                continue
            sent_at = day_starts[number] + hour * 3600
            if start <= sent_at <= end:
                sends.append((sent_at, number, f"newsletter-{day:%Y-%m-%d}"))
        weekdays = tuple(day.weekday() for day in dates)
        return cls(now, today, days, start, end, day_starts, weekdays, tuple(sends))

    def day_of(self, timestamp: int) -> int:
        return max(0, bisect.bisect_right(self.day_starts, timestamp) - 1)


def _datetime(timestamp: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC)


# ---------------------------------------------------------------------------
# One person


@dataclass(slots=True)
class ConsentDraft:
    """A consent log entry before it is written; ``consent_state_fold`` reads it like a ConsentRecord."""

    channel: str
    status: str
    address: str
    legal_basis: str
    occurred_at: int
    proof: dict[str, Any]
    id: int = 0


# (type, properties as JSON, occurred at as a Unix timestamp, revenue, currency)
EventDraft = tuple[str, str, int, Decimal | None, str]


@dataclass
class DemoPerson:
    """Everything generated for one profile before it is written."""

    index: int
    profile_id: int
    rng: random.Random
    persona: Persona
    country: Country
    created_at: int
    first_name: str = ""
    last_name: str = ""
    birth_date: datetime.date | None = None
    city: str = ""
    postcode: str = ""
    language: str = ""
    traits: dict[str, Any] = field(default_factory=dict)
    do_not_track: bool = False
    do_not_contact: bool = False
    identifiers: list[list[str]] = field(default_factory=list)  # [kind, value]; a value taken elsewhere is replaced
    consents: list[ConsentDraft] = field(default_factory=list)
    # When this person receives the newsletters: (from, until), from their email consents.
    email_receiving: list[tuple[int, int]] = field(default_factory=list)
    events: list[EventDraft] = field(default_factory=list)
    # Purchases happen from this moment on only (a planted "warming up" buyer); 0: at any time.
    buys_from: int = 0

    def identifier(self, kind: str) -> str:
        return next((value for identifier_kind, value in self.identifiers if identifier_kind == kind), "")


def _ascii_slug(text: str) -> str:
    """Lower-case ASCII for an email local part: accents dropped, spaces and apostrophes removed."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(char for char in plain if char.isalnum() or char == "-")


_EMAIL_SHAPES = Weighted(
    (
        ("{first}.{last}", 32),
        ("{first}{last}", 9),
        ("{initial}{last}", 9),
        ("{initial}.{last}", 5),
        ("{last}.{first}", 7),
        ("{first}.{last}{year2}", 12),
        ("{first}{year4}", 6),
        ("{first}_{last}", 6),
        ("{first}.{last}{number}", 14),
    )
)


def _email(rng: random.Random, person: DemoPerson, *, digits: int = 0) -> str:
    """An address made from the name, like people make theirs; ``digits`` more digits when it is taken."""
    first, last = _ascii_slug(person.first_name), _ascii_slug(person.last_name)
    year = person.birth_date.year if person.birth_date else 1990
    local = _EMAIL_SHAPES.pick(rng).format(
        first=first,
        last=last,
        initial=first[:1],
        year2=f"{year % 100:02d}",
        year4=year,
        number=_between(rng, 1, 99),
    )
    if digits:
        local += str(_between(rng, 10 ** (digits - 1), 10**digits - 1))
    return f"{local}@{person.country.email_domain_picker.pick(rng)}"


def _phone(rng: random.Random, country: Country) -> str:
    prefixes = _mobile_prefixes(country.calling_code, country.mobile_starts)
    prefix = prefixes[int(rng.random() * len(prefixes))]
    digits = 9 - len(prefix)
    return f"+{country.calling_code}{prefix}{int(rng.random() * 10**digits):0{digits}d}"


def _crm_id(rng: random.Random) -> str:
    return f"CLI-{int(rng.random() * 10**8):08d}"


def _anonymous_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _identifier_replacement(person: DemoPerson, kind: str, attempt: int) -> str:
    """Another value of ``kind`` for this person, when theirs is already someone else's."""
    rng = person.rng
    if kind == IdentifierKind.EMAIL:
        return _email(rng, person, digits=2 + attempt)
    if kind == IdentifierKind.PHONE:
        return _phone(rng, person.country)
    if kind == IdentifierKind.CRM_ID:
        return _crm_id(rng)
    return _anonymous_id(rng)


_COUNTRIES = Weighted((country, country.weight) for country in COUNTRIES)
_AGES = Weighted(
    (((18, 24), 11), ((25, 34), 18), ((35, 44), 20), ((45, 54), 20), ((55, 64), 16), ((65, 74), 10), ((75, 85), 5))
)
_TIERS = {
    "customer": Weighted((("bronze", 50), ("silver", 30), ("gold", 15), ("platinum", 5))),
    "loyal_customer": Weighted((("silver", 30), ("gold", 45), ("platinum", 25))),
}
_TIER_POINTS = {"bronze": 120, "silver": 600, "gold": 1800, "platinum": 4500}
# Shares of people with an email, a phone and a CRM id, by persona kind.
_IDENTIFIED_SHARES = {"prospect": (0.95, 0.25, 0.0), "customer": (0.85, 0.6, 0.75), "loyal_customer": (0.97, 0.75, 1.0)}
_STORE_CITIES = {city.name for city in FRENCH_CITIES[:16]} | {"Bruxelles", "Genève"}
_CATEGORY_NAMES = tuple(CATEGORIES)


def person_generate(
    rng: random.Random, persona: Persona, *, index: int, profile_id: int, window: DemoWindow
) -> DemoPerson:
    """Who the person is: name, place, age, first-seen date, traits and identifiers (not yet checked unique)."""
    country = _COUNTRIES.pick(rng)
    kind = persona.kind
    if kind == "anonymous_visitor":
        # A cookie lives 13 months at most (CNIL), so a visitor was first seen within that.
        created_at = window.end - int(rng.random() * min(395, 2 * window.days + 30) * 86_400)
    elif rng.random() < 0.15:
        created_at = window.start + int(rng.random() * window.days * 86_400)  # new in the window
    else:
        created_at = window.start - int(rng.triangular(1, 5 * 365, 1) * 86_400)
    person = DemoPerson(
        index=index, profile_id=profile_id, rng=rng, persona=persona, country=country, created_at=created_at
    )
    person.language = country.language_picker.pick(rng)
    city = country.city_picker.pick(rng)
    if kind == "anonymous_visitor":
        person.identifiers.append([IdentifierKind.ANONYMOUS_ID, _anonymous_id(rng)])
        if rng.random() < 0.4:  # the city the IP address points at
            person.city = city.name
        person.traits = {"first_seen_channel": "app" if rng.random() < 0.3 else "web"}
        person.do_not_track = rng.random() < 0.01
        return person

    female_names, male_names, last_names = _names()
    female = rng.random() < 0.54
    first_names = female_names if female else male_names
    person.first_name = first_names[int(rng.random() * len(first_names))]
    person.last_name = last_names.pick(rng)
    youngest, oldest = _AGES.pick(rng)
    age_days = int((_between(rng, youngest, oldest) + rng.random()) * 365.25)
    person.birth_date = window.today - datetime.timedelta(days=age_days)
    person.city, person.postcode = city.name, city.postcodes[int(rng.random() * len(city.postcodes))]
    person.do_not_track = rng.random() < 0.005
    person.do_not_contact = rng.random() < 0.005

    email_share, phone_share, crm_id_share = _IDENTIFIED_SHARES.get(kind, (0.9, 0.5, 0.5))
    email = rng.random() < email_share
    phone = rng.random() < phone_share or not email
    if email:
        person.identifiers.append([IdentifierKind.EMAIL, _email(rng, person)])
        if rng.random() < 0.04:  # a work address too
            domain = _COMPANY_DOMAINS[int(rng.random() * len(_COMPANY_DOMAINS))]
            work = f"{_ascii_slug(person.first_name)}.{_ascii_slug(person.last_name)}@{domain}"
            person.identifiers.append([IdentifierKind.EMAIL, work])
    if phone:
        person.identifiers.append([IdentifierKind.PHONE, _phone(rng, country)])
    if rng.random() < crm_id_share:
        person.identifiers.append([IdentifierKind.CRM_ID, _crm_id(rng)])
    if rng.random() < 0.65:
        person.identifiers.append([IdentifierKind.ANONYMOUS_ID, _anonymous_id(rng)])

    traits: dict[str, Any] = {"civility": "Mme" if female else "M."}
    if kind in _TIERS:
        tier = _TIERS[kind].pick(rng)
        traits["loyalty_tier"] = tier
        traits["loyalty_points"] = int(rng.uniform(0.5, 1.5) * _TIER_POINTS[tier])
        traits["preferred_store"] = f"Boutique {city.name}" if city.name in _STORE_CITIES else "Boutique en ligne"
        traits["customer_since"] = _datetime(created_at).date().isoformat()
    if rng.random() < 0.3:
        other = _CATEGORY_NAMES[int(rng.random() * len(_CATEGORY_NAMES))]
        traits["interests"] = sorted({persona.favourite_category, other})
    if "signals" in persona.planted:  # what persona_with_signals planted, for the tests that look for it
        traits["demo_signals"] = persona.planted["signals"]
    person.traits = traits
    return person


# ---------------------------------------------------------------------------
# Consents

_EMAIL_FORMS = (
    ("https://www.boutique.example/newsletter", "newsletter-v3-2024-01"),
    ("https://www.boutique.example/compte/creation", "compte-v2-2023-09"),
    ("https://www.boutique.example/commande/confirmation", "commande-v4-2024-06"),
    ("https://jeu-concours.boutique.example/inscription", "jeu-v1-2024-11"),
)
_SMS_FORMS = (
    ("https://www.boutique.example/compte/preferences", "sms-v2-2024-02"),
    ("https://www.boutique.example/commande/confirmation", "commande-v4-2024-06"),
)
# Shares of people who give their email and SMS consent, by persona kind.
_CONSENT_SHARES = {"prospect": (0.85, 0.2), "customer": (0.5, 0.35), "loyal_customer": (0.7, 0.5)}


def _proof(rng: random.Random, forms: Sequence[tuple[str, str]]) -> dict[str, Any]:
    form_url, wording_version = forms[int(rng.random() * len(forms))]
    # IP addresses from the documentation ranges (RFC 5737).
    network = ("192.0.2", "198.51.100", "203.0.113")[int(rng.random() * 3)]
    return {"form_url": form_url, "wording_version": wording_version, "ip": f"{network}.{_between(rng, 1, 254)}"}


def _later(rng: random.Random, after: int, end: int) -> int | None:
    """A moment between ``after`` and ``end``, sooner rather than later; None when there is no room."""
    if after >= end - 3600:
        return None
    return after + int(rng.triangular(0, 1, 0.2) * (end - after))


def consents_generate(person: DemoPerson, window: DemoWindow) -> None:
    """Email, SMS and advertising consents, some later withdrawn (and a few given again), in time order."""
    rng, kind, end = person.rng, person.persona.kind, window.end
    email, phone = person.identifier(IdentifierKind.EMAIL), person.identifier(IdentifierKind.PHONE)
    email_share, sms_share = _CONSENT_SHARES.get(kind, (0.0, 0.0))
    signup = min(person.created_at + _between(rng, 30, 900), end)

    if email and rng.random() < email_share:
        granted_at = signup if rng.random() < 0.7 else _later(rng, person.created_at, end) or signup
        soft_opt_in = kind != "prospect" and rng.random() < 0.15
        proof = _proof(rng, _EMAIL_FORMS)
        if soft_opt_in:  # an existing customer, about similar products (the CNIL's "soft opt-in")
            proof["notice"] = "soft opt-in"
        basis = LegalBasis.LEGITIMATE_INTEREST if soft_opt_in else LegalBasis.CONSENT
        person.consents.append(ConsentDraft(Channel.EMAIL, ConsentStatus.GRANTED, email, basis, granted_at, proof))
        receiving_until = end
        withdrawn_at = _later(rng, granted_at, end) if rng.random() < 0.12 else None
        if withdrawn_at is not None:
            everywhere = rng.random() < 0.2  # through customer service: every address of the channel
            person.consents.append(
                ConsentDraft(
                    Channel.EMAIL,
                    ConsentStatus.WITHDRAWN,
                    "" if everywhere else email,
                    basis,
                    withdrawn_at,
                    {"method": "customer_service" if everywhere else "unsubscribe_link"},
                )
            )
            receiving_until = withdrawn_at
            given_again = _later(rng, withdrawn_at, end) if rng.random() < 0.15 else None
            if given_again is not None:
                proof = _proof(rng, _EMAIL_FORMS[:1])
                person.consents.append(
                    ConsentDraft(Channel.EMAIL, ConsentStatus.GRANTED, email, LegalBasis.CONSENT, given_again, proof)
                )
                person.email_receiving.append((given_again, end))
        person.email_receiving.insert(0, (granted_at, receiving_until))

    if phone and rng.random() < sms_share:
        granted_at = signup if rng.random() < 0.6 else _later(rng, person.created_at, end) or signup
        proof = _proof(rng, _SMS_FORMS)
        person.consents.append(
            ConsentDraft(Channel.SMS, ConsentStatus.GRANTED, phone, LegalBasis.CONSENT, granted_at, proof)
        )
        withdrawn_at = _later(rng, granted_at, end) if rng.random() < 0.1 else None
        if withdrawn_at is not None:  # answered STOP to a text message
            proof = {"method": "stop_sms"}
            person.consents.append(
                ConsentDraft(Channel.SMS, ConsentStatus.WITHDRAWN, phone, LegalBasis.CONSENT, withdrawn_at, proof)
            )

    if kind != "anonymous_visitor" and rng.random() < 0.08:
        proof = {**_proof(rng, _EMAIL_FORMS[1:2]), "purpose": "personalised advertising"}
        person.consents.append(
            ConsentDraft(Channel.ADVERTISING, ConsentStatus.GRANTED, "", LegalBasis.CONSENT, signup, proof)
        )
        withdrawn_at = _later(rng, signup, end) if rng.random() < 0.25 else None
        if withdrawn_at is not None:
            proof = {"method": "privacy_centre"}
            person.consents.append(
                ConsentDraft(Channel.ADVERTISING, ConsentStatus.WITHDRAWN, "", LegalBasis.CONSENT, withdrawn_at, proof)
            )
    if person.do_not_contact:
        person.email_receiving.clear()
    person.consents.sort(key=lambda draft: draft.occurred_at)


# ---------------------------------------------------------------------------
# Events


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


_PAGES = Weighted(PAGE_PATHS)


@functools.cache
def _page_view_properties(path: str, device: str) -> str:
    return json.dumps({"path": path, "device": device})


@functools.lru_cache(maxsize=1024)
def _campaign_properties(campaign: str) -> str:
    return json.dumps({"campaign": campaign})


@functools.lru_cache(maxsize=1024)
def _campaign_click_properties(campaign: str) -> str:
    return json.dumps({"campaign": campaign, "url": f"https://www.boutique.example/?utm_campaign={campaign}"})


@functools.lru_cache(maxsize=256)
def _hours(weights: tuple[float, ...]) -> Weighted:
    return Weighted(zip(range(24), weights, strict=True))


def _product(rng: random.Random, persona: Persona) -> Product:
    if rng.random() < 0.55:
        category = persona.favourite_category
    else:
        category = _CATEGORY_NAMES[int(rng.random() * len(_CATEGORY_NAMES))]
    products = catalogue()[category]
    # Popularity falls off quickly: the first products of a category sell most.
    return products[min(int(rng.expovariate(1 / 18)), len(products) - 1)]


def _visit(rng: random.Random, person: DemoPerson, at: int, end: int, landing: dict[str, Any] | None = None) -> None:
    """One visit to the shop: pages, products, maybe a cart, maybe an order."""
    persona, events = person.persona, person.events
    pages = 1
    while pages < 8 and rng.random() < 0.45:
        pages += 1
    for page in range(pages):
        if at >= end:
            return
        if page == 0 and landing:
            properties = json.dumps({"path": "/", "device": persona.device, **landing})
        else:
            properties = _page_view_properties(_PAGES.pick(rng), persona.device)
        events.append((EventType.PAGE_VIEW, properties, at, None, ""))
        at += _between(rng, 5, 120)
    cart: list[Product] = []
    for _view in range(_poisson(rng, persona.product_views_per_session)):
        if at >= end:
            return
        product = _product(rng, persona)
        events.append((EventType.PRODUCT_VIEW, product.view_properties, at, None, ""))
        at += _between(rng, 10, 180)
        if rng.random() < persona.add_to_cart_rate and at < end:
            events.append((EventType.ADD_TO_CART, product.cart_properties, at, None, ""))
            cart.append(product)
            at += _between(rng, 5, 60)
    at += _between(rng, 60, 600)
    if cart and at < end and rng.random() < persona.purchase_rate and at >= person.buys_from:
        order = {
            "order_id": f"CMD-{person.profile_id:08d}-{len(events):03d}",
            "items": len(cart),
            "product_ids": [product.id for product in cart],
            "categories": sorted({product.category for product in cart}),
            **(landing or {}),
        }
        revenue = sum((product.price for product in cart), Decimal("0.00"))
        events.append((EventType.PURCHASE, json.dumps(order), at, revenue, "EUR"))


def person_events_generate(person: DemoPerson, window: DemoWindow) -> None:
    """Visits to the shop, newsletter opens and clicks over the window, by the person's persona.

    Visits follow the persona's weekly and daily rhythm; a newsletter is opened
    at one of the person's usual hours after it was sent, and only while they
    consent to email. Nothing for a person who refused tracking.
    """
    if person.do_not_track:
        return
    rng, persona = person.rng, person.persona
    since, end = max(window.start, person.created_at), window.end
    if "buys_after_share" in persona.planted:
        person.buys_from = window.start + int(persona.planted["buys_after_share"] * (window.end - window.start))
    hours = _hours(tuple(persona.hour_weights))
    first_day, days = window.day_of(since), len(window.day_starts)
    busiest_weekday = max(persona.weekday_weights)
    for _visit_number in range(_poisson(rng, persona.sessions_per_90_days * (end - since) / (90 * 86_400))):
        for _try in range(4):
            day = first_day + int(rng.random() * (days - first_day))
            if rng.random() * busiest_weekday > persona.weekday_weights[window.weekdays[day]]:
                continue
            at = window.day_starts[day] + hours.pick(rng) * 3600 + int(rng.random() * 3600)
            if since <= at < end:
                _visit(rng, person, at, end)
                break

    if not person.email_receiving:
        return
    for sent_at, day, campaign in window.email_sends:
        if not any(start <= sent_at < until for start, until in person.email_receiving):
            continue
        if rng.random() >= persona.email_open_rate:
            continue
        opened_at = window.day_starts[day] + hours.pick(rng) * 3600 + int(rng.random() * 3600)
        while opened_at < sent_at:
            opened_at += 86_400
        if rng.random() < 0.25:
            opened_at += 86_400 * _between(rng, 1, 3)
        if opened_at >= end:
            continue
        person.events.append((EventType.EMAIL_OPEN, _campaign_properties(campaign), opened_at, None, ""))
        if rng.random() < persona.email_click_rate:
            clicked_at = opened_at + _between(rng, 5, 90)
            person.events.append((EventType.EMAIL_CLICK, _campaign_click_properties(campaign), clicked_at, None, ""))
            _visit(rng, person, clicked_at + 2, end, landing={"utm_source": "email", "utm_campaign": campaign})


# ---------------------------------------------------------------------------
# Unique identifiers


class _UsedIdentifiers:
    """Which identifier values are taken: in the database, in batches not yet committed, in this batch.

    A Bloom filter of every value seen (the database's at the start, then each
    batch's) answers "certainly new" for most candidates without a query; a
    "maybe" is looked up in the database. The filter only saves queries: the
    answers are the same as asking the database about every value.
    """

    BITS_PER_VALUE = 10
    HASHES = 4

    def __init__(self, *, expected: int) -> None:
        existing = Identifier.objects.count()
        self.size = max(1 << 16, (existing + expected) * self.BITS_PER_VALUE)
        self.bits = bytearray(self.size // 8 + 1)
        # Batches handed to the background writer and perhaps not committed yet.
        self.recent: collections.deque[set[tuple[str, str]]] = collections.deque(maxlen=3)
        self.written, self.analysed_at = existing, max(existing, 5000)
        if existing:
            for key in Identifier.objects.values_list("kind", "value").iterator(chunk_size=20_000):
                self._add(key)

    def _positions(self, key: tuple[str, str]) -> list[int]:
        # hash() is salted per process: the filter differs from run to run, the answers do not.
        digest = hash(key)
        low, high = digest & 0xFFFF_FFFF, ((digest >> 32) & 0xFFFF_FFFF) | 1
        return [(low + number * high) % self.size for number in range(self.HASHES)]

    def _add(self, key: tuple[str, str]) -> None:
        bits = self.bits
        for position in self._positions(key):
            bits[position >> 3] |= 1 << (position & 7)

    def _maybe_seen(self, key: tuple[str, str]) -> bool:
        bits = self.bits
        return all(bits[position >> 3] & (1 << (position & 7)) for position in self._positions(key))

    def _in_database(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        by_kind: dict[str, list[str]] = {}
        for kind, value in keys:
            by_kind.setdefault(kind, []).append(value)
        found = set()
        for kind, values in by_kind.items():
            for start in range(0, len(values), 500):
                chunk = values[start : start + 500]
                taken = Identifier.objects.filter(kind=kind, value__in=chunk).values_list("value", flat=True)
                found.update((kind, value) for value in taken)
        return found

    def statistics_refresh(self, added: int) -> None:
        """Refresh PostgreSQL's statistics on identifiers each time they double, so that lookups keep their index.

        Planned with the statistics of a nearly empty table, the lookups of a
        large run would read every identifier of a kind.
        """
        self.written += added
        if connection.vendor == "postgresql" and self.written >= 2 * self.analysed_at:
            _tables_analyse([Identifier])
            self.analysed_at = self.written

    def make_unique(self, people: list[DemoPerson]) -> None:
        """Give a new value to each identifier someone else holds; the person of lower rank keeps it.

        People come in rank order, so the outcome does not depend on the batch size.
        """
        accepted: set[tuple[str, str]] = set()
        pending = [(person, slot) for person in people for slot in person.identifiers]
        attempt = 0
        while pending:
            if attempt == 12:
                raise RuntimeError("Could not find unused identifiers for the demo profiles.")
            conflicts, maybe = [], []
            for person, slot in pending:
                key = (slot[0], slot[1])
                if key in accepted:
                    conflicts.append((person, slot))
                elif self._maybe_seen(key):  # batches handed over are in the filter too
                    maybe.append((person, slot, key))
                else:
                    accepted.add(key)
            if maybe:
                unsure = [key for _person, _slot, key in maybe if not any(key in batch for batch in self.recent)]
                taken = self._in_database(unsure) if unsure else set()
                for person, slot, key in maybe:
                    if key in accepted or key in taken or any(key in batch for batch in self.recent):
                        conflicts.append((person, slot))
                    else:
                        accepted.add(key)
            for person, slot in conflicts:
                slot[1] = _identifier_replacement(person, slot[0], attempt)
            pending = conflicts
            attempt += 1
        for key in accepted:
            self._add(key)
        self.recent.append(accepted)
        self.statistics_refresh(len(accepted))


# ---------------------------------------------------------------------------
# Writers: COPY on PostgreSQL, INSERT elsewhere

PROFILE_FIELDS = (
    "id",
    "uuid",
    "first_name",
    "last_name",
    "birth_date",
    "city",
    "postcode",
    "country",
    "language",
    "traits",
    "do_not_track",
    "do_not_contact",
    "source",
    "created_at",
    "updated_at",
)
IDENTIFIER_FIELDS = ("profile", "kind", "value", "source", "created_at")
CONSENT_RECORD_FIELDS = (
    "id",
    "profile",
    "channel",
    "status",
    "legal_basis",
    "address",
    "source",
    "proof",
    "occurred_at",
    "recorded_at",
    "recorded_by",
)
CONSENT_STATE_FIELDS = ("profile", "channel", "address", "status", "legal_basis", "occurred_at", "record")
EVENT_FIELDS = ("profile", "type", "properties", "occurred_at", "received_at", "source", "revenue", "currency")

# One batch: for each model, its field names and its rows (tuples of database-ready
# values, JSON already serialised), in the order they must be written.
BatchRows = list[tuple[type[models.Model], Sequence[str], list[tuple]]]


class _RowWriter:
    name = ""

    def __init__(self) -> None:
        self._next_ids: dict[type[models.Model], int] = {}

    def ids_reserve(self, model: type[models.Model], count: int) -> list[int]:
        """Ids for rows written later with their id (profiles, and consent log entries the state points at)."""
        if count == 0:
            return []
        table, column = model._meta.db_table, model._meta.pk.column
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [table, column, count],
                )
                return [row[0] for row in cursor.fetchall()]
            # Elsewhere the batch's transaction holds the write lock (SQLite's
            # BEGIN IMMEDIATE), so the next free ids stay free until the insert.
            quote = connection.ops.quote_name
            cursor.execute(f"SELECT MAX({quote(column)}) FROM {quote(table)}")
            highest = cursor.fetchone()[0] or 0
            if connection.vendor == "sqlite":
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
                row = cursor.fetchone()
                highest = max(highest, row[0] if row else 0)
        first = max(highest + 1, self._next_ids.get(model, 0))
        self._next_ids[model] = first + count
        return list(range(first, first + count))

    def batch_write(self, batch: BatchRows) -> None:
        for model, fields, rows in batch:
            if rows:
                self.rows_write(model, fields, rows)

    def rows_write(self, model: type[models.Model], fields: Sequence[str], rows: list[tuple]) -> None:
        raise NotImplementedError


class _CopyWriter(_RowWriter):
    name = "copy"

    def rows_write(self, model: type[models.Model], fields: Sequence[str], rows: list[tuple]) -> None:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
        # Django's cursor wraps psycopg's, whose copy() streams the rows.
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)


class _InsertWriter(_RowWriter):
    name = "insert"

    def rows_write(self, model: type[models.Model], fields: Sequence[str], rows: list[tuple]) -> None:
        quote = connection.ops.quote_name
        model_fields = [model._meta.get_field(name) for name in fields]
        columns = ", ".join(quote(model_field.column) for model_field in model_fields)
        placeholders = ", ".join(["%s"] * len(fields))
        prepare = [
            None if isinstance(model_field, models.JSONField) else model_field.get_db_prep_save
            for model_field in model_fields
        ]
        values = [
            tuple(
                value if adapt is None else adapt(value, connection) for adapt, value in zip(prepare, row, strict=True)
            )
            for row in rows
        ]
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})", values)


class _BackgroundWriter:
    """Writes each batch on a second connection, in its own transaction, while the next one is generated.

    Python generates on one core while PostgreSQL loads on another. At most one
    batch waits in the queue, so memory stays flat.
    """

    def __init__(self, writer: _RowWriter) -> None:
        self.writer = writer
        self.error: BaseException | None = None
        self.queue: queue.Queue[BatchRows | None] = queue.Queue(maxsize=1)
        self.thread = threading.Thread(target=self._run, name="demo-data-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while (batch := self.queue.get()) is not None:
                if self.error is None:  # after a failure, drain the queue so that submit() never blocks
                    try:
                        with transaction.atomic():
                            self.writer.batch_write(batch)
                    except BaseException as error:
                        self.error = error
        finally:
            connection.close()

    def submit(self, batch: BatchRows) -> None:
        if self.error is not None:
            self.close()
        self.queue.put(batch)

    def close(self) -> None:
        """Wait for the batches handed over; raise the writer's error, if any."""
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()
        if self.error is not None:
            raise self.error


# ---------------------------------------------------------------------------
# The run


@dataclass
class DemoSummary:
    """What a run wrote; passed to ``progress`` after each batch, with the totals so far."""

    requested: int
    seed: int
    days: int
    writer: str = ""
    skipped: bool = False
    profiles: int = 0
    identifiers: int = 0
    consent_records: int = 0
    consents: int = 0
    events: int = 0
    purchases: int = 0
    seconds: float = 0.0

    @property
    def profiles_per_second(self) -> float:
        return self.profiles / self.seconds if self.seconds else 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def _tables_analyse(tables: Iterable[type[models.Model]]) -> None:
    with connection.cursor() as cursor:
        for model in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def _batch_rows(writer: _RowWriter, people: list[DemoPerson], summary: DemoSummary) -> BatchRows:
    record_ids = iter(writer.ids_reserve(ConsentRecord, sum(len(person.consents) for person in people)))
    profiles, identifiers, records, states, events = [], [], [], [], []
    purchase, source = EventType.PURCHASE, DEMO_SOURCE
    two_seconds, utc, from_timestamp = datetime.timedelta(seconds=2), datetime.UTC, datetime.datetime.fromtimestamp
    for person in people:
        profile_id = person.profile_id
        created_at = _datetime(person.created_at)
        profiles.append(
            (
                profile_id,
                uuid.uuid4(),
                person.first_name,
                person.last_name,
                person.birth_date,
                person.city,
                person.postcode,
                person.country.code,
                person.language,
                json.dumps(person.traits, ensure_ascii=False),
                person.do_not_track,
                person.do_not_contact,
                source,
                created_at,
                created_at,
            )
        )
        identifiers.extend((profile_id, kind, value, source, created_at) for kind, value in person.identifiers)
        for draft in person.consents:
            draft.id = next(record_ids)
            occurred_at = _datetime(draft.occurred_at)
            records.append(
                (
                    draft.id,
                    profile_id,
                    draft.channel,
                    draft.status,
                    draft.legal_basis,
                    draft.address,
                    source,
                    json.dumps(draft.proof),
                    occurred_at,
                    occurred_at + two_seconds,
                    "",
                )
            )
        # The current state, folded from the log exactly as profiles.services rebuilds it.
        for (channel, address), (draft, status) in consent_state_fold(person.consents).items():
            states.append(
                (profile_id, channel, address, status, draft.legal_basis, _datetime(draft.occurred_at), draft.id)
            )
        for event_type, properties, occurred_at, revenue, currency in person.events:
            at = from_timestamp(occurred_at, utc)
            events.append((profile_id, event_type, properties, at, at + two_seconds, source, revenue, currency))
            if event_type == purchase:
                summary.purchases += 1
    summary.profiles += len(profiles)
    summary.identifiers += len(identifiers)
    summary.consent_records += len(records)
    summary.consents += len(states)
    summary.events += len(events)
    return [
        (Profile, PROFILE_FIELDS, profiles),
        (Identifier, IDENTIFIER_FIELDS, identifiers),
        (ConsentRecord, CONSENT_RECORD_FIELDS, records),
        (ConsentState, CONSENT_STATE_FIELDS, states),
        (Event, EVENT_FIELDS, events),
    ]


def _people_generate(
    *,
    writer: _RowWriter,
    indexes: range,
    seed: int,
    window: DemoWindow,
    persona_factory: PersonaFactory,
    used: _UsedIdentifiers,
) -> list[DemoPerson]:
    people = []
    for index, profile_id in zip(indexes, writer.ids_reserve(Profile, len(indexes)), strict=True):
        # One generator per person: the same person whatever the batch size.
        rng = random.Random(seed * 2**40 + index)
        persona = persona_factory(rng, index)
        people.append(person_generate(rng, persona, index=index, profile_id=profile_id, window=window))
    used.make_unique(people)
    for person in people:
        consents_generate(person, window)
        person_events_generate(person, window)
    return people


def demo_data_generate(
    *,
    profiles: int,
    seed: int = 42,
    days: int = 90,
    now: datetime.datetime | None = None,
    batch_size: int = 2000,
    if_empty: bool = False,
    persona_factory: PersonaFactory = persona_default,
    use_copy: bool | None = None,
    progress: Callable[[DemoSummary], None] | None = None,
) -> DemoSummary:
    """Create ``profiles`` demo profiles with identifiers, consents and ``days`` days of events.

    Deterministic for a given ``seed`` and ``now``. Each batch is written in its
    own transaction, so a run stopped half-way leaves whole profiles only; on
    PostgreSQL (COPY, ``use_copy`` defaults to it there) and outside a
    transaction, batches are written by a background thread on a second
    connection while the next one is generated. With ``if_empty``, nothing is
    done when a profile exists.
    """
    errors = {}
    if profiles < 0:
        errors["profiles"] = "The number of profiles cannot be negative."
    if days < 1:
        errors["days"] = "The window is at least one day."
    if batch_size < 1:
        errors["batch_size"] = "A batch holds at least one profile."
    if use_copy and connection.vendor != "postgresql":
        errors["use_copy"] = "COPY needs PostgreSQL."
    if errors:
        raise ValidationError(errors)
    summary = DemoSummary(requested=profiles, seed=seed, days=days)
    if if_empty and Profile.objects.exists():
        summary.skipped = True
        return summary
    if use_copy is None:
        use_copy = connection.vendor == "postgresql"
    writer = _CopyWriter() if use_copy else _InsertWriter()
    # A caller's transaction must hold every row, so no second connection then.
    background = (
        _BackgroundWriter(writer) if use_copy and profiles > batch_size and not connection.in_atomic_block else None
    )
    summary.writer = f"{writer.name}, background" if background else writer.name
    window = DemoWindow.build(now=now or timezone.now(), days=days)
    used = _UsedIdentifiers(expected=profiles * 3)
    started = time.perf_counter()
    try:
        for first in range(0, profiles, batch_size):
            indexes = range(first, min(first + batch_size, profiles))
            with transaction.atomic():
                people = _people_generate(
                    writer=writer, indexes=indexes, seed=seed, window=window, persona_factory=persona_factory, used=used
                )
                batch = _batch_rows(writer, people, summary)
                if background is None:
                    writer.batch_write(batch)
            if background is not None:
                background.submit(batch)
            summary.seconds = time.perf_counter() - started
            if progress is not None:
                progress(summary)
    finally:
        if background is not None:
            background.close()
    if connection.vendor == "postgresql" and summary.profiles >= 10 * batch_size:
        # Fresh statistics after a large load, for the queries that follow (segments, the consent gate).
        _tables_analyse([Profile, Identifier, ConsentRecord, ConsentState, Event])
    summary.seconds = time.perf_counter() - started
    return summary
