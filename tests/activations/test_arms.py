"""A/B/n tests: each variant takes a deterministic share of the treatment group and is sent as itself."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from activations.models import CampaignArm, Delivery, DeliveryBatch, DeliveryStatus
from activations.services import campaign_arms_check, campaign_trigger
from segments.control import control_bucket
from tests.activations.campaigns import audience, campaign_to, run_planned, segment_of, send_all, webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def ab_campaign(receiver):
    """200 people with email consent; 10 % control, B (30 %, other content) and C (20 %, by SMS)."""
    audience(200, consented=200)
    destination = webhook(receiver.url, batch_size=25)
    campaign = campaign_to(destination, segment_of("Lyon"), holdout_percent=Decimal("10"))
    CampaignArm.objects.create(campaign=campaign, name="B: short subject", share_percent=30, content={"subject": "B"})
    CampaignArm.objects.create(campaign=campaign, name="C: by SMS", share_percent=20, channel="sms")
    return campaign


def expected_arm(campaign, profile_id: int) -> str | None:
    """Worked out here from the bucket functions: control first, then the arms' cumulative shares of the rest."""
    if control_bucket(campaign.control_salt, profile_id) < 1_000:
        return "held out"
    bucket = control_bucket(f"{campaign.control_salt}:arms", profile_id)
    return "B: short subject" if bucket < 3_000 else "C: by SMS" if bucket < 5_000 else None


def arms_of(run) -> dict[int, str | None]:
    return {
        delivery.profile_id: "held out"
        if delivery.status == DeliveryStatus.HELD_OUT
        else getattr(delivery.arm, "name", None)
        for delivery in Delivery.objects.filter(run=run).select_related("arm")
    }


def test_each_person_gets_the_variant_of_their_bucket_and_keeps_it_on_the_next_run(ab_campaign):
    first = run_planned(ab_campaign)

    assigned = arms_of(first)
    assert assigned == {profile_id: expected_arm(ab_campaign, profile_id) for profile_id in assigned}
    shares = {name: list(assigned.values()).count(name) for name in set(assigned.values())}
    assert set(shares) == {"held out", "B: short subject", "C: by SMS", None}
    assert 10 <= shares["held out"] <= 30 and 40 <= shares["B: short subject"] <= 70
    assert arms_of(run_planned(ab_campaign)) == assigned


def test_each_variant_is_sent_with_its_own_content_and_through_its_own_channels_consent_gate(ab_campaign, receiver):
    run = run_planned(ab_campaign)
    send_all(run)

    by_arm = {
        (arm, status) for arm, status in Delivery.objects.filter(run=run).values_list("arm__name", "status").distinct()
    }
    # Nobody consented to SMS: variant C is suppressed by the gate of its own channel, the others delivered.
    assert by_arm == {
        (None, "held_out"),
        (None, "delivered"),
        ("B: short subject", "delivered"),
        ("C: by SMS", "suppressed_no_consent"),
    }
    subjects = {}
    for request in receiver.accepted():
        payload = request.json()
        for recipient in payload["recipients"]:
            subjects[recipient["address"]] = payload["content"]["subject"]
    delivered = Delivery.objects.filter(run=run, status="delivered").select_related("arm")
    assert len(subjects) == delivered.count()
    assert all(subjects[d.address] == ("B" if d.arm else "Hello {{ first_name }}") for d in delivered)
    # A batch sends one variant only.
    for batch in DeliveryBatch.objects.filter(run=run):
        assert set(Delivery.objects.filter(run=run, batch=batch.number).values_list("arm_id", flat=True)) == {
            batch.arm_id
        }


def test_variants_cannot_take_more_than_the_whole_treatment_group(ab_campaign, admin_client):
    with pytest.raises(ValidationError, match="add up to 110"):
        campaign_arms_check(shares=[Decimal("60"), Decimal("50")])

    arms = list(ab_campaign.arms.all())
    url = reverse("admin:activations_campaign_change", args=[ab_campaign.pk])
    page = admin_client.get(url)
    data = page.context["adminform"].form.initial | {
        "segments": [segment.pk for segment in ab_campaign.segments.all()],
        "destination": ab_campaign.destination.pk,
        "content": '{"subject": "Hello {{ first_name }}"}',
        "send_at_0": "", "send_at_1": "", "send_time": "", "send_weekday": "", "send_monthday": "",
        "pressure_max_messages": "", "recurrence": "",
        "runs-TOTAL_FORMS": "0", "runs-INITIAL_FORMS": "0",
        "arms-TOTAL_FORMS": "2", "arms-INITIAL_FORMS": "2",
    }  # fmt: skip
    for index, arm in enumerate(arms):
        data |= {
            f"arms-{index}-id": arm.pk, f"arms-{index}-campaign": ab_campaign.pk, f"arms-{index}-name": arm.name,
            f"arms-{index}-share_percent": "60", f"arms-{index}-channel": arm.channel,
            f"arms-{index}-destination": "", f"arms-{index}-content": "{}",
        }  # fmt: skip
    data = {name: "" if value is None else value for name, value in data.items()}

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "add up to 120" in response.content.decode()
    assert sorted(ab_campaign.arms.values_list("share_percent", flat=True)) == [Decimal("20"), Decimal("30")]


def test_a_triggered_send_gives_the_person_their_variant(ab_campaign):
    ab_campaign.status = "running"
    ab_campaign.save()
    people = list(ab_campaign.segments.first().memberships.values_list("profile_id", flat=True)[:40])

    campaign_trigger(campaign=ab_campaign, profile_ids=people, trigger="event")

    for delivery in Delivery.objects.filter(profile_id__in=people).select_related("arm"):
        expected = expected_arm(ab_campaign, delivery.profile_id)
        if expected == "held out":
            assert delivery.status == "held_out"
        else:
            assert getattr(delivery.arm, "name", None) == expected
            if delivery.status == "pending":
                assert DeliveryBatch.objects.get(run=delivery.run, number=delivery.batch).arm_id == delivery.arm_id


def test_the_preview_counts_each_variant(ab_campaign, admin_client):
    page = admin_client.get(reverse("admin:activations_campaign_preview", args=[ab_campaign.pk])).content.decode()

    assert not Delivery.objects.exists()  # nothing kept: the preview rolled back
    assert "A/B test variants" in page
    sms = sum(1 for profile_id in ab_campaign.segments.first().memberships.values_list("profile_id", flat=True)
              if expected_arm(ab_campaign, profile_id) == "C: by SMS")  # fmt: skip
    assert f"<tr><td>C: by SMS</td><td>0</td><td>{sms}</td><td>0</td></tr>" in page
