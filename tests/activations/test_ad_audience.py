"""Ad audience: hashed identifiers added and removed as diffs since the last sync, against a real HTTP peer.

The peer is the shared loopback receiver (tests/activations/conftest.py), which
also answers DELETE (removals) and GET (test connection).
"""

import datetime
import hashlib

import pytest
from django.db import transaction
from django.utils import timezone

from activations.audiences import audience_removal_send, audience_removals_due, audience_run_counts, audience_run_sync
from activations.connectors import Batch, ConnectorError, Recipient, connector_for
from activations.connectors.ad_audience import identifier_hashes, session_id
from activations.models import (
    AudienceMember,
    AudienceMemberState,
    AudienceRemoval,
    BatchStatus,
    Campaign,
    CampaignRun,
    ConnectorKind,
    Delivery,
    Destination,
    RunTrigger,
    WithdrawalNotice,
)
from activations.services import campaign_run_create, campaign_run_plan, withdrawal_notice_send
from profiles.models import Profile
from profiles.services import consent_record, identifier_add, profile_update
from segments.services import segment_refresh
from tests.activations.campaigns import campaign_to, run_planned, segment_of, send_all
from tests.activations.conftest import Answer, Receiver
from tests.conftest import make_profile

pytestmark = pytest.mark.django_db

TOKEN = "EAAB-test-token"


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def ads(url: str, **settings) -> Destination:
    return Destination.objects.create(
        name="Meta audience",
        kind=ConnectorKind.AD_AUDIENCE,
        settings={"url": f"{url}/v21.0", "audience_id": "6001", "timeout": 1, **settings},
        secrets={"access_token": TOKEN},
    )


def person(index: int, *, consent: bool = True, city: str = "Lyon") -> Profile:
    profile = make_profile(
        identifiers={"email": f"Person{index}@Example.fr", "phone": f"06 12 34 56 {index:02d}"}, city=city
    )
    if consent:
        consent_record(profile=profile, channel="advertising", status="granted", source="form")
    return profile


def plan(campaign: Campaign) -> tuple[CampaignRun, list[int]]:
    """The run planned with its audience diff (``campaign_run_plan`` calls ``audience_run_sync``), and its removals."""
    for segment in campaign.segments.all():
        segment_refresh(segment=segment)
    run = run_planned(campaign)
    return run, list(AudienceRemoval.objects.filter(run=run).order_by("pk").values_list("pk", flat=True))


def sync(campaign: Campaign) -> CampaignRun:
    """A run planned and sent to the end, its removals too, as the workers would."""
    run, removal_ids = plan(campaign)
    send_all(run)
    later = timezone.now()
    for _attempt in range(20):
        later += datetime.timedelta(days=1)
        for removal_id in removal_ids:
            audience_removal_send(removal_id=removal_id, now=later)
        if not AudienceRemoval.objects.filter(pk__in=removal_ids, status__in=["pending", "retrying"]).exists():
            break
    return run


def emails_in(request) -> set[str]:  # noqa: ANN001
    return {row[0] for row in request.json()["payload"]["data"] if row[0]}


@pytest.fixture
def api(receiver: Receiver) -> Receiver:
    return receiver


def by_method(api: Receiver, method: str) -> list:
    return [request for request in api.accepted() if request.method == method]


@pytest.fixture
def campaign(api):
    return campaign_to(ads(api.url), segment_of("Lyon"), name="Retargeting", channel="advertising")


def test_identifiers_are_hashed_as_the_platforms_document_them():
    # TikTok's customer-file examples: the email and the phone without "+", as Meta also asks.
    documented = identifier_hashes([("email", "  JaneDoe@Gmail.com "), ("phone", "+37493828222")])
    assert documented == {
        "EMAIL_SHA256": ["d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69"],
        "PHONE_SHA256": ["65b7e6dcf6f4310f8d7cbfbd78289a753062fb054d6664fb9aaac5df66a422d4"],
    }
    # Google Customer Match keeps E.164's "+".
    assert identifier_hashes([("phone", "+37493828222")], phone_format="e164")["PHONE_SHA256"] == [sha("+37493828222")]
    assert identifier_hashes([("crm_id", "CRM-001"), ("anonymous_id", "cookie")]) == {
        "EMAIL_SHA256": [],
        "PHONE_SHA256": [],
    }


def test_first_sync_adds_everyone_consented(api, campaign):
    people = [person(0), person(1), person(2), person(3, consent=False)]

    run = sync(campaign)

    (added,) = api.requests
    assert (added.method, added.path) == ("POST", "/v21.0/6001/users")
    assert added.headers["authorization"] == f"Bearer {TOKEN}"
    body = added.json()
    assert body["payload"]["schema"] == ["EMAIL_SHA256", "PHONE_SHA256"]
    assert sorted(body["payload"]["data"]) == sorted(
        [sha(f"person{index}@example.fr"), sha(f"3361234560{index}")] for index in range(3)
    )
    assert body["session"]["session_id"] == session_id(added.headers["idempotency-key"])
    statuses = dict(Delivery.objects.filter(run=run).values_list("profile_id", "status"))
    assert statuses == {
        people[0].pk: "delivered", people[1].pk: "delivered", people[2].pk: "delivered",
        people[3].pk: "suppressed_no_consent",
    }  # fmt: skip
    assert set(AudienceMember.objects.values_list("profile_id", "state")) == {
        (people[index].pk, AudienceMemberState.IN_AUDIENCE) for index in range(3)
    }
    assert audience_run_counts(run=run).added == 3


def test_second_sync_sends_only_who_came_and_who_left(api, campaign):
    people = [person(0), person(1), person(2)]
    sync(campaign)
    api.requests.clear()
    profile_update(profile=people[0], fields={"city": "Paris"})
    newcomer = person(3)

    run = sync(campaign)

    (added,) = by_method(api, "POST")
    (removed,) = by_method(api, "DELETE")
    assert len(api.requests) == 2
    assert emails_in(added) == {sha("person3@example.fr")}
    assert removed.json()["payload"]["data"] == [[sha("person0@example.fr"), sha("33612345600")]]
    deliveries = {d.profile_id: d for d in Delivery.objects.filter(run=run)}
    assert deliveries[newcomer.pk].status == "delivered" and deliveries[newcomer.pk].error == ""
    for kept in people[1:]:
        assert deliveries[kept.pk].status == "delivered"
        assert deliveries[kept.pk].error == "Already in the audience: nothing to send."
    removal = AudienceRemoval.objects.get()
    assert (removal.run, removal.people, removal.status) == (run, 1, BatchStatus.DONE)
    assert AudienceMember.objects.get(profile=people[0]).state == AudienceMemberState.REMOVED
    counts = audience_run_counts(run=run)
    assert (counts.added, counts.already_in, counts.removed, counts.removing) == (1, 2, 1, 0)

    api.requests.clear()
    sync(campaign)
    assert api.requests == []  # nothing changed: nothing sent


def test_a_new_identifier_is_sent_again_and_every_hash_is_removed(api, campaign):
    alice = person(0)
    sync(campaign)
    identifier_add(profile=alice, kind="email", value="alice.new@example.fr", source="test")
    api.requests.clear()

    sync(campaign)

    (again,) = api.requests
    assert emails_in(again) == {sha("person0@example.fr"), sha("alice.new@example.fr")}
    api.requests.clear()
    profile_update(profile=alice, fields={"city": "Paris"})
    sync(campaign)
    (removed,) = api.requests
    assert emails_in(removed) == {sha("person0@example.fr"), sha("alice.new@example.fr")}


def test_someone_without_advertising_consent_is_never_sent(api, campaign):
    emailable = make_profile(identifiers={"email": "emailable@example.fr"}, city="Lyon")
    consent_record(profile=emailable, channel="email", status="granted", address="emailable@example.fr", source="x")
    person(1)

    sync(campaign)
    sync(campaign)

    sent = [row for request in api.requests for row in request.json()["payload"]["data"]]
    assert sha("emailable@example.fr") not in {row[0] for row in sent}
    assert not AudienceMember.objects.filter(profile=emailable).exists()


def test_faults_lose_nothing_and_send_nothing_twice(api, campaign, settings):
    settings.CDP_DELIVERY_RETRY_SCHEDULE = [1, 1, 1]
    people = [person(index) for index in range(4)]
    campaign.destination.settings["batch_size"] = 2
    campaign.destination.save()
    api.script(Answer(status=500), Answer(delay=1.5))  # two batches: a 500, then a timeout, then 200s

    sync(campaign)

    assert Delivery.objects.filter(status="delivered").count() == 4
    keys = [request.headers["idempotency-key"] for request in api.requests]
    assert len(keys) == 4 and len(set(keys)) == 2  # each batch tried twice, with the same key
    assert len({request.json()["session"]["session_id"] for request in api.requests}) == 2
    accepted = [email for request in api.accepted() for email in emails_in(request)]
    answered_ok = {request.headers["idempotency-key"] for request in api.accepted()}
    assert set(accepted) == {sha(f"person{index}@example.fr") for index in range(4)} and len(answered_ok) == 2

    api.requests.clear()
    for leaving in people[:3]:
        profile_update(profile=leaving, fields={"city": "Paris"})
    api.script(Answer(status=429, headers={"Retry-After": "120"}))
    run, removal_ids = plan(campaign)
    send_all(run)
    assert len(removal_ids) == 2  # 3 people in batches of 2
    now = timezone.now()
    first = audience_removal_send(removal_id=removal_ids[0], now=now)
    assert first.status == BatchStatus.RETRYING and first.error.startswith("HTTP 429")
    assert first.next_attempt_at >= now + datetime.timedelta(seconds=120)
    assert audience_removal_send(removal_id=removal_ids[0], now=now).attempts == 1  # not due yet: not sent
    assert audience_removals_due(now=now + datetime.timedelta(seconds=121)) == [removal_ids[0]]
    assert audience_removal_send(removal_id=removal_ids[0], now=now + datetime.timedelta(seconds=121)).status == "done"
    assert audience_removal_send(removal_id=removal_ids[1], now=now).status == "done"
    assert audience_removal_send(removal_id=removal_ids[1], now=now).attempts == 1  # done: never sent again

    removals = [request for request in api.requests if request.method == "DELETE"]
    assert len(removals) == 3 and len({request.headers["idempotency-key"] for request in removals}) == 2
    assert set(AudienceMember.objects.values_list("profile_id", "state")) == {
        *((leaving.pk, AudienceMemberState.REMOVED) for leaving in people[:3]),
        (people[3].pk, AudienceMemberState.IN_AUDIENCE),
    }


def test_a_removal_given_up_on_is_planned_again_by_the_next_run(api, campaign, settings):
    settings.CDP_DELIVERY_RETRY_SCHEDULE = []
    alice = person(0)
    sync(campaign)
    profile_update(profile=alice, fields={"city": "Paris"})
    api.script(Answer(status=503))
    run, (removal_id,) = plan(campaign)
    assert audience_removal_send(removal_id=removal_id).status == BatchStatus.FAILED
    assert audience_run_counts(run=run).removal_failed == 1
    api.requests.clear()

    sync(campaign)

    (removed,) = api.requests
    assert removed.method == "DELETE" and emails_in(removed) == {sha("person0@example.fr")}
    assert AudienceMember.objects.get(profile=alice).state == AudienceMemberState.REMOVED


def test_a_withdrawal_removes_the_person(api, campaign, django_capture_on_commit_callbacks):
    alice, bob = person(0), person(1)
    sync(campaign)
    api.requests.clear()

    with django_capture_on_commit_callbacks(execute=True):
        consent_record(profile=alice, channel="advertising", status="withdrawn", source="preference centre")

    notice = WithdrawalNotice.objects.get()
    assert withdrawal_notice_send(notice_id=notice.pk).status == BatchStatus.DONE
    (removed,) = api.requests
    assert (removed.method, removed.path) == ("DELETE", "/v21.0/6001/users")
    assert removed.headers["idempotency-key"] == f"withdrawal_{notice.pk}"
    assert removed.json()["payload"]["data"] == [[sha("person0@example.fr"), sha("33612345600")]]
    assert AudienceMember.objects.get(profile=alice).state == AudienceMemberState.REMOVED

    api.requests.clear()
    run = sync(campaign)
    assert api.requests == []  # alice is neither added again nor removed twice; bob is already in
    assert Delivery.objects.get(run=run, profile=bob).error.startswith("Already in the audience")


def test_test_connection_reads_the_audience(api):
    destination = ads(api.url)
    api.script(Answer(body=b'{"id": "6001", "name": "Lyon shoppers"}'))

    message = connector_for(destination).test_connection()

    assert message == f"{api.url}/v21.0/6001 found the audience “Lyon shoppers” with this token (HTTP 200)."
    (request,) = api.requests
    assert (request.method, request.path) == ("GET", "/v21.0/6001?fields=id%2Cname")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_test_connection_gives_the_exact_error(api):
    destination = ads(api.url)
    api.script(Answer(status=400, body=b'{"error": {"message": "Invalid OAuth access token.", "code": 190}}'))

    with pytest.raises(ConnectorError) as error:
        connector_for(destination).test_connection()

    answer = '{"error": {"message": "Invalid OAuth access token.", "code": 190}}'
    assert str(error.value) == f"{api.url}/v21.0/6001 answered HTTP 400: {answer}"
    destination.settings["url"] = "http://127.0.0.1:9/v21.0"
    with pytest.raises(ConnectorError, match=r"^Cannot connect to http://127.0.0.1:9/v21.0/6001: .*refused"):
        connector_for(destination).test_connection()
    destination.secrets = {}
    with pytest.raises(ConnectorError, match="no access token"):
        connector_for(destination).test_connection()


def test_a_triggered_run_adds_but_never_removes(api, campaign):
    alice = person(0)
    sync(campaign)
    profile_update(profile=alice, fields={"city": "Paris"})
    person(1)
    for segment in campaign.segments.all():
        segment_refresh(segment=segment)
    api.requests.clear()

    with transaction.atomic():
        run = campaign_run_plan(run=campaign_run_create(campaign=campaign, trigger=RunTrigger.EVENT))
        assert audience_run_sync(run=run) == []
    send_all(run)
    assert not AudienceRemoval.objects.filter(run=run).exists()

    (added,) = api.requests
    assert added.method == "POST" and emails_in(added) == {sha("person1@example.fr")}
    assert AudienceMember.objects.get(profile=alice).state == AudienceMemberState.IN_AUDIENCE


def test_a_test_send_adds_nobody(api, campaign):
    staff = Recipient(
        delivery_id=0,
        idempotency_key="k",
        profile_id=0,
        profile_uuid="",
        address="",
        fields={"email": "ann@example.fr"},
    )
    test = Batch(message_id="test_1", campaign="retargeting", run="test", channel="advertising", content={},
                 recipients=[staff])  # fmt: skip

    outcome = connector_for(campaign.destination).send(test)

    assert outcome.failed == {0: "An ad audience takes no test message: use “test the connection” on the destination."}
    assert api.requests == [] and not AudienceMember.objects.exists()
