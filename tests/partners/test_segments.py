"""Shared segments and their members, through the consent gate of the partner's channel, page by page."""

import datetime

import pytest

from profiles.services import consent_record, profile_set_do_not_contact
from segments.models import Segment, SegmentMembership
from tests.conftest import ALICE_EMAIL, BOB_PHONE, make_profile
from tests.partners.conftest import API

NOW = datetime.datetime(2026, 11, 1, 12, 0, tzinfo=datetime.UTC)
DORA_EMAIL = "dora.petit@example.fr"


def member(segment, profile, *, in_control=False):
    SegmentMembership.objects.create(segment=segment, profile=profile, entered_at=NOW, in_control=in_control)


@pytest.fixture
def readers(alice_agency, alice, bob, charlie):
    """Newsletter readers: alice (email consent), bob (SMS consent only), charlie (none), dora (control group),
    eve (consent, but "do not contact")."""
    segment = Segment.objects.create(name="Newsletter readers", description="People who read the newsletter")
    dora = make_profile(identifiers={"email": DORA_EMAIL})
    eve = make_profile(identifiers={"email": "eve@example.fr"})
    consent_record(profile=alice, channel="email", status="granted", address=ALICE_EMAIL, source="form")
    consent_record(profile=bob, channel="sms", status="granted", address=BOB_PHONE, source="form")
    consent_record(profile=dora, channel="email", status="granted", address=DORA_EMAIL, source="form")
    consent_record(profile=eve, channel="email", status="granted", address="eve@example.fr", source="form")
    profile_set_do_not_contact(profile=eve, value=True, actor="test")
    for profile in (alice, bob, charlie, eve):
        member(segment, profile)
    member(segment, dora, in_control=True)
    alice_agency.segments.add(segment)
    return segment


def test_the_list_holds_only_the_segments_shared_with_the_partner(alice_api, readers):
    Segment.objects.create(name="VIP (not shared)")

    response = alice_api.get(f"{API}/segments/")

    assert response.status_code == 200
    assert [segment["name"] for segment in response.json()] == ["Newsletter readers"]


def test_a_segment_not_shared_is_404_not_403(alice_api, readers):
    hidden = Segment.objects.create(name="VIP (not shared)")

    for path in (f"{API}/segments/{hidden.pk}/", f"{API}/segments/{hidden.pk}/members/"):
        response = alice_api.get(path)
        assert response.status_code == 404
        assert response.json()["type"] == "urn:cdp:problem:not-found"


def test_members_are_those_the_consent_gate_allows_on_the_partners_channel(alice_api, readers, alice):
    response = alice_api.get(f"{API}/segments/{readers.pk}/members/")

    assert response.status_code == 200
    body = response.json()
    assert body["results"] == [
        {"profile_id": str(alice.uuid), "addresses": [ALICE_EMAIL], "entered_at": "2026-11-01T13:00:00+01:00"}
    ]
    assert body["next"] is None


def test_a_partner_registered_for_sms_gets_the_sms_audience(alice_api, alice_agency, readers, bob):
    alice_agency.channel = "sms"
    alice_agency.save()

    results = alice_api.get(f"{API}/segments/{readers.pk}/members/").json()["results"]

    assert [(row["profile_id"], row["addresses"]) for row in results] == [(str(bob.uuid), [BOB_PHONE])]


def test_a_withdrawal_removes_the_member_at_once(alice_api, readers, alice):
    consent_record(profile=alice, channel="email", status="withdrawn", source="unsubscribe")

    assert alice_api.get(f"{API}/segments/{readers.pk}/members/").json()["results"] == []


def test_members_are_read_page_by_page_with_a_cursor(alice_api, readers, alice):
    others = [make_profile(identifiers={"email": f"reader{n}@example.fr"}) for n in range(4)]
    for profile in others:
        consent_record(
            profile=profile, channel="email", status="granted", address=profile.identifiers.get().value, source="form"
        )
        member(readers, profile)

    seen, url, pages = [], f"{API}/segments/{readers.pk}/members/?page_size=2", 0
    while url:
        body = alice_api.get(url).json()
        seen += [row["profile_id"] for row in body["results"]]
        url, pages = body["next"], pages + 1

    assert pages == 3
    assert seen == [str(p.uuid) for p in sorted([alice, *others], key=lambda p: p.pk)]


def test_a_members_page_costs_a_fixed_number_of_queries(alice_api, readers, django_assert_max_num_queries):
    for n in range(20):
        profile = make_profile(identifiers={"email": f"many{n}@example.fr"})
        consent_record(profile=profile, channel="email", status="granted", address=f"many{n}@example.fr", source="form")
        member(readers, profile)

    # Key, partner and segment lookups, the page, its addresses, and the audit log line: not one per member.
    with django_assert_max_num_queries(8):
        response = alice_api.get(f"{API}/segments/{readers.pk}/members/?page_size=50")
    assert len(response.json()["results"]) == 21


@pytest.mark.parametrize(
    "query", ["cursor=garbage", "cursor=cD1hYmM%3D", "page_size=0", "page_size=5000", "page_size=x"]
)
def test_a_bad_cursor_or_page_size_is_400(alice_api, readers, query):
    response = alice_api.get(f"{API}/segments/{readers.pk}/members/?{query}")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
