"""Every call is written to the audit log by route name, with its answer and duration, and no personal data."""

from partners.models import PartnerCall
from tests.conftest import ALICE_EMAIL
from tests.partners.conftest import API, client_for


def test_each_call_is_logged_without_personal_data(alice_agency, alice_api, alice):
    alice_api.post(f"{API}/profiles/", {"identifiers": {"email": ALICE_EMAIL}, "city": "Lyon"}, format="json")
    alice_api.get(f"{API}/profiles/{alice.uuid}/")
    alice_api.post(f"{API}/profiles/lookup/", {"kind": "email", "value": ALICE_EMAIL}, format="json")

    calls = list(PartnerCall.objects.order_by("pk").values("partner", "endpoint", "method", "status", "duration_ms"))

    assert [(c["partner"], c["endpoint"], c["method"], c["status"]) for c in calls] == [
        (alice_agency.pk, "partners:profile-upsert", "POST", 200),
        (alice_agency.pk, "partners:profile-detail", "GET", 200),
        (alice_agency.pk, "partners:profile-lookup", "POST", 200),
    ]
    assert all(call["duration_ms"] >= 0 for call in calls)
    logged = " ".join(str(value) for row in PartnerCall.objects.values() for value in row.values())
    assert ALICE_EMAIL not in logged and str(alice.uuid) not in logged and "Lyon" not in logged


def test_refused_calls_are_logged_too(alice_agency, bob_api, db):
    client_for("cdp_00000000_forged").get(f"{API}/segments/")
    bob_api.get(f"{API}/segments/")

    assert list(PartnerCall.objects.order_by("pk").values_list("partner__slug", "endpoint", "status")) == [
        (None, "partners:segment-list", 401),
        ("bob-shop", "partners:segment-list", 403),
    ]
