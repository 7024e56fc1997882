"""A bounded property-based run of the whole OpenAPI schema (schemathesis): no 500, no answer that breaks the schema.

Every operation is called with generated requests, authenticated as Alice's
agency (every scope): valid ones, invalid ones (schemathesis' negative mode),
and valid ones with the ids of objects shared with her, so that the answers of
found objects are checked too. The run is bounded (a few derandomized examples
per operation, no example database) to stay well under a minute, on SQLite and
on PostgreSQL.
"""

import datetime

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from activations.models import Campaign, CampaignRun, Destination
from partners.models import GdprRequest
from profiles.services import consent_record
from segments.models import Segment, SegmentMembership
from tests.conftest import ALICE_EMAIL
from tests.partners.conftest import API

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES_PER_OPERATION = 10
BOUNDED = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def in_test_transaction(handler: WSGIHandler):
    """The WSGI app, answering inside the test's transaction as Django's test client does.

    A real request closes the database connection when it ends (close_old_connections), which would
    close the test's own transaction: the signals are held off while the request runs.
    """

    def app(environ, start_response):
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            result = handler(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                result.close()
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)

    return app


@pytest.fixture
def shared(alice_agency, alice):
    """A segment, a campaign with a run and a GDPR export request, all shared with (or made by) Alice's agency."""
    segment = Segment.objects.create(name="Newsletter readers")
    SegmentMembership.objects.create(segment=segment, profile=alice, entered_at=datetime.datetime.now(datetime.UTC))
    consent_record(profile=alice, channel="email", status="granted", address=ALICE_EMAIL, source="form")
    destination = Destination.objects.create(name="Hook", kind="webhook", settings={"url": "http://127.0.0.1:9/"})
    campaign = Campaign.objects.create(name="Spring sale", slug="spring-sale", channel="email", destination=destination)
    CampaignRun.objects.create(campaign=campaign, trigger="manual")
    alice_agency.segments.add(segment)
    alice_agency.campaigns.add(campaign)
    request = GdprRequest.objects.create(
        partner=alice_agency, kind="export", status="ready", profile=alice, profile_uuid=alice.uuid
    )
    return {
        "segment_id": segment.pk,
        "campaign_id": campaign.pk,
        "request_id": str(request.uuid),
        "profile_id": str(alice.uuid),
    }


def test_no_generated_request_gets_a_500_or_an_answer_outside_the_schema(alice_key, shared):
    schema = schemathesis.openapi.from_wsgi(f"{API}/schema/", in_test_transaction(WSGIHandler()))
    headers = {"Authorization": f"Bearer {alice_key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:
        known_ids = {name: value for name, value in shared.items() if f"{{{name}}}" in operation.path}
        strategies = [operation.as_strategy(), operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)]
        if known_ids:
            strategies.append(operation.as_strategy(path_parameters=known_ids))
        for strategy in strategies:

            @BOUNDED
            @given(case=strategy)
            def call(case):
                response = case.call(headers=headers)
                case.validate_response(response, checks=CHECKS, headers=headers)

            call()
