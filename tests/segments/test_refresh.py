"""Full refreshes: the membership diff and its history, set-based, and loud when they fail."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import PeriodicTask

from profiles.models import Profile
from profiles.services import profile_update
from segments.models import RefreshStatus, Segment, SegmentMembership, SegmentMembershipChange
from segments.services import segment_delete, segment_refresh, segment_save
from segments.signals import segment_membership_changed
from tests.conftest import make_profile
from tests.segments.conftest import NOW

pytestmark = pytest.mark.django_db

LATER = NOW + datetime.timedelta(hours=1)


def in_cities(*cities: str) -> dict:
    return {"match": "all", "conditions": [{"field": "city", "operator": "in", "value": list(cities)}]}


def lyon_segment(**fields) -> Segment:
    return segment_save(segment=Segment(name="Lyon", refresh_every="never", **fields), rules=in_cities("Lyon"))


def member_names(segment: Segment) -> set[str]:
    return set(SegmentMembership.objects.filter(segment=segment).values_list("profile__first_name", flat=True))


def history(segment: Segment) -> list[tuple[str, str, datetime.datetime]]:
    return list(
        SegmentMembershipChange.objects.filter(segment=segment)
        .order_by("changed_at", "change", "profile__first_name")
        .values_list("profile__first_name", "change", "changed_at")
    )


def test_a_refresh_stores_who_entered_and_who_left_and_when(alice, bob, charlie, django_capture_on_commit_callbacks):
    segment = lyon_segment()
    announced = []

    def listener(sender, **kwargs):
        announced.append((kwargs["segment"].pk, sorted(kwargs["entered"]), sorted(kwargs["left"])))

    segment_membership_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            first = segment_refresh(segment=segment, now=NOW)
        assert (first.status, first.entered, first.left, first.members) == (RefreshStatus.SUCCEEDED, 1, 0, 1)
        assert member_names(segment) == {"Alice"}

        profile_update(profile=bob, fields={"city": "Lyon"})
        profile_update(profile=alice, fields={"city": "Grenoble"})
        with django_capture_on_commit_callbacks(execute=True):
            second = segment_refresh(segment=segment, now=LATER)
    finally:
        segment_membership_changed.disconnect(listener)

    assert (second.entered, second.left, second.members) == (1, 1, 1)
    assert member_names(segment) == {"Bob"}
    assert history(segment) == [("Alice", "entered", NOW), ("Bob", "entered", LATER), ("Alice", "left", LATER)]
    assert announced == [(segment.pk, [alice.pk], []), (segment.pk, [bob.pk], [alice.pk])]
    segment.refresh_from_db()
    assert segment.member_count == 1
    assert second.finished_at >= second.started_at


def test_a_refresh_with_nothing_changed_writes_no_history(alice, bob):
    segment = lyon_segment()
    segment_refresh(segment=segment, now=NOW)

    again = segment_refresh(segment=segment, now=LATER)

    assert (again.entered, again.left, again.members) == (0, 0, 1)
    assert len(history(segment)) == 1


def test_the_number_of_queries_does_not_grow_with_the_number_of_profiles(db):
    segment = segment_save(
        segment=Segment(name="Buyers in Lyon", refresh_every="never", holdout_percent=10),
        rules={
            "match": "all",
            "conditions": [
                {"field": "city", "operator": "equals", "value": "Lyon"},
                {"field": "event", "event_type": "purchase", "operator": "did_not", "window": "last_days", "days": 30},
                {"field": "consent", "operator": "not_granted", "value": "email"},
            ],
        },
    )

    def queries_of_a_refresh(new_profiles: int) -> int:
        for index in range(new_profiles):
            make_profile(identifiers={"crm_id": f"CRM-{Profile.objects.count()}-{index}"}, city="Lyon")
        with CaptureQueriesContext(connection) as captured:
            refresh = segment_refresh(segment=segment)
        assert refresh.status == RefreshStatus.SUCCEEDED
        return len(captured), refresh.entered

    small, entered_small = queries_of_a_refresh(3)
    large, entered_large = queries_of_a_refresh(60)

    assert (entered_small, entered_large) == (3, 60)
    assert small == large


def test_a_failed_refresh_says_why_and_keeps_the_previous_members(alice):
    other = lyon_segment()
    segment = segment_save(
        segment=Segment(name="Uses Lyon", refresh_every="never"),
        rules={"match": "all", "conditions": [{"field": "segment", "operator": "in_segment", "value": other.pk}]},
    )
    segment_refresh(segment=segment, now=NOW)
    assert member_names(segment) == {"Alice"}
    # The referenced segment vanishes behind the services' back (a raw delete).
    Segment.objects.filter(pk=other.pk).delete()

    failed = segment_refresh(segment=segment, now=LATER)

    assert failed.status == RefreshStatus.FAILED
    assert f"(#{other.pk}) is missing" in failed.error
    assert failed.finished_at is not None
    assert member_names(segment) == {"Alice"}


def test_the_refresh_schedule_is_a_beat_task_kept_in_step(db):
    segment = segment_save(segment=Segment(name="Daily", refresh_every="day"), rules=in_cities("Lyon"))

    task = PeriodicTask.objects.get(pk=segment.refresh_task_id)
    assert (task.task, task.args, task.enabled) == ("segments.tasks.segment_refresh_task", f"[{segment.pk}]", True)
    assert (task.crontab.hour, task.crontab.minute, task.interval) == ("5", "0", None)

    segment.refresh_every = "15min"
    segment_save(segment=segment)
    task.refresh_from_db()
    assert (task.interval.every, task.interval.period, task.crontab) == (15, "minutes", None)

    segment.refresh_every = "never"
    segment_save(segment=segment)
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()
    segment.refresh_from_db()
    assert segment.refresh_task is None


def test_a_segment_used_by_another_cannot_be_deleted(db):
    used = segment_save(segment=Segment(name="Lyon", refresh_every="day"), rules=in_cities("Lyon"))
    segment_save(
        segment=Segment(name="Uses Lyon", refresh_every="never"),
        rules={"match": "all", "conditions": [{"field": "segment", "operator": "in_segment", "value": used.pk}]},
    )

    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="“Lyon” is used in the conditions of: Uses Lyon"):
        segment_delete(segment=used)
    assert Segment.objects.filter(pk=used.pk).exists()

    segment_delete(segment=Segment.objects.get(name="Uses Lyon"))
    task_id = used.refresh_task_id
    segment_delete(segment=used)
    assert not Segment.objects.exists()
    assert not PeriodicTask.objects.filter(pk=task_id).exists()


def test_the_scheduled_task_refreshes_the_segment(alice):
    from segments.tasks import segment_refresh_task

    segment = lyon_segment()

    refresh_id = segment_refresh_task(segment.pk)

    assert member_names(segment) == {"Alice"}
    assert Segment.objects.get(pk=segment.pk).refreshes.get().pk == refresh_id
    assert segment_refresh_task(999_999) == 0


def test_a_refresh_stopped_by_the_time_limit_is_recorded_as_failed(alice, monkeypatch):
    from billiard.exceptions import SoftTimeLimitExceeded

    from segments import services

    segment = lyon_segment()

    def too_long(**kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(services, "_memberships_write", too_long)
    refresh = segment_refresh(segment=segment)

    assert refresh.status == RefreshStatus.FAILED
    assert refresh.error.startswith("The refresh took longer than 30 minutes and was stopped")
    assert not SegmentMembership.objects.exists()
