"""A campaign run to a webhook peer on loopback: who is sent to, who is not, and that nothing is lost or doubled."""

import pytest
from django.test import override_settings
from standardwebhooks.webhooks import Webhook

from activations.models import BatchStatus, CampaignRun, Delivery, DeliveryBatch, DeliveryStatus, PressureCap, RunStatus
from activations.services import campaign_run_counts, delivery_batch_send
from activations.tasks import delivery_batches_due_task
from profiles.services import consent_record
from tests.activations.campaigns import SECRET, audience, campaign_to, run_planned, segment_of, send_all, webhook
from tests.activations.conftest import Answer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_retries")]


@pytest.fixture
def fast_retries(settings):
    settings.CDP_DELIVERY_RETRY_SCHEDULE = [0.01, 0.01, 0.01]


def keys_received(receiver) -> list[str]:
    return [
        recipient["idempotency_key"] for request in receiver.accepted() for recipient in request.json()["recipients"]
    ]


def addresses_received(receiver) -> set[str]:
    return {recipient["address"] for request in receiver.accepted() for recipient in request.json()["recipients"]}


def statuses(run: CampaignRun) -> dict[str, int]:
    return campaign_run_counts(run=run).by_status


def test_only_consented_people_are_sent_to_and_the_rest_is_recorded(receiver):
    audience(10, consented=6)
    campaign = campaign_to(webhook(receiver.url, batch_size=4), segment_of("Lyon"))

    run = run_planned(campaign)
    assert statuses(run) == {"pending": 6, "suppressed_no_consent": 4}
    assert run.batches == 2
    send_all(run)

    assert statuses(run) == {"delivered": 6, "suppressed_no_consent": 4}
    assert addresses_received(receiver) == {f"lyon{index}@example.fr" for index in range(6)}
    assert sorted(keys_received(receiver)) == sorted(
        str(key) for key in Delivery.objects.filter(status="delivered").values_list("idempotency_key", flat=True)
    )
    run.refresh_from_db()
    assert run.status == RunStatus.FINISHED


def test_requests_are_signed_as_standard_webhooks_say_and_a_secret_can_be_rotated(receiver):
    audience(2, consented=2)
    destination = webhook(receiver.url)
    destination.secrets["previous_signing_secret"] = "whsec_" + "QUJDREVGR0hJSktMTU5PUA=="
    destination.save()
    run = run_planned(campaign_to(destination, segment_of("Lyon")))

    send_all(run)

    request = receiver.accepted()[0]
    assert request.headers["webhook-id"] == run.delivery_batches.get().message_id
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    payload = Webhook(SECRET).verify(request.body, request.headers)
    assert payload["campaign"] == "spring-sale" and len(payload["recipients"]) == 2
    Webhook("whsec_QUJDREVGR0hJSktMTU5PUA==").verify(request.body, request.headers)


def test_the_control_group_receives_nothing_and_is_the_same_on_a_rerun(receiver):
    audience(60, consented=60)
    campaign = campaign_to(webhook(receiver.url), segment_of("Lyon"), holdout_percent=30)

    first = run_planned(campaign)
    send_all(first)
    second = run_planned(campaign)

    held_out = set(first.deliveries.filter(status="held_out").values_list("profile_id", flat=True))
    assert 5 < len(held_out) < 35
    assert set(second.deliveries.filter(status="held_out").values_list("profile_id", flat=True)) == held_out
    received = addresses_received(receiver)
    assert len(received) == 60 - len(held_out)
    held_out_addresses = set(
        first.deliveries.filter(status="held_out").values_list("profile__identifiers__value", flat=True)
    )
    assert not received & held_out_addresses


def test_the_segment_s_control_group_is_held_out_too(receiver):
    audience(40, consented=40)
    segment = segment_of("Lyon", holdout="25")
    run = run_planned(campaign_to(webhook(receiver.url), segment, holdout_percent=0))

    in_control = set(segment.memberships.filter(in_control=True).values_list("profile_id", flat=True))
    assert in_control
    assert set(run.deliveries.filter(status="held_out").values_list("profile_id", flat=True)) == in_control


def test_the_pressure_cap_holds_across_two_campaigns_on_a_channel(receiver):
    audience(5, consented=5)
    lyon = segment_of("Lyon")
    destination = webhook(receiver.url)
    PressureCap.objects.create(channel="email", max_messages=1, window_days=7)
    first = run_planned(campaign_to(destination, lyon, name="First"))
    second = run_planned(campaign_to(destination, lyon, name="Second"))

    assert statuses(first) == {"pending": 5}
    assert statuses(second) == {"suppressed_pressure": 5}
    assert second.deliveries.first().error == "Already 1 messages in 7 days on this channel."


def test_the_pressure_cap_across_channels_and_per_campaign(receiver):
    audience(4, consented=4)
    lyon = segment_of("Lyon")
    for person in lyon.memberships.values_list("profile", flat=True)[:2]:
        from profiles.models import Profile

        consent_record(profile=Profile.objects.get(pk=person), channel="partner_sharing", status="granted", source="x")
    destination = webhook(receiver.url)
    PressureCap.objects.create(channel="", max_messages=2, window_days=30)
    run_planned(campaign_to(destination, lyon, name="Email one"))
    partners = run_planned(campaign_to(destination, lyon, name="Partners", channel="partner_sharing"))
    assert statuses(partners) == {"pending": 2, "suppressed_no_consent": 2}

    # Two messages already for the two who accept partner sharing: the cap across channels stops them.
    third = run_planned(campaign_to(destination, lyon, name="Email two"))
    assert statuses(third) == {"pending": 2, "suppressed_pressure": 2}

    # A campaign's own cap, at most 2 emails in 7 days: the two who got "Email one" and "Email two" are
    # skipped, the two who got one email (and a partner message, another channel) are not.
    PressureCap.objects.all().delete()
    own = run_planned(campaign_to(destination, lyon, name="Own cap", pressure_max_messages=2, pressure_window_days=7))
    assert statuses(own) == {"pending": 2, "suppressed_pressure": 2}


@pytest.mark.parametrize(
    "fault",
    [
        Answer(status=500, body=b"boom"),
        Answer(status=503, body=b"maintenance"),
        Answer(delay=1.5),  # longer than the 1 s timeout
        Answer(status=429, headers={"Retry-After": "0"}, body=b"slow down"),
        Answer(drop=True),
    ],
    ids=["500", "503", "timeout", "429", "dropped"],
)
def test_a_fault_then_success_delivers_everything_once(receiver, fault):
    audience(6, consented=6)
    receiver.script(fault, fault)
    run = run_planned(campaign_to(webhook(receiver.url, batch_size=3), segment_of("Lyon")))

    send_all(run)

    assert statuses(run) == {"delivered": 6}
    # Each person's key came in one batch id only: a receiver that keeps the webhook-ids it processed
    # drops the repeat of a batch it handled but whose answer we missed (the timeout case).
    batch_of_key = {}
    for request in receiver.accepted():
        for recipient in request.json()["recipients"]:
            assert (
                batch_of_key.setdefault(recipient["idempotency_key"], request.headers["webhook-id"])
                == (request.headers["webhook-id"])
            )
    assert len(batch_of_key) == 6
    # A retried batch is the same request: the same webhook-id on every attempt.
    ids = [request.headers["webhook-id"] for request in receiver.requests]
    assert len(set(ids)) == 2 and len(ids) == 4
    assert sorted(run.delivery_batches.values_list("attempts", flat=True)) == [2, 2]


def test_the_last_failed_attempt_fails_the_deliveries_with_the_reason(receiver):
    audience(2, consented=2)
    receiver.script(*[Answer(status=502, body=b"bad gateway")] * 4)
    run = run_planned(campaign_to(webhook(receiver.url), segment_of("Lyon")))

    send_all(run)

    assert statuses(run) == {"failed": 2}
    assert set(run.deliveries.values_list("error", flat=True)) == {"Gave up after 4 attempts: HTTP 502: bad gateway"}
    batch = run.delivery_batches.get()
    assert (batch.status, batch.attempts) == (BatchStatus.FAILED, 4)
    run.refresh_from_db()
    assert run.status == RunStatus.FINISHED


def test_a_client_error_is_not_retried(receiver):
    audience(2, consented=2)
    receiver.script(Answer(status=422, body=b'{"error": "unknown field"}'))
    run = run_planned(campaign_to(webhook(receiver.url), segment_of("Lyon")))

    send_all(run)

    assert statuses(run) == {"failed": 2}
    assert len(receiver.requests) == 1
    assert run.deliveries.first().error == 'HTTP 422: {"error": "unknown field"}'


@override_settings(CDP_DELIVERY_RETRY_SCHEDULE=[60])
def test_retry_after_is_honoured_and_a_retry_waits_for_its_time(receiver):
    from django.utils import timezone

    audience(1, consented=1)
    receiver.script(Answer(status=429, headers={"Retry-After": "3600"}))
    run = run_planned(campaign_to(webhook(receiver.url), segment_of("Lyon")))
    batch_id = run.delivery_batches.get().pk

    batch = delivery_batch_send(batch_id=batch_id)
    assert batch.status == BatchStatus.RETRYING
    assert 3590 < (batch.next_attempt_at - timezone.now()).total_seconds() <= 3600

    assert delivery_batch_send(batch_id=batch_id).attempts == 1  # not yet: nothing sent
    assert len(receiver.requests) == 1


def test_a_consent_withdrawn_after_planning_is_honoured_at_the_send(receiver):
    people = audience(3, consented=3)
    run = run_planned(campaign_to(webhook(receiver.url), segment_of("Lyon")))
    consent_record(profile=people[0], channel="email", status="withdrawn", address="lyon0@example.fr", source="unsub")

    send_all(run)

    assert statuses(run) == {"delivered": 2, "suppressed_no_consent": 1}
    assert "lyon0@example.fr" not in addresses_received(receiver)


def test_a_crash_after_the_peer_accepted_resends_the_same_keys(receiver, monkeypatch):
    from activations import services

    audience(3, consented=3)
    run = run_planned(campaign_to(webhook(receiver.url), segment_of("Lyon")))
    batch_id = run.delivery_batches.get().pk

    def crash(**kwargs):
        raise SystemExit("worker killed")

    with monkeypatch.context() as patched:
        patched.setattr(services, "_outcome_record", crash)
        with pytest.raises(SystemExit):
            delivery_batch_send(batch_id=batch_id)
    assert statuses(run) == {"pending": 3}  # nothing was recorded: the transaction rolled back

    send_all(run)

    assert statuses(run) == {"delivered": 3}
    first, second = receiver.accepted()
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert keys_received(receiver)[:3] == keys_received(receiver)[3:]
    assert len(set(keys_received(receiver))) == 3


def test_planning_twice_plans_once(receiver):
    from activations.services import campaign_run_plan

    audience(3, consented=3)
    run = run_planned(campaign_to(webhook(receiver.url), segment_of("Lyon")))

    again = campaign_run_plan(run=run)

    assert again.status == RunStatus.SENDING
    assert Delivery.objects.count() == 3


def test_the_number_of_queries_of_a_plan_does_not_grow_with_the_audience(receiver, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from activations.services import campaign_run_create, campaign_run_plan

    destination = webhook(receiver.url, batch_size=2)

    def queries(size: int, city: str) -> int:
        audience(size, consented=size // 2, city=city)
        run = campaign_run_create(campaign=campaign_to(destination, segment_of(city), name=city), trigger="manual")
        with CaptureQueriesContext(connection) as captured:
            campaign_run_plan(run=run)
        return len(captured)

    assert queries(4, "Lyon") == queries(40, "Nantes")


def test_delivery_statuses_are_named_for_people(db):
    assert DeliveryStatus.HELD_OUT.label == "Held out (control group)"


def test_under_a_cap_the_campaign_that_goes_first_keeps_the_people_until_a_send(receiver):
    audience(3, consented=3)
    lyon = segment_of("Lyon")
    destination = webhook(receiver.url)
    PressureCap.objects.create(channel="email", max_messages=1, window_days=7)
    newsletter = run_planned(campaign_to(destination, lyon, name="Newsletter", priority=200))
    flash_sale = run_planned(campaign_to(destination, lyon, name="Flash sale", priority=10))
    assert statuses(newsletter) == statuses(flash_sale) == {"pending": 3}

    send_all(newsletter)  # its send yields to the flash sale, planned later but going first
    send_all(flash_sale)

    assert statuses(newsletter) == {"suppressed_pressure": 3}
    assert statuses(flash_sale) == {"delivered": 3}
    assert {request.json()["campaign"] for request in receiver.accepted()} == {"flash-sale"}


def test_a_run_failing_past_the_threshold_alerts_the_staff_once(receiver, settings, admin_client, mailoutbox):
    from django.contrib.auth.models import User

    settings.CDP_DELIVERY_RETRY_SCHEDULE = []
    settings.CDP_RUN_FAILURE_ALERT_MINIMUM = 4
    User.objects.filter(is_staff=True).update(email="ops@example.fr")
    audience(8, consented=8)
    receiver.script(Answer(status=400, body=b"bad"), Answer(status=400, body=b"bad"))
    run = run_planned(campaign_to(webhook(receiver.url, batch_size=2), segment_of("Lyon")))

    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        send_all(run)

    run.refresh_from_db()
    assert run.alerted_at is not None
    # Sent as soon as the threshold was passed (after two batches), once.
    assert [message.subject for message in mailoutbox] == ["Campaign “Spring sale”: 4 of 4 deliveries failed"]
    assert mailoutbox[0].to == ["ops@example.fr"]
    home = admin_client.get("/admin/").content.decode()
    assert "Campaign runs with many failures" in home and "4 of 8 deliveries failed." in home


def test_the_sweeper_finishes_a_run_whose_batches_are_all_done(receiver):
    audience(4, consented=4)
    run = run_planned(campaign_to(webhook(receiver.url), segment_of("Lyon")))
    DeliveryBatch.objects.filter(run=run).update(status=BatchStatus.DONE)  # as a crash between the two would leave it

    delivery_batches_due_task()

    run.refresh_from_db()
    assert run.status == RunStatus.FINISHED and run.finished_at is not None
