"""Who is calling: an API key in ``Authorization: Bearer <key>``, its scopes, its rate limit."""

import time
from typing import Any

from django.core.cache import cache
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from partners.models import ApiKey, Partner
from partners.services import api_key_check

AUTH_SCHEME = "Bearer"


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer cdp_…``: the partner of an active, unrevoked key of an active partner."""

    def authenticate(self, request: Request) -> tuple[Partner, ApiKey] | None:
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != AUTH_SCHEME.lower().encode() or len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Send the API key as “Authorization: Bearer <key>”."))
        try:
            raw_key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("This API key is not valid, or it was revoked.")) from None
        api_key = api_key_check(raw_key=raw_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("This API key is not valid, or it was revoked."))
        return api_key.partner, api_key

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) to a call without a valid key.
        return f'{AUTH_SCHEME} realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "partners.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": str(
                gettext_lazy("An API key of the partner, created in the admin (Partner API → Partners).")
            ),
        }


class HasScope(BasePermission):
    """The partner was granted the scope the view asks for this method (``required_scopes``)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        partner = request.user
        if not isinstance(partner, Partner):
            return False
        # HEAD answers as GET does (without the body): it needs the same scope.
        scope = view.required_scopes.get("GET" if request.method == "HEAD" else request.method)
        if scope is None:
            return True
        if not partner.has_scope(scope):
            self.message = _("This API key's partner lacks the “%(scope)s” permission (scope).") % {"scope": scope}
            return False
        return True


class PartnerRateThrottle(BaseThrottle):
    """At most ``rate_limit_per_minute`` calls per partner in each minute, counted in Django's cache.

    A fixed window per partner and minute: one cache increment per call. With
    several web servers the cache must be shared (Redis) for the limit to hold
    across them; each process's own memory cache counts only its calls.
    """

    window = 60

    def allow_request(self, request: Request, view: Any) -> bool:
        partner = request.user
        if not isinstance(partner, Partner):
            return True
        now = time.time()
        window_index = int(now // self.window)
        key = f"partners:rate:{partner.pk}:{window_index}"
        cache.add(key, 0, timeout=self.window * 2)
        try:
            calls = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=self.window * 2)
            calls = 1
        self.wait_seconds = (window_index + 1) * self.window - now
        return calls <= partner.rate_limit_per_minute

    def wait(self) -> float:
        return max(1.0, getattr(self, "wait_seconds", self.window))
