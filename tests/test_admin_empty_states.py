"""An admin list with no row yet says what to do next, with a link; one with rows, or searched to nothing, does not."""

import re

import pytest
from django.urls import reverse

from activations.models import Campaign, CampaignRun, ConnectorKind, Destination
from profiles.models import ProfileImport
from reporting.models import ConversionType
from scores.models import ScoreDefinition
from tests.activations.campaigns import segment_of

pytestmark = pytest.mark.django_db

# Each list, the sentence it says when empty, and a link it offers.
EMPTY_LISTS = {
    "segments_segment": ("No segment yet: create one from conditions or upload a list.", "segments_segment_add"),
    "activations_campaign": ("No campaign yet: pick a segment and a destination first.", "segments_segment_add"),
    "activations_destination": (
        "No destination yet: add the place your campaigns send to.",
        "activations_destination_add",
    ),
    "profiles_profile": ("No profile yet: import a CRM file.", "profiles_profile_import"),
    "profiles_profileimport": (
        "No CRM import yet: import a CRM file from the list of profiles.",
        "profiles_profile_import",
    ),
    "activations_campaignrun": (
        "No campaign run yet: start a campaign, or wait for its schedule.",
        "activations_campaign_changelist",
    ),
    "scores_scoredefinition": (
        "No score yet: create one to rank people by value, engagement or likelihood to buy.",
        "scores_scoredefinition_add",
    ),
    "reporting_conversiontype": (
        "No conversion type yet: purchases count as conversions until you add one.",
        "reporting_conversiontype_add",
    ),
}


@pytest.fixture(autouse=True)
def no_conversion_type(db):
    """The migrations add "purchase": these lists start empty."""
    ConversionType.objects.all().delete()


def empty_state(admin_client, changelist: str, **query: str) -> str | None:
    page = admin_client.get(reverse(f"admin:{changelist}_changelist"), query).content.decode()
    found = re.search(r'<div class="module cdp-empty" id="empty-state".*?</div>', page, re.S)
    return found.group(0) if found else None


@pytest.mark.parametrize("changelist", EMPTY_LISTS)
def test_an_empty_list_says_what_to_do_next_with_a_link(admin_client, changelist):
    message, link = EMPTY_LISTS[changelist]

    said = empty_state(admin_client, changelist)

    assert message in said
    assert f'href="{reverse(f"admin:{link}")}' in said


def test_an_empty_campaign_list_points_to_what_is_missing_only(admin_client):
    Destination.objects.create(name="Newsletter", kind=ConnectorKind.EMAIL)

    said = empty_state(admin_client, "activations_campaign")

    assert reverse("admin:segments_segment_add") in said
    assert reverse("admin:activations_destination_add") not in said
    assert reverse("admin:activations_campaign_add") in said


def test_a_list_with_rows_shows_them_not_the_empty_state(admin_client, alice):
    destination = Destination.objects.create(name="Newsletter", kind=ConnectorKind.EMAIL)
    campaign = Campaign.objects.create(name="Spring", slug="spring", channel="email", destination=destination)
    CampaignRun.objects.create(campaign=campaign, trigger="manual")
    segment_of("Lyon")
    ScoreDefinition.objects.create(name="Likely to buy", kind=ScoreDefinition._meta.get_field("kind").choices[0][0])
    ConversionType.objects.create(event_type="purchase", name="Purchase")
    ProfileImport.objects.create(file_name="crm.csv")

    for changelist in EMPTY_LISTS:
        assert empty_state(admin_client, changelist) is None, changelist


def test_a_search_that_finds_nothing_is_not_an_empty_state(admin_client):
    assert empty_state(admin_client, "segments_segment", q="nothing") is None
