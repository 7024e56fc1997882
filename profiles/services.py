"""Writes on profiles: identity resolution, merges, consents, events, privacy flags.

Every service is keyword-only and atomic. Bad input raises ``ValidationError``
naming the field, before anything is written.
"""

import datetime
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
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
    LegalBasis,
    MergeLog,
    MergeReason,
    PrivacyAction,
    PrivacyLog,
    Profile,
    identifier_kind_choices,
)
from profiles.normalisation import IdentifierInput, normalise_identifier, normalise_identifiers
from profiles.signals import consent_withdrawn, event_tracked, events_tracked

# A person holds at most one value of these kinds: two CRM records are two people,
# so data linking them is a conflict to report, not a reason to merge.
SINGLE_VALUED_KINDS = frozenset({IdentifierKind.CRM_ID})

STANDARD_FIELDS = ("first_name", "last_name", "birth_date", "city", "postcode", "country", "language")


class IdentityConflict(ValidationError):
    """Incoming identifiers point at profiles that must not be merged."""


# ---------------------------------------------------------------------------
# Identity resolution and merges


@dataclass
class Resolution:
    profile: Profile
    created: bool = False
    merged_profile_ids: list[int] = field(default_factory=list)
    added_identifiers: list[tuple[str, str]] = field(default_factory=list)


def _identity_strength(profile: Profile, kinds: set[str]) -> tuple[int, datetime.datetime, int]:
    # The profile to keep: an identified one before an anonymous one, then the oldest.
    identified = bool(kinds - {IdentifierKind.ANONYMOUS_ID})
    return (0 if identified else 1, profile.created_at, profile.pk)


def _check_single_valued(held: Iterable[tuple[str, str]]) -> None:
    values: dict[str, set[str]] = {}
    for kind, value in held:
        if kind in SINGLE_VALUED_KINDS:
            values.setdefault(kind, set()).add(value)
    for kind, found in values.items():
        if len(found) > 1:
            raise IdentityConflict(
                {
                    kind: _(
                        "These identifiers belong to two different people: a person has one %(kind)s and "
                        "these are %(values)s. The profiles are not merged."
                    )
                    % {"kind": dict(identifier_kind_choices()).get(kind, kind), "values": ", ".join(sorted(found))}
                },
                code="identity_conflict",
            )


def profile_resolve(
    *,
    identifiers: IdentifierInput,
    source: str,
    reason: str = MergeReason.SHARED_IDENTIFIER,
    create: bool = True,
) -> Resolution:
    """Find the one profile these identifiers belong to, creating or merging as needed.

    Identifiers held by several profiles merge those profiles into one (the
    identified one survives, then the oldest), each merge logged with ``reason``.
    Identifiers not yet known are added to the profile. Raises IdentityConflict
    when the identifiers belong to two people (two CRM ids).
    """
    pairs = normalise_identifiers(identifiers)
    if not pairs:
        raise ValidationError(
            {"identifiers": _("At least one identifier (email, phone, CRM id, anonymous id...) is needed.")},
            code="no_identifier",
        )
    # Two requests may add the same new identifier at once: the loser of the
    # unique constraint starts again and finds the winner's profile.
    for attempt in range(3):
        try:
            with transaction.atomic():
                return _resolve(pairs=pairs, source=source, reason=reason, create=create)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _identifiers_held(pairs: list[tuple[str, str]]) -> QuerySet[Identifier]:
    """The stored identifiers among these (kind, normalised value) pairs."""
    match = Q()
    for kind, value in pairs:
        match |= Q(kind=kind, value=value)
    return Identifier.objects.filter(match)


def _resolve(*, pairs: list[tuple[str, str]], source: str, reason: str, create: bool) -> Resolution:
    profile_ids = set(_identifiers_held(pairs).values_list("profile_id", flat=True))

    if not profile_ids:
        if not create:
            raise Profile.DoesNotExist(_("No profile holds these identifiers."))
        _check_single_valued(pairs)
        profile = Profile.objects.create(source=source)
        _identifiers_add(profile=profile, pairs=pairs, source=source)
        return Resolution(profile=profile, created=True, added_identifiers=pairs)

    profiles = list(Profile.objects.select_for_update().filter(pk__in=profile_ids).order_by("pk"))
    held: dict[int, list[tuple[str, str]]] = {p.pk: [] for p in profiles}
    for profile_id, kind, value in Identifier.objects.filter(profile_id__in=profile_ids).values_list(
        "profile_id", "kind", "value"
    ):
        held[profile_id].append((kind, value))
    _check_single_valued([pair for pairs_held in held.values() for pair in pairs_held] + pairs)

    profiles.sort(key=lambda p: _identity_strength(p, {kind for kind, _v in held[p.pk]}))
    survivor, absorbed = profiles[0], profiles[1:]
    for other in absorbed:
        profile_merge(survivor=survivor, absorbed=other, reason=reason, source=source)
    known = {pair for pairs_held in held.values() for pair in pairs_held}
    new_pairs = [pair for pair in pairs if pair not in known]
    _identifiers_add(profile=survivor, pairs=new_pairs, source=source)
    return Resolution(
        profile=survivor,
        merged_profile_ids=[p.pk for p in absorbed],
        added_identifiers=new_pairs,
    )


def _identifiers_add(*, profile: Profile, pairs: list[tuple[str, str]], source: str) -> None:
    if pairs:
        Identifier.objects.bulk_create(
            [Identifier(profile=profile, kind=kind, value=value, source=source) for kind, value in pairs]
        )


def identifier_check(*, profile: Profile, kind: str, value: str) -> str:
    """The normalised value, if ``profile`` may take this identifier; ValidationError on "value" otherwise."""
    try:
        value = normalise_identifier(kind, value)
    except ValidationError as error:
        raise ValidationError({"value": [m for messages in error.message_dict.values() for m in messages]}) from None
    holder = Identifier.objects.filter(kind=kind, value=value).select_related("profile").first()
    if holder is not None and holder.profile_id != profile.pk:
        raise ValidationError(
            {
                "value": _(
                    "%(value)s already belongs to another profile, “%(profile)s” (profile number %(id)s). "
                    "They are probably the same person: merge the two profiles instead (tick both in the "
                    "profile list, then choose the action “Merge the selected profiles”)."
                )
                % {"value": value, "profile": holder.profile, "id": holder.profile_id}
            },
            code="held_by_another_profile",
        )
    if holder is not None:
        raise ValidationError({"value": _("This profile already has %(value)s.") % {"value": value}})
    try:
        _check_single_valued([*profile.identifiers.values_list("kind", "value"), (kind, value)])
    except IdentityConflict as error:
        raise IdentityConflict({"value": error.message_dict[kind]}, code="identity_conflict") from None
    return value


@transaction.atomic
def identifier_add(*, profile: Profile, kind: str, value: str, source: str) -> Identifier:
    """Give ``profile`` one more identifier, checked by ``identifier_check``."""
    value = identifier_check(profile=profile, kind=kind, value=value)
    return Identifier.objects.create(profile=profile, kind=kind, value=value, source=source)


# Other apps whose rows must move in a particular way when two profiles merge
# (for example rows unique per profile) register a handler here from their
# AppConfig.ready(); any other row pointing at a profile is simply re-pointed.
MergeHandler = Callable[[Profile, Profile], None]
_merge_handlers: list[MergeHandler] = []


def register_merge_handler(handler: MergeHandler) -> None:
    if handler not in _merge_handlers:
        _merge_handlers.append(handler)


@transaction.atomic
def profile_merge(*, survivor: Profile, absorbed: Profile, reason: str, source: str = "", detail: str = "") -> MergeLog:
    """Move everything ``absorbed`` holds onto ``survivor``, log it, delete ``absorbed``.

    Consent is never created by a merge: the log entries move with the address
    each was given for, and the current state is rebuilt from the merged log, so
    a later withdrawal wins over an earlier grant.
    """
    if survivor.pk == absorbed.pk:
        raise ValidationError(_("A profile cannot be merged into itself."), code="merge_into_itself")
    if reason not in MergeReason.values:
        raise ValidationError({"reason": _("“%(reason)s” is not a merge reason.") % {"reason": reason}})
    locked = {p.pk: p for p in Profile.objects.select_for_update().filter(pk__in=[survivor.pk, absorbed.pk])}
    if len(locked) != 2:
        raise ValidationError(_("Both profiles must exist to be merged."), code="merge_missing_profile")
    survivor, absorbed = locked[survivor.pk], locked[absorbed.pk]
    identifiers = list(absorbed.identifiers.values_list("kind", "value"))
    _check_single_valued(identifiers + list(survivor.identifiers.values_list("kind", "value")))

    filled = {}
    for name in STANDARD_FIELDS:
        if getattr(survivor, name) in ("", None) and getattr(absorbed, name) not in ("", None):
            filled[name] = getattr(absorbed, name)
            setattr(survivor, name, filled[name])
    survivor.traits = {**absorbed.traits, **survivor.traits}
    survivor.do_not_track = survivor.do_not_track or absorbed.do_not_track
    survivor.do_not_contact = survivor.do_not_contact or absorbed.do_not_contact

    # The derived consent state is rebuilt below from the merged log.
    ConsentState.objects.filter(profile=absorbed).delete()
    for handler in _merge_handlers:
        handler(survivor, absorbed)
    moved_rows = {}
    for relation in Profile._meta.related_objects:
        if not (relation.one_to_many or relation.one_to_one):
            continue
        model = relation.related_model
        count = model._default_manager.filter(**{relation.field.name: absorbed}).update(
            **{relation.field.name: survivor}
        )
        if count:
            moved_rows[model._meta.label] = count
    if survivor.do_not_track:
        Event.objects.filter(profile=survivor).delete()
    survivor.save()
    consent_state_rebuild(profile=survivor)

    log = MergeLog.objects.create(
        survivor=survivor,
        absorbed_profile_id=absorbed.pk,
        absorbed_profile_uuid=absorbed.uuid,
        reason=reason,
        source=source,
        detail=detail,
        moved={"identifiers": [list(pair) for pair in identifiers], "fields": filled, "rows": moved_rows},
    )
    absorbed.delete()
    return log


@transaction.atomic
def profile_update(
    *,
    profile: Profile,
    fields: Mapping[str, Any] | None = None,
    traits: Mapping[str, Any] | None = None,
    overwrite: bool = True,
) -> Profile:
    """Set standard fields and merge custom traits; with ``overwrite=False`` only blanks are filled."""
    fields = dict(fields or {})
    unknown = set(fields) - set(STANDARD_FIELDS)
    if unknown:
        raise ValidationError(
            {name: _("“%(name)s” is not a profile field.") % {"name": name} for name in sorted(unknown)}
        )
    for name, value in fields.items():
        if overwrite or getattr(profile, name) in ("", None):
            setattr(profile, name, value if value is not None else profile._meta.get_field(name).get_default())
    if fields.get("country"):
        profile.country = str(profile.country).strip().upper()
    if fields.get("language"):
        profile.language = str(profile.language).strip().lower()
    if traits:
        if not isinstance(traits, Mapping):
            raise ValidationError({"traits": _("Custom traits must be a JSON object.")})
        profile.traits = {**profile.traits, **traits} if overwrite else {**traits, **profile.traits}
    profile.full_clean(exclude=["uuid"], validate_unique=False, validate_constraints=False)
    profile.save()
    return profile


# ---------------------------------------------------------------------------
# Consents


def consent_state_fold(records: Iterable[ConsentRecord]) -> dict[tuple[str, str], tuple[ConsentRecord, str]]:
    """Replay the log in time order: the latest word for each (channel, address) wins.

    A withdrawal without an address withdraws every address of the channel known so far.
    """
    state: dict[tuple[str, str], tuple[ConsentRecord, str]] = {}
    for record in records:
        if record.status == ConsentStatus.WITHDRAWN and not record.address:
            for key in [key for key in state if key[0] == record.channel]:
                state[key] = (record, ConsentStatus.WITHDRAWN)
        state[(record.channel, record.address)] = (record, record.status)
    return state


def consent_state_rebuild(*, profile: Profile, channel: str | None = None) -> None:
    records = ConsentRecord.objects.filter(profile=profile).order_by("occurred_at", "id")
    states = ConsentState.objects.filter(profile=profile)
    if channel:
        records, states = records.filter(channel=channel), states.filter(channel=channel)
    states.delete()
    ConsentState.objects.bulk_create(
        [
            ConsentState(
                profile=profile,
                channel=key_channel,
                address=address,
                status=status,
                legal_basis=record.legal_basis,
                occurred_at=record.occurred_at,
                record=record,
            )
            for (key_channel, address), (record, status) in consent_state_fold(records).items()
        ]
    )


@transaction.atomic
def consent_record(
    *,
    profile: Profile,
    channel: str,
    status: str,
    source: str,
    address: str = "",
    legal_basis: str = LegalBasis.CONSENT,
    occurred_at: datetime.datetime | None = None,
    proof: Mapping[str, Any] | None = None,
    recorded_by: str = "",
) -> ConsentRecord:
    """Append to the consent log and update the current state.

    For email, SMS and phone a grant names the address it covers, which must be
    one of the profile's identifiers; a withdrawal without an address covers
    every address of the channel.
    """
    errors: dict[str, str] = {}
    if channel not in Channel.values:
        errors["channel"] = _("“%(channel)s” is not a channel (channels: %(known)s).") % {
            "channel": channel,
            "known": ", ".join(Channel.values),
        }
    if status not in ConsentStatus.values:
        errors["status"] = _("“%(status)s” is not a consent status (granted or withdrawn).") % {"status": status}
    if legal_basis not in LegalBasis.values:
        errors["legal_basis"] = _("“%(basis)s” is not a legal basis (%(known)s).") % {
            "basis": legal_basis,
            "known": ", ".join(LegalBasis.values),
        }
    if not source:
        errors["source"] = _("Say where the consent comes from (form, import, API, admin).")
    if occurred_at is not None and timezone.is_naive(occurred_at):
        errors["occurred_at"] = _("The date and time must carry a time zone.")
    elif occurred_at is not None and occurred_at > timezone.now() + datetime.timedelta(minutes=5):
        errors["occurred_at"] = _("A consent cannot be dated in the future.")
    if errors:
        raise ValidationError(errors)

    address_kind = CHANNEL_ADDRESS_KIND.get(channel)
    if address_kind is None:
        if address:
            raise ValidationError({"address": _("This channel's consent covers the person, not an address.")})
    elif address:
        try:
            address = normalise_identifier(address_kind, address)
        except ValidationError as error:
            raise ValidationError({"address": error.message_dict[address_kind]}) from None
        if not profile.identifiers.filter(kind=address_kind, value=address).exists():
            raise ValidationError(
                {"address": _("%(address)s is not an address of this profile.") % {"address": address}}
            )
    elif status == ConsentStatus.GRANTED:
        raise ValidationError(
            {"address": _("A consent for %(channel)s must name the address it was given for.") % {"channel": channel}}
        )

    record = ConsentRecord.objects.create(
        profile=profile,
        channel=channel,
        status=status,
        legal_basis=legal_basis,
        address=address,
        source=source,
        proof=dict(proof or {}),
        occurred_at=occurred_at or timezone.now(),
        recorded_by=recorded_by,
    )
    consent_state_rebuild(profile=profile, channel=channel)
    if status == ConsentStatus.WITHDRAWN:
        profile_id = profile.pk
        transaction.on_commit(
            lambda: consent_withdrawn.send(
                sender=ConsentRecord, profile_id=profile_id, channel=channel, address=address
            )
        )
    return record


# ---------------------------------------------------------------------------
# Events

EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@transaction.atomic
def event_track(
    *,
    type: str,
    identifiers: IdentifierInput,
    source: str,
    occurred_at: datetime.datetime | None = None,
    properties: Mapping[str, Any] | None = None,
    revenue: Decimal | str | int | None = None,
    currency: str = "",
    message_id: str | None = None,
) -> Event | None:
    """Record what a person did, resolving (and linking) their identifiers.

    An event carrying an anonymous id and an email links them: the anonymous
    visitor's profile becomes (or merges into) the known one. The same
    ``message_id`` sent twice is kept once. Nothing is kept for a person who
    asked not to be tracked: the event is dropped and None returned.
    """
    errors: dict[str, str] = {}
    if not isinstance(type, str) or not EVENT_TYPE_PATTERN.match(type):
        errors["type"] = _("An event type is a lower-case name such as page_view or purchase.")
    if occurred_at is not None and timezone.is_naive(occurred_at):
        errors["occurred_at"] = _("The date and time must carry a time zone.")
    if properties is not None and not isinstance(properties, Mapping):
        errors["properties"] = _("Properties must be a JSON object.")
    if revenue is not None:
        try:
            revenue = Decimal(str(revenue)).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            errors["revenue"] = _("“%(value)s” is not an amount.") % {"value": revenue}
        else:
            if not revenue.is_finite() or abs(revenue) >= Decimal("1e12"):
                errors["revenue"] = _("“%(value)s” is not an amount.") % {"value": revenue}
    if currency and not re.fullmatch(r"[A-Za-z]{3}", currency):
        errors["currency"] = _("A currency is a three-letter ISO code such as EUR.")
    if errors:
        raise ValidationError(errors)

    if message_id:
        existing = Event.objects.filter(message_id=message_id).first()
        if existing is not None:
            return existing
    pairs = normalise_identifiers(identifiers)
    if pairs and Profile.objects.filter(do_not_track=True, identifiers__in=_identifiers_held(pairs)).exists():
        return None
    resolution = profile_resolve(identifiers=pairs, source=source, reason=MergeReason.EVENT_LINK)
    if resolution.profile.do_not_track:
        return None
    try:
        with transaction.atomic():
            event = Event.objects.create(
                profile=resolution.profile,
                type=type,
                properties=dict(properties or {}),
                occurred_at=occurred_at or timezone.now(),
                source=source,
                revenue=revenue,
                currency=(currency or (settings.CDP_DEFAULT_CURRENCY if revenue is not None else "")).upper(),
                message_id=message_id or None,
            )
    except IntegrityError:
        # The same message arriving twice at once: the other request kept it.
        if message_id:
            return Event.objects.get(message_id=message_id)
        raise
    profile_id = resolution.profile.pk
    transaction.on_commit(lambda: event_tracked.send(sender=Event, profile_id=profile_id, event_type=type))
    return event


class TrackOutcome:
    RECORDED = "recorded"
    DUPLICATE = "duplicate"  # an event with this message_id was kept before
    NOT_KEPT = "not_kept"  # the person asked not to be tracked
    REJECTED = "rejected"  # invalid, or identifiers of two people: nothing written


@dataclass
class TrackedItem:
    outcome: str
    event: Event | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    announced: bool = False  # event_track sent its event_tracked signal itself


@dataclass
class _Checked:
    """One item of a batch once checked: event_track's arguments, cleaned, or the errors it would raise."""

    type: str = ""
    occurred_at: datetime.datetime | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    revenue: Decimal | None = None
    currency: str = ""
    message_id: str | None = None
    pairs: list[tuple[str, str]] = field(default_factory=list)
    field_errors: dict[str, list[str]] = field(default_factory=dict)
    identifier_errors: dict[str, list[str]] = field(default_factory=dict)


def _event_fields_check(item: Mapping[str, Any]) -> _Checked:
    """event_track's checks, in its order, without raising: the first errors go to field_errors."""
    checked = _Checked()
    try:
        revenue = item.get("revenue")
        errors: dict[str, str] = {}
        type_ = item.get("type")
        occurred_at = item.get("occurred_at")
        properties = item.get("properties")
        currency = item.get("currency") or ""
        if not isinstance(type_, str) or not EVENT_TYPE_PATTERN.match(type_):
            errors["type"] = _("An event type is a lower-case name such as page_view or purchase.")
        if occurred_at is not None and timezone.is_naive(occurred_at):
            errors["occurred_at"] = _("The date and time must carry a time zone.")
        if properties is not None and not isinstance(properties, Mapping):
            errors["properties"] = _("Properties must be a JSON object.")
        if revenue is not None:
            try:
                revenue = Decimal(str(revenue)).quantize(Decimal("0.01"))
            except (InvalidOperation, ValueError):
                errors["revenue"] = _("“%(value)s” is not an amount.") % {"value": revenue}
            else:
                if not revenue.is_finite() or abs(revenue) >= Decimal("1e12"):
                    errors["revenue"] = _("“%(value)s” is not an amount.") % {"value": revenue}
        if currency and not re.fullmatch(r"[A-Za-z]{3}", currency):
            errors["currency"] = _("A currency is a three-letter ISO code such as EUR.")
        if errors:
            raise ValidationError(errors)
    except ValidationError as error:
        checked.field_errors = error.message_dict
        return checked
    checked.type, checked.occurred_at, checked.revenue = type_, occurred_at, revenue
    checked.properties = dict(properties or {})
    checked.currency = (currency or (settings.CDP_DEFAULT_CURRENCY if revenue is not None else "")).upper()
    checked.message_id = item.get("message_id") or None
    try:
        checked.pairs = normalise_identifiers(item.get("identifiers") or {})
    except ValidationError as error:
        checked.identifier_errors = error.message_dict
    else:
        if not checked.pairs:
            checked.identifier_errors = {
                "identifiers": [_("At least one identifier (email, phone, CRM id, anonymous id...) is needed.")]
            }
    return checked


_EVENT_ARGUMENTS = frozenset({"type", "identifiers", "occurred_at", "properties", "revenue", "currency", "message_id"})


class _NeedsMerge(Exception):
    """The item's identifiers are held by two profiles: it goes through event_track, which merges them."""


class _BatchState:
    """What the batch knows of the identifiers it carries: who holds each, and each holder's flags.

    Holders are stored profiles (their id) or profiles this batch creates
    (a negative number, an index into ``new_profiles``).
    """

    def __init__(self, *, checked: list[_Checked], source: str) -> None:
        self.source = source
        pairs = {pair for item in checked for pair in item.pairs}
        by_kind: dict[str, list[str]] = {}
        for kind, value in pairs:
            by_kind.setdefault(kind, []).append(value)
        match = Q(pk__in=[])
        for kind, values in by_kind.items():
            match |= Q(kind=kind, value__in=values)
        self.holder: dict[tuple[str, str], int] = {
            (kind, value): profile_id
            for kind, value, profile_id in Identifier.objects.filter(match).values_list("kind", "value", "profile_id")
        }
        stored = sorted(set(self.holder.values()))
        # As event_track does, the profiles the batch adds to are locked (in id order) until it commits.
        flags = dict(
            Profile.objects.select_for_update().filter(pk__in=stored).order_by("pk").values_list("pk", "do_not_track")
        )
        if len(flags) != len(stored):
            raise IntegrityError("A profile holding these identifiers was merged away meanwhile.")
        self.untracked = {pk for pk, do_not_track in flags.items() if do_not_track}
        self.single_valued: dict[int, list[tuple[str, str]]] = {}
        for profile_id, kind, value in Identifier.objects.filter(
            profile_id__in=stored, kind__in=SINGLE_VALUED_KINDS
        ).values_list("profile_id", "kind", "value"):
            self.single_valued.setdefault(profile_id, []).append((kind, value))
        self.new_profiles: list[Profile] = []
        self.new_identifiers: list[tuple[int, str, str]] = []

    def resolve(self, pairs: list[tuple[str, str]]) -> int | None:
        """The holder the event goes to, None when the person is not tracked; IdentityConflict, _NeedsMerge."""
        holders = {self.holder[pair] for pair in pairs if pair in self.holder}
        if holders & self.untracked:
            return None
        if len(holders) > 1:
            raise _NeedsMerge
        if holders:
            (holder,) = holders
            _check_single_valued(self.single_valued.get(holder, []) + pairs)
        else:
            _check_single_valued(pairs)
            self.new_profiles.append(Profile(source=self.source))
            holder = -len(self.new_profiles)
        for pair in pairs:
            if pair not in self.holder:
                self.holder[pair] = holder
                self.new_identifiers.append((holder, *pair))
                if pair[0] in SINGLE_VALUED_KINDS:
                    self.single_valued.setdefault(holder, []).append(pair)
        return holder

    def write(self) -> dict[int, int]:
        """Create the new profiles and identifiers; returns the id of each holder number."""
        Profile.objects.bulk_create(self.new_profiles, batch_size=500)
        ids = {-(number + 1): profile.pk for number, profile in enumerate(self.new_profiles)}
        Identifier.objects.bulk_create(
            [
                Identifier(profile_id=ids.get(holder, holder), kind=kind, value=value, source=self.source)
                for holder, kind, value in self.new_identifiers
            ],
            batch_size=500,
        )
        return ids


def _events_track_set_based(
    *, checked: list[_Checked], indexes: list[int], source: str, kept: dict[str, Event], results: list[TrackedItem]
) -> list[int]:
    """Track ``indexes`` in order with a few statements, up to the first that needs a merge.

    Returns the indexes left (that one first). ``kept`` maps the message ids
    known to be kept to their event, and is kept up to date.
    """
    state = _BatchState(checked=[checked[index] for index in indexes], source=source)
    now = timezone.now()
    pending: list[tuple[int, int, Event]] = []  # (index, holder, event)
    in_batch: dict[str, Event] = {}
    left: list[int] = []
    for position, index in enumerate(indexes):
        item = checked[index]
        if item.message_id and (item.message_id in kept or item.message_id in in_batch):
            results[index] = TrackedItem(TrackOutcome.DUPLICATE, kept.get(item.message_id) or in_batch[item.message_id])
            continue
        if item.identifier_errors:
            results[index] = TrackedItem(TrackOutcome.REJECTED, errors=item.identifier_errors)
            continue
        try:
            holder = state.resolve(item.pairs)
        except IdentityConflict as error:
            results[index] = TrackedItem(TrackOutcome.REJECTED, errors=error.message_dict)
            continue
        except _NeedsMerge:
            left = indexes[position:]
            break
        if holder is None:
            results[index] = TrackedItem(TrackOutcome.NOT_KEPT)
            continue
        event = Event(
            type=item.type,
            properties=item.properties,
            occurred_at=item.occurred_at or now,
            source=source,
            revenue=item.revenue,
            currency=item.currency,
            message_id=item.message_id,
        )
        pending.append((index, holder, event))
        if item.message_id:
            in_batch[item.message_id] = event
    ids = state.write()
    for _index, holder, event in pending:
        event.profile_id = ids.get(holder, holder)
    Event.objects.bulk_create([event for _index, _holder, event in pending], batch_size=500)
    for index, _holder, event in pending:
        results[index] = TrackedItem(TrackOutcome.RECORDED, event)
    kept.update(in_batch)
    return left


def _event_track_one(item: Mapping[str, Any], *, source: str, kept: dict[str, Event]) -> TrackedItem:
    """One item through event_track, in a savepoint: how a batch tracks an event that merges profiles."""
    message_id = item.get("message_id") or None
    if message_id:
        existing = kept.get(message_id) or Event.objects.filter(message_id=message_id).first()
        if existing is not None:
            return TrackedItem(TrackOutcome.DUPLICATE, existing)
    try:
        with transaction.atomic():
            event = event_track(**item, source=source)
    except ValidationError as error:  # IdentityConflict included
        return TrackedItem(TrackOutcome.REJECTED, errors=error.message_dict)
    if event is None:
        return TrackedItem(TrackOutcome.NOT_KEPT)
    if event.message_id:
        kept[event.message_id] = event
    return TrackedItem(TrackOutcome.RECORDED, event, announced=True)


def _events_announce(events: list[tuple[int, str]]) -> None:
    if events_tracked.has_listeners():
        events_tracked.send(sender=Event, events=events)
        return
    for profile_id, event_type in events:
        event_tracked.send(sender=Event, profile_id=profile_id, event_type=event_type)


@transaction.atomic
def events_track_bulk(*, events: Sequence[Mapping[str, Any]], source: str) -> list[TrackedItem]:
    """Track a batch of events as ``event_track`` would one after the other, in a few statements.

    ``events`` holds event_track's keyword arguments (type, identifiers,
    occurred_at, properties, revenue, currency, message_id). Returns one
    TrackedItem per event, in order: recorded, duplicate (its message_id was
    kept before, in this batch or earlier), not kept (do not track), or
    rejected with the errors event_track would raise, by field; a rejected
    event writes nothing and the others are kept.

    Identifiers are looked up for the whole batch at once and the new profiles,
    identifiers and events written with one INSERT each; an event whose
    identifiers are held by two profiles goes through ``event_track`` itself,
    which merges them. Once the batch commits, ``event_tracked`` is sent once
    per (profile, event type) the batch recorded (or ``events_tracked`` once
    with those pairs, when it has receivers): its receivers re-evaluate the
    profile's real-time segments, and a triggered campaign sends a person at
    most one message a day, so a second signal for the same pair would change
    nothing.
    """
    for item in events:
        if not {"type", "identifiers"} <= set(item) or set(item) - _EVENT_ARGUMENTS:
            raise TypeError(f"An event of a batch takes event_track's arguments, not {sorted(item)}.")
    checked = [_event_fields_check(item) for item in events]
    results: list[TrackedItem] = [TrackedItem(TrackOutcome.REJECTED)] * len(checked)
    indexes = []
    for index, item in enumerate(checked):
        if item.field_errors:
            results[index] = TrackedItem(TrackOutcome.REJECTED, errors=item.field_errors)
        else:
            indexes.append(index)
    message_ids = {checked[index].message_id for index in indexes if checked[index].message_id}
    kept = {event.message_id: event for event in Event.objects.filter(message_id__in=message_ids)}
    while indexes:
        try:
            with transaction.atomic():
                left = _events_track_set_based(
                    checked=checked, indexes=indexes, source=source, kept=kept, results=results
                )
        except IntegrityError:
            # Another request added one of these identifiers or message ids meanwhile: one by one,
            # event_track finds what it wrote.
            for index in indexes:
                results[index] = _event_track_one(events[index], source=source, kept=kept)
            break
        if left:
            results[left[0]] = _event_track_one(events[left[0]], source=source, kept=kept)
        indexes = left[1:]

    announced = list(
        dict.fromkeys(
            (result.event.profile_id, result.event.type)
            for result in results
            if result.outcome == TrackOutcome.RECORDED and result.event is not None and not result.announced
        )
    )
    if announced:
        transaction.on_commit(lambda: _events_announce(announced))
    return results


# ---------------------------------------------------------------------------
# Privacy flags


@transaction.atomic
def profile_set_do_not_track(*, profile: Profile, value: bool, actor: str, reason: str = "") -> Profile:
    """Turn tracking off (deleting the behavioural data already kept) or back on; logged."""
    deleted = 0
    if value:
        deleted, _by_model = Event.objects.filter(profile=profile).delete()
    profile.do_not_track = value
    profile.save(update_fields=["do_not_track", "updated_at"])
    PrivacyLog.objects.create(
        action=PrivacyAction.DO_NOT_TRACK,
        profile_uuid=profile.uuid,
        actor=actor,
        reason=reason,
        detail={"value": value, "events_deleted": deleted},
    )
    return profile


@transaction.atomic
def profile_set_do_not_contact(*, profile: Profile, value: bool, actor: str, reason: str = "") -> Profile:
    """Suppress the person on every channel (or lift it); consents are kept as they are; logged."""
    profile.do_not_contact = value
    profile.save(update_fields=["do_not_contact", "updated_at"])
    PrivacyLog.objects.create(
        action=PrivacyAction.DO_NOT_CONTACT,
        profile_uuid=profile.uuid,
        actor=actor,
        reason=reason,
        detail={"value": value},
    )
    return profile
