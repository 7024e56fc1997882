"""Public views: a tracked link's redirect and the email open pixel. Thin: read the token, call a service."""

import base64

from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from reporting.links import click_token_read, is_trackable, open_token_read
from reporting.selectors import click_destination, delivery_for_open
from reporting.services import email_open_record, link_click_record

# A transparent 1×1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@never_cache
@require_GET
def click_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        delivery_id, link_id = click_token_read(token)
    except signing.BadSignature:
        raise Http404 from None
    found = click_destination(delivery_id=delivery_id, link_id=link_id)
    # The target comes from our own table, never from the request: no open redirect.
    if found is None or not is_trackable(found.link.url):
        raise Http404
    link_click_record(delivery=found.delivery, link=found.link, user_agent=request.headers.get("User-Agent", ""))
    response = HttpResponseRedirect(found.redirect_to)
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response


@never_cache
@require_GET
def open_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        delivery_id = open_token_read(token)
    except signing.BadSignature:
        raise Http404 from None
    delivery = delivery_for_open(delivery_id=delivery_id)
    if delivery is None:
        raise Http404
    email_open_record(delivery=delivery, user_agent=request.headers.get("User-Agent", ""))
    return HttpResponse(PIXEL, content_type="image/gif")
