"""“Send now” on the preview page: the marketer sends what she just checked, then follows the run."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from activations.models import CampaignRun
from tests.activations.campaigns import audience, campaign_to, segment_of, webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(receiver):
    audience(2, consented=2)
    return campaign_to(webhook(receiver.url), segment_of("Lyon"))


def test_the_preview_offers_to_send_now(admin_client, campaign):
    page = admin_client.get(reverse("admin:activations_campaign_preview", args=[campaign.pk])).content.decode()
    assert f'action="{reverse("admin:activations_campaign_send", args=[campaign.pk])}"' in page


def test_send_now_starts_a_run_and_shows_it(admin_client, campaign, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(reverse("admin:activations_campaign_send", args=[campaign.pk]))

    run = CampaignRun.objects.get()
    assert (run.campaign, run.trigger) == (campaign, "manual")
    assert response.url == reverse("admin:activations_campaignrun_change", args=[run.pk])
    assert len(callbacks) == 1  # the worker plans and sends it once the run is committed


def test_sending_needs_a_post(admin_client, campaign):
    assert admin_client.get(reverse("admin:activations_campaign_send", args=[campaign.pk])).status_code == 405
    assert not CampaignRun.objects.exists()


def test_a_user_who_may_only_view_campaigns_cannot_send(client, campaign):
    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    client.force_login(viewer)

    page = client.get(reverse("admin:activations_campaign_preview", args=[campaign.pk])).content.decode()
    assert reverse("admin:activations_campaign_send", args=[campaign.pk]) not in page
    assert client.post(reverse("admin:activations_campaign_send", args=[campaign.pk])).status_code == 403
    assert not CampaignRun.objects.exists()


def test_a_paused_campaign_is_not_sent_and_says_why(admin_client, campaign):
    campaign.status = "paused"
    campaign.save()

    response = admin_client.post(reverse("admin:activations_campaign_send", args=[campaign.pk]), follow=True)

    assert "The campaign is paused: resume it before sending." in response.content.decode()
    assert not CampaignRun.objects.exists()
