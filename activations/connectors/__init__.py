"""Connectors: how a batch of deliveries reaches a destination.

A connector is a class registered under its ``ConnectorKind``. It is built from
a Destination and sends one batch at a time (``send``), returning what became
of each delivery: delivered, failed for good (with the reason), or to retry
(with the reason, and the peer's ``Retry-After`` when it gave one). It never
decides who may be contacted: the run hands it only deliveries that passed the
consent gate and the pressure cap.
"""

import email.utils
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import requests
from django.template import Context, Engine, Template
from django.utils import timezone
from django.utils.translation import gettext as _

from activations.models import Destination


class ConnectorError(Exception):
    """The destination cannot be reached or refused us; the message says exactly why."""


@dataclass(frozen=True)
class Recipient:
    delivery_id: int
    idempotency_key: str
    profile_id: int
    profile_uuid: str
    address: str  # the consented address on email, SMS and phone; "" on other channels
    fields: dict[str, Any]  # first_name, last_name, city, ... and traits, for placeholders and columns


@dataclass(frozen=True)
class Batch:
    message_id: str  # the same on every attempt of this batch
    campaign: str  # the campaign's slug
    run: str  # the run's uuid
    channel: str
    content: dict[str, Any]
    recipients: list[Recipient]


@dataclass
class BatchOutcome:
    delivered: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)  # delivery id -> reason; not retried
    retry: dict[int, str] = field(default_factory=dict)  # delivery id -> reason; retried later
    retry_after: float | None = None  # seconds the peer asked us to wait

    @classmethod
    def all_retry(cls, batch: Batch, reason: str, retry_after: float | None = None) -> "BatchOutcome":
        return cls(retry={r.delivery_id: reason for r in batch.recipients}, retry_after=retry_after)

    @classmethod
    def all_failed(cls, batch: Batch, reason: str) -> "BatchOutcome":
        return cls(failed={r.delivery_id: reason for r in batch.recipients})

    @classmethod
    def all_delivered(cls, batch: Batch) -> "BatchOutcome":
        return cls(delivered=[r.delivery_id for r in batch.recipients])


class Connector:
    kind: ClassVar[str]
    # Deliveries per batch unless the destination says otherwise; None: the whole run in one batch (files).
    default_batch_size: ClassVar[int | None] = 500

    def __init__(self, destination: Destination) -> None:
        self.destination = destination
        self.settings = destination.settings
        self.secrets = destination.secrets

    @property
    def batch_size(self) -> int | None:
        if self.default_batch_size is None:
            return None
        return int(self.settings.get("batch_size") or self.default_batch_size)

    def test_connection(self) -> str:
        """A sentence saying what was checked; ConnectorError with the exact error otherwise."""
        raise NotImplementedError

    def send(self, batch: Batch) -> BatchOutcome:
        raise NotImplementedError

    # Destinations that keep their own list of people are told of each consent withdrawal.
    keeps_lists: ClassVar[bool] = False

    def withdrawal_notify(self, *, message_id: str, profile_uuid: str, channel: str, address: str) -> BatchOutcome:
        """Tell the destination to stop addressing this person: delivered, failed or retry (one pseudo-recipient 0)."""
        raise NotImplementedError


# ---------------------------------------------------------------------------
# Helpers the connectors share


def http_url(settings: Mapping[str, Any]) -> str:
    """The destination's http(s) address, or ConnectorError saying there is none."""
    url = str(settings.get("url") or "")
    if not url.startswith(("http://", "https://")):
        raise ConnectorError(_("The destination has no http:// or https:// address to send to."))
    return url


# Placeholders are Django templates read from a string: the built-in tags and filters, no loader.
_PLACEHOLDER_ENGINE = Engine()


def placeholder_template(source: str) -> Template:
    """A message template (subject, body, payload value); TemplateSyntaxError when it is malformed."""
    return _PLACEHOLDER_ENGINE.from_string(source)


def placeholder_render(template: Template, values: Mapping[str, Any], *, html: bool = False) -> str:
    """Fill the placeholders; values are escaped in HTML only."""
    return template.render(Context(dict(values), autoescape=html))


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds, whether the peer wrote a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


def error_short(error: Exception) -> str:
    """The last, most specific part of a requests error ("Connection refused", not the whole chain)."""
    text = str(error)
    for marker in ("Errno", "Caused by"):
        if marker in text:
            return text[text.rindex(marker) :].strip(" )'\"")[:200]
    return text[:200]


def http_outcome(request: Callable[[], requests.Response], *, delivery_ids: list[int], timeout: float) -> BatchOutcome:
    """What became of one HTTP request: delivered (2xx), retried (timeouts, dropped connections, 429, 5xx,
    with the peer's Retry-After) or failed (other answers), for every delivery it carried."""

    def every(reason: str) -> dict[int, str]:
        return dict.fromkeys(delivery_ids, reason)

    try:
        response = request()
    except requests.Timeout:
        return BatchOutcome(retry=every(_("No answer within %(seconds)s s.") % {"seconds": timeout}))
    except requests.ConnectionError as error:
        return BatchOutcome(retry=every(_("Connection failed: %(error)s") % {"error": error_short(error)}))
    status = response.status_code
    if 200 <= status < 300:
        return BatchOutcome(delivered=list(delivery_ids))
    reason = _("HTTP %(status)s: %(answer)s") % {"status": status, "answer": response.text[:200].strip()}
    if status == 429 or status >= 500:
        return BatchOutcome(retry=every(reason), retry_after=retry_after_seconds(response.headers.get("Retry-After")))
    return BatchOutcome(failed=every(reason))


# Message trackers: another app (reporting) registers functions that rewrite each rendered body
# (tracked links, the open pixel), so that activations never imports it.
LINK_REWRITERS: list = []


def register_link_rewriter(rewriter: Any) -> Any:
    """Register ``rewriter(body, *, part, recipient, batch, destination) -> str``; part is html, text or sms."""
    if rewriter not in LINK_REWRITERS:
        LINK_REWRITERS.append(rewriter)
    return rewriter


def links_rewrite(body: str, *, part: str, recipient: Recipient, batch: Batch, destination: Destination) -> str:
    """The body as the registered rewriters leave it (as it is when none is registered)."""
    for rewriter in LINK_REWRITERS:
        body = rewriter(body, part=part, recipient=recipient, batch=batch, destination=destination)
    return body


REGISTRY: dict[str, type[Connector]] = {}


def register(connector: type[Connector]) -> type[Connector]:
    REGISTRY[connector.kind] = connector
    return connector


def connectors_load() -> dict[str, type[Connector]]:
    """Import every module of this package: each registers its connector."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return REGISTRY


def connector_for(destination: Destination) -> Connector:
    connectors_load()
    try:
        return REGISTRY[destination.kind](destination)
    except KeyError:
        raise ConnectorError(f"No connector for the destination type “{destination.kind}”.") from None
