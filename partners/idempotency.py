"""``Idempotency-Key`` on POST: a retried call has no second effect and gets the first answer back.

The key is claimed (committed) before the call acts, the action and the stored
answer are written in one transaction, and the answer is replayed, with the
same status, to a retry with the same key, endpoint and body. The same key with
another body is refused (422); while the first call runs, a retry is told to
wait (409). A call that fails on our side (500) frees the key.
"""

import hashlib
import json
from collections.abc import Callable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from partners.exceptions import PROBLEM_CONTENT_TYPE
from partners.services import idempotency_abandon, idempotency_begin, idempotency_finish

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


def request_fingerprint(request: Request, endpoint: str) -> str:
    body = json.dumps(request.data, sort_keys=True, cls=DjangoJSONEncoder, ensure_ascii=True)
    return hashlib.sha256(f"{request.method} {endpoint}\n{body}".encode()).hexdigest()


def idempotent(view: APIView, request: Request, handler: Callable[[], Response]) -> Response:
    """Run ``handler`` once per Idempotency-Key; without the header, just run it."""
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    if not key.strip() or len(key) > MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise ValidationError(
            {HEADER: [_("An Idempotency-Key is 1 to %(max)s printable ASCII characters.") % {"max": MAX_KEY_LENGTH}]}
        )
    endpoint = request.resolver_match.view_name if request.resolver_match else view.__class__.__name__
    record, replay = idempotency_begin(
        partner=request.user, key=key, endpoint=endpoint, fingerprint=request_fingerprint(request, endpoint)
    )
    if replay:
        return Response(
            record.response,
            status=record.status,
            headers={REPLAYED_HEADER: "true"},
            content_type=PROBLEM_CONTENT_TYPE if record.status >= 400 else None,
        )
    try:
        try:
            with transaction.atomic():
                response = handler()
                if response.status_code < 500:
                    idempotency_finish(
                        record=record,
                        status=response.status_code,
                        response=response.data,
                        profile=getattr(response, "profile", None),
                    )
        except Exception as error:
            # Nothing of the failed action was written; a refused request (4xx) is answered the same way again.
            response = view.handle_exception(error)
            if response.status_code < 500:
                idempotency_finish(record=record, status=response.status_code, response=response.data, profile=None)
    except BaseException:
        idempotency_abandon(record=record)
        raise
    if response.status_code >= 500:
        idempotency_abandon(record=record)
    return response
