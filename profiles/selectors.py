"""Reads on profiles, and the consent gate: the one rule for who may be contacted."""

import contextlib
import uuid

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from profiles.models import (
    CHANNEL_ADDRESS_KIND,
    Channel,
    ConsentRecord,
    ConsentState,
    ConsentStatus,
    Event,
    Identifier,
    IdentifierKind,
    Profile,
    identifier_kind_choices,
)
from profiles.normalisation import normalise_identifier


def consent_gate(*, channel: str) -> QuerySet[ConsentState]:
    """Who may be activated on ``channel``, and at which address: one row per (profile, address).

    This is the only place that decides it; every path to the outside (campaign
    runs, triggered sends, exports, partner API) filters through it. A profile
    passes when its current consent for the channel is granted, it is not marked
    "do not contact", and, for email, SMS and phone, the consented address is
    still one of its identifiers. No record means no consent.
    """
    if channel not in Channel.values:
        raise ValidationError(
            {
                "channel": _("“%(channel)s” is not a channel (channels: %(known)s).")
                % {"channel": channel, "known": ", ".join(Channel.values)}
            }
        )
    allowed = ConsentState.objects.filter(channel=channel, status=ConsentStatus.GRANTED, profile__do_not_contact=False)
    address_kind = CHANNEL_ADDRESS_KIND.get(channel)
    if address_kind is None:
        return allowed.filter(address="")
    # The address among the profile's identifiers of that kind, not EXISTS on (profile, kind, value): as
    # (kind, value) is unique, PostgreSQL turns that EXISTS into a join and multiplies the selectivities of
    # profile and address as if independent (1 row estimated for 478,337), and segments nest loops on it.
    held = Identifier.objects.filter(profile=OuterRef("profile"), kind=address_kind).values("value")
    return allowed.exclude(address="").filter(address__in=held)


def consent_gate_allows(*, profile: Profile, channel: str, address: str | None = None) -> bool:
    """May this profile be contacted on ``channel`` (at ``address``, when given)?"""
    allowed = consent_gate(channel=channel).filter(profile=profile)
    if address is not None:
        address_kind = CHANNEL_ADDRESS_KIND.get(channel)
        if address_kind is not None:
            address = normalise_identifier(address_kind, address)
        allowed = allowed.filter(address=address)
    return allowed.exists()


def profiles_contactable(*, channel: str) -> QuerySet[Profile]:
    """Profiles with at least one address (or a person-wide consent) the gate allows on ``channel``."""
    return Profile.objects.filter(Exists(consent_gate(channel=channel).filter(profile=OuterRef("pk"))))


def profile_identified_filter() -> Exists:
    """True for a profile known by more than a cookie or device id."""
    return Exists(Identifier.objects.filter(profile=OuterRef("pk")).exclude(kind=IdentifierKind.ANONYMOUS_ID))


def profile_find(*, kind: str, value: str) -> Profile | None:
    """The profile holding this identifier (normalised first), or None."""
    value = normalise_identifier(kind, value)
    return Profile.objects.filter(identifiers__kind=kind, identifiers__value=value).first()


def profile_detail(*, pk: int) -> Profile:
    """A profile with its identifiers, consents and merge history loaded."""
    return Profile.objects.prefetch_related(
        "identifiers",
        Prefetch("consents", queryset=ConsentState.objects.order_by("channel", "address")),
        Prefetch("consent_records", queryset=ConsentRecord.objects.order_by("-occurred_at", "-id")),
        "merge_logs",
    ).get(pk=pk)


def profile_timeline(*, profile: Profile, limit: int = 100) -> QuerySet[Event]:
    """The latest events of a profile, newest first."""
    return profile.events.order_by("-occurred_at", "-id")[:limit]


def profile_search_q(term: str, *, prefix: str = "", names: bool = True) -> Q:
    """Rows whose profile holds ``term`` as an identifier (normalised as stored), or whose name contains it.

    ``prefix`` is the path from the searched model to the profile ("" for Profile, "profile__" for Event).
    """
    term = term.strip()
    match = Q()
    looks_like_address = False
    for kind, _label in identifier_kind_choices():
        try:
            match |= Q(kind=kind, value=normalise_identifier(kind, term))
        except ValidationError:
            continue
        looks_like_address = looks_like_address or kind in (IdentifierKind.EMAIL, IdentifierKind.PHONE)
    # No kind accepts the term (too long for any identifier): an empty filter would match everybody.
    holders = Identifier.objects.filter(match).values("profile_id") if match else []
    found = Q(**{f"{prefix}pk__in": holders})
    with contextlib.suppress(ValueError):
        found |= Q(**{f"{prefix}uuid": uuid.UUID(term)})
    # An email or a phone number is never part of a name; skipping the name scan keeps
    # such a search an index lookup on a large table.
    if names and not looks_like_address:
        in_names = Q()
        for word in term.split():
            in_names &= Q(**{f"{prefix}first_name__icontains": word}) | Q(**{f"{prefix}last_name__icontains": word})
        found |= in_names
    return found
