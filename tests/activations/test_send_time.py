"""Send-time optimisation: an email or SMS campaign reaches each person at their best hour within its window.

The people: lyon0 opens at 19:00 (their own hour), lyon3 at 12:00, which
makes 12:00 everybody's hour (more opens), and lyon1 never opened anything.
Local time is settings.TIME_ZONE (Europe/Paris).
"""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from activations.models import BatchStatus, Campaign, Delivery, DeliveryBatch, DeliveryStatus
from activations.services import (
    campaign_schedule_check,
    delivery_batch_send,
    delivery_batches_due,
    run_batches_ready,
)
from profiles.models import Event, EventType, Profile
from profiles.services import consent_record
from scores.models import ScoreKind
from scores.services import score_compute, score_definitions_ensure
from segments.models import Segment
from tests.activations.campaigns import audience, campaign_to, run_planned, segment_of, webhook

pytestmark = pytest.mark.django_db


def local(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(2026, 6, day, hour, minute))


MORNING = local(15, 8, 30)


def opens(profile: Profile, *, hour: int, count: int) -> None:
    Event.objects.bulk_create(
        Event(profile=profile, type=EventType.EMAIL_OPEN, occurred_at=local(14 - day, hour, 10)) for day in range(count)
    )


@pytest.fixture
def people() -> list[Profile]:
    people = audience(4, consented=4)
    opens(people[0], hour=19, count=6)
    opens(people[3], hour=12, count=8)
    definition = next(d for d in score_definitions_ensure() if d.kind == ScoreKind.BEST_SEND_HOUR)
    score_compute(definition=definition, now=MORNING)
    return people


def campaign_at_best_hour(url: str, *, name: str = "Spring sale", **fields) -> Campaign:
    fields.setdefault("send_at_best_hour", True)
    lyon = Segment.objects.filter(name="In Lyon").first() or segment_of("Lyon")
    return campaign_to(webhook(url, name=f"{name} ESP"), lyon, name=name, **fields)


def not_before_of(profile: Profile) -> datetime.datetime | None:
    delivery = Delivery.objects.get(profile=profile)
    return DeliveryBatch.objects.get(run=delivery.run, number=delivery.batch).not_before


def test_each_person_gets_a_batch_at_their_best_hour(people, receiver):
    run = run_planned(campaign_at_best_hour(receiver.url), now=MORNING)

    assert not_before_of(people[0]) == local(15, 19)
    assert not_before_of(people[3]) == local(15, 12)
    # No opens: everybody's hour.
    assert not_before_of(people[1]) == local(15, 12)
    # A batch holds the people of one hour only.
    assert run.batches == DeliveryBatch.objects.filter(run=run).count() == 2
    # Nothing goes before its hour: the run's task queues nothing now.
    assert run_batches_ready(run=run, now=MORNING) == []


def test_an_hour_gone_today_is_tomorrow(people, receiver):
    run_planned(campaign_at_best_hour(receiver.url), now=local(15, 20))

    assert not_before_of(people[0]) == local(16, 19)
    assert not_before_of(people[1]) == local(16, 12)


def test_an_hour_beyond_the_window_is_sent_at_once(people, receiver):
    run = run_planned(campaign_at_best_hour(receiver.url, best_hour_window_hours=6), now=MORNING)

    # 19:00 is ten and a half hours away: at once; 12:00 is within the six hours.
    assert not_before_of(people[0]) is None
    assert not_before_of(people[1]) == local(15, 12)
    at_once = DeliveryBatch.objects.get(run=run, not_before__isnull=True)
    assert run_batches_ready(run=run, now=MORNING) == [at_once.pk]


def test_the_current_hour_is_sent_at_once(people, receiver):
    run_planned(campaign_at_best_hour(receiver.url), now=local(15, 19, 40))

    assert not_before_of(people[0]) is None


def test_without_send_time_optimisation_everybody_goes_at_once(people, receiver):
    run = run_planned(campaign_at_best_hour(receiver.url, send_at_best_hour=False), now=MORNING)

    assert run.batches == 1
    assert not DeliveryBatch.objects.filter(run=run, not_before__isnull=False).exists()


def test_the_sweeper_sends_a_batch_when_its_hour_comes_and_not_before(people, receiver):
    run = run_planned(campaign_at_best_hour(receiver.url), now=MORNING)
    evening = DeliveryBatch.objects.get(run=run, not_before=local(15, 19))

    # Planned long ago ("stale" for a batch sent at once), but its hour has not come.
    assert evening.pk not in delivery_batches_due(now=local(15, 18, 59))
    # Queued by the sweeper in the minute its hour comes, and again only if still pending ten minutes later.
    assert evening.pk in delivery_batches_due(now=local(15, 19) + datetime.timedelta(seconds=30))
    assert evening.pk not in delivery_batches_due(now=local(15, 19, 5))
    assert evening.pk in delivery_batches_due(now=local(15, 19, 11))

    # A worker given it early (queued twice, a retry) leaves it for its hour.
    assert delivery_batch_send(batch_id=evening.pk, now=local(15, 18)).status == BatchStatus.PENDING
    assert receiver.requests == []
    assert delivery_batch_send(batch_id=evening.pk, now=local(15, 19, 1)).status == BatchStatus.DONE
    assert len(receiver.accepted()) == 1
    assert Delivery.objects.get(profile=people[0]).status == DeliveryStatus.DELIVERED
    assert Delivery.objects.get(profile=people[1]).status == DeliveryStatus.PENDING


def test_a_consent_withdrawn_before_the_hour_is_honoured(people, receiver):
    run = run_planned(campaign_at_best_hour(receiver.url), now=MORNING)
    consent_record(profile=people[0], channel="email", status="withdrawn", address="lyon0@example.fr", source="form")

    evening = DeliveryBatch.objects.get(run=run, not_before=local(15, 19))
    delivery_batch_send(batch_id=evening.pk, now=local(15, 19, 1))

    assert Delivery.objects.get(profile=people[0]).status == DeliveryStatus.SUPPRESSED_NO_CONSENT
    assert receiver.requests == []


def test_the_control_group_and_the_consent_gate_are_unchanged(people, receiver):
    consent_record(profile=people[1], channel="email", status="withdrawn", address="lyon1@example.fr", source="form")

    def statuses(**fields) -> dict[int, str]:
        campaign = campaign_at_best_hour(receiver.url, holdout_percent=50, control_salt="same seed", **fields)
        run = run_planned(campaign, now=MORNING)
        return dict(Delivery.objects.filter(run=run).values_list("profile_id", "status"))

    at_best_hour = statuses()
    assert at_best_hour == statuses(name="Plain", send_at_best_hour=False)
    assert DeliveryStatus.HELD_OUT in at_best_hour.values()
    assert at_best_hour[people[1].pk] in (DeliveryStatus.HELD_OUT, DeliveryStatus.SUPPRESSED_NO_CONSENT)


@pytest.mark.parametrize("channel", ["advertising", "partner_sharing"])
def test_only_email_and_sms_campaigns_go_at_the_best_hour(channel):
    with pytest.raises(ValidationError) as error:
        campaign_schedule_check(Campaign(channel=channel, send_at_best_hour=True))
    assert "send_at_best_hour" in error.value.message_dict


def test_a_triggered_campaign_does_not_go_at_the_best_hour():
    with pytest.raises(ValidationError) as error:
        campaign_schedule_check(
            Campaign(channel="sms", send_at_best_hour=True, schedule="event", trigger_event_type="add_to_cart")
        )
    assert "send_at_best_hour" in error.value.message_dict


def test_the_admin_sets_it_in_when_to_send_and_refuses_it_for_other_channels(admin_client, receiver):
    destination, segment = webhook(receiver.url), segment_of("Lyon")
    data = {
        "name": "Weekly news", "slug": "weekly-news", "description": "", "status": "draft",
        "segments": [segment.pk], "channel": "email", "destination": destination.pk, "content": "{}",
        "holdout_percent": "10", "pressure_max_messages": "", "pressure_window_days": "7", "priority": "100",
        "fixed_cost": "0", "cost_per_send": "0", "currency": "EUR", "schedule": "manual", "recurrence": "",
        "send_time": "", "send_weekday": "", "send_at_0": "", "send_at_1": "", "send_monthday": "",
        "trigger_event_type": "", "trigger_delay_minutes": "0", "cancel_event_type": "",
        "send_at_best_hour": "on", "best_hour_window_hours": "12",
        "runs-TOTAL_FORMS": "0", "runs-INITIAL_FORMS": "0", "arms-TOTAL_FORMS": "0", "arms-INITIAL_FORMS": "0",
    }  # fmt: skip
    add = reverse("admin:activations_campaign_add")

    assert "send_at_best_hour" in admin_client.get(add).content.decode()
    refused = admin_client.post(add, {**data, "channel": "advertising"})
    assert "Only an email or SMS campaign can be sent at each person" in refused.content.decode()
    too_long = admin_client.post(add, {**data, "best_hour_window_hours": "200"})
    assert too_long.status_code == 200 and not Campaign.objects.exists()

    assert admin_client.post(add, data).status_code == 302
    campaign = Campaign.objects.get()
    assert (campaign.send_at_best_hour, campaign.best_hour_window_hours) == (True, 12)
