"""Webhook / HTTP API: a JSON POST per batch, signed as the Standard Webhooks specification says.

Headers: ``webhook-id`` (the batch's id, the same on every attempt: the
receiver's idempotency key), ``webhook-timestamp`` and ``webhook-signature``
(``v1,<base64 HMAC-SHA256 of id.timestamp.body>``, one per active secret so
that a secret can be rotated: the receiver accepts either while it switches).
Every recipient also carries its own delivery idempotency key.

2xx: delivered. 429, 5xx, a timeout or a dropped connection: retried later
(``Retry-After`` honoured). Any other 4xx: failed, with the status and the
start of the receiver's answer.
"""

import datetime
import json
from typing import Any

import requests
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.translation import gettext as _
from standardwebhooks.webhooks import Webhook

from activations.connectors import (
    Batch,
    BatchOutcome,
    Connector,
    ConnectorError,
    error_short,
    http_outcome,
    http_url,
    register,
)
from activations.models import ConnectorKind

DEFAULT_TIMEOUT = 10.0
USER_AGENT = "cdp-webhooks/1"


def signatures(*, secrets: list[str], message_id: str, timestamp: datetime.datetime, body: str) -> str:
    """The webhook-signature header: one v1 signature per secret, space-separated."""
    return " ".join(Webhook(secret).sign(message_id, timestamp, body) for secret in secrets)


@register
class WebhookConnector(Connector):
    kind = ConnectorKind.WEBHOOK
    default_batch_size = 500

    @property
    def url(self) -> str:
        return http_url(self.settings)

    @property
    def timeout(self) -> float:
        return float(self.settings.get("timeout") or DEFAULT_TIMEOUT)

    def signing_secrets(self) -> list[str]:
        """The current secret first, then the previous one while the receiver switches over."""
        found = [self.secrets.get("signing_secret"), self.secrets.get("previous_signing_secret")]
        return [secret for secret in found if secret]

    def post(self, *, message_id: str, payload: dict[str, Any]) -> requests.Response:
        body = json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"))
        now = timezone.now()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
        }
        secrets = self.signing_secrets()
        if secrets:
            headers["webhook-signature"] = signatures(secrets=secrets, message_id=message_id, timestamp=now, body=body)
        return requests.post(self.url, data=body.encode(), headers=headers, timeout=self.timeout)

    def send(self, batch: Batch) -> BatchOutcome:
        payload = {
            "type": "campaign.deliveries",
            "campaign": batch.campaign,
            "run": batch.run,
            "channel": batch.channel,
            "content": batch.content,
            "recipients": [
                {
                    "idempotency_key": recipient.idempotency_key,
                    "profile_id": recipient.profile_uuid,
                    "address": recipient.address,
                    **recipient.fields,
                }
                for recipient in batch.recipients
            ],
        }
        return http_outcome(
            lambda: self.post(message_id=batch.message_id, payload=payload),
            delivery_ids=[recipient.delivery_id for recipient in batch.recipients],
            timeout=self.timeout,
        )

    keeps_lists = True

    def withdrawal_notify(self, *, message_id: str, profile_uuid: str, channel: str, address: str) -> BatchOutcome:
        payload = {"type": "consent.withdrawn", "profile_id": profile_uuid, "channel": channel, "address": address}
        return http_outcome(
            lambda: self.post(message_id=message_id, payload=payload), delivery_ids=[0], timeout=self.timeout
        )

    def test_connection(self) -> str:
        message_id = f"ping_{int(timezone.now().timestamp())}"
        try:
            response = self.post(message_id=message_id, payload={"type": "ping"})
        except requests.Timeout:
            raise ConnectorError(
                _("%(url)s did not answer within %(seconds)s s.") % {"url": self.url, "seconds": self.timeout}
            ) from None
        except requests.ConnectionError as error:
            raise ConnectorError(
                _("Cannot connect to %(url)s: %(error)s") % {"url": self.url, "error": error_short(error)}
            ) from None
        if not 200 <= response.status_code < 300:
            raise ConnectorError(
                _("%(url)s answered HTTP %(status)s: %(answer)s")
                % {"url": self.url, "status": response.status_code, "answer": response.text[:200].strip()}
            )
        signed = _("signed") if self.signing_secrets() else _("not signed (no secret set)")
        return _("%(url)s accepted a test message (HTTP %(status)s, %(signed)s).") % {
            "url": self.url,
            "status": response.status_code,
            "signed": signed,
        }
