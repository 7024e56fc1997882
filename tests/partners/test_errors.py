"""Every error is an RFC 9457 problem (application/problem+json); bad input is never a 500."""

import pytest

from tests.partners.conftest import API


def test_malformed_json_is_400(alice_api, db):
    response = alice_api.post(f"{API}/profiles/", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) >= {"type", "title", "status", "detail"} and problem["status"] == 400


def test_a_body_that_is_not_json_is_415(alice_api, db):
    response = alice_api.post(f"{API}/profiles/", "email=a@b.fr", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        {"identifiers": []},
        {"identifiers": {}},
        {"identifiers": {"email": None}},
        {"identifiers": {"shoe_size": "42"}},
        {"identifiers": {"email": "a@b.fr"}, "traits": ["not", "an", "object"]},
        {"identifiers": {"email": "a@b.fr"}, "traits": {"nul": "\u0000"}},
        {"identifiers": {"email": "a\u0000@b.fr"}},
        {"identifiers": {"email": "a@b.fr"}, "birth_date": "2999-01-01"},
        {"identifiers": {"email": "a@b.fr"}, "country": "France"},
        {"identifiers": {"email": "a@b.fr"}, "first_name": "x" * 151},
        {"identifiers": {"phone": "12"}},
    ],
)
def test_bad_profile_input_is_400_never_500(alice_api, db, body):
    response = alice_api.post(f"{API}/profiles/", body, format="json")

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"


def test_field_errors_name_the_field_by_its_path(alice_api, db):
    response = alice_api.post(
        f"{API}/consents/",
        {"identifiers": {"email": "a@b.fr"}, "channel": "email", "status": "granted", "proof": {"source": "form"}},
        format="json",
    )

    assert response.status_code == 400
    assert {error["field"] for error in response.json()["errors"]} == {"proof.wording_version"}


def test_an_unknown_address_under_the_api_is_a_problem_not_an_html_page(alice_api, db):
    response = alice_api.get(f"{API}/nothing/here/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_a_method_the_endpoint_does_not_have_is_405(alice_api, db):
    response = alice_api.delete(f"{API}/segments/")

    assert response.status_code == 405
    assert response["Content-Type"] == "application/problem+json"


def test_problems_speak_the_callers_language(alice_api, db):
    response = alice_api.post(f"{API}/profiles/", {"identifiers": {}}, format="json", HTTP_ACCEPT_LANGUAGE="fr")

    assert response.status_code == 400
    assert response.json()["title"] == "Données non valides"


@pytest.mark.parametrize(
    "raw",
    [
        '{"identifiers": {"email": "a@b.fr"}, "traits": {"k\\u0000": 1}}',
        '{"identifiers": {"email": "a@b.fr"}, "city": "\\ud800"}',
        '{"identifiers": {"email\\u0000": "a@b.fr"}}',
        '{"identifiers": {"email": "a@b.fr"}, "traits": ' + '{"a": ' * 2000 + "1" + "}" * 2001,
    ],
    ids=["nul", "lone surrogate", "nul in a key", "deeply nested"],
)
def test_text_the_database_cannot_store_is_400(alice_api, db, raw):
    response = alice_api.post(f"{API}/profiles/", raw, content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_a_crash_is_still_written_to_the_audit_log(alice_api, db, monkeypatch):
    from partners import api
    from partners.models import PartnerCall

    def broken(**kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(api.selectors, "partner_segments", broken)
    alice_api.raise_request_exception = False

    assert alice_api.get(f"{API}/segments/").status_code == 500
    assert PartnerCall.objects.get().status == 500


def test_a_body_larger_than_the_limit_is_413_before_it_is_read(alice_api, db, monkeypatch):
    from partners import parsers

    monkeypatch.setattr(parsers, "MAX_BODY_BYTES", 1000)
    events = [{"type": "page_view", "identifiers": {"anonymous_id": f"visitor-{n}"}} for n in range(50)]

    response = alice_api.post(f"{API}/events/batch/", {"events": events}, format="json")

    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
