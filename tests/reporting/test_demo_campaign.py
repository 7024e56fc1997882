"""`create_demo_campaign`: the report of a new instance (``make run``) shows a finished campaign, its ROI and uplift."""

import datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction

from activations.models import Campaign, CampaignRun, DeliveryStatus, RunStatus
from profiles.demo import demo_data_generate
from reporting.demo import demo_campaign_create
from reporting.selectors import GroupFigures, ReportFilters, campaign_uplift, roi_rows

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2026, 11, 20, 12, tzinfo=datetime.UTC)


@pytest.fixture
def demo_profiles(settings, tmp_path):
    settings.CDP_EXPORT_DIR = tmp_path  # where the CSV file destination writes the campaign's file
    demo_data_generate(profiles=200, seed=42, now=NOW)


def figures(campaign: Campaign) -> tuple:
    line = campaign_uplift(campaign=campaign).overall
    (roi,) = roi_rows(ReportFilters(campaign_id=campaign.pk), by="campaign")
    return line, roi


def test_the_demo_campaign_gives_a_report_with_roi_and_uplift(demo_profiles, tmp_path):
    call_command("create_demo_campaign", "--if-empty")

    campaign = Campaign.objects.get()
    run = CampaignRun.objects.get(campaign=campaign)
    line, roi = figures(campaign)
    assert campaign.holdout_percent == Decimal("10") and run.status == RunStatus.FINISHED
    assert run.deliveries.filter(status=DeliveryStatus.DELIVERED).count() == roi.sends > 0
    assert (tmp_path / f"{run.uuid}.csv").exists()  # sent through the CSV file connector
    # Uplift: people on both sides, and the people sent to bought more than the control group.
    assert line.treatment.profiles > 0 and line.control.profiles > 0
    assert line.control.profiles == run.deliveries.filter(status=DeliveryStatus.HELD_OUT).count()
    assert line.treatment.converters > 0 and line.rate.p_value is not None and line.rate.difference > 0
    # ROI: a cost, revenue credited to the email, and incremental revenue from the control group.
    assert roi.cost > 0 and roi.conversions > 0 and roi.revenue > 0 and roi.roi is not None
    assert roi.incremental_revenue is not None and roi.incremental_revenue > 0 and roi.clickers > 0


def test_if_empty_twice_creates_one_campaign(demo_profiles):
    call_command("create_demo_campaign", "--if-empty")
    call_command("create_demo_campaign", "--if-empty")

    assert Campaign.objects.count() == 1 and CampaignRun.objects.count() == 1


def test_the_same_seed_gives_the_same_report(demo_profiles):
    first = None
    with pytest.raises(RuntimeError), transaction.atomic():
        first = figures(demo_campaign_create(seed=42, now=NOW).campaign)
        raise RuntimeError("roll back")  # the profiles stay, the campaign goes

    line, roi = figures(demo_campaign_create(seed=42, now=NOW).campaign)

    first_line, first_roi = first

    def counted(group: GroupFigures) -> tuple:  # the sum of squares is a float summed in any order
        return group.profiles, group.converters, group.conversions, group.revenue

    assert counted(line.treatment) == counted(first_line.treatment) and line.treatment.profiles > 0
    assert counted(line.control) == counted(first_line.control) and line.control.profiles > 0
    assert (roi.sends, roi.revenue, roi.incremental_revenue) == (
        first_roi.sends,
        first_roi.revenue,
        first_roi.incremental_revenue,
    )
