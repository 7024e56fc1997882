"""Each partner has its own rate limit: beyond it, 429 with Retry-After; other partners are not slowed."""

from tests.partners.conftest import API


def test_calls_beyond_the_limit_are_429_with_retry_after(alice_agency, alice_api, bob_api):
    alice_agency.rate_limit_per_minute = 2
    alice_agency.save()

    answers = [alice_api.get(f"{API}/segments/").status_code for _call in range(3)]
    refused = alice_api.get(f"{API}/segments/")

    assert answers == [200, 200, 429]
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/problem+json"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["type"] == "urn:cdp:problem:rate-limited"
    assert (
        bob_api.post(
            f"{API}/events/", {"type": "page_view", "identifiers": {"anonymous_id": "c1"}}, format="json"
        ).status_code
        == 201
    )
