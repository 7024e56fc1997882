"""The set-based import rebuilds consent states in SQL: it must agree with the services' fold."""

import datetime
import random

import pytest
from django.db import connection
from django.utils import timezone

from profiles.importing.bulk import _CONSENT_STATE
from profiles.models import ConsentRecord, ConsentState
from profiles.services import consent_state_rebuild, profile_resolve

pytestmark = pytest.mark.django_db

ADDRESSES = {"email": ["a@exemple.fr", "b@exemple.fr", ""], "sms": ["+33612345678", ""], "advertising": [""]}


def states() -> set[tuple]:
    return set(ConsentState.objects.values_list("profile_id", "channel", "address", "status", "record_id"))


@pytest.mark.parametrize("seed", range(20))
def test_the_sql_rebuild_agrees_with_the_fold_on_random_logs(seed):
    if connection.vendor != "postgresql":
        pytest.skip("the SQL rebuild is the PostgreSQL import's")
    rng = random.Random(seed)
    profile = profile_resolve(
        identifiers={"email": ["a@exemple.fr", "b@exemple.fr"], "phone": "+33612345678"}, source="test"
    ).profile
    start = timezone.now() - datetime.timedelta(days=30)
    records = []
    for _record in range(rng.randint(1, 15)):
        channel = rng.choice(list(ADDRESSES))
        address = rng.choice(ADDRESSES[channel])
        status = "withdrawn" if address == "" and channel != "advertising" else rng.choice(["granted", "withdrawn"])
        # Few distinct times, so that ties are decided by the log's order.
        occurred_at = start + datetime.timedelta(days=rng.randint(0, 4))
        records.append(
            ConsentRecord(
                profile=profile, channel=channel, status=status, address=address, source="test", occurred_at=occurred_at
            )
        )
    ConsentRecord.objects.bulk_create(records)

    consent_state_rebuild(profile=profile)
    by_fold = states()
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE touched AS SELECT %s::bigint AS profile_id", [profile.pk])
        cursor.execute(_CONSENT_STATE.format(touched="touched"))
        cursor.execute("DROP TABLE touched")
    by_sql = states()

    assert by_sql == by_fold
