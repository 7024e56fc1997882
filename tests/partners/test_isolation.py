"""One partner cannot read, or guess, what belongs to another: it is 404 for it, as if it did not exist."""

import pytest

from activations.models import Campaign, Destination
from partners.models import Scope
from segments.models import Segment
from tests.conftest import ALICE_EMAIL
from tests.partners.conftest import API


@pytest.fixture
def bob_reads_everything(bob_shop):
    bob_shop.scopes = list(Scope.values)
    bob_shop.save()
    return bob_shop


def test_another_partners_segments_campaigns_and_gdpr_requests_are_404(
    alice_agency, alice_api, bob_api, bob_reads_everything, alice
):
    segment = Segment.objects.create(name="Alice's audience")
    destination = Destination.objects.create(name="Hook", kind="webhook", settings={"url": "http://127.0.0.1:9/"})
    campaign = Campaign.objects.create(name="Alice's campaign", slug="alice", channel="email", destination=destination)
    alice_agency.segments.add(segment)
    alice_agency.campaigns.add(campaign)
    request = alice_api.post(
        f"{API}/gdpr/requests/", {"kind": "export", "identifiers": {"email": ALICE_EMAIL}}, format="json"
    ).json()

    for path in (
        f"{API}/segments/{segment.pk}/",
        f"{API}/segments/{segment.pk}/members/",
        f"{API}/campaigns/{campaign.pk}/",
        f"{API}/campaigns/{campaign.pk}/runs/",
        f"{API}/gdpr/requests/{request['id']}/",
        f"{API}/gdpr/requests/{request['id']}/export/",
    ):
        assert alice_api.get(path).status_code == 200, path
        assert bob_api.get(path).status_code == 404, path

    assert bob_api.get(f"{API}/segments/").json() == []
    assert bob_api.get(f"{API}/campaigns/").json() == []
    assert bob_api.get(f"{API}/reports/campaigns/").json() == []
    assert bob_api.get(f"{API}/gdpr/requests/").json()["results"] == []


def test_a_profile_shows_only_the_memberships_of_segments_shared_with_the_reader(
    alice_agency, alice_api, bob_api, bob_reads_everything, alice
):
    import datetime

    from segments.models import SegmentMembership

    shared = Segment.objects.create(name="Shared with Alice's agency")
    private = Segment.objects.create(name="Private")
    for segment in (shared, private):
        SegmentMembership.objects.create(segment=segment, profile=alice, entered_at=datetime.datetime.now(datetime.UTC))
    alice_agency.segments.add(shared)

    assert [m["segment_name"] for m in alice_api.get(f"{API}/profiles/{alice.uuid}/").json()["segments"]] == [
        "Shared with Alice's agency"
    ]
    assert bob_api.get(f"{API}/profiles/{alice.uuid}/").json()["segments"] == []
