"""A campaign's message is written in fields, not JSON: what the form stores, what it refuses and where it says so."""

import json
import re
from html import unescape

import pytest
from django.urls import reverse

from activations.models import Campaign, CampaignArm, ConnectorKind, Destination
from segments.models import Segment
from tests.activations.campaigns import segment_of, webhook

pytestmark = pytest.mark.django_db

ADD = reverse("admin:activations_campaign_add")


@pytest.fixture
def newsletter(db) -> Destination:
    return Destination.objects.create(name="Newsletter", kind=ConnectorKind.EMAIL, settings={"from_email": "a@b.fr"})


@pytest.fixture
def sms_provider(db) -> Destination:
    return Destination.objects.create(
        name="SMS provider", kind=ConnectorKind.SMS, settings={"url": "http://127.0.0.1:9"}
    )


def campaign_data(destination: Destination, **fields: str) -> dict[str, object]:
    segment = Segment.objects.filter(name="In Lyon").first() or segment_of("Lyon")
    data = {
        "name": "Spring sale", "slug": "spring-sale", "description": "", "status": "draft",
        "segments": [segment.pk], "channel": destination.kind, "destination": destination.pk,
        "holdout_percent": "10", "pressure_max_messages": "", "pressure_window_days": "7", "priority": "100",
        "fixed_cost": "0", "cost_per_send": "0", "currency": "EUR", "schedule": "manual", "recurrence": "",
        "send_time": "", "send_weekday": "", "send_at_0": "", "send_at_1": "", "send_monthday": "",
        "trigger_event_type": "", "trigger_delay_minutes": "0", "cancel_event_type": "",
        "content_subject": "", "content_text": "", "content_html": "", "content_sms_text": "", "content_extra": "",
        "runs-TOTAL_FORMS": "0", "runs-INITIAL_FORMS": "0", "arms-TOTAL_FORMS": "0", "arms-INITIAL_FORMS": "0",
    }  # fmt: skip
    return {**data, **fields}


def field_errors(response, name: str) -> list[str]:
    form = response.context["adminform"].form
    return list(form.errors.get(name, []))


def test_an_email_campaign_written_in_fields_is_stored_as_its_content(admin_client, newsletter):
    data = campaign_data(
        newsletter,
        content_subject="{{ first_name }}, the spring sale starts",
        content_text="Bonjour {{ first_name|default:'' }},\nit starts today.",
        content_html="",
    )

    response = admin_client.post(ADD, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert Campaign.objects.get().content == {
        "subject": "{{ first_name }}, the spring sale starts",
        "text": "Bonjour {{ first_name|default:'' }},\nit starts today.",
    }


def test_an_email_without_subject_is_refused_on_the_subject_field(admin_client, newsletter):
    response = admin_client.post(ADD, campaign_data(newsletter, content_text="Hello"))

    assert response.status_code == 200
    assert field_errors(response, "content_subject") == ["The email has no subject."]
    assert not Campaign.objects.exists()


def test_a_broken_placeholder_is_refused_on_its_field(admin_client, newsletter):
    data = campaign_data(newsletter, content_subject="Sale", content_text="Hello", content_html="<p>{% if %}</p>")

    response = admin_client.post(ADD, data)

    [error] = field_errors(response, "content_html")
    assert error.startswith("The HTML of the email has a mistake in its placeholders:")
    assert field_errors(response, "content_subject") == field_errors(response, "content_text") == []
    assert not Campaign.objects.exists()


def test_an_email_without_text_nor_html_is_refused_on_the_text_field(admin_client, newsletter):
    response = admin_client.post(ADD, campaign_data(newsletter, content_subject="Sale"))

    assert field_errors(response, "content_text") == ["The email has no text."]
    assert not Campaign.objects.exists()


def test_editing_a_campaign_shows_its_message_in_the_fields(admin_client, newsletter):
    campaign = Campaign.objects.create(
        name="Spring sale", slug="spring-sale", channel="email", destination=newsletter,
        content={"subject": "Hello {{ first_name }}", "text": "It starts today.", "tracking": {"utm": "spring"}},
    )  # fmt: skip

    page = admin_client.get(reverse("admin:activations_campaign_change", args=[campaign.pk])).content.decode()

    assert re.search(r'name="content_subject"[^>]*value="Hello \{\{ first_name \}\}"', page)
    assert re.search(r'name="content_text"[^>]*>\s*It starts today.</textarea>', page)
    # A key no field shows stays in the extra data, so saving the page keeps it.
    extra = re.search(r'name="content_extra"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    assert json.loads(unescape(extra)) == {"tracking": {"utm": "spring"}}


def test_saving_an_existing_campaign_keeps_what_no_field_shows(admin_client, newsletter):
    campaign = Campaign.objects.create(
        name="Spring sale", slug="spring-sale", channel="email", destination=newsletter,
        content={"subject": "Hello", "text": "Old", "tracking": {"utm": "spring"}},
    )  # fmt: skip
    data = campaign_data(
        newsletter, content_subject="Hello", content_text="New", content_extra='{"tracking": {"utm": "spring"}}'
    )

    response = admin_client.post(reverse("admin:activations_campaign_change", args=[campaign.pk]), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    campaign.refresh_from_db()
    assert campaign.content == {"subject": "Hello", "text": "New", "tracking": {"utm": "spring"}}


def test_an_sms_campaign_stores_its_text_and_refuses_an_empty_one(admin_client, sms_provider):
    empty = admin_client.post(ADD, campaign_data(sms_provider, content_subject="ignored on SMS"))
    assert field_errors(empty, "content_sms_text") == ["The text message is empty."]
    broken = admin_client.post(ADD, campaign_data(sms_provider, content_sms_text="Hi {{ first_name|defaut:'' }}"))
    assert field_errors(broken, "content_sms_text")[0].startswith("The text message has a mistake in its placeholders")
    assert not Campaign.objects.exists()

    response = admin_client.post(ADD, campaign_data(sms_provider, content_sms_text="-20 % today, {{ first_name }}"))

    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get()
    assert campaign.content == {"text": "-20 % today, {{ first_name }}"}
    page = admin_client.get(reverse("admin:activations_campaign_change", args=[campaign.pk])).content.decode()
    assert re.search(r'name="content_sms_text"[^>]*>\s*-20 % today, \{\{ first_name \}\}</textarea>', page)


def test_a_webhook_gets_the_extra_data_and_a_mistake_in_it_is_explained(admin_client, receiver):
    destination = webhook(receiver.url)
    data = campaign_data(destination, channel="partner_sharing", content_extra='{"offer": "SUMMER24",}')

    broken = admin_client.post(ADD, data)

    [error] = field_errors(broken, "content_extra")
    assert error.startswith("This is not data the webhook can read")
    assert not Campaign.objects.exists()

    response = admin_client.post(ADD, {**data, "content_extra": '{"offer": "SUMMER24", "template_id": 42}'})

    assert response.status_code == 302, response.content.decode()[:3000]
    assert Campaign.objects.get().content == {"offer": "SUMMER24", "template_id": 42}


def test_an_ab_variant_s_message_is_written_in_fields_and_checked(admin_client, newsletter):
    arm = {
        "arms-TOTAL_FORMS": "1", "arms-INITIAL_FORMS": "0", "arms-0-name": "B: shorter subject",
        "arms-0-share_percent": "50", "arms-0-channel": "", "arms-0-destination": "",
        "arms-0-content_subject": "", "arms-0-content_text": "Hello", "arms-0-content_html": "",
        "arms-0-content_sms_text": "", "arms-0-content_extra": "",
    }  # fmt: skip
    data = campaign_data(newsletter, content_subject="Spring sale", content_text="Hello", **arm)

    refused = admin_client.post(ADD, data)

    assert refused.status_code == 200
    [variant_form] = refused.context["inline_admin_formsets"][0].formset.forms
    assert variant_form.errors["content_subject"] == ["The email has no subject."]
    assert not Campaign.objects.exists()

    response = admin_client.post(ADD, {**data, "arms-0-content_subject": "Sale!"})

    assert response.status_code == 302, response.content.decode()[:3000]
    variant = CampaignArm.objects.get()
    assert variant.content == {"subject": "Sale!", "text": "Hello"}
    page = admin_client.get(reverse("admin:activations_campaign_change", args=[variant.campaign_id])).content.decode()
    assert re.search(r'name="arms-0-content_subject"[^>]*value="Sale!"', page)


def test_a_variant_without_a_message_sends_the_campaign_s(admin_client, newsletter):
    arm = {
        "arms-TOTAL_FORMS": "1", "arms-INITIAL_FORMS": "0", "arms-0-name": "B", "arms-0-share_percent": "50",
        "arms-0-channel": "", "arms-0-destination": "", "arms-0-content_subject": "", "arms-0-content_text": "",
        "arms-0-content_html": "", "arms-0-content_sms_text": "", "arms-0-content_extra": "",
    }  # fmt: skip

    response = admin_client.post(ADD, campaign_data(newsletter, content_subject="Sale", content_text="Hi", **arm))

    assert response.status_code == 302, response.content.decode()[:3000]
    assert CampaignArm.objects.get().content == {}


def test_the_page_lists_the_placeholders_and_shows_each_channel_s_fields(admin_client):
    page = admin_client.get(ADD).content.decode()

    assert "<code>{{ first_name }}</code>" in page and "<code>{{ unsubscribe_url }}</code>" in page
    assert "cdp-content-email" in page and "cdp-content-sms" in page
    assert "activations/campaign_content.js" in page
