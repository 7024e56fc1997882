"""Health endpoint: is the database answering, is the broker reachable?"""

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from cdp.celery import app as celery_app


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_broker() -> str:
    with celery_app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, timeout=3)
    return "ok"


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """200 with ``{"database": "ok", "broker": "ok"}``; 503 naming what failed."""
    checks = {}
    healthy = True
    for name, check in (("database", _check_database), ("broker", _check_broker)):
        try:
            checks[name] = check()
        except Exception as error:  # any failure of a peer is a failed check, said plainly
            healthy = False
            checks[name] = f"error: {error.__class__.__name__}: {error}"
    return JsonResponse({"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503)
