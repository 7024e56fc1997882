"""Replies to text messages, posted by the SMS provider: a STOP withdraws the SMS consent of that number.

The provider calls ``/inbound/sms/<destination id>/`` with the shared secret
``secrets["inbound_token"]`` of the destination, in the URL (``?token=...``) or
in a header (``inbound_token_header``, ``X-Inbound-Token`` by default). It may
post JSON or a form, or pass the fields in the query string; the destination's
settings name the fields: ``inbound_from_field`` ("from"), ``inbound_text_field``
("text"), ``inbound_id_field`` ("id"); a dotted name reads into nested JSON
("message.from"). ``inbound_stop_words`` adds words to the built-in ones.

A reply whose text is a stop word (STOP, ARRET, ARRÊT, STOP SMS, UNSUBSCRIBE,
DESINSCRIRE, whatever the case, accents and spaces around) withdraws the SMS
consent of that number, and of that number only, through the consent log.
Anything else, and a number nobody holds, is acknowledged and ignored: the
provider gets a 200 at once and does not post it again.
"""

import hmac
import json
import logging
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from activations.models import ConnectorKind, Destination
from profiles.models import Channel, ConsentStatus, IdentifierKind, Profile
from profiles.normalisation import normalise_identifier
from profiles.selectors import profile_find
from profiles.services import consent_record

logger = logging.getLogger(__name__)

SOURCE = "SMS STOP reply"
STOP_WORDS = frozenset({"stop", "arret", "stop sms", "unsubscribe", "desinscrire"})
DEFAULT_TOKEN_HEADER = "X-Inbound-Token"  # noqa: S105 (a header name, not a secret)


def stop_word_fold(text: str) -> str:
    """Lower case, accents and surrounding punctuation gone, spaces collapsed: " Arrêt ! " -> "arret"."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.casefold().split()).strip(" .!,;")


def is_stop_reply(text: str, extra_words: Iterable[str] = ()) -> bool:
    words = STOP_WORDS | {stop_word_fold(word) for word in extra_words}
    return stop_word_fold(text) in words


def _phone_holder(number: str) -> tuple[Profile | None, str]:
    """The profile holding this phone number, and the number in E.164; providers often drop the "+"."""
    candidates = [number]
    digits = number.strip()
    if digits.isdigit() and not digits.startswith("0"):
        candidates.append(f"+{digits}")
    for candidate in candidates:
        try:
            normalised = normalise_identifier(IdentifierKind.PHONE, candidate)
        except ValidationError:
            continue
        profile = profile_find(kind=IdentifierKind.PHONE, value=normalised)
        if profile is not None:
            return profile, normalised
    return None, number


@transaction.atomic
def sms_reply_receive(*, destination: Destination, sender: str, text: str, provider_message_id: str) -> str:
    """Act on one reply; returns what was done: withdrawn, already_withdrawn, ignored or unknown_number."""
    if not is_stop_reply(text, destination.settings.get("inbound_stop_words") or ()):
        return "ignored"
    profile, number = _phone_holder(sender)
    if profile is None:
        return "unknown_number"
    # A provider posting the same reply twice at once gets one withdrawal written, not two.
    Profile.objects.select_for_update().filter(pk=profile.pk).first()
    if profile.consents.filter(channel=Channel.SMS, address=number, status=ConsentStatus.WITHDRAWN).exists():
        return "already_withdrawn"
    consent_record(
        profile=profile,
        channel=Channel.SMS,
        status=ConsentStatus.WITHDRAWN,
        address=number,
        source=SOURCE,
        proof={"text": text, "provider_message_id": provider_message_id, "destination": destination.pk},
    )
    return "withdrawn"


def _fields(request: HttpRequest) -> Mapping[str, Any]:
    """The reply's fields, whichever way the provider sent them."""
    fields: dict[str, Any] = {key: value for key, value in request.GET.items() if key != "token"}
    if request.method == "POST":
        if request.content_type == "application/json":
            try:
                body = json.loads(request.body or b"{}")
            except ValueError:
                body = {}
            if isinstance(body, Mapping):
                fields.update(body)
        else:
            fields.update(request.POST.items())
    return fields


def _field(fields: Mapping[str, Any], name: str) -> str:
    value: Any = fields
    for part in name.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return "" if value is None else str(value)


def _token_matches(request: HttpRequest, destination: Destination) -> bool:
    expected = str(destination.secrets.get("inbound_token") or "")
    header = str(destination.settings.get("inbound_token_header") or DEFAULT_TOKEN_HEADER)
    given = request.GET.get("token") or request.headers.get(header) or ""
    # Without a secret set, nobody may post: an open endpoint would let anyone unsubscribe anyone.
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


@csrf_exempt
@require_http_methods(["GET", "POST"])
def inbound_sms_view(request: HttpRequest, destination_id: int) -> JsonResponse:
    destination = Destination.objects.filter(pk=destination_id, kind=ConnectorKind.SMS).first()
    if destination is None:
        return JsonResponse({"ok": False, "error": "unknown_destination"}, status=404)
    if not _token_matches(request, destination):
        return JsonResponse({"ok": False, "error": "forbidden"}, status=403)
    fields = _fields(request)
    settings = destination.settings
    sender = _field(fields, str(settings.get("inbound_from_field") or "from"))
    text = _field(fields, str(settings.get("inbound_text_field") or "text"))
    message_id = _field(fields, str(settings.get("inbound_id_field") or "id"))
    outcome = sms_reply_receive(destination=destination, sender=sender, text=text, provider_message_id=message_id)
    logger.info("SMS reply %s on destination %s: %s", message_id or "(no id)", destination.pk, outcome)
    return JsonResponse({"ok": True, "outcome": outcome})
