"""Tracked links: the links of a message rewritten to short signed platform URLs, and the email open pixel.

``message_track`` is registered with ``activations.connectors.register_link_rewriter``
(``ReportingConfig.ready``): the email and SMS connectors pass it each rendered
body. Every http(s) link (an ``href`` in HTML, a bare URL in text and SMS) becomes
``{CDP_PUBLIC_URL}/r/<token>/``; the token is signed with SECRET_KEY
(django.core.signing, as unsubscribe links are) and holds only the delivery id and
the id of the link's target, so the target cannot be changed by editing the URL
and an unknown or altered token is a 404, never an open redirect. The platform's
own links (unsubscribe) are left alone. A test send (no delivery) is not tracked.
"""

import html as html_lib
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.text import slugify

CLICK_SALT = "reporting.click"
OPEN_SALT = "reporting.open"

# An href attribute (quoted either way) in HTML; a bare http(s) URL in text.
_HREF = re.compile(r"""(?P<before>\bhref\s*=\s*)(?P<quote>["'])(?P<url>.*?)(?P=quote)""", re.IGNORECASE | re.DOTALL)
_BARE_URL = re.compile(r"""https?://[^\s<>"']+""", re.IGNORECASE)
# Punctuation that ends a sentence rather than the URL written before it.
_TRAILING = ".,;:!?)]}»"


def click_token(*, delivery_id: int, link_id: int) -> str:
    return signing.Signer(salt=CLICK_SALT).sign_object([delivery_id, link_id])


def click_token_read(token: str) -> tuple[int, int]:
    """(delivery id, link id); signing.BadSignature when the token was not made here or was altered."""
    value = signing.Signer(salt=CLICK_SALT).unsign_object(token)
    if not (isinstance(value, list) and len(value) == 2 and all(type(item) is int for item in value)):
        raise signing.BadSignature("Not a click token.")
    return value[0], value[1]


def open_token(*, delivery_id: int) -> str:
    return signing.Signer(salt=OPEN_SALT).sign_object(delivery_id)


def open_token_read(token: str) -> int:
    value = signing.Signer(salt=OPEN_SALT).unsign_object(token)
    if type(value) is not int:
        raise signing.BadSignature("Not an open token.")
    return value


def _public(path: str) -> str:
    return settings.CDP_PUBLIC_URL.rstrip("/") + path


def click_url(*, delivery_id: int, link_id: int) -> str:
    return _public(reverse("reporting:click", kwargs={"token": click_token(delivery_id=delivery_id, link_id=link_id)}))


def open_url(*, delivery_id: int) -> str:
    return _public(reverse("reporting:open", kwargs={"token": open_token(delivery_id=delivery_id)}))


def is_trackable(url: str) -> bool:
    """An http(s) link to somewhere else than the platform itself (unsubscribe links stay as they are)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return False
    return not url.startswith(settings.CDP_PUBLIC_URL.rstrip("/") + "/")


def links_replace(body: str, *, html: bool, replace: Callable[[str], str | None]) -> str:
    """The body with each trackable link passed through ``replace`` (None: left as it is)."""
    if html:

        def on_href(match: re.Match) -> str:
            url = html_lib.unescape(match["url"].strip())
            new = replace(url) if is_trackable(url) else None
            if new is None:
                return match.group(0)
            return f"{match['before']}{match['quote']}{html_lib.escape(new)}{match['quote']}"

        return _HREF.sub(on_href, body)

    def on_url(match: re.Match) -> str:
        url = match.group(0)
        trailing = ""
        while url and url[-1] in _TRAILING:
            # A closing bracket that the URL opened belongs to it (Wikipedia-style links).
            if url[-1] == ")" and url.count("(") >= url.count(")"):
                break
            url, trailing = url[:-1], url[-1] + trailing
        new = replace(url) if is_trackable(url) else None
        return (new or url) + trailing

    return _BARE_URL.sub(on_url, body)


def open_pixel_add(body: str, *, delivery_id: int) -> str:
    """The HTML with a 1×1 image that records the open, just before </body> (or at the end)."""
    pixel = (
        f'<img src="{html_lib.escape(open_url(delivery_id=delivery_id))}" width="1" height="1" alt="" '
        'style="display:block;border:0;width:1px;height:1px">'
    )
    position = body.lower().rfind("</body>")
    if position == -1:
        return body + pixel
    return body[:position] + pixel + body[position:]


def target_with_utm(target: str, *, source: str, medium: str, campaign: str) -> str:
    """The target with utm_source, utm_medium and utm_campaign added; its query string and fragment kept.

    A utm parameter the marketer already wrote in the link is kept as written.
    """
    parts = urlsplit(target)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {name for name, _value in query}
    utm = {"utm_source": slugify(source) or source, "utm_medium": medium, "utm_campaign": campaign}
    query += [(name, value) for name, value in utm.items() if name not in present and value]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, doseq=True), parts.fragment))


def message_track(body: str, *, part: str, recipient: Any, batch: Any, destination: Any) -> str:
    """The hook the connectors call: links tracked in ``html``, ``text`` and ``sms`` parts, the pixel in ``html``."""
    from reporting.services import tracked_link_get

    delivery_id = int(getattr(recipient, "delivery_id", 0) or 0)
    if delivery_id <= 0 or not body:
        return body

    def replace(url: str) -> str:
        return click_url(delivery_id=delivery_id, link_id=tracked_link_get(url=url).pk)

    tracked = links_replace(body, html=part == "html", replace=replace)
    if part == "html":
        tracked = open_pixel_add(tracked, delivery_id=delivery_id)
    return tracked
