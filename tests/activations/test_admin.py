"""The campaigns admin as a marketer uses it: write-only secrets, test connection, schedule, preview, runs."""

import pytest
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from activations.models import Campaign, CampaignRun, Destination
from tests.activations.campaigns import SECRET, audience, campaign_to, run_planned, segment_of, send_all, webhook
from tests.activations.conftest import Answer

pytestmark = pytest.mark.django_db


def test_a_secret_is_written_never_shown_back_and_kept_when_left_empty(admin_client, receiver):
    destination = webhook(receiver.url)
    url = reverse("admin:activations_destination_change", args=[destination.pk])

    page = admin_client.get(url).content.decode()
    assert SECRET not in page and "Set: leave empty to keep it." in page

    settings = f'{{"url": "{receiver.url}"}}'
    data = {"name": destination.name, "kind": "webhook", "is_active": "on", "settings": settings}
    assert admin_client.post(url, {**data, "password": "s3cret"}).status_code == 302
    destination.refresh_from_db()
    assert destination.secrets == {"signing_secret": SECRET, "password": "s3cret"}

    admin_client.post(url, {**data, "clear_password": "on"})
    destination.refresh_from_db()
    assert destination.secrets == {"signing_secret": SECRET}


def test_test_the_connection_says_what_happened(admin_client, receiver):
    good = webhook(receiver.url)
    dead = webhook("http://127.0.0.1:9", name="Dead")
    receiver.script(Answer(status=200))

    response = admin_client.post(
        reverse("admin:activations_destination_changelist"),
        {"action": "connection_test", "_selected_action": [good.pk, dead.pk]},
        follow=True,
    )

    said = [str(message) for message in response.context["messages"]]
    assert f"Shop ESP: {receiver.url} accepted a test message (HTTP 200, signed)." in said
    assert any(text.startswith("Dead: Cannot connect to http://127.0.0.1:9") for text in said)
    assert receiver.requests[0].json() == {"type": "ping"}


def test_a_weekly_schedule_set_in_the_admin_creates_the_beat_entry(admin_client, receiver):
    destination = webhook(receiver.url)
    segment = segment_of("Lyon")
    data = {
        "name": "Weekly news", "slug": "weekly-news", "description": "", "status": "draft",
        "segments": [segment.pk], "channel": "email", "destination": destination.pk, "content": "{}",
        "holdout_percent": "10", "pressure_max_messages": "", "pressure_window_days": "7", "priority": "100",
        "fixed_cost": "100", "cost_per_send": "0.002", "currency": "EUR", "schedule": "recurring",
        "recurrence": "weekly", "send_time": "09:30", "send_weekday": "1", "send_at_0": "", "send_at_1": "",
        "send_monthday": "", "trigger_event_type": "", "trigger_delay_minutes": "0", "cancel_event_type": "",
        "runs-TOTAL_FORMS": "0", "runs-INITIAL_FORMS": "0", "arms-TOTAL_FORMS": "0", "arms-INITIAL_FORMS": "0",
    }  # fmt: skip

    missing_time = admin_client.post(reverse("admin:activations_campaign_add"), {**data, "send_time": ""})
    assert "Give the time of day of the send." in missing_time.content.decode()
    assert not Campaign.objects.exists()

    response = admin_client.post(reverse("admin:activations_campaign_add"), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get()
    assert campaign.status == "scheduled"
    task = PeriodicTask.objects.get(pk=campaign.schedule_task_id)
    assert (task.crontab.hour, task.crontab.minute, task.crontab.day_of_week, task.enabled) == ("9", "30", "1", True)


def test_the_preview_page_counts_and_shows_reasons(admin_client, receiver):
    audience(3, consented=2)
    campaign = campaign_to(webhook(receiver.url), segment_of("Lyon"))

    page = admin_client.get(reverse("admin:activations_campaign_preview", args=[campaign.pk])).content.decode()

    assert "Pending: 2" in page and "Not sent: no consent: 1" in page
    assert "No consent for this channel." in page
    assert not CampaignRun.objects.exists()


def test_send_now_queues_a_run(admin_client, receiver, django_capture_on_commit_callbacks):
    audience(2, consented=2)
    campaign = campaign_to(webhook(receiver.url), segment_of("Lyon"))

    with django_capture_on_commit_callbacks() as callbacks:
        admin_client.post(
            reverse("admin:activations_campaign_changelist"), {"action": "send_now", "_selected_action": [campaign.pk]}
        )

    run = CampaignRun.objects.get()
    assert (run.campaign, run.trigger, run.status) == (campaign, "manual", "planning")
    assert len(callbacks) == 1


def test_the_runs_list_counts_each_status_in_a_fixed_number_of_queries(
    admin_client, receiver, django_assert_max_num_queries, settings
):
    settings.CDP_DELIVERY_RETRY_SCHEDULE = []
    audience(4, consented=3)
    campaign = campaign_to(webhook(receiver.url), segment_of("Lyon"), holdout_percent=0)
    receiver.script(Answer(status=500))
    for _run in range(3):
        send_all(run_planned(campaign))

    with django_assert_max_num_queries(8):
        page = admin_client.get(reverse("admin:activations_campaignrun_changelist")).content.decode()

    assert page.count("<progress") == 3

    run = CampaignRun.objects.order_by("created_at").first()
    response = admin_client.post(
        reverse("admin:activations_campaignrun_changelist"),
        {"action": "retry_failed", "_selected_action": [run.pk]},
        follow=True,
    )
    assert "3 deliveries are sent again." in [str(message) for message in response.context["messages"]]


def test_destinations_are_listed_with_their_campaigns(admin_client, receiver):
    campaign_to(webhook(receiver.url), segment_of("Lyon"))
    page = admin_client.get(reverse("admin:activations_destination_changelist")).content.decode()
    assert "Shop ESP" in page
    assert Destination.objects.get().campaigns.count() == 1


def test_send_a_test_to_me_goes_to_the_staff_address_only(admin_client, admin_user, receiver):
    admin_user.email = "me@example.fr"
    admin_user.save()
    audience(2, consented=2)
    campaign = campaign_to(webhook(receiver.url), segment_of("Lyon"))

    response = admin_client.post(
        reverse("admin:activations_campaign_changelist"),
        {"action": "send_test", "_selected_action": [campaign.pk]},
        follow=True,
    )

    assert "Spring sale: a test was sent to me@example.fr." in [str(m) for m in response.context["messages"]]
    (request,) = receiver.requests
    assert [r["address"] for r in request.json()["recipients"]] == ["me@example.fr"]
    assert request.json()["recipients"][0]["test"] == "true"
    assert not CampaignRun.objects.exists()


def test_a_csv_file_run_is_downloaded_from_its_page(admin_client, settings, tmp_path):
    from activations.models import ConnectorKind
    from tests.activations.campaigns import send_all

    settings.CDP_EXPORT_DIR = tmp_path
    audience(2, consented=2)
    destination = Destination.objects.create(
        name="Export", kind=ConnectorKind.CSV_FILE, settings={"columns": ["email", "first_name"], "delimiter": ";"}
    )
    run = run_planned(campaign_to(destination, segment_of("Lyon")))
    send_all(run)

    page = admin_client.get(reverse("admin:activations_campaignrun_change", args=[run.pk])).content.decode()
    url = reverse("admin:activations_campaignrun_file", args=[run.uuid])
    assert url in page

    content = b"".join(admin_client.get(url).streaming_content).decode()
    assert content.splitlines() == ["email;first_name", "lyon0@example.fr;", "lyon1@example.fr;"]


def test_a_cart_abandonment_campaign_is_set_up_in_the_admin(admin_client, receiver):
    destination = webhook(receiver.url)
    data = {
        "name": "Cart", "slug": "cart", "description": "", "status": "draft", "segments": [], "channel": "email",
        "destination": destination.pk, "content": "{}", "holdout_percent": "10", "pressure_max_messages": "",
        "pressure_window_days": "7", "priority": "100", "fixed_cost": "0", "cost_per_send": "0", "currency": "EUR",
        "schedule": "event", "send_at_0": "", "send_at_1": "", "recurrence": "", "send_time": "", "send_weekday": "",
        "send_monthday": "", "trigger_event_type": "", "trigger_delay_minutes": "120", "cancel_event_type": "purchase",
        "runs-TOTAL_FORMS": "0", "runs-INITIAL_FORMS": "0", "arms-TOTAL_FORMS": "0", "arms-INITIAL_FORMS": "0",
    }  # fmt: skip

    refused = admin_client.post(reverse("admin:activations_campaign_add"), data)
    assert "Name the event that triggers the send, for example add_to_cart." in refused.content.decode()

    assert admin_client.post(reverse("admin:activations_campaign_add"), {**data, "trigger_event_type": "add_to_cart"})
    campaign = Campaign.objects.get()
    assert (campaign.status, campaign.trigger_event_type, campaign.trigger_delay_minutes) == (
        "scheduled",
        "add_to_cart",
        120,
    )
