"""Campaign results: the runs of a shared campaign with their deliveries per status, and the campaigns report."""

import datetime
from decimal import Decimal

import pytest

from activations.models import Campaign, CampaignRun, Delivery, Destination
from profiles.models import Event
from reporting.services import reporting_refresh
from tests.conftest import make_profile
from tests.partners.conftest import API

NOW = datetime.datetime(2026, 11, 1, 12, 0, tzinfo=datetime.UTC)


def campaign_named(name: str) -> Campaign:
    destination, _created = Destination.objects.get_or_create(
        name="Shop webhook", kind="webhook", settings={"url": "http://127.0.0.1:9/"}
    )
    return Campaign.objects.create(
        name=name,
        slug=name.lower().replace(" ", "-"),
        channel="email",
        destination=destination,
        fixed_cost=Decimal("100"),
        cost_per_send=Decimal("0.01"),
    )


@pytest.fixture
def spring_sale(alice_agency, db):
    campaign = campaign_named("Spring sale")
    run = CampaignRun.objects.create(campaign=campaign, trigger="manual", status="finished")
    statuses = ["sent", "sent", "delivered", "failed", "held_out", "suppressed_no_consent"]
    for n, status in enumerate(statuses):
        profile = make_profile(identifiers={"email": f"buyer{n}@example.fr"})
        Delivery.objects.create(run=run, profile=profile, channel="email", status=status, created_at=NOW)
    alice_agency.campaigns.add(campaign)
    return campaign


def test_the_list_holds_only_shared_campaigns(alice_api, spring_sale):
    campaign_named("Winter sale")

    response = alice_api.get(f"{API}/campaigns/")

    assert [campaign["name"] for campaign in response.json()] == ["Spring sale"]
    assert alice_api.get(f"{API}/campaigns/{spring_sale.pk}/").json()["slug"] == "spring-sale"


def test_runs_come_with_their_deliveries_per_status(alice_api, spring_sale):
    response = alice_api.get(f"{API}/campaigns/{spring_sale.pk}/runs/")

    assert response.status_code == 200
    (run,) = response.json()["results"]
    assert run["status"] == "finished"
    assert run["deliveries"] == {
        "total": 6,
        "by_status": {"sent": 2, "delivered": 1, "failed": 1, "held_out": 1, "suppressed_no_consent": 1},
    }
    assert run["conversions"] is None  # credited to campaigns, not runs


def test_a_campaign_not_shared_is_404(alice_api, spring_sale):
    hidden = campaign_named("Winter sale")

    assert alice_api.get(f"{API}/campaigns/{hidden.pk}/").status_code == 404
    assert alice_api.get(f"{API}/campaigns/{hidden.pk}/runs/").status_code == 404


def test_the_report_counts_sends_and_their_cost(alice_api, spring_sale):
    response = alice_api.get(f"{API}/reports/campaigns/")

    assert response.status_code == 200
    (report,) = response.json()
    assert report["campaign"]["name"] == "Spring sale"
    assert report["runs"] == 1 and report["sends"] == 3
    assert report["cost"] == "100.03" and report["currency"] == "EUR"
    assert report["conversions"] == {"conversions": 0, "revenue": "0.00"}


def test_the_report_gives_the_conversions_reporting_credited_to_the_campaign(alice_api, spring_sale):
    # The delivered message's person buys for 49.90 two days later: last touch credits the campaign.
    delivered = Delivery.objects.get(run__campaign=spring_sale, status="delivered")
    Delivery.objects.filter(pk=delivered.pk).update(sent_at=NOW)
    bought = NOW + datetime.timedelta(days=2)
    Event.objects.create(profile=delivered.profile, type="purchase", occurred_at=bought, revenue=Decimal("49.90"))
    reporting_refresh(now=NOW + datetime.timedelta(days=3))

    (report,) = alice_api.get(f"{API}/reports/campaigns/").json()

    assert report["conversions"] == {"conversions": 1, "revenue": "49.90"}


def test_a_page_of_runs_costs_a_fixed_number_of_queries(alice_api, spring_sale, django_assert_max_num_queries):
    for _run in range(10):
        run = CampaignRun.objects.create(campaign=spring_sale, trigger="schedule")
        Delivery.objects.create(
            run=run,
            profile=make_profile(identifiers={"anonymous_id": f"r{run.pk}"}),
            channel="email",
            status="sent",
            created_at=NOW,
        )

    # Key, partner and campaign lookups, the page, its delivery counts, and the audit log line.
    with django_assert_max_num_queries(8):
        response = alice_api.get(f"{API}/campaigns/{spring_sale.pk}/runs/")
    assert len(response.json()["results"]) == 11
