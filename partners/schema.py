"""The OpenAPI schema says what each call may answer: its own bodies, and the problems of every call."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from partners.exceptions import PROBLEM_CONTENT_TYPE


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(help_text=_("Path of the field in the request body, for example events.3.type."))
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField(help_text=_("A URI naming the kind of problem, for example urn:cdp:problem:conflict."))
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = FieldErrorSerializer(many=True, required=False)


def _problems(method: str) -> dict[int, Any]:
    problems = {
        400: _("Invalid input: “errors” names each field."),
        401: _("No API key, or an invalid or revoked one."),
        403: _("The partner lacks the permission (scope) this call needs."),
        404: _("Not found, or not shared with this partner."),
        429: _("Too many calls: wait for the seconds in Retry-After."),
    }
    if method == "POST":
        problems |= {
            409: _("Conflict: the identifiers belong to two people, or a call with this Idempotency-Key is running."),
            413: _("Request too large (a batch of more than 1,000 events)."),
            415: _("The body must be JSON (Content-Type: application/json)."),
            422: _("This Idempotency-Key was used for a different request."),
        }
    return problems


class PartnerAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        problem = self.resolve_serializer(ProblemSerializer, "response").ref
        for status_code, description in _problems(self.method).items():
            response: dict[str, Any] = {
                "description": str(description),
                "content": {PROBLEM_CONTENT_TYPE: {"schema": problem}},
            }
            if status_code == 429:
                response["headers"] = {
                    "Retry-After": {
                        "schema": {"type": "integer"},
                        "description": str(_("Seconds to wait before calling again.")),
                    }
                }
            responses.setdefault(str(status_code), response)
        return responses
