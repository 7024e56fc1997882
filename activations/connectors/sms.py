"""SMS through a generic HTTP provider: one request per message, as providers take one message per call.

Destination settings:

- ``url`` and ``method`` (POST by default), ``timeout`` (seconds, 10 by default);
- ``auth``: ``none``, ``basic`` (``username`` + ``secrets["password"]``),
  ``bearer`` (``secrets["token"]``) or ``header`` (``auth_header`` names the
  header, ``secrets["token"]`` is its value);
- ``payload``: the request body, a JSON object whose text values are templates,
  e.g. ``{"to": "{{ address }}", "text": "{{ text }}", "sender": "MyShop"}``;
  each value is filled on its own, so a quote in a first name cannot break
  the JSON; ``payload_format`` ``form`` sends it form-encoded instead (a flat
  object then);
- ``sender``, ``stop_suffix`` (appended to every text, e.g. "STOP au 36111"),
  ``idempotency_header`` (``Idempotency-Key`` by default, carrying the
  delivery's idempotency key), ``test_url`` (checked by "test the connection").

Content: ``text``, a template with the profile's fields, ``address`` and
``sender`` as placeholders. The payload also knows ``text`` (filled, with the
suffix), ``idempotency_key``, ``campaign`` and ``message_id``.

2xx: sent. 429, 5xx, a timeout or a lost connection: retried (``Retry-After``
honoured); a 429, a timeout or a lost connection also leave the rest of the
batch for the next attempt instead of pressing on. Other 4xx: failed with the
status and the provider's message.
"""

import json
from collections.abc import Mapping
from typing import Any

import requests
from django.template import Template, TemplateSyntaxError
from django.utils.translation import gettext as _

from activations.connectors import (
    Batch,
    BatchOutcome,
    Connector,
    ConnectorError,
    Recipient,
    error_short,
    http_url,
    links_rewrite,
    placeholder_render,
    placeholder_template,
    register,
    retry_after_seconds,
)
from activations.models import ConnectorKind, DeliveryStatus

DEFAULT_TIMEOUT = 10.0
DEFAULT_PAYLOAD: dict[str, Any] = {"to": "{{ address }}", "text": "{{ text }}", "sender": "{{ sender }}"}
USER_AGENT = "cdp-sms/1"
AUTH_KINDS = ("none", "basic", "bearer", "header")
# Keys of a provider's JSON error that hold its message, most specific first.
PROVIDER_MESSAGE_KEYS = ("message", "error_description", "detail", "error", "description", "errors")


def _payload_compile(value: Any) -> Any:
    """The payload with every text value compiled as a template; numbers, booleans and null kept."""
    if isinstance(value, str):
        return placeholder_template(value)
    if isinstance(value, Mapping):
        return {str(key): _payload_compile(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_payload_compile(item) for item in value]
    return value


def _payload_render(value: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(value, Template):
        return placeholder_render(value, values)
    if isinstance(value, dict):
        return {key: _payload_render(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [_payload_render(item, values) for item in value]
    return value


def provider_message(response: requests.Response) -> str:
    """What the provider said about a refused request: its JSON message, or the start of its answer."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        for key in PROVIDER_MESSAGE_KEYS:
            found = body.get(key)
            if isinstance(found, Mapping):
                found = found.get("message") or found.get("description") or json.dumps(found)
            if isinstance(found, list):
                found = "; ".join(str(item) for item in found)
            if found:
                return str(found)[:300]
    return response.text[:300].strip()


@register
class SmsConnector(Connector):
    kind = ConnectorKind.SMS
    # One request per message: smaller batches keep an attempt short.
    default_batch_size = 100
    # A provider that accepted a message has sent it on; delivery receipts come later, if ever.
    accepted_status = DeliveryStatus.SENT

    @property
    def url(self) -> str:
        return http_url(self.settings)

    @property
    def method(self) -> str:
        return str(self.settings.get("method") or "POST").upper()

    @property
    def timeout(self) -> float:
        return float(self.settings.get("timeout") or DEFAULT_TIMEOUT)

    @property
    def idempotency_header(self) -> str:
        return str(self.settings.get("idempotency_header") or "Idempotency-Key")

    def session(self) -> requests.Session:
        """A session that carries the destination's credentials; ConnectorError when they are incomplete."""
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        auth = str(self.settings.get("auth") or "none")
        if auth not in AUTH_KINDS:
            raise ConnectorError(
                _("“%(auth)s” is not a kind of authentication (kinds: %(known)s).")
                % {"auth": auth, "known": ", ".join(AUTH_KINDS)}
            )
        if auth == "basic":
            if not self.settings.get("username") or not self.secrets.get("password"):
                raise ConnectorError(_("Basic authentication needs a user name and a password."))
            session.auth = (str(self.settings["username"]), str(self.secrets["password"]))
        elif auth in ("bearer", "header"):
            if not self.secrets.get("token"):
                raise ConnectorError(_("This authentication needs a token (secret “token”)."))
            if auth == "bearer":
                session.headers["Authorization"] = f"Bearer {self.secrets['token']}"
            elif not self.settings.get("auth_header"):
                raise ConnectorError(_("Name the header that carries the token (setting “auth_header”)."))
            else:
                session.headers[str(self.settings["auth_header"])] = str(self.secrets["token"])
        return session

    def templates(self, content: Mapping[str, Any]) -> tuple[Template, Any]:
        """The text and the payload, compiled; ConnectorError saying which one is wrong."""
        if not str(content.get("text") or "").strip():
            raise ConnectorError(_("The text message is empty."))
        payload = self.settings.get("payload") or DEFAULT_PAYLOAD
        try:
            if isinstance(payload, str):
                payload = json.loads(payload)
        except ValueError as error:
            raise ConnectorError(_("The payload of this destination is not JSON: %(error)s") % {"error": error})
        if not isinstance(payload, Mapping):
            raise ConnectorError(_("The payload of this destination must be a JSON object."))
        try:
            text = placeholder_template(str(content["text"]))
        except TemplateSyntaxError as error:
            raise ConnectorError(
                _("The text message has a mistake in its placeholders: %(error)s") % {"error": error}
            ) from None
        try:
            return text, _payload_compile(payload)
        except TemplateSyntaxError as error:
            raise ConnectorError(
                _("The payload of this destination has a mistake in its placeholders: %(error)s") % {"error": error}
            ) from None

    def text(
        self,
        template: Template,
        values: Mapping[str, Any],
        *,
        recipient: Recipient | None = None,
        batch: Batch | None = None,
    ) -> str:
        text = placeholder_render(template, values).strip()
        if recipient is not None and batch is not None:
            text = links_rewrite(text, part="sms", recipient=recipient, batch=batch, destination=self.destination)
        suffix = str(self.settings.get("stop_suffix") or "").strip()
        if suffix and not text.endswith(suffix):
            text = f"{text} {suffix}"
        return text

    def payload(self, *, batch: Batch, recipient: Recipient, text: Template, payload: Any) -> Any:
        values = {
            **recipient.fields,
            "address": recipient.address,
            "sender": str(self.settings.get("sender") or ""),
        }
        # Tracked links (when reporting registered its rewriter), before the STOP suffix is added.
        values["text"] = self.text(text, values, recipient=recipient, batch=batch)
        values.update(idempotency_key=recipient.idempotency_key, campaign=batch.campaign, message_id=batch.message_id)
        return _payload_render(payload, values)

    def send(self, batch: Batch) -> BatchOutcome:
        try:
            text, payload = self.templates(batch.content)
        except ConnectorError as error:
            return BatchOutcome.all_failed(batch, str(error))
        try:
            url, session = self.url, self.session()
        except ConnectorError as error:
            # The destination's settings are incomplete: someone can fix them before the next attempt.
            return BatchOutcome.all_retry(batch, str(error))
        outcome = BatchOutcome()
        with session:
            for position, recipient in enumerate(batch.recipients):
                body = self.payload(batch=batch, recipient=recipient, text=text, payload=payload)
                stop = self._send_one(session=session, url=url, body=body, recipient=recipient, outcome=outcome)
                if stop is not None:
                    for later in batch.recipients[position + 1 :]:
                        outcome.retry[later.delivery_id] = stop
                    break
        return outcome

    def _send_one(
        self, *, session: requests.Session, url: str, body: Any, recipient: Recipient, outcome: BatchOutcome
    ) -> str | None:
        """One message; returns a reason when the rest of the batch should wait for the next attempt."""
        key = recipient.delivery_id
        send_as = {"data": body} if self.settings.get("payload_format") == "form" else {"json": body}
        try:
            response = session.request(
                self.method,
                url,
                headers={self.idempotency_header: recipient.idempotency_key},
                timeout=self.timeout,
                **send_as,
            )
        except requests.Timeout:
            reason = _("No answer within %(seconds)s s.") % {"seconds": self.timeout}
            outcome.retry[key] = reason
            return reason
        except requests.ConnectionError as error:
            reason = _("Connection failed: %(error)s") % {"error": error_short(error)}
            outcome.retry[key] = reason
            return reason
        status = response.status_code
        if 200 <= status < 300:
            outcome.delivered.append(key)
            return None
        reason = _("HTTP %(status)s: %(answer)s") % {"status": status, "answer": provider_message(response)}
        if status == 429 or status >= 500:
            outcome.retry[key] = reason
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            if retry_after is not None:
                outcome.retry_after = max(retry_after, outcome.retry_after or 0.0)
            # Too many requests, or a provider that says when to come back: stop pressing it.
            return reason if status == 429 or retry_after is not None else None
        outcome.failed[key] = reason
        return None

    def test_connection(self) -> str:
        test_url = str(self.settings.get("test_url") or "")
        url = test_url or self.url
        try:
            with self.session() as session:
                response = session.request("GET" if test_url else "HEAD", url, timeout=self.timeout)
        except requests.Timeout:
            raise ConnectorError(
                _("%(url)s did not answer within %(seconds)s s.") % {"url": url, "seconds": self.timeout}
            ) from None
        except requests.ConnectionError as error:
            raise ConnectorError(
                _("Cannot connect to %(url)s: %(error)s") % {"url": url, "error": error_short(error)}
            ) from None
        status = response.status_code
        if status in (401, 403) or status >= 500 or (test_url and not 200 <= status < 300):
            raise ConnectorError(
                _("%(url)s answered HTTP %(status)s: %(answer)s")
                % {"url": url, "status": status, "answer": provider_message(response)}
            )
        if test_url:
            return _("%(url)s answered HTTP %(status)s: the provider is reachable and accepts the credentials.") % {
                "url": url,
                "status": status,
            }
        return _(
            "%(url)s is reachable (HTTP %(status)s to a HEAD request). The credentials are checked by a real "
            "send only: set “test_url” to an address of the provider that needs them (an account or balance "
            "page) to check them here."
        ) % {"url": url, "status": status}
