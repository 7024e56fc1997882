"""Identifier normalisation: the one place that says what an email or a phone looks like.

Every identifier is stored normalised, so that "  Alice@Example.COM " and
"alice@example.com" are the same person, and "06 12 34 56 78" and "+33612345678"
the same phone.
"""

from collections.abc import Iterable, Mapping

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from profiles.models import IdentifierKind, identifier_kind_choices

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


def normalise_phone(raw: str, region: str | None = None) -> str:
    """E.164, reading numbers without a country code in the default region (CDP_DEFAULT_PHONE_REGION)."""
    text = (raw or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region or settings.CDP_DEFAULT_PHONE_REGION)
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


def normalise_identifier(kind: str, raw: str) -> str:
    """The stored form of an identifier; ValidationError naming the kind when it is not valid."""
    known = {choice for choice, _label in identifier_kind_choices()}
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
