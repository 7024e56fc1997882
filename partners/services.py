"""Writes of the partner API: keys, the audit log, idempotency records, and each call's action.

The actions reuse the profile services (``profiles.services``) and the GDPR
functions (``profiles.gdpr``) so that data sent by a partner is treated exactly
as a CRM import or the admin would treat it: the same identity resolution and
merges, the same consent log with its proof, the same privacy log.
"""

import datetime
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from partners.models import (
    ApiKey,
    GdprRequest,
    GdprRequestKind,
    GdprRequestStatus,
    IdempotencyRecord,
    Partner,
    PartnerCall,
)
from profiles.gdpr import gdpr_erase, gdpr_export
from profiles.models import CHANNEL_ADDRESS_KIND, ConsentRecord, ConsentStatus, Event, MergeReason, Profile
from profiles.services import (
    TrackOutcome,
    consent_record,
    event_track,
    events_track_bulk,
    profile_resolve,
    profile_update,
)

KEY_PREFIX = "cdp_"
# Bytes of randomness in the secret part: 256 bits, so a plain SHA-256 is a safe way to store it.
KEY_SECRET_BYTES = 32
# last_used_at is written at most this often, not on every call.
LAST_USED_PRECISION = datetime.timedelta(minutes=1)
MAX_BATCH_EVENTS = 1000


class IdempotencyKeyReused(Exception):
    """The key was used before for another request (another endpoint or another body)."""


class IdempotencyInProgress(Exception):
    """The first request with this key has not finished yet."""


# ---------------------------------------------------------------------------
# Keys


def _key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _actor(partner: Partner) -> str:
    # Stored data (consent and privacy logs), so not translated.
    return f"partner:{partner.slug}"


@transaction.atomic
def api_key_create(*, partner: Partner, name: str = "", created_by: str = "") -> tuple[ApiKey, str]:
    """A new key for ``partner``: returns the row and the key itself, which is never available again."""
    for _attempt in range(5):
        prefix = KEY_PREFIX + secrets.token_hex(4)
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    raw_key = f"{prefix}_{secrets.token_urlsafe(KEY_SECRET_BYTES)}"
    api_key = ApiKey.objects.create(
        partner=partner, name=name, prefix=prefix, hashed_key=_key_hash(raw_key), created_by=created_by
    )
    return api_key, raw_key


def api_key_revoke(*, api_key: ApiKey, now: datetime.datetime | None = None) -> ApiKey:
    """Refuse the key from now on (revoking a revoked key keeps its first date)."""
    if api_key.revoked_at is None:
        api_key.revoked_at = now or timezone.now()
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=api_key.revoked_at)
    return api_key


def api_key_check(*, raw_key: str, now: datetime.datetime | None = None) -> ApiKey | None:
    """The active key ``raw_key`` is, with its partner, or None; notes when it was last used."""
    # cdp_<8 hex>_<secret>: the secret (URL-safe base64) may itself hold "_".
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or f"{parts[0]}_" != KEY_PREFIX or len(parts[1]) != 8:
        return None
    prefix = f"{parts[0]}_{parts[1]}"
    api_key = ApiKey.objects.select_related("partner").filter(prefix=prefix).first()
    if api_key is None or not hmac.compare_digest(api_key.hashed_key, _key_hash(raw_key)):
        return None
    if api_key.revoked_at is not None or not api_key.partner.is_active:
        return None
    now = now or timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_PRECISION:
        api_key.last_used_at = now
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    return api_key


# ---------------------------------------------------------------------------
# Audit log


def partner_call_log(
    *, partner: Partner | None, api_key: ApiKey | None, endpoint: str, method: str, status: int, duration_ms: int
) -> PartnerCall:
    """One line of the audit log. ``endpoint`` is a route name: never a path, which may hold an identifier."""
    return PartnerCall.objects.create(
        partner=partner,
        api_key=api_key,
        endpoint=endpoint[:100],
        method=method[:10],
        status=status,
        duration_ms=max(0, duration_ms),
    )


# ---------------------------------------------------------------------------
# Idempotency


def idempotency_ttl() -> datetime.timedelta:
    return datetime.timedelta(hours=settings.CDP_PARTNER_IDEMPOTENCY_HOURS)


def idempotency_begin(
    *, partner: Partner, key: str, endpoint: str, fingerprint: str, now: datetime.datetime | None = None
) -> tuple[IdempotencyRecord, bool]:
    """Claim ``key`` for this request: (record, True) when an answer is to be replayed, (record, False) to go on.

    The claim is committed at once, so that a second request with the same key
    arriving while the first runs is told so (IdempotencyInProgress) instead of
    acting twice. Records older than the retention period are forgotten.
    """
    now = now or timezone.now()
    IdempotencyRecord.objects.filter(partner=partner, created_at__lt=now - idempotency_ttl()).delete()
    for _attempt in range(2):
        existing = IdempotencyRecord.objects.filter(partner=partner, key=key).first()
        if existing is not None:
            if existing.endpoint != endpoint or existing.request_fingerprint != fingerprint:
                raise IdempotencyKeyReused
            if existing.status == 0:
                raise IdempotencyInProgress
            return existing, True
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    partner=partner, key=key, endpoint=endpoint, request_fingerprint=fingerprint, status=0
                )
            return record, False
        except IntegrityError:
            continue  # another request claimed it in between: read its record
    raise IdempotencyInProgress


def idempotency_finish(*, record: IdempotencyRecord, status: int, response: Any, profile: Profile | None) -> None:
    """Keep the answer to replay it; ``profile`` ties it to the person it names, so an erasure removes it."""
    record.status = status
    record.response = response
    record.profile = profile if profile is not None and profile.pk is not None else None
    record.save(update_fields=["status", "response", "profile"])


def idempotency_abandon(*, record: IdempotencyRecord) -> None:
    """The request failed on our side: free the key so that a retry acts."""
    IdempotencyRecord.objects.filter(pk=record.pk, status=0).delete()


# ---------------------------------------------------------------------------
# Profiles


@dataclass
class Upsert:
    profile: Profile
    created: bool
    merged: int


@transaction.atomic
def partner_profile_upsert(
    *,
    partner: Partner,
    identifiers: Sequence[tuple[str, str]],
    fields: Mapping[str, Any],
    traits: Mapping[str, Any],
) -> Upsert:
    """Create or update the person these identifiers belong to, as a CRM import row does.

    Identity is resolved on all the identifiers (merging the profiles they
    belong to, logged with the API as reason); the values given overwrite the
    profile's fields, those left out keep theirs; traits are merged in.
    Raises IdentityConflict when the identifiers belong to two people.
    """
    resolution = profile_resolve(identifiers=identifiers, source=_actor(partner), reason=MergeReason.API)
    given = {name: value for name, value in fields.items() if value not in ("", None)}
    if given or traits:
        profile_update(profile=resolution.profile, fields=given, traits=traits)
    return Upsert(profile=resolution.profile, created=resolution.created, merged=len(resolution.merged_profile_ids))


# ---------------------------------------------------------------------------
# Events


class EventOutcome:
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    NOT_KEPT = "not_kept"  # the person asked not to be tracked


@dataclass
class TrackedEvent:
    outcome: str
    event: Event | None


def partner_event_track(*, partner: Partner, event: Mapping[str, Any]) -> TrackedEvent:
    """Record one event (checked by the API's serializer) through ``event_track``."""
    message_id = event.get("message_id") or None
    if message_id:
        existing = Event.objects.filter(message_id=message_id).first()
        if existing is not None:
            return TrackedEvent(EventOutcome.DUPLICATE, existing)
    recorded = event_track(
        type=event["type"],
        identifiers=event["identifiers"],
        source=_actor(partner),
        occurred_at=event.get("occurred_at"),
        properties=event.get("properties"),
        revenue=event.get("revenue"),
        currency=event.get("currency") or "",
        message_id=message_id,
    )
    if recorded is None:
        return TrackedEvent(EventOutcome.NOT_KEPT, None)
    return TrackedEvent(EventOutcome.RECORDED, recorded)


@dataclass
class BatchResult:
    received: int = 0
    counts: dict[str, int] = field(
        default_factory=lambda: {EventOutcome.RECORDED: 0, EventOutcome.DUPLICATE: 0, EventOutcome.NOT_KEPT: 0}
    )
    rejected: list[tuple[int, dict[str, list[str]]]] = field(default_factory=list)


@transaction.atomic
def partner_events_track(*, partner: Partner, events: Sequence[Mapping[str, Any]]) -> BatchResult:
    """Record a batch of checked events in one transaction, through ``events_track_bulk``.

    An event whose identifiers name two people (two CRM ids) is rejected on its
    own, with its position; the others are kept. Real-time segment updates run
    once the batch commits.
    """
    if len(events) > MAX_BATCH_EVENTS:
        raise ValidationError(
            {"events": _("At most %(max)s events per batch.") % {"max": MAX_BATCH_EVENTS}}, code="batch_too_large"
        )
    result = BatchResult(received=len(events))
    tracked = events_track_bulk(
        events=[{**event, "message_id": event.get("message_id") or None} for event in events], source=_actor(partner)
    )
    for index, item in enumerate(tracked):
        if item.outcome == TrackOutcome.REJECTED:
            result.rejected.append((index, item.errors))
        else:
            result.counts[item.outcome] += 1
    return result


# ---------------------------------------------------------------------------
# Consents


@dataclass
class ConsentUpdate:
    profile: Profile
    record: ConsentRecord


@transaction.atomic
def partner_consent_update(
    *,
    partner: Partner,
    identifiers: Sequence[tuple[str, str]],
    channel: str,
    status: str,
    proof: Mapping[str, Any],
    address: str = "",
    legal_basis: str = "",
    occurred_at: datetime.datetime | None = None,
) -> ConsentUpdate:
    """Record what the person said for ``channel``, with the partner's proof, in the consent log.

    The person is found (or created) from the identifiers as by an import. For
    email, SMS and phone, a grant without an address covers the address of that
    kind among the identifiers, as a consent column of an import does.
    """
    resolution = profile_resolve(identifiers=identifiers, source=_actor(partner), reason=MergeReason.API)
    address_kind = CHANNEL_ADDRESS_KIND.get(channel)
    if not address and address_kind is not None and status == ConsentStatus.GRANTED:
        address = next((value for kind, value in identifiers if kind == address_kind), "")
    kept_proof = {key: value for key, value in proof.items() if value not in ("", None)}
    kept_proof["partner"] = partner.slug
    record = consent_record(
        profile=resolution.profile,
        channel=channel,
        status=status,
        address=address,
        source=str(proof.get("source", ""))[:200],
        proof=kept_proof,
        occurred_at=occurred_at,
        recorded_by=_actor(partner),
        **({"legal_basis": legal_basis} if legal_basis else {}),
    )
    return ConsentUpdate(profile=resolution.profile, record=record)


# ---------------------------------------------------------------------------
# GDPR


@transaction.atomic
def partner_gdpr_request(*, partner: Partner, kind: str, profile: Profile, reason: str = "") -> GdprRequest:
    """Record a partner's GDPR request; an erasure is carried out at once, an export waits for its download."""
    if kind not in GdprRequestKind.values:
        raise ValidationError({"kind": _("“%(kind)s” is not a GDPR request (export or erasure).") % {"kind": kind}})
    request = GdprRequest.objects.create(
        partner=partner,
        kind=kind,
        profile=profile,
        profile_uuid=profile.uuid,
        reason=reason,
        status=GdprRequestStatus.READY if kind == GdprRequestKind.EXPORT else GdprRequestStatus.DONE,
    )
    if kind == GdprRequestKind.ERASURE:
        log = gdpr_erase(profile=profile, actor=_actor(partner), reason=reason or "partner API request")
        GdprRequest.objects.filter(pk=request.pk).update(privacy_log=log, completed_at=timezone.now())
        request.refresh_from_db()
    return request


@transaction.atomic
def partner_gdpr_export(*, partner: Partner, request: GdprRequest) -> dict[str, Any]:
    """Everything held about the person of an export request; each download is written to the privacy log."""
    if request.kind != GdprRequestKind.EXPORT or request.profile_id is None:
        raise Profile.DoesNotExist(_("The person of this request is no longer held."))
    data = gdpr_export(profile=request.profile, actor=_actor(partner), reason=request.reason or "partner API request")
    if request.status != GdprRequestStatus.DONE:
        request.status = GdprRequestStatus.DONE
        request.completed_at = timezone.now()
        request.save(update_fields=["status", "completed_at"])
    return data
