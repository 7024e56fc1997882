"""Unsubscribe links: a signed token per (profile, channel, address, campaign), and the page it opens.

The link in a message opens a confirmation page (GET changes nothing, as mail
scanners open links); its button, or a mail client's one-click POST (RFC 8058,
``List-Unsubscribe=One-Click``), withdraws the consent for that address through
the consent log. The token is signed with SECRET_KEY and never expires: a link
in an old email must still work. A second click finds the consent already
withdrawn and says so; a token that does not verify gets a 404 that tells
nothing.
"""

import hashlib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from activations.connectors import Batch, Recipient
from profiles.models import CHANNEL_ADDRESS_KIND, Channel, ConsentStatus, Profile
from profiles.selectors import profile_find
from profiles.services import consent_record

TOKEN_SALT = "activations.unsubscribe"  # noqa: S105 (a namespace for signatures, not a secret)
SOURCE = "unsubscribe link"
# Channels whose messages carry an unsubscribe link, and whose page wording exists.
UNSUBSCRIBE_CHANNELS = (Channel.EMAIL, Channel.SMS)


@dataclass(frozen=True)
class UnsubscribeToken:
    profile_uuid: str
    channel: str
    address: str
    campaign: str

    @property
    def address_masked(self) -> str:
        return address_mask(self.address)


def unsubscribe_token(*, profile_uuid: str, channel: str, address: str, campaign: str) -> str:
    payload = {"p": profile_uuid, "c": channel, "a": address, "k": campaign}
    return signing.dumps(payload, salt=TOKEN_SALT, compress=True)


def unsubscribe_token_read(token: str) -> UnsubscribeToken:
    """The token's content; signing.BadSignature when it was not made here or was altered."""
    payload = signing.loads(token, salt=TOKEN_SALT)
    try:
        read = UnsubscribeToken(
            profile_uuid=str(payload["p"]),
            channel=str(payload["c"]),
            address=str(payload["a"]),
            campaign=str(payload["k"]),
        )
    except (KeyError, TypeError):
        raise signing.BadSignature("Not an unsubscribe token.") from None
    if read.channel not in UNSUBSCRIBE_CHANNELS or not read.address:
        raise signing.BadSignature("Not an unsubscribe token.")
    return read


def token_id(token: str) -> str:
    """A short fingerprint of the token, kept as proof (the token itself names the address)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def unsubscribe_url(recipient: Recipient, batch: Batch) -> str:
    """The absolute unsubscribe link for this recipient of this campaign."""
    token = unsubscribe_token(
        profile_uuid=recipient.profile_uuid, channel=batch.channel, address=recipient.address, campaign=batch.campaign
    )
    path = reverse("activations:unsubscribe", kwargs={"token": token})
    return settings.CDP_PUBLIC_URL.rstrip("/") + path


def address_mask(address: str) -> str:
    """Enough of the address for its owner to recognise it, not enough to read it: a…@e….fr, +336…78."""
    if "@" in address:
        local, _at, domain = address.partition("@")
        name, dot, suffix = domain.rpartition(".")
        shown_domain = f"{name[:1]}…{dot}{suffix}" if name else f"{suffix[:1]}…"
        return f"{local[:1]}…@{shown_domain}"
    return f"{address[:4]}…{address[-2:]}" if len(address) > 6 else "…"


def _profile_holding(token: UnsubscribeToken) -> Profile | None:
    """Whoever holds the address now: the profile of the link, or the one it was merged into."""
    return profile_find(kind=CHANNEL_ADDRESS_KIND[token.channel], value=token.address)


def unsubscribe_is_done(*, token: UnsubscribeToken) -> bool:
    """True when nothing is left to withdraw: the address's consent is withdrawn, or nobody holds it any more."""
    profile = _profile_holding(token)
    if profile is None:
        return True
    return profile.consents.filter(
        channel=token.channel, address=token.address, status=ConsentStatus.WITHDRAWN
    ).exists()


@transaction.atomic
def unsubscribe_confirm(*, token: str, ip: str, user_agent: str, one_click: bool) -> bool:
    """Withdraw the consent the token names; True when withdrawn now, False when it already was.

    Only the address of the link is withdrawn: the person's other addresses keep
    their consent. The consent log records the campaign, a fingerprint of the
    token, the IP address and the user agent as proof.
    """
    read = unsubscribe_token_read(token)
    profile = _profile_holding(read)
    if profile is None:
        return False
    # Two clicks at once (a mail client's one-click and the person's) write one withdrawal, not two.
    Profile.objects.select_for_update().filter(pk=profile.pk).first()
    if unsubscribe_is_done(token=read):
        return False
    consent_record(
        profile=profile,
        channel=read.channel,
        status=ConsentStatus.WITHDRAWN,
        address=read.address,
        source=SOURCE,
        proof={
            "campaign": read.campaign,
            "token_id": token_id(token),
            "ip": ip,
            "user_agent": user_agent[:500],
            "one_click": one_click,
        },
    )
    return True


# ---------------------------------------------------------------------------
# Views


def _page(
    request: HttpRequest, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    response = render(request, f"activations/{template}", context or {}, status=status)
    response["X-Robots-Tag"] = "noindex"
    return response


# No CSRF token: mail clients post the one-click request from outside, and the signed token is the proof.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        read = unsubscribe_token_read(token)
    except signing.BadSignature:
        return _page(request, "unsubscribe_invalid.html", status=404)
    context = {"address": read.address_masked, "channel": read.channel}
    if request.method == "GET":
        if unsubscribe_is_done(token=read):
            return _page(request, "unsubscribe_done.html", {**context, "already": True})
        return _page(request, "unsubscribe_confirm.html", context)
    withdrawn = unsubscribe_confirm(
        token=token,
        ip=request.META.get("REMOTE_ADDR", ""),
        user_agent=request.headers.get("User-Agent", ""),
        one_click=request.POST.get("List-Unsubscribe") == "One-Click",
    )
    return _page(request, "unsubscribe_done.html", {**context, "already": not withdrawn})
