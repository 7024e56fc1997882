"""Writes of reporting: tracked links, clicks and opens, and the refresh of the aggregate tables.

The refresh (``reporting_refresh``) rebuilds every aggregate in one transaction
from a few set-based SQL statements (``reporting.sql``): the dashboard then
reads small tables. It runs from Celery beat (``reporting.tasks``).
"""

import datetime
import hashlib
import time
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from activations.models import Delivery
from reporting import kpis, sql
from reporting.models import (
    AttributionDay,
    CampaignAttribution,
    CampaignDay,
    EmailOpen,
    KpiSnapshot,
    LinkClick,
    RefreshLog,
    RefreshRequest,
    TrackedLink,
    UpliftDay,
    UpliftGroup,
)

CENT = Decimal("0.01")


def money(value: float | Decimal | None) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def tracked_link_get(*, url: str) -> TrackedLink:
    """The link row of this target, created the first time a message carries it."""
    url_hash = hashlib.sha256(url.encode()).hexdigest()
    link = TrackedLink.objects.filter(url_hash=url_hash).first()
    if link is not None:
        return link
    try:
        with transaction.atomic():
            return TrackedLink.objects.create(url=url, url_hash=url_hash)
    except IntegrityError:
        # Another worker wrote it in between.
        return TrackedLink.objects.get(url_hash=url_hash)


def link_click_record(
    *, delivery: Delivery, link: TrackedLink, user_agent: str, now: datetime.datetime | None = None
) -> tuple[LinkClick, bool]:
    """Record a click: the first one makes the row (True), a repeat only counts (False)."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            click = LinkClick.objects.create(
                delivery=delivery,
                link=link,
                profile_id=delivery.profile_id,
                first_clicked_at=now,
                last_clicked_at=now,
                user_agent=user_agent[:500],
            )
            return click, True
    except IntegrityError:
        LinkClick.objects.filter(delivery=delivery, link=link).update(clicks=F("clicks") + 1, last_clicked_at=now)
        return LinkClick.objects.get(delivery=delivery, link=link), False


def email_open_record(*, delivery: Delivery, user_agent: str, now: datetime.datetime | None = None) -> bool:
    """Record an open of an email; True for the first one."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            EmailOpen.objects.create(
                delivery=delivery,
                profile_id=delivery.profile_id,
                first_opened_at=now,
                last_opened_at=now,
                user_agent=user_agent[:500],
            )
            return True
    except IntegrityError:
        EmailOpen.objects.filter(delivery=delivery).update(opens=F("opens") + 1, last_opened_at=now)
        return False


def campaign_attribution_set(*, campaign_id: int, window_days: int) -> CampaignAttribution:
    settings, _created = CampaignAttribution.objects.update_or_create(
        campaign_id=campaign_id, defaults={"window_days": window_days}
    )
    return settings


def _table_rebuild(
    model: Any, rows: Iterable[dict[str, Any]], *, money_fields: frozenset[str] = frozenset({"revenue"})
) -> None:
    """Replace every row of an aggregate table by ``rows`` (dicts keyed by column; money made Decimal)."""
    columns = {field.attname for field in model._meta.concrete_fields if not field.primary_key}
    model.objects.all().delete()
    model.objects.bulk_create(
        [model(**{name: money(row[name]) if name in money_fields else row[name] for name in columns}) for row in rows],
        batch_size=2000,
    )


# Any number the other advisory locks do not use: it names the reporting refresh.
REFRESH_LOCK_KEY = 7_240_001
# Requests finished longer ago than this are deleted by the next refresh.
REFRESH_REQUESTS_KEPT = datetime.timedelta(days=7)


def reporting_refresh(*, now: datetime.datetime | None = None) -> RefreshLog:
    """Rebuild the aggregate tables (days of campaigns, attribution per model, test groups) from the raw rows.

    The rebuild is one transaction. The refresh requests waiting when it starts
    are marked started before it (committed at once outside a transaction, so the
    dashboard says "updating"), and finished in it, with the new figures; a
    failed rebuild puts them back to waiting, for the next refresh.
    """
    waiting = list(RefreshRequest.objects.filter(started_at__isnull=True).values_list("pk", flat=True))
    RefreshRequest.objects.filter(pk__in=waiting).update(started_at=timezone.now())
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # One rebuild at a time (beat's and a marketer's could meet): a second one waits for the first,
                # instead of deleting the rows the first is writing and failing on its duplicates.
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [REFRESH_LOCK_KEY])
            started = time.monotonic()
            _table_rebuild(CampaignDay, sql.campaign_days(), money_fields=frozenset({"cost"}))
            _table_rebuild(AttributionDay, sql.attribution_days())
            _table_rebuild(UpliftGroup, sql.uplift_groups())
            _table_rebuild(UpliftDay, sql.uplift_days())
            kpis_refresh(now=now)
            log = RefreshLog.objects.create(seconds=time.monotonic() - started)
            RefreshRequest.objects.filter(pk__in=waiting).update(finished_at=log.finished_at)
            RefreshRequest.objects.filter(finished_at__lt=log.finished_at - REFRESH_REQUESTS_KEPT).delete()
    except Exception:
        RefreshRequest.objects.filter(pk__in=waiting).update(started_at=None)
        raise
    return log


def reporting_refresh_request(*, requested_by: str = "") -> RefreshRequest:
    """Update the figures now: queue ``reporting_refresh_task`` once this transaction commits.

    A request still waiting for a worker is returned as it is (a second click
    queues nothing more); one asked while a refresh runs is queued, as that
    refresh may have read the rows before the newest ones.
    """
    from reporting.selectors import refresh_request_waiting
    from reporting.tasks import reporting_refresh_task

    waiting = refresh_request_waiting()
    if waiting is not None:
        return waiting
    request = RefreshRequest.objects.create(requested_by=requested_by)
    transaction.on_commit(lambda: reporting_refresh_task.delay())
    return request


CUSTOMER_PERIOD_DAYS = 30


def kpis_refresh(*, now: datetime.datetime | None = None) -> None:
    """Compute the KPIs the dashboard shows by default and store them (KpiSnapshot)."""
    now = now or timezone.now()
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    computed = {
        "opt_in_typology": kpis.opt_in_typology(),
        "segment_volumes": kpis.segment_volumes(now=now),
        "pressure": kpis.pressure(now=now),
        "consent_per_week": kpis.consent_per_week(now=now),
        "customers": kpis.customers(start=today - datetime.timedelta(days=CUSTOMER_PERIOD_DAYS), end=today),
        "lifetime_value": kpis.lifetime_value_per_segment(),
    }
    for name, data in computed.items():
        KpiSnapshot.objects.update_or_create(name=name, defaults={"data": data})
