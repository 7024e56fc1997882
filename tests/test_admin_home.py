"""The admin home: the figures a marketer reads first, each only for those who may see its page."""

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from activations.models import CampaignStatus, RunStatus
from tests.activations.campaigns import audience, campaign_to, run_planned, segment_of, send_all, webhook


@pytest.fixture
def admin_client_fr(db) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="fr")
    client.force_login(User.objects.create_superuser("admin", password="x"))
    return client


def test_figures_count_profiles_and_identified_share(admin_client_fr, alice, bob, charlie) -> None:
    page = admin_client_fr.get("/admin/").content.decode()
    figures = page[page.index('id="home-figures"') : page.index('id="latest-runs"')]
    assert '<span class="cdp-figure-value">3</span>' in figures  # alice, bob and charlie
    assert "67 %" in figures  # charlie is only a cookie
    assert "?identified=yes" in figures


def test_latest_runs_show_campaign_status_and_progress(admin_client_fr, settings) -> None:
    from tests.activations.conftest import Receiver

    receiver = Receiver()
    try:
        audience(3, consented=3)
        campaign = campaign_to(webhook(receiver.url), segment_of("Lyon"), status=CampaignStatus.SCHEDULED)
        run = run_planned(campaign)
        send_all(run)
    finally:
        receiver.close()
    run.refresh_from_db()
    assert run.status == RunStatus.FINISHED

    page = admin_client_fr.get("/admin/").content.decode()
    runs = page[page.index('id="latest-runs"') :]
    assert f"/admin/activations/campaignrun/{run.pk}/change/" in runs
    assert "Spring sale" in runs
    assert f'<progress max="{run.batches}" value="{run.batches}">' in runs
    figures = page[page.index('id="home-figures"') : page.index('id="latest-runs"')]
    assert '<span class="cdp-figure-value">1</span>' in figures  # one active campaign


def test_no_run_yet_says_what_to_do(admin_client_fr) -> None:
    page = admin_client_fr.get("/admin/").content.decode()
    assert "/admin/activations/campaign/" in page[page.index('id="latest-runs"') :]


def test_a_user_without_rights_sees_no_figure(db, alice) -> None:
    user = User.objects.create_user("intern", password="x", is_staff=True)
    client = Client()
    client.force_login(user)
    page = client.get("/admin/").content.decode()
    assert "cdp-figure-value" not in page
    assert 'id="latest-runs"' not in page

    user.user_permissions.add(Permission.objects.get(codename="view_profile"))
    client.force_login(User.objects.get(pk=user.pk))
    page = client.get("/admin/").content.decode()
    assert "cdp-figure-value" in page
    assert 'id="latest-runs"' not in page


def test_home_reads_its_figures_in_a_fixed_number_of_queries(admin_client_fr, django_assert_num_queries, alice) -> None:
    """Session and user (2), profiles (1), active campaigns (1), latest runs (1), latest import (1), segments needing
    attention (1), failing runs (1), recent actions (1): whatever the number of profiles, runs or imports."""
    with django_assert_num_queries(9):
        admin_client_fr.get("/admin/")


def test_a_list_is_titled_by_what_it_lists(admin_client_fr) -> None:
    page = admin_client_fr.get("/admin/activations/destination/").content.decode()
    assert "<h1>Destinations</h1>" in page
    assert "<title>Destinations | Plateforme de données clients</title>" in page
    assert "Sélectionnez" not in page
