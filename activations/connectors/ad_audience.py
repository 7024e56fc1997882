"""Ad audience: people's identifiers, normalised and SHA-256 hashed, added to and removed from a customer list.

Shaped like Meta's custom audience users API (``POST`` adds, ``DELETE``
removes, on ``{url}/{audience_id}/users``):

    {"payload": {"schema": ["EMAIL_SHA256", "PHONE_SHA256"], "data": [["<hash>", "<hash>"], ...]},
     "session": {"session_id": 123, "batch_seq": 1, "last_batch_flag": true, "estimated_num_total": 2}}

A person gives one row per email (or phone) they have, their first email with
their first phone, and so on; a missing value is "". The session id comes from
the batch's id, so every attempt of a batch is the same session (also sent as
the ``Idempotency-Key`` header).

Normalised as the platforms document it, then hashed (SHA-256, lower-case hex):
an email trimmed and lower-cased; a phone with its country code, digits only,
without "+" nor leading zeros (Meta, TikTok), or in E.164 with its "+" when the
setting ``phone_format`` is ``e164`` (Google Customer Match). The CRM id is not
sent: a platform only matches an external id it already received from the
advertiser's own tag, and each platform hashes it its own way.

Settings: ``url`` (the API base, e.g. https://graph.facebook.com/v21.0),
``audience_id``, ``batch_size`` (10,000 by default, Meta's maximum per call),
``timeout`` (seconds, 10 by default), ``phone_format`` (``digits`` or
``e164``). Secret: ``access_token``, sent as a Bearer token.

2xx: done. 429, 5xx, a timeout or a dropped connection: retried later
(``Retry-After`` honoured). Any other 4xx: failed, with the status and the
start of the platform's answer. Which people to add and which to remove is
decided in ``activations.audiences``.
"""

import hashlib
import json
import re
from collections.abc import Iterable, Mapping

import requests
from django.utils.translation import gettext as _

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
from profiles.models import IdentifierKind

DEFAULT_TIMEOUT = 10.0
USER_AGENT = "cdp-audiences/1"
# The payload's columns, and the identifier kind each one is made from.
COLUMNS: dict[str, str] = {"EMAIL_SHA256": IdentifierKind.EMAIL, "PHONE_SHA256": IdentifierKind.PHONE}
PHONE_FORMATS = ("digits", "e164")

Hashes = dict[str, list[str]]  # column -> hashes, e.g. {"EMAIL_SHA256": ["…"], "PHONE_SHA256": []}


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def email_for_matching(value: str) -> str:
    return value.strip().lower()


def phone_for_matching(value: str, *, phone_format: str = "digits") -> str:
    """Country code and number, digits only (``e164``: with the "+"); stored phones are already E.164."""
    digits = re.sub(r"\D", "", value).lstrip("0")
    return f"+{digits}" if phone_format == "e164" else digits


def identifier_hashes(identifiers: Iterable[tuple[str, str]], *, phone_format: str = "digits") -> Hashes:
    """The hashes of a person's (kind, value) identifiers, per column, in order and without repeats."""
    found: Hashes = {column: [] for column in COLUMNS}
    for kind, value in identifiers:
        if kind == IdentifierKind.EMAIL:
            column, normalised = "EMAIL_SHA256", email_for_matching(value)
        elif kind == IdentifierKind.PHONE:
            column, normalised = "PHONE_SHA256", phone_for_matching(value, phone_format=phone_format)
        else:
            continue
        digest = sha256_hex(normalised)
        if normalised and digest not in found[column]:
            found[column].append(digest)
    return found


def hashes_union(*all_hashes: Mapping[str, list[str]]) -> Hashes:
    union: Hashes = {column: [] for column in COLUMNS}
    for hashes in all_hashes:
        for column in COLUMNS:
            union[column].extend(digest for digest in hashes.get(column, []) if digest not in union[column])
    return union


def hashes_empty(hashes: Mapping[str, list[str]]) -> bool:
    return not any(hashes.get(column) for column in COLUMNS)


def hash_rows(hashes: Mapping[str, list[str]]) -> list[list[str]]:
    """One row per email or phone: the first email with the first phone, and so on; "" where one is missing."""
    columns = [list(hashes.get(column, [])) for column in COLUMNS]
    return [
        [values[index] if index < len(values) else "" for values in columns] for index in range(max(map(len, columns)))
    ]


def session_id(message_id: str) -> int:
    """A positive 64-bit session id (Meta's type) derived from the batch's id: the same on every attempt."""
    return int(hashlib.sha256(message_id.encode()).hexdigest()[:15], 16)


@register
class AdAudienceConnector(Connector):
    kind = ConnectorKind.AD_AUDIENCE
    default_batch_size = 10_000
    keeps_lists = True
    identifier_kinds = tuple(COLUMNS.values())

    @property
    def url(self) -> str:
        audience_id = str(self.settings.get("audience_id") or "").strip()
        if not audience_id:
            raise ConnectorError(_("The destination has no audience id (setting “audience_id”)."))
        return f"{http_url(self.settings).rstrip('/')}/{audience_id}/users"

    @property
    def timeout(self) -> float:
        return float(self.settings.get("timeout") or DEFAULT_TIMEOUT)

    @property
    def phone_format(self) -> str:
        phone_format = str(self.settings.get("phone_format") or "digits")
        if phone_format not in PHONE_FORMATS:
            raise ConnectorError(
                _("“%(value)s” is not a phone format (formats: %(known)s).")
                % {"value": phone_format, "known": ", ".join(PHONE_FORMATS)}
            )
        return phone_format

    def headers(self, *, message_id: str | None = None) -> dict[str, str]:
        token = str(self.secrets.get("access_token") or "")
        if not token:
            raise ConnectorError(_("The destination has no access token (secret “access_token”)."))
        headers = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}
        if message_id:
            headers["Idempotency-Key"] = message_id
        return headers

    def request(self, method: str, *, message_id: str, rows: list[list[str]]) -> requests.Response:
        """POST (add) or DELETE (remove) these rows as one session; ConnectorError when settings are missing."""
        url, headers = self.url, self.headers(message_id=message_id)
        body = {
            "payload": {"schema": list(COLUMNS), "data": rows},
            "session": {
                "session_id": session_id(message_id),
                "batch_seq": 1,
                "last_batch_flag": True,
                "estimated_num_total": len(rows),
            },
        }
        return requests.request(
            method,
            url,
            data=json.dumps(body, separators=(",", ":")).encode(),
            headers={**headers, "Content-Type": "application/json"},
            timeout=self.timeout,
        )

    def hashes_of(self, identifiers: Iterable[tuple[str, str]]) -> Hashes:
        return identifier_hashes(identifiers, phone_format=self.phone_format)

    def change(self, method: str, *, message_id: str, people: dict[int, Hashes]) -> BatchOutcome:
        """Add (POST) or remove (DELETE) people, keyed by delivery id (or any id); one request."""
        rows = [row for hashes in people.values() for row in hash_rows(hashes)]
        try:
            return http_outcome(
                lambda: self.request(method, message_id=message_id, rows=rows),
                delivery_ids=list(people),
                timeout=self.timeout,
            )
        except ConnectorError as error:  # misconfigured: failed with the reason, as retrying would not help
            return BatchOutcome(failed=dict.fromkeys(people, str(error)))

    def send(self, batch: Batch) -> BatchOutcome:
        from activations.audiences import audience_members_add

        return audience_members_add(connector=self, batch=batch)

    def withdrawal_notify(self, *, message_id: str, profile_uuid: str, channel: str, address: str) -> BatchOutcome:
        from activations.audiences import audience_member_withdraw

        return audience_member_withdraw(connector=self, message_id=message_id, profile_uuid=profile_uuid)

    def test_connection(self) -> str:
        """Reads the audience (GET {url}/{audience_id}): checks the address, the audience id and the token."""
        url = self.url.removesuffix("/users")
        try:
            response = requests.get(url, params={"fields": "id,name"}, headers=self.headers(), timeout=self.timeout)
        except requests.Timeout:
            raise ConnectorError(
                _("%(url)s did not answer within %(seconds)s s.") % {"url": url, "seconds": self.timeout}
            ) from None
        except requests.ConnectionError as error:
            raise ConnectorError(
                _("Cannot connect to %(url)s: %(error)s") % {"url": url, "error": error_short(error)}
            ) from None
        if not 200 <= response.status_code < 300:
            raise ConnectorError(
                _("%(url)s answered HTTP %(status)s: %(answer)s")
                % {"url": url, "status": response.status_code, "answer": response.text[:200].strip()}
            )
        try:
            name = response.json().get("name") or ""
        except (ValueError, AttributeError):
            name = ""
        return _("%(url)s found the audience “%(name)s” with this token (HTTP %(status)s).") % {
            "url": url,
            "name": name or self.settings.get("audience_id"),
            "status": response.status_code,
        }
