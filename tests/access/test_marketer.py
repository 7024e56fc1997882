"""Logged in as marie, a staff user in the Marketer group: her day's pages open, API keys, users and erasure do not."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Model
from django.urls import reverse
from django.utils.text import capfirst
from django_celery_beat.models import PeriodicTask

from activations.models import Campaign, CampaignRun, Destination, PressureCap
from partners.models import ApiKey, Partner, PartnerCall
from profiles.models import Event, Identifier, MergeLog, PrivacyLog, Profile
from reporting.models import ConversionType, Dashboard
from scores.models import ScoreDefinition
from segments.models import Segment
from tests.activations.campaigns import audience, campaign_to, segment_of, webhook
from tests.conftest import ALICE_EMAIL, BOB_PHONE
from tests.profiles.test_admin import consent_form_data

pytestmark = pytest.mark.django_db

HOME = reverse("admin:index")
# What marie works with, and what only an administrator sees.
HER_PAGES = [Profile, Event, Segment, Campaign, CampaignRun, Destination, PressureCap, ScoreDefinition, Dashboard,
             ConversionType]  # fmt: skip
NOT_HERS = [ApiKey, Partner, PartnerCall, get_user_model(), Group, PeriodicTask]


def changelist(model: type[Model]) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def name(model: type[Model]) -> str:
    return capfirst(model._meta.verbose_name_plural)


def listed_on_home(client) -> dict[str, str]:
    """The pages of the home's list of apps: their names, by address."""
    response = client.get(HOME)
    assert response.status_code == 200
    return {model["admin_url"]: str(model["name"]) for app in response.context["app_list"] for model in app["models"]}


def test_the_home_lists_her_pages_and_not_the_administrators(marie):
    listed = listed_on_home(marie)
    page = marie.get(HOME).content.decode()

    for model in HER_PAGES:
        assert listed.get(changelist(model)) == name(model), f"{name(model)} is not on marie's home"
        assert f'href="{changelist(model)}"' in page
    for model in NOT_HERS:
        assert changelist(model) not in listed
        assert f'href="{changelist(model)}"' not in page


@pytest.mark.parametrize("model", HER_PAGES, ids=name)
def test_her_pages_open(marie, model):
    assert marie.get(changelist(model)).status_code == 200


@pytest.mark.parametrize("model", NOT_HERS, ids=name)
def test_the_administrators_pages_are_refused(marie, model):
    assert marie.get(changelist(model)).status_code == 403


def test_she_cannot_create_an_api_key(marie):
    partner = Partner.objects.create(name="Agency", slug="agency")

    response = marie.post(reverse("admin:partners_apikey_add"), {"partner": partner.pk, "name": "mine"})

    assert response.status_code == 403
    assert not partner.api_keys.exists()


def test_the_profile_page_has_no_erase_button_and_the_erasure_is_refused(marie, alice):
    erase_url = reverse("admin:profiles_profile_gdpr_erase", args=[alice.pk])
    page = marie.get(reverse("admin:profiles_profile_change", args=[alice.pk])).content.decode()
    assert "Record a consent" in page  # her buttons are there
    assert erase_url not in page and "Erase personal data" not in page

    assert marie.get(erase_url).status_code == 403
    response = marie.post(erase_url, {"reason": "she asked"})

    assert response.status_code == 403
    assert Profile.objects.filter(pk=alice.pk).exists()
    assert Identifier.objects.filter(value=ALICE_EMAIL).exists()
    assert not PrivacyLog.objects.exists()


def test_she_merges_two_profiles_of_the_same_person(marie, alice, bob):
    changelist = reverse("admin:profiles_profile_changelist")
    selected = {"action": "merge_profiles", "_selected_action": [str(alice.pk), str(bob.pk)]}
    assert "Merge the selected profiles" in marie.get(changelist).content.decode()

    response = marie.post(changelist, {**selected, "confirm": "yes", "survivor": str(alice.pk)}, follow=True)

    assert response.status_code == 200
    assert not Profile.objects.filter(pk=bob.pk).exists()
    assert alice.identifiers.filter(kind="phone", value=BOB_PHONE).exists()
    assert MergeLog.objects.get().survivor == alice


def test_she_cannot_delete_a_profile(marie, alice):
    response = marie.post(reverse("admin:profiles_profile_delete", args=[alice.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert Profile.objects.filter(pk=alice.pk).exists()


def test_she_records_a_consent(marie, alice):
    response = marie.post(reverse("admin:profiles_profile_record_consent", args=[alice.pk]), consent_form_data())

    assert response.status_code == 302, response.content.decode()[:2000]
    assert alice.consent_records.filter(channel="email", status="granted", recorded_by="marie").exists()


def test_she_creates_a_segment(marie, alice, bob):
    rules = {"match": "all", "conditions": [{"field": "city", "operator": "in", "value": ["Lyon", "Nantes"]}]}

    response = marie.post(
        reverse("admin:segments_segment_add"),
        {"name": "Lyon and Nantes", "description": "", "kind": "rules", "rules": json.dumps(rules),
         "holdout_percent": "10", "refresh_every": "day"},
    )  # fmt: skip

    assert response.status_code == 302, response.content.decode()[:2000]
    segment = Segment.objects.get(name="Lyon and Nantes")
    assert segment.created_by == "marie"


def test_she_opens_the_new_campaign_page_and_sends_a_campaign(marie, django_capture_on_commit_callbacks):
    assert marie.get(reverse("admin:activations_campaign_add")).status_code == 200
    audience(2, consented=2)
    campaign = campaign_to(webhook("http://127.0.0.1:9"), segment_of("Lyon"))

    with django_capture_on_commit_callbacks():
        marie.post(
            reverse("admin:activations_campaign_changelist"), {"action": "send_now", "_selected_action": [campaign.pk]}
        )

    assert CampaignRun.objects.get().campaign == campaign


def test_she_picks_destinations_but_does_not_set_them_up(marie, receiver):
    destination = webhook(receiver.url)
    changelist = reverse("admin:activations_destination_changelist")

    assert marie.get(reverse("admin:activations_destination_add")).status_code == 403
    page = marie.get(reverse("admin:activations_destination_change", args=[destination.pk])).content.decode()
    assert 'name="password"' not in page and 'name="_save"' not in page
    assert "connection_test" not in marie.get(changelist).content.decode()
    marie.post(changelist, {"action": "connection_test", "_selected_action": [destination.pk]})
    assert receiver.requests == []  # the destination was not called
    campaign_page = marie.get(reverse("admin:activations_campaign_add")).content.decode()
    assert 'id="id_destination"' in campaign_page and "add_id_destination" not in campaign_page


def test_she_reads_the_reporting_dashboard(marie):
    response = marie.get(reverse("admin:reporting_dashboard_changelist"))

    assert response.status_code == 200
    assert response.context["title"] == "Reporting dashboard"
