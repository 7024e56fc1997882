"""Real time: an incoming event re-evaluates its profile in the segments that read that event type."""

import pytest

from profiles.models import MergeReason
from profiles.services import event_track, profile_merge, profile_update
from segments.models import MembershipChangeKind, Segment, SegmentMembership, SegmentMembershipChange
from segments.services import segment_profile_evaluate, segment_refresh, segment_save
from segments.signals import segment_membership_changed
from tests.conftest import ALICE_EMAIL, make_profile

pytestmark = pytest.mark.django_db


def segment(name: str, *conditions: dict) -> Segment:
    return segment_save(
        segment=Segment(name=name, refresh_every="never"), rules={"match": "all", "conditions": list(conditions)}
    )


BOUGHT_RECENTLY = {"field": "event", "event_type": "purchase", "operator": "did", "window": "last_days", "days": 30}
IN_LYON = {"field": "city", "operator": "equals", "value": "Lyon"}


@pytest.fixture
def announced():
    received = []

    def listener(sender, **kwargs):
        received.append((kwargs["segment"].name, kwargs["entered"], kwargs["left"], kwargs["refresh"]))

    segment_membership_changed.connect(listener)
    yield received
    segment_membership_changed.disconnect(listener)


def test_an_event_puts_its_profile_in_the_segments_that_read_it(alice, announced, django_capture_on_commit_callbacks):
    buyers = segment("Recent buyers in Lyon", BOUGHT_RECENTLY, IN_LYON)
    assert buyers.event_types == ["purchase"]

    with django_capture_on_commit_callbacks(execute=True):
        event_track(type="purchase", identifiers={"email": ALICE_EMAIL}, source="shop", revenue="42.00")

    membership = SegmentMembership.objects.get(segment=buyers)
    assert membership.profile_id == alice.pk
    assert SegmentMembershipChange.objects.get(segment=buyers).change == MembershipChangeKind.ENTERED
    assert announced == [("Recent buyers in Lyon", [alice.pk], [], None)]
    buyers.refresh_from_db()
    assert buyers.member_count == 1


def test_an_event_can_make_a_profile_leave(alice, announced, django_capture_on_commit_callbacks):
    not_buyers = segment("Never bought", {"field": "event", "event_type": "purchase", "operator": "did_not"})
    segment_refresh(segment=not_buyers)
    assert SegmentMembership.objects.filter(segment=not_buyers, profile=alice).exists()

    with django_capture_on_commit_callbacks(execute=True):
        event_track(type="purchase", identifiers={"email": ALICE_EMAIL}, source="shop")

    assert not SegmentMembership.objects.filter(segment=not_buyers).exists()
    assert announced == [("Never bought", [], [alice.pk], None)]


def test_only_segments_reading_that_event_type_are_evaluated(alice, announced, django_capture_on_commit_callbacks):
    lyon = segment("Lyon", IN_LYON)  # reads no event: left to its refreshes
    viewers = segment("Viewers", {"field": "event", "event_type": "page_view", "operator": "did"})
    assert viewers.event_types == ["page_view"]
    buyers = segment("Buyers", BOUGHT_RECENTLY)

    with django_capture_on_commit_callbacks(execute=True):
        event_track(type="page_view", identifiers={"email": ALICE_EMAIL}, source="web")

    assert set(SegmentMembership.objects.values_list("segment__name", flat=True)) == {"Viewers"}
    assert [name for name, *_rest in announced] == ["Viewers"]
    assert segment_profile_evaluate(profile_id=alice.pk, event_type="purchase").entered == []
    assert {lyon.pk, buyers.pk}.isdisjoint(SegmentMembership.objects.values_list("segment", flat=True))


def test_one_profile_is_evaluated_in_one_query_whatever_the_number_of_segments(alice, django_assert_num_queries):
    for index in range(5):
        segment(f"Buyers {index}", {**BOUGHT_RECENTLY, "days": 10 + index}, IN_LYON)
    event_track(type="purchase", identifiers={"email": ALICE_EMAIL}, source="shop")
    assert len(segment_profile_evaluate(profile_id=alice.pk, event_type="purchase").entered) == 5

    # The segments reading "purchase", one query for all their verdicts, the current memberships.
    with django_assert_num_queries(3):
        changes = segment_profile_evaluate(profile_id=alice.pk, event_type="purchase")

    assert (changes.entered, changes.left) == ([], [])


def test_a_segment_reading_another_follows_its_event_types(alice, django_capture_on_commit_callbacks):
    buyers = segment("Buyers", BOUGHT_RECENTLY)
    lyon_buyers = segment("Lyon buyers", {"field": "segment", "operator": "in_segment", "value": buyers.pk}, IN_LYON)
    assert lyon_buyers.event_types == ["purchase"]

    with django_capture_on_commit_callbacks(execute=True):
        event_track(type="purchase", identifiers={"email": ALICE_EMAIL}, source="shop")

    assert set(SegmentMembership.objects.values_list("segment__name", flat=True)) == {"Buyers", "Lyon buyers"}


def test_merging_two_members_keeps_one_membership_and_re_evaluates_the_survivor(
    alice, bob, django_capture_on_commit_callbacks
):
    profile_update(profile=bob, fields={"city": "Lyon"})
    lyon = segment("Lyon", IN_LYON)
    segment_refresh(segment=lyon)
    assert SegmentMembership.objects.filter(segment=lyon).count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        profile_merge(survivor=alice, absorbed=bob, reason=MergeReason.MANUAL)

    assert list(SegmentMembership.objects.filter(segment=lyon).values_list("profile", flat=True)) == [alice.pk]


def test_a_merge_re_evaluates_the_survivor_in_every_segment(alice, django_capture_on_commit_callbacks):
    lyon = segment("Lyon", IN_LYON)
    grenoble_visitor = make_profile(identifiers={"anonymous_id": "cookie-1"}, city="Lyon")
    segment_refresh(segment=lyon)
    assert list(SegmentMembership.objects.filter(segment=lyon).values_list("profile", flat=True)) == sorted(
        [alice.pk, grenoble_visitor.pk]
    )
    profile_update(profile=alice, fields={"city": "Grenoble"})

    with django_capture_on_commit_callbacks(execute=True):
        profile_merge(survivor=alice, absorbed=grenoble_visitor, reason=MergeReason.MANUAL)

    # The visitor's membership moved to alice, who now lives in Grenoble: she leaves.
    assert not SegmentMembership.objects.filter(segment=lyon).exists()
