"""events_track_bulk gives what event_track gives, event after event, on the same data."""

import datetime
import random
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from profiles.models import Event, Identifier, MergeLog, Profile
from profiles.services import TrackOutcome, event_track, events_track_bulk, profile_set_do_not_track
from profiles.signals import event_tracked, events_tracked
from tests.conftest import ALICE_EMAIL, BOB_PHONE, make_profile

pytestmark = pytest.mark.django_db

AT = timezone.now().replace(microsecond=0) - datetime.timedelta(hours=1)


@pytest.fixture
def dave(db) -> Profile:
    """A person who refused tracking."""
    dave = make_profile(identifiers={"email": "dave@example.fr", "anonymous_id": "cookie-dave"})
    return profile_set_do_not_track(profile=dave, value=True, actor="dave himself")


@pytest.fixture
def people(alice, bob, charlie, dave) -> None:
    event_track(type="page_view", identifiers={"email": ALICE_EMAIL}, source="web", occurred_at=AT, message_id="m-0")


def at(minutes: int) -> datetime.datetime:
    return AT + datetime.timedelta(minutes=minutes)


# Every case the one-by-one path knows, in an order where later events build on earlier ones.
BATCH: list[dict[str, Any]] = [
    {"type": "page_view", "identifiers": {"email": ALICE_EMAIL.upper()}, "occurred_at": at(1)},
    {"type": "page_view", "identifiers": {"anonymous_id": "cookie-new"}, "occurred_at": at(2), "properties": {"u": 1}},
    {"type": "page_view", "identifiers": {"anonymous_id": "cookie-new"}, "occurred_at": at(3)},
    # The visitor gives their email: a new one, added to the visitor's profile.
    {"type": "form_submit", "identifiers": {"anonymous_id": "cookie-new", "email": "new@example.fr"},
     "occurred_at": at(4)},
    # Charlie's cookie and Alice's email: the two profiles merge, Alice's survives.
    {"type": "purchase", "identifiers": {"anonymous_id": "cookie-charlie-42", "email": ALICE_EMAIL},
     "occurred_at": at(5), "revenue": "89.9", "currency": "eur", "message_id": "m-1"},
    {"type": "page_view", "identifiers": {"anonymous_id": "cookie-charlie-42"}, "occurred_at": at(6)},
    # Duplicates: of a message kept before the batch, and of one kept earlier in it.
    {"type": "page_view", "identifiers": {"email": ALICE_EMAIL}, "occurred_at": at(7), "message_id": "m-0"},
    {"type": "purchase", "identifiers": {"email": ALICE_EMAIL}, "occurred_at": at(8), "message_id": "m-1"},
    # Dave refused tracking, under either identifier: nothing is kept, nothing is linked.
    {"type": "page_view", "identifiers": {"anonymous_id": "cookie-dave", "email": "dave.new@example.fr"},
     "occurred_at": at(9)},
    # Two CRM ids: a conflict, rejected; the events around it are kept.
    {"type": "page_view", "identifiers": {"email": ALICE_EMAIL, "crm_id": "CRM-777"}, "occurred_at": at(10)},
    {"type": "page_view", "identifiers": {"crm_id": "CRM-8", "email": "x@example.fr", "phone": "06 11 22 33 44"},
     "occurred_at": at(11)},
    {"type": "page_view", "identifiers": {"crm_id": "CRM-9", "phone": "+33611223344"}, "occurred_at": at(12)},
    # Invalid: each rejected with event_track's error, by field.
    {"type": "Page View", "identifiers": {"email": ALICE_EMAIL}, "occurred_at": at(13)},
    {"type": "purchase", "identifiers": {"email": ALICE_EMAIL}, "occurred_at": at(14), "revenue": "a lot"},
    {"type": "page_view", "identifiers": {"email": "not an email"}, "occurred_at": at(15)},
    {"type": "page_view", "identifiers": {}, "occurred_at": at(16)},
    {"type": "page_view", "identifiers": {"email": ALICE_EMAIL}, "occurred_at": datetime.datetime(2026, 1, 1)},  # noqa: DTZ001
    # Two visitors unknown before the batch, then linked by a third event: a merge inside the batch.
    {"type": "page_view", "identifiers": {"anonymous_id": "cookie-x"}, "occurred_at": at(17)},
    {"type": "page_view", "identifiers": {"phone": "07 81 23 45 67"}, "occurred_at": at(18), "revenue": 3},
    {"type": "add_to_cart", "identifiers": {"anonymous_id": "cookie-x", "phone": "+33781234567"},
     "occurred_at": at(19)},
    {"type": "page_view", "identifiers": {"phone": BOB_PHONE}, "occurred_at": at(20), "message_id": "m-2"},
    {"type": "page_view", "identifiers": {"phone": BOB_PHONE}, "occurred_at": at(21), "message_id": "m-2"},
]  # fmt: skip


def track_one_by_one(events: list[dict[str, Any]], source: str) -> list[tuple[str, Any]]:
    """The reference: event_track per event in a savepoint, as the partner batch did before."""
    outcomes = []
    for item in events:
        known = bool(item.get("message_id")) and Event.objects.filter(message_id=item["message_id"]).exists()
        try:
            with transaction.atomic():
                event = event_track(**item, source=source)
        except ValidationError as error:
            outcomes.append((TrackOutcome.REJECTED, error.message_dict))
            continue
        if known:
            outcomes.append((TrackOutcome.DUPLICATE, event))
        elif event is None:
            outcomes.append((TrackOutcome.NOT_KEPT, None))
        else:
            outcomes.append((TrackOutcome.RECORDED, event))
    return outcomes


def track_in_bulk(events: list[dict[str, Any]], source: str) -> list[tuple[str, Any]]:
    return [
        (result.outcome, result.errors if result.outcome == TrackOutcome.REJECTED else result.event)
        for result in events_track_bulk(events=events, source=source)
    ]


def outcomes_described(outcomes: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Each event by whose it is once the batch is done (merges move events), when it was, its message id."""
    return [(outcome, event_key(detail) if isinstance(detail, Event) else detail) for outcome, detail in outcomes]


def event_key(event: Event) -> tuple:
    event = Event.objects.get(pk=event.pk)
    return (person(event.profile_id), event.type, event.occurred_at, event.message_id)


def person(profile_id: int) -> frozenset:
    return frozenset(Identifier.objects.filter(profile_id=profile_id).values_list("kind", "value"))


def database_state() -> dict[str, Any]:
    """What the two paths must agree on, whatever ids the rows got."""
    return {
        "profiles": sorted(
            (sorted(person(p.pk)), p.source, p.do_not_track, p.first_name) for p in Profile.objects.all()
        ),
        "identifiers": sorted(Identifier.objects.values_list("kind", "value", "source")),
        "events": sorted(
            (
                sorted(person(e.profile_id)),
                e.type,
                e.occurred_at,
                e.source,
                e.properties,
                e.revenue,
                e.currency,
                e.message_id or "",
            )
            for e in Event.objects.all()
        ),  # fmt: skip
        "merges": sorted(
            (sorted(person(m.survivor_id)), m.reason, m.source, sorted(map(tuple, m.moved["identifiers"])))
            for m in MergeLog.objects.all()
        ),
    }


def both_ways(events: list[dict[str, Any]]) -> tuple[tuple, tuple]:
    """Each path on the same starting data: the first in a savepoint rolled back, then the second."""
    with transaction.atomic():
        one_by_one = (outcomes_described(track_one_by_one(events, "shop")), database_state())
        transaction.set_rollback(True)
    in_bulk = (outcomes_described(track_in_bulk(events, "shop")), database_state())
    return one_by_one, in_bulk


def test_a_batch_gives_the_profiles_events_and_merges_that_event_track_gives(people):
    one_by_one, in_bulk = both_ways(BATCH)

    assert in_bulk == one_by_one
    outcomes = [outcome for outcome, _detail in in_bulk[0]]
    assert outcomes.count(TrackOutcome.DUPLICATE) == 3
    assert outcomes.count(TrackOutcome.NOT_KEPT) == 1
    assert outcomes.count(TrackOutcome.REJECTED) == 7
    assert len(in_bulk[1]["merges"]) == 2


def test_rejected_events_name_the_field(people):
    results = events_track_bulk(events=BATCH, source="shop")

    errors = {index: result.errors for index, result in enumerate(results) if result.errors}
    assert set(errors[9]) == {"crm_id"}
    assert set(errors[12]) == {"type"}
    assert set(errors[13]) == {"revenue"}
    assert set(errors[14]) == {"email"}
    assert set(errors[15]) == {"identifiers"}
    assert set(errors[16]) == {"occurred_at"}
    assert Event.objects.get(message_id="m-1").revenue == Decimal("89.90")


@pytest.mark.parametrize("seed", range(8))
def test_random_batches_give_what_event_track_gives(alice, bob, charlie, dave, seed):
    chance = random.Random(seed)
    pools = {
        "anonymous_id": [f"cookie-{n}" for n in range(12)] + ["cookie-charlie-42", "cookie-dave"],
        "email": [f"p{n}@example.fr" for n in range(8)] + [ALICE_EMAIL, "dave@example.fr"],
        "phone": [f"+3361000000{n}" for n in range(5)] + [BOB_PHONE],
        "crm_id": [f"CRM-{n}" for n in range(4)] + ["CRM-001"],
    }
    events = []
    for number in range(80):
        kinds = chance.sample(list(pools), k=chance.choice([1, 1, 1, 2, 2, 3]))
        item: dict[str, Any] = {
            "type": chance.choice(["page_view", "purchase", "add_to_cart"]),
            "identifiers": {kind: chance.choice(pools[kind]) for kind in kinds},
            "occurred_at": at(number),
        }
        if chance.random() < 0.2:
            item["message_id"] = f"m-{chance.randrange(10)}"
        if item["type"] == "purchase":
            item["revenue"] = str(chance.randrange(1, 20_000) / 100)
        events.append(item)

    one_by_one, in_bulk = both_ways(events)

    assert in_bulk == one_by_one


def test_a_batch_of_new_and_known_people_takes_a_few_statements(alice, django_assert_max_num_queries):
    events = [
        {"type": "page_view", "identifiers": {"anonymous_id": f"cookie-{n % 300}"}, "occurred_at": at(n)}
        for n in range(1000)
    ] + [{"type": "page_view", "identifiers": {"email": ALICE_EMAIL}}]

    # SQLite takes fewer rows per INSERT than PostgreSQL.
    with django_assert_max_num_queries(12 if connection.vendor == "postgresql" else 30):
        results = events_track_bulk(events=events, source="web")

    assert {result.outcome for result in results} == {TrackOutcome.RECORDED}
    assert Event.objects.count() == 1001
    assert Profile.objects.count() == 301


def test_event_tracked_is_sent_once_per_person_and_type(alice, charlie, django_capture_on_commit_callbacks):
    heard = []

    def listen(sender, *, profile_id, event_type, **kwargs):
        heard.append((profile_id, event_type))

    def listen_to_batches(sender, *, events, **kwargs):
        heard.extend(events)

    event_tracked.connect(listen)
    events_tracked.connect(listen_to_batches)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            events_track_bulk(
                events=[
                    {"type": "page_view", "identifiers": {"email": ALICE_EMAIL}},
                    {"type": "page_view", "identifiers": {"email": ALICE_EMAIL}},
                    {"type": "purchase", "identifiers": {"email": ALICE_EMAIL}, "revenue": "10"},
                    # A merge: event_track tracks this one, and announces it itself.
                    {"type": "add_to_cart", "identifiers": {"email": ALICE_EMAIL, "anonymous_id": "cookie-charlie-42"}},
                ],
                source="web",
            )
            assert heard == []
    finally:
        event_tracked.disconnect(listen)
        events_tracked.disconnect(listen_to_batches)

    assert sorted(heard) == sorted([(alice.pk, "page_view"), (alice.pk, "purchase"), (alice.pk, "add_to_cart")])


def test_an_event_without_a_date_happened_now(db):
    before = timezone.now()

    (result,) = events_track_bulk(events=[{"type": "page_view", "identifiers": {"anonymous_id": "c"}}], source="web")

    assert before <= result.event.occurred_at <= timezone.now()


def test_an_argument_event_track_does_not_take_is_a_programming_error(db):
    with pytest.raises(TypeError):
        events_track_bulk(events=[{"type": "page_view", "identifiers": {}, "colour": "red"}], source="web")
