"""Every error of the partner API in one shape: RFC 9457 problem details (``application/problem+json``).

``{"type": "urn:cdp:problem:invalid-input", "title": "…", "status": 400,
"detail": "…", "errors": [{"field": "identifiers.email", "message": "…"}]}``:
field-level messages name the field by its path in the request body.
"""

from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from partners.services import IdempotencyInProgress, IdempotencyKeyReused
from profiles.services import IdentityConflict

PROBLEM_CONTENT_TYPE = "application/problem+json"


class BatchTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "batch-too-large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class IdempotencyKeyMismatch(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency-key-reused"


def _problem_types() -> dict[int, tuple[str, str]]:
    return {
        400: ("invalid-input", _("Invalid input")),
        401: ("unauthenticated", _("Missing or invalid API key")),
        403: ("missing-scope", _("Permission missing")),
        404: ("not-found", _("Not found")),
        405: ("method-not-allowed", _("Method not allowed")),
        406: ("not-acceptable", _("Not acceptable")),
        409: ("conflict", _("Conflict")),
        413: ("too-large", _("Request too large")),
        415: ("unsupported-media-type", _("Unsupported media type")),
        422: ("idempotency-key-reused", _("Idempotency key reused")),
        429: ("rate-limited", _("Too many requests")),
    }


def _field_errors(detail: Any, path: str = "") -> Iterator[dict[str, str]]:
    """Flatten DRF's nested error detail into [{"field": "events.3.type", "message": "…"}]."""
    if isinstance(detail, dict):
        for name, value in detail.items():
            key = "" if name in ("non_field_errors", "__all__") else str(name)
            yield from _field_errors(value, f"{path}.{key}" if path and key else (key or path))
    elif isinstance(detail, list) and detail and all(isinstance(item, str) for item in detail):
        for message in detail:
            yield {"field": path, "message": str(message)}
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if value:
                yield from _field_errors(value, f"{path}.{index}" if path else str(index))
    else:
        yield {"field": path, "message": str(detail)}


def problem_response(
    status_code: int, detail: str, *, errors: list[dict[str, str]] | None = None, headers: dict | None = None
) -> Response:
    slug, title = _problem_types().get(status_code, ("error", _("Error")))
    body: dict[str, Any] = {"type": f"urn:cdp:problem:{slug}", "title": title, "status": status_code, "detail": detail}
    if errors:
        body["errors"] = errors
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def _translate(exc: Exception) -> Exception:
    """Errors raised by services and Django, turned into the API's own."""
    if isinstance(exc, IdentityConflict):
        return Conflict(" ".join(exc.messages))
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return exceptions.ValidationError(detail)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        return exceptions.NotFound(_("Not found, or not shared with this partner."))
    if isinstance(exc, RequestDataTooBig):
        return BatchTooLarge(_("The request body is larger than this platform accepts."))
    if isinstance(exc, IdempotencyKeyReused):
        return IdempotencyKeyMismatch(
            _(
                "This Idempotency-Key was already used for a different request (another endpoint or another "
                "body). Use a new key for a new request."
            )
        )
    if isinstance(exc, IdempotencyInProgress):
        return Conflict(_("A request with this Idempotency-Key is still being processed: retry in a moment."))
    return exc


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (status and headers such as Retry-After and WWW-Authenticate), in the problem shape."""
    exc = _translate(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API error: a real bug, answered 500 and logged by Django
    errors = None
    if isinstance(exc, exceptions.ValidationError):
        errors = list(_field_errors(exc.detail))
        detail = _("The request has invalid values: see “errors”.")
        if len(errors) == 1 and not errors[0]["field"]:
            detail, errors = errors[0]["message"], None
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        if not isinstance(detail, str):
            errors = list(_field_errors(detail))
            detail = " ".join(error["message"] for error in errors)
            errors = None
    headers = {name: value for name, value in response.items() if name in ("Retry-After", "WWW-Authenticate", "Allow")}
    return problem_response(response.status_code, str(detail), errors=errors, headers=headers)
