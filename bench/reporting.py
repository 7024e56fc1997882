"""Benchmark of reporting: the aggregates' refresh and the dashboard's opening on the demo data set.

On the demo data set of ``bench.profiles`` (``--scale`` profiles, about ten
events each over 90 days), 100 campaigns are planted in SQL: each one sent to a
hundredth of the profiles (10 % of them held out, 1 % failed) on its own day of
the 90, alternating email and SMS, with a click from one recipient in twenty.
Then it times:

- ``reporting_refresh``: every aggregate rebuilt (days of campaigns, five
  attribution models, control-group figures, the KPIs), as Celery beat runs it;
- the dashboard (``/admin/reporting/dashboard/``, a staff user, no filter)
  opened through Django's test client: the issue's target is under 2 s.

What it plants is deleted at the end, with the aggregates.
"""

import statistics
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.utils import timezone

from activations.models import Campaign, CampaignRun, ConnectorKind, Delivery, DeliveryStatus, Destination
from bench import BenchContext, Measurement, benchmark
from bench.profiles import _timed, demo_dataset_ensure
from profiles.models import Event, Profile
from reporting.models import AttributionDay, CampaignDay, KpiSnapshot, LinkClick, TrackedLink, UpliftDay, UpliftGroup
from reporting.services import reporting_refresh

CAMPAIGNS = 100
PREFIX = "Bench: reporting "
DESTINATION_NAME = "Bench: reporting destination"
LINK = "https://shop.example/bench-reporting"
USER = "bench-reporting"
OPENS = 5


def _planted_delete() -> None:
    Campaign.objects.filter(name__startswith=PREFIX).delete()
    Destination.objects.filter(name=DESTINATION_NAME).delete()
    TrackedLink.objects.filter(url=LINK).delete()
    get_user_model().objects.filter(username=USER).delete()
    for model in (CampaignDay, AttributionDay, UpliftGroup, UpliftDay, KpiSnapshot):
        model.objects.all().delete()


def _plant(context: BenchContext) -> None:
    destination = Destination.objects.create(name=DESTINATION_NAME, kind=ConnectorKind.WEBHOOK, settings={})
    link = TrackedLink.objects.create(url=LINK, url_hash="bench-reporting")
    latest = Event.objects.order_by("-occurred_at").values_list("occurred_at", flat=True).first() or timezone.now()
    quote = connection.ops.quote_name
    deliveries, clicks, profiles = (quote(model._meta.db_table) for model in (Delivery, LinkClick, Profile))
    postgres = connection.vendor == "postgresql"
    key = "gen_random_uuid()" if postgres else "lower(hex(randomblob(16)))"
    for number in range(CAMPAIGNS):
        channel = "email" if number % 2 == 0 else "sms"
        campaign = Campaign.objects.create(
            name=f"{PREFIX}{number:03d}",
            slug=f"bench-reporting-{number:03d}",
            channel=channel,
            destination=destination,
            fixed_cost=Decimal("50"),
            cost_per_send=Decimal("0.002") if channel == "email" else Decimal("0.045"),
        )
        run = CampaignRun.objects.create(campaign=campaign, trigger="manual", status="finished")
        sent_at = latest - timedelta(days=90) + timedelta(hours=21 * number + 9)
        stamp = connection.ops.adapt_datetimefield_value(sent_at)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {deliveries} (run_id, profile_id, channel, arm_id, status, address, batch, "
                f"idempotency_key, attempts, error, created_at, sent_at, triggered_at) "
                f"SELECT %s, p.id, %s, NULL, CASE WHEN (p.id / 100) %% 10 = 0 THEN %s WHEN p.id %% 97 = 0 THEN %s "
                f"ELSE %s END, '', NULL, {key}, 1, '', %s, "
                f"CASE WHEN (p.id / 100) %% 10 = 0 OR p.id %% 97 = 0 THEN NULL ELSE %s END, NULL "
                f"FROM {profiles} p WHERE p.id %% 100 = %s",
                [
                    run.pk,
                    channel,
                    DeliveryStatus.HELD_OUT,
                    DeliveryStatus.FAILED,
                    DeliveryStatus.SENT,
                    stamp,
                    stamp,
                    number,
                ],
            )
            clicked = connection.ops.adapt_datetimefield_value(sent_at + timedelta(hours=2))
            cursor.execute(
                f"INSERT INTO {clicks} (delivery_id, link_id, profile_id, first_clicked_at, last_clicked_at, clicks, "
                f"user_agent) SELECT d.id, %s, d.profile_id, %s, %s, 1, 'bench' FROM {deliveries} d "
                f"WHERE d.run_id = %s AND d.status = %s AND d.profile_id %% 20 = 0",
                [link.pk, clicked, clicked, run.pk, DeliveryStatus.SENT],
            )
    if postgres:
        with connection.cursor() as cursor:
            for table in (deliveries, clicks):
                cursor.execute(f"ANALYZE {table}")


@benchmark("reporting_dashboard", description="reporting aggregates refreshed, then the dashboard opened")
def reporting_dashboard(context: BenchContext) -> list[Measurement]:
    demo_dataset_ensure(context)
    _planted_delete()
    try:
        _plant(context)
        planted = Delivery.objects.filter(run__campaign__name__startswith=PREFIX).count()
        refresh_seconds, _log = _timed(reporting_refresh)
        user = get_user_model().objects.create_superuser(USER, f"{USER}@example.fr", None)
        client = Client(SERVER_NAME="127.0.0.1")
        client.force_login(user)
        timings = []
        for _open in range(OPENS):
            seconds, response = _timed(lambda: client.get("/admin/reporting/dashboard/"))
            if response.status_code != 200:
                raise RuntimeError(f"The dashboard answered {response.status_code}.")
            timings.append(seconds)
        events = Event.objects.count()
        return [
            Measurement(
                "aggregates refreshed",
                refresh_seconds,
                "s",
                f"{CAMPAIGNS} campaigns, {planted:,} deliveries, {events:,} events",
            ),
            Measurement(
                "dashboard opened",
                statistics.median(timings) * 1000,
                "ms",
                f"target < 2 s; median of {OPENS} opens (first {timings[0] * 1000:.0f} ms)",
            ),
        ]
    finally:
        _planted_delete()
