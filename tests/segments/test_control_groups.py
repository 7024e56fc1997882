"""Control groups: a deterministic hash of (salt, profile id), stable across refreshes and re-entries."""

import math
import random
from decimal import Decimal

import pytest
from django.db import connection

from profiles.models import Profile
from segments.control import control_bucket, control_bucket_sql, control_threshold
from segments.models import Segment, SegmentMembership
from segments.services import segment_profile_evaluate, segment_refresh, segment_save

pytestmark = pytest.mark.django_db

EVERYBODY_WITH_A_CITY = {"match": "all", "conditions": [{"field": "city", "operator": "is_set"}]}


def z_two_proportions(hits_a: int, size_a: int, hits_b: int, size_b: int) -> float:
    pooled = (hits_a + hits_b) / (size_a + size_b)
    error = math.sqrt(pooled * (1 - pooled) * (1 / size_a + 1 / size_b))
    return (hits_a / size_a - hits_b / size_b) / error


def welch_t(a: list[float], b: list[float]) -> float:
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    var_a = sum((x - mean_a) ** 2 for x in a) / (len(a) - 1)
    var_b = sum((x - mean_b) ** 2 for x in b) / (len(b) - 1)
    return (mean_a - mean_b) / math.sqrt(var_a / len(a) + var_b / len(b))


def control_ids(segment: Segment) -> set[int]:
    return set(SegmentMembership.objects.filter(segment=segment, in_control=True).values_list("profile_id", flat=True))


def test_twenty_thousand_members_with_a_ten_percent_holdout():
    rng = random.Random(7)
    Profile.objects.bulk_create(
        [
            Profile(city=rng.choice(["Lyon", "Paris", "Lille", "Nantes"]), traits={"age": rng.randint(18, 80)})
            for _ in range(20_000)
        ],
        batch_size=2_000,
    )
    segment = segment_save(
        segment=Segment(name="Everybody", refresh_every="never", holdout_percent=Decimal("10")),
        rules=EVERYBODY_WITH_A_CITY,
    )
    Segment.objects.filter(pk=segment.pk).update(control_salt="fixed-salt-for-the-test")
    segment.refresh_from_db()

    refresh = segment_refresh(segment=segment)

    assert (refresh.members, refresh.entered) == (20_000, 20_000)
    control = control_ids(segment)
    assert abs(len(control) / 20_000 - 0.10) <= 0.01
    segment.refresh_from_db()
    assert (segment.control_count, segment.treatment_count) == (len(control), 20_000 - len(control))

    # The database's bucket is the Python one.
    assert control == {
        pk for pk in Profile.objects.values_list("pk", flat=True) if control_bucket(segment.control_salt, pk) < 1000
    }

    # Leaving and re-entering (here: everybody at once) lands everybody in the same group.
    SegmentMembership.objects.filter(segment=segment).delete()
    segment_refresh(segment=segment)
    assert control_ids(segment) == control

    # Control and treatment do not differ on attributes they had before.
    rows = list(Profile.objects.values_list("pk", "city", "traits__age"))
    in_control = [row for row in rows if row[0] in control]
    treated = [row for row in rows if row[0] not in control]
    z = z_two_proportions(
        sum(city == "Lyon" for _pk, city, _age in in_control), len(in_control),
        sum(city == "Lyon" for _pk, city, _age in treated), len(treated),
    )  # fmt: skip
    t = welch_t([age for *_rest, age in in_control], [age for *_rest, age in treated])
    assert abs(z) < 3.89, z  # p > 0.0001
    assert abs(t) < 3.89, t


def test_a_profile_keeps_its_group_when_it_enters_in_real_time(alice, bob):
    segment = segment_save(
        segment=Segment(name="Half", refresh_every="never", holdout_percent=Decimal("50")),
        rules={"match": "all", "conditions": [{"field": "city", "operator": "is_set"}]},
    )
    segment_refresh(segment=segment)
    by_refresh = dict(SegmentMembership.objects.filter(segment=segment).values_list("profile_id", "in_control"))

    SegmentMembership.objects.filter(segment=segment).delete()
    for profile in (alice, bob):
        segment_profile_evaluate(profile_id=profile.pk)

    assert dict(SegmentMembership.objects.filter(segment=segment).values_list("profile_id", "in_control")) == by_refresh


def test_changing_the_holdout_moves_members_between_groups_and_counts_them(alice, bob, charlie):
    Profile.objects.bulk_create([Profile(city="Lyon") for _ in range(200)])
    segment = segment_save(segment=Segment(name="All", refresh_every="never"), rules=EVERYBODY_WITH_A_CITY)
    segment_refresh(segment=segment)
    segment.refresh_from_db()
    assert (segment.member_count, segment.control_count) == (202, 0)

    segment.holdout_percent = Decimal("20")
    segment_save(segment=segment)

    segment.refresh_from_db()
    control = control_ids(segment)
    assert segment.control_count == len(control)
    assert control == {
        pk for pk in SegmentMembership.objects.filter(segment=segment).values_list("profile_id", flat=True)
        if control_bucket(segment.control_salt, pk) < control_threshold(Decimal("20"))
    }  # fmt: skip
    assert 15 < len(control) < 70


def test_the_sql_bucket_is_the_python_bucket_on_this_database(db):
    sql = "SELECT " + control_bucket_sql(connection.vendor, "%s")
    with connection.cursor() as cursor:
        for salt, profile_id in (("a", 1), ("3f9c0a", 123_456), ("seed", 9_876_543_210)):
            cursor.execute(sql.replace("%s::text", "CAST(%s AS text)"), [salt, profile_id])
            assert cursor.fetchone()[0] == control_bucket(salt, profile_id)
