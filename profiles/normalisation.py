"""Identifier normalisation: the one place that says what an email or a phone looks like.

Every identifier is stored normalised, so that "  Alice@Example.COM " and
"alice@example.com" are the same person, and "06 12 34 56 78" and "+33612345678"
the same phone.
"""

import functools
import re
from collections.abc import Iterable, Mapping

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


def normalise_phone(raw: str, region: str | None = None) -> str:
    """E.164, reading numbers without a country code in the default region (CDP_DEFAULT_PHONE_REGION)."""
    region = region or settings.CDP_DEFAULT_PHONE_REGION
    text = (raw or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    # The usual shapes (06 12 34 56 78, +33 6 12...) skip the general parser, which costs
    # four times as much: a CRM import reads millions. Validity is still the library's.
    country_code = _national_shortcut(region)
    if country_code is not None:
        compact = _PHONE_SEPARATORS.sub("", text)
        if compact.startswith("+" + country_code):
            national = compact[len(country_code) + 1 :]
        else:
            national = compact[1:] if compact.startswith("0") else ""
        if national.isascii() and national.isdigit() and not national.startswith("0"):
            number = phonenumbers.PhoneNumber(country_code=int(country_code), national_number=int(national))
            if phonenumbers.is_valid_number(number):
                return f"+{country_code}{national}"
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


def normalise_identifier(kind: str, raw: str) -> str:
    """The stored form of an identifier; ValidationError naming the kind when it is not valid."""
    known = _known_kinds(tuple(settings.CDP_EXTRA_IDENTIFIER_KINDS))
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
