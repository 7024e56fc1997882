"""Identifier normalisation: the one place that says what an email or a phone looks like.

Every identifier is stored normalised, so that "  Alice@Example.COM " and
"alice@example.com" are the same person, and "06 12 34 56 78" and "+33612345678"
the same phone.
"""

import functools
import re
from collections.abc import Callable, Iterable, Mapping

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from profiles.models import IdentifierKind

MAX_IDENTIFIER_LENGTH = 255


def normalise_email(raw: str) -> str:
    value = (raw or "").strip().lower()
    try:
        validate_email(value)
    except ValidationError:
        raise ValidationError(
            {IdentifierKind.EMAIL: _("“%(value)s” is not a valid email address.") % {"value": raw}},
            code="invalid_email",
        ) from None
    return value


_PHONE_SEPARATORS = re.compile(r"[\s.\-/()]")


@functools.lru_cache(maxsize=16)
def _national_shortcut(region: str) -> str | None:
    """The country code of a region whose numbers are written 0 + national number, else None."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is not None and metadata.national_prefix == "0" and metadata.national_prefix_for_parsing in (None, "0"):
        return str(metadata.country_code)
    return None


_NUMBER_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail")


@functools.lru_cache(maxsize=16)
def _national_number_check(region: str) -> Callable[[str], bool] | None:
    """phonenumbers.is_valid_number for the region's national numbers, as two regular expressions per length.

    The same rule as the library's (the general pattern, then any number type's,
    each with its possible lengths), compiled once: a fifth of the time. None
    when the region shares its country code, whose numbers the library assigns
    to a region first.
    """
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(metadata.country_code) != (region,):
        return None
    general = metadata.general_desc
    descriptions = [getattr(metadata, name) for name in _NUMBER_TYPES] + [metadata.fixed_line]
    if not metadata.same_mobile_and_fixed_line_pattern:
        descriptions.append(metadata.mobile)

    def fits(description: "phonenumbers.PhoneNumberDesc | None", length: int) -> bool:
        return (
            description is not None
            and bool(description.national_number_pattern)
            and (not description.possible_length or length in description.possible_length)
        )

    by_length: dict[int, tuple[re.Pattern, re.Pattern]] = {}
    for length in range(1, 18):
        patterns = [f"(?:{item.national_number_pattern})" for item in descriptions if fits(item, length)]
        if fits(general, length) and patterns:
            by_length[length] = (re.compile(general.national_number_pattern), re.compile("|".join(patterns)))

    def check(national: str) -> bool:
        patterns = by_length.get(len(national))
        return patterns is not None and bool(patterns[0].fullmatch(national)) and bool(patterns[1].fullmatch(national))

    return check


@functools.lru_cache(maxsize=256)
def _country_code_region(country_code: str) -> str | None:
    """The one region of a country code, else None (unknown, or shared by several regions)."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(country_code))
    return regions[0] if regions is not None and len(regions) == 1 else None


def _country_code_split(compact: str) -> tuple[str, str] | None:
    """(country code, rest) of "+<digits>": country codes are one to three digits, none the start of another."""
    for end in (2, 3, 4):
        if (
            compact[1:end]
            and compact[1:end].isdigit()
            and int(compact[1:end]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE
        ):
            return compact[1:end], compact[end:]
    return None


def phone_usual_normalise(text: str, region: str) -> str | None:
    """E.164 of a valid number written in one of the usual shapes (06 12 34 56 78, +33 6 12...), else None.

    ``text`` is stripped, with 00 already read as +. The general parser costs four
    times as much, and a CRM import reads millions: the usual shapes skip it.
    A usual shape is the national number (no leading 0) after 0 in the default
    region, or after "+" and the country code of a region written 0 + national
    number. Validity is still the library's rule (see _national_number_check).
    """
    compact = _PHONE_SEPARATORS.sub("", text)
    if compact.startswith("+"):
        split = _country_code_split(compact)
        if split is None:
            return None
        country_code, national = split
        region = _country_code_region(country_code)
        if region is None or _national_shortcut(region) != country_code:
            return None
    else:
        country_code = _national_shortcut(region)
        if country_code is None or not compact.startswith("0"):
            return None
        national = compact[1:]
    if not (national.isascii() and national.isdigit()) or national.startswith("0"):
        return None
    check = _national_number_check(region)
    if check is not None:
        valid = check(national)
    else:
        valid = phonenumbers.is_valid_number(
            phonenumbers.PhoneNumber(country_code=int(country_code), national_number=int(national))
        )
    return f"+{country_code}{national}" if valid else None


def normalise_phone(raw: str, region: str | None = None) -> str:
    """E.164, reading numbers without a country code in the default region (CDP_DEFAULT_PHONE_REGION)."""
    region = region or settings.CDP_DEFAULT_PHONE_REGION
    text = (raw or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    usual = phone_usual_normalise(text, region)
    if usual is not None:
        return usual
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(
            {IdentifierKind.PHONE: _("“%(value)s” is not a valid phone number.") % {"value": raw}},
            code="invalid_phone",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _normalise_opaque(kind: str, raw: str) -> str:
    value = str(raw if raw is not None else "").strip()
    if not value:
        raise ValidationError({kind: _("The identifier is empty.")}, code="empty_identifier")
    return value


@functools.lru_cache(maxsize=8)
def _known_kinds(extra: tuple[str, ...]) -> frozenset[str]:
    return frozenset(IdentifierKind.values) | frozenset(extra)


def known_identifier_kinds() -> frozenset[str]:
    """The standard kinds and those added by CDP_EXTRA_IDENTIFIER_KINDS."""
    return _known_kinds(tuple(settings.CDP_EXTRA_IDENTIFIER_KINDS))


def normalise_identifier(kind: str, raw: str) -> str:
    """The stored form of an identifier; ValidationError naming the kind when it is not valid."""
    known = known_identifier_kinds()
    if kind not in known:
        raise ValidationError(
            {
                "kind": _("“%(kind)s” is not a known identifier kind (known: %(known)s).")
                % {"kind": kind, "known": ", ".join(sorted(known))}
            },
            code="unknown_identifier_kind",
        )
    if kind == IdentifierKind.EMAIL:
        value = normalise_email(raw)
    elif kind == IdentifierKind.PHONE:
        value = normalise_phone(raw)
    else:
        value = _normalise_opaque(kind, raw)
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise ValidationError(
            {kind: _("The identifier is longer than %(max)s characters.") % {"max": MAX_IDENTIFIER_LENGTH}},
            code="identifier_too_long",
        )
    return value


IdentifierInput = Mapping[str, str | Iterable[str] | None] | Iterable[tuple[str, str]]


def normalise_identifiers(identifiers: IdentifierInput) -> list[tuple[str, str]]:
    """Normalise ``{"email": "A@x.fr", "phone": ["06…", …]}`` or ``[("email", "A@x.fr"), …]``.

    Empty values are skipped; duplicates after normalisation are kept once, in
    order. Every invalid value is reported at once, keyed by its kind.
    """
    if isinstance(identifiers, Mapping):
        pairs: list[tuple[str, str]] = []
        for kind, raw in identifiers.items():
            values = [raw] if raw is None or isinstance(raw, str) else list(raw)
            pairs.extend((kind, value) for value in values)
    else:
        pairs = list(identifiers)
    normalised: list[tuple[str, str]] = []
    errors: dict[str, list[str]] = {}
    for kind, raw in pairs:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        try:
            pair = (kind, normalise_identifier(kind, raw))
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                errors.setdefault(field, []).extend(messages)
            continue
        if pair not in normalised:
            normalised.append(pair)
    if errors:
        raise ValidationError(errors)
    return normalised
