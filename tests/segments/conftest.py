"""A small population whose expected segment members are written out in each test.

NOW is fixed: every relative window ("in the last 30 days") is counted from it.

| name    | identifiers      | city         | birth date | traits                                        | created   |
|---------|------------------|--------------|------------|-----------------------------------------------|-----------|
| alice   | email, crm id    | Lyon         | 1990-06-03 | points 120, tier gold, vip true, visit, renew | NOW-400 d |
| bob     | phone            | Nantes       | 1985-12-24 | points "45", tier silver, vip false           | NOW-10 d  |
| charlie | anonymous id     |              |            |                                               | NOW-2 d   |
| dora    | email            | Villeurbanne |            | points "n/a", visit "01/05/2026", renew later | NOW-40 d  |
| eve     | crm id           | Paris        |            |                                               | NOW-2 d   |

Events: alice purchases 50, 30, 20 (5, 10, 20 days ago) and viewed shoes (price 80) 10 days ago;
bob purchased 500 two hundred days ago and viewed a coat (price 150) 2 days ago; charlie viewed a
page 5 days ago; dora purchased 10 and 15 (40 and 1 days ago); eve did nothing.
Consents: alice email granted; bob SMS granted; dora email granted then withdrawn.
"""

import datetime
from dataclasses import dataclass

import pytest
from django.utils import timezone

from profiles.models import Profile
from profiles.services import consent_record, event_track, profile_update
from tests.conftest import ALICE_EMAIL, BOB_PHONE, make_profile

NOW = timezone.make_aware(datetime.datetime(2026, 6, 15, 12, 0))
DORA_EMAIL = "dora.petit@example.fr"


def days_ago(days: float) -> datetime.datetime:
    return NOW - datetime.timedelta(days=days)


@dataclass
class Population:
    alice: Profile
    bob: Profile
    charlie: Profile
    dora: Profile
    eve: Profile

    def names(self, profile_ids) -> set[str]:
        by_id = {getattr(self, name).pk: name for name in ("alice", "bob", "charlie", "dora", "eve")}
        return {by_id[pk] for pk in profile_ids}


def track(profile: Profile, event_type: str, days: float, **kwargs) -> None:
    identifiers = list(profile.identifiers.values_list("kind", "value")[:1])
    event_track(type=event_type, identifiers=identifiers, source="test", occurred_at=days_ago(days), **kwargs)


@pytest.fixture
def population(alice, bob, charlie) -> Population:
    dora = make_profile(identifiers={"email": DORA_EMAIL}, first_name="Dora", last_name="Petit", city="Villeurbanne")
    eve = make_profile(identifiers={"crm_id": "CRM-005"}, first_name="Eve", last_name="Moreau", city="Paris")
    profile_update(
        profile=alice,
        fields={"birth_date": datetime.date(1990, 6, 3)},
        traits={
            "loyalty_points": 120,
            "tier": "gold",
            "vip": True,
            "last_store_visit": "2026-06-01",
            "next_renewal": "2026-06-20",
        },
    )
    profile_update(
        profile=bob,
        fields={"birth_date": datetime.date(1985, 12, 24)},
        traits={"loyalty_points": "45", "tier": "silver", "vip": False},
    )
    profile_update(
        profile=dora,
        traits={"loyalty_points": "n/a", "last_store_visit": "01/05/2026", "next_renewal": "2026-08-01"},
    )
    for profile, days in ((alice, 400), (bob, 10), (charlie, 2), (dora, 40), (eve, 2)):
        Profile.objects.filter(pk=profile.pk).update(created_at=days_ago(days))

    for days, amount in ((5, 50), (10, 30), (20, 20)):
        track(alice, "purchase", days, revenue=amount)
    track(alice, "product_view", 10, properties={"category": "shoes", "price": 80})
    track(bob, "purchase", 200, revenue=500)
    track(bob, "product_view", 2, properties={"category": "coats", "price": 150})
    track(charlie, "page_view", 5, properties={"path": "/"})
    track(dora, "purchase", 40, revenue=10)
    track(dora, "purchase", 1, revenue=15)

    consent_record(profile=alice, channel="email", status="granted", address=ALICE_EMAIL, source="form")
    consent_record(profile=bob, channel="sms", status="granted", address=BOB_PHONE, source="form")
    consent_record(
        profile=dora, channel="email", status="granted", address=DORA_EMAIL, source="form", occurred_at=days_ago(30)
    )
    consent_record(
        profile=dora, channel="email", status="withdrawn", address=DORA_EMAIL, source="unsub", occurred_at=days_ago(3)
    )
    return Population(alice=alice, bob=bob, charlie=charlie, dora=dora, eve=eve)
