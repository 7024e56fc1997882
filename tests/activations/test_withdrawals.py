"""A consent withdrawal is passed on to destinations that keep their own lists, signed and retried."""

import pytest
from standardwebhooks.webhooks import Webhook

from activations.models import BatchStatus, WithdrawalNotice
from activations.services import withdrawal_notice_send
from profiles.services import consent_record
from tests.activations.campaigns import SECRET, audience, campaign_to, run_planned, segment_of, send_all, webhook
from tests.activations.conftest import Answer

pytestmark = pytest.mark.django_db


def test_the_destinations_that_were_sent_the_person_are_told(receiver, django_capture_on_commit_callbacks, settings):
    settings.CDP_DELIVERY_RETRY_SCHEDULE = [0.01]
    people = audience(2, consented=2)
    send_all(run_planned(campaign_to(webhook(receiver.url), segment_of("Lyon"))))
    never_used = webhook(receiver.url, name="Never used")
    receiver.requests.clear()
    receiver.script(Answer(status=503))

    with django_capture_on_commit_callbacks(execute=True):
        consent_record(profile=people[0], channel="email", status="withdrawn", address="lyon0@example.fr", source="x")

    notice = WithdrawalNotice.objects.get()
    assert notice.destination.name == "Shop ESP" and notice.destination != never_used
    assert withdrawal_notice_send(notice_id=notice.pk).status == BatchStatus.RETRYING
    from django.utils import timezone

    later = timezone.now() + timezone.timedelta(minutes=1)
    assert withdrawal_notice_send(notice_id=notice.pk, now=later).status == BatchStatus.DONE
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == f"withdrawal_{notice.pk}"
    assert Webhook(SECRET).verify(second.body, second.headers) == {
        "type": "consent.withdrawn",
        "profile_id": str(people[0].uuid),
        "channel": "email",
        "address": "lyon0@example.fr",
    }


def test_a_withdrawal_of_someone_never_sent_to_tells_nobody(receiver, django_capture_on_commit_callbacks):
    people = audience(1, consented=1)
    webhook(receiver.url)

    with django_capture_on_commit_callbacks(execute=True):
        consent_record(profile=people[0], channel="email", status="withdrawn", address="lyon0@example.fr", source="x")

    assert not WithdrawalNotice.objects.exists()
