"""Track one event or a batch of up to 1,000, with identity resolution, dedup by message id and do-not-track."""

from decimal import Decimal

from profiles.models import Event, Profile
from profiles.services import profile_set_do_not_track
from tests.conftest import ALICE_EMAIL
from tests.partners.conftest import API

EVENTS = f"{API}/events/"
BATCH = f"{API}/events/batch/"


def test_track_one_event(alice_api, alice):
    response = alice_api.post(
        EVENTS,
        {
            "type": "purchase",
            "identifiers": {"email": ALICE_EMAIL},
            "occurred_at": "2026-11-20T10:00:00+01:00",
            "properties": {"order": "A-17"},
            "revenue": "49.90",
            "currency": "eur",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json() == {"status": "recorded", "profile_id": str(alice.uuid)}
    event = Event.objects.get(profile=alice)
    assert event.revenue == Decimal("49.90") and event.currency == "EUR"
    assert event.properties == {"order": "A-17"} and event.source == "partner:alice-agency"


def test_an_anonymous_id_sent_with_an_email_links_the_visitor_to_the_person(alice_api, alice, charlie):
    response = alice_api.post(
        EVENTS,
        {"type": "form_submit", "identifiers": {"anonymous_id": "cookie-charlie-42", "email": ALICE_EMAIL}},
        format="json",
    )

    assert response.status_code == 201
    assert not Profile.objects.filter(pk=charlie.pk).exists()
    assert alice.identifiers.filter(kind="anonymous_id", value="cookie-charlie-42").exists()


def test_the_same_message_id_is_kept_once(alice_api, alice):
    event = {"type": "page_view", "identifiers": {"email": ALICE_EMAIL}, "message_id": "msg-1"}

    first = alice_api.post(EVENTS, event, format="json")
    second = alice_api.post(EVENTS, event, format="json")

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["status"] == "duplicate"
    assert Event.objects.filter(message_id="msg-1").count() == 1


def test_nothing_is_kept_for_a_person_who_refused_tracking(alice_api, alice):
    profile_set_do_not_track(profile=alice, value=True, actor="test")

    response = alice_api.post(EVENTS, {"type": "page_view", "identifiers": {"email": ALICE_EMAIL}}, format="json")

    assert response.status_code == 200
    assert response.json() == {"status": "not_kept", "profile_id": None}
    assert not Event.objects.exists()


def test_an_invalid_event_is_400_with_each_field_named(alice_api, db):
    response = alice_api.post(
        EVENTS,
        {"type": "Page View", "identifiers": {"email": "not an email"}, "revenue": "lots"},
        format="json",
    )

    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"type", "identifiers.email", "revenue"}


def test_a_batch_is_recorded_in_one_call(alice_api, alice, bob):
    events = [
        {"type": "page_view", "identifiers": {"email": ALICE_EMAIL}},
        {"type": "page_view", "identifiers": {"phone": "+33612345678"}},
        {"type": "add_to_cart", "identifiers": {"anonymous_id": "new-visitor"}, "message_id": "m-3"},
    ]

    response = alice_api.post(BATCH, {"events": events}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json() == {"received": 3, "recorded": 3, "duplicates": 0, "not_kept": 0, "rejected": []}
    assert Event.objects.count() == 3


def test_one_invalid_event_and_nothing_of_the_batch_is_recorded(alice_api, alice):
    events = [
        {"type": "page_view", "identifiers": {"email": ALICE_EMAIL}},
        {"type": "BAD", "identifiers": {"email": ALICE_EMAIL}},
    ]

    response = alice_api.post(BATCH, {"events": events}, format="json")

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["events.1.type"]
    assert not Event.objects.exists()


def test_an_event_naming_two_people_is_rejected_alone(alice_api, alice):
    events = [
        {"type": "page_view", "identifiers": {"email": ALICE_EMAIL, "crm_id": "CRM-404"}},
        {"type": "page_view", "identifiers": {"email": ALICE_EMAIL}},
    ]

    response = alice_api.post(BATCH, {"events": events}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["recorded"] == 1
    assert [rejected["index"] for rejected in body["rejected"]] == [0]
    assert body["rejected"][0]["errors"][0]["field"] == "crm_id"


def test_a_batch_of_more_than_1000_events_is_413(alice_api, db):
    events = [{"type": "page_view", "identifiers": {"anonymous_id": f"c{n}"}} for n in range(1001)]

    response = alice_api.post(BATCH, {"events": events}, format="json")

    assert response.status_code == 413
    assert response.json()["type"] == "urn:cdp:problem:too-large"
    assert not Event.objects.exists()


def test_an_empty_batch_is_400(alice_api, db):
    assert alice_api.post(BATCH, {"events": []}, format="json").status_code == 400
