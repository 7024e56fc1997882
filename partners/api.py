"""The partner API's views: authenticate, check, call a service or a selector, answer. Nothing else.

Every view is audit-logged (``PartnerAPIView.dispatch``) by route name, never
by path, so that no identifier ends up in the log. Objects the partner was not
given are answered 404, as if they did not exist.
"""

import contextlib
import time
import uuid
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from partners import selectors, serializers
from partners.authentication import ApiKeyAuthentication, HasScope, PartnerRateThrottle
from partners.exceptions import BatchTooLarge, problem_exception_handler
from partners.idempotency import HEADER, idempotent
from partners.models import ApiKey, Partner, Scope
from partners.pagination import GdprRequestsPagination, MembersPagination, RunsPagination
from partners.parsers import StrictJSONParser
from partners.services import (
    MAX_BATCH_EVENTS,
    EventOutcome,
    partner_call_log,
    partner_consent_update,
    partner_event_track,
    partner_events_track,
    partner_gdpr_export,
    partner_gdpr_request,
    partner_profile_upsert,
)

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=_(
        "Any unique string you choose (a UUID): a retry with the same key and body has no second effect and "
        "gets the first answer back, for 24 hours."
    ),
)


def _path_id(value: str, kind: type) -> Any:
    """A path's id as ``kind`` (int or UUID); 404 when it cannot be one, like an unknown id."""
    try:
        parsed = kind(value)
    except (TypeError, ValueError, OverflowError):
        raise NotFound(_("Not found, or not shared with this partner.")) from None
    if kind is int and not 0 < parsed < 2**63:
        raise NotFound(_("Not found, or not shared with this partner."))
    return parsed


class PartnerAPIView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasScope]
    throttle_classes = [PartnerRateThrottle]
    renderer_classes = [JSONRenderer]
    parser_classes = [StrictJSONParser]
    # The scope each method needs.
    required_scopes: dict[str, str] = {}

    def get_exception_handler(self) -> Any:
        return problem_exception_handler

    @property
    def partner(self) -> Partner:
        return self.request.user

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        started = time.monotonic()
        try:
            response = super().dispatch(request, *args, **kwargs)
        except Exception:
            # The call failed on our side: logged too, unless the database is what failed.
            with contextlib.suppress(DatabaseError):
                self._log_call(request, started, status.HTTP_500_INTERNAL_SERVER_ERROR)
            raise
        self._log_call(request, started, response.status_code)
        return response

    def _log_call(self, request: HttpRequest, started: float, status_code: int) -> None:
        api_key = getattr(getattr(self, "request", None), "_auth", None)
        api_key = api_key if isinstance(api_key, ApiKey) else None
        match = request.resolver_match
        partner_call_log(
            partner=api_key.partner if api_key else None,
            api_key=api_key,
            endpoint=match.view_name if match else self.__class__.__name__,
            method=request.method or "",
            status=status_code,
            duration_ms=int((time.monotonic() - started) * 1000),
        )


def _path_parameter(name: str, kind: Any) -> OpenApiParameter:
    return OpenApiParameter(name, kind, OpenApiParameter.PATH)


# ---------------------------------------------------------------------------
# Profiles


class ProfileUpsertView(PartnerAPIView):
    required_scopes = {"POST": Scope.PROFILES_WRITE}

    @extend_schema(
        operation_id="profile_upsert",
        tags=["profiles"],
        summary=_("Create or update a profile"),
        description=_(
            "Finds the person by any of the identifiers (merging the profiles they belong to, as a CRM import "
            "does), adds the identifiers it did not hold, overwrites the fields given (those left out, empty or "
            "null keep their value) and merges the traits. 201 when the profile was created, 200 otherwise; 409 "
            "when the identifiers belong to two people (two CRM ids). Scope: profiles:write."
        ),
        request=serializers.ProfileUpsertSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: serializers.ProfileUpsertOutSerializer, 201: serializers.ProfileUpsertOutSerializer},
    )
    def post(self, request: Request) -> Response:
        return idempotent(self, request, lambda: self._upsert(request))

    def _upsert(self, request: Request) -> Response:
        incoming = serializers.ProfileUpsertSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        identifiers = data.pop("identifiers")
        traits = data.pop("traits", {})
        upsert = partner_profile_upsert(partner=self.partner, identifiers=identifiers, fields=data, traits=traits)
        profile = selectors.partner_profile(partner=self.partner, profile_uuid=upsert.profile.uuid)
        profile.created, profile.merged_profiles = upsert.created, upsert.merged
        response = Response(
            serializers.ProfileUpsertOutSerializer(profile).data,
            status=status.HTTP_201_CREATED if upsert.created else status.HTTP_200_OK,
        )
        response.profile = profile
        return response


class ProfileDetailView(PartnerAPIView):
    required_scopes = {"GET": Scope.PROFILES_READ}

    @extend_schema(
        operation_id="profile_read",
        tags=["profiles"],
        summary=_("Read a profile by its id"),
        description=_(
            "Fields, traits, identifiers, consent state and memberships of the segments shared with you. "
            "The id of a profile since merged into another finds the one it was merged into. Scope: profiles:read."
        ),
        parameters=[_path_parameter("profile_id", OpenApiTypes.UUID)],
        responses={200: serializers.ProfileOutSerializer},
    )
    def get(self, request: Request, profile_id: str) -> Response:
        profile = selectors.partner_profile(partner=self.partner, profile_uuid=_path_id(profile_id, uuid.UUID))
        return Response(serializers.ProfileOutSerializer(profile).data)


class ProfileLookupView(PartnerAPIView):
    required_scopes = {"POST": Scope.PROFILES_READ}

    @extend_schema(
        operation_id="profile_lookup",
        tags=["profiles"],
        summary=_("Read a profile by an identifier"),
        description=_(
            "The profile holding this identifier (an email, a phone, a CRM id…). A POST so that the identifier "
            "stays out of addresses, which servers and proxies log. Changes nothing. Scope: profiles:read."
        ),
        request=serializers.ProfileLookupSerializer,
        responses={200: serializers.ProfileOutSerializer},
    )
    def post(self, request: Request) -> Response:
        incoming = serializers.ProfileLookupSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        profile = selectors.partner_profile_by_identifier(
            partner=self.partner, kind=incoming.validated_data["kind"], value=incoming.validated_data["value"]
        )
        return Response(serializers.ProfileOutSerializer(profile).data)


# ---------------------------------------------------------------------------
# Events


def _event_answer(tracked: Any) -> dict[str, Any]:
    profile_uuid = tracked.event.profile.uuid if tracked.event is not None else None
    return {"status": tracked.outcome, "profile_id": profile_uuid}


class EventTrackView(PartnerAPIView):
    required_scopes = {"POST": Scope.EVENTS_WRITE}

    @extend_schema(
        operation_id="event_track",
        tags=["events"],
        summary=_("Track one event"),
        description=_(
            "Records what a person did. An event carrying an anonymous_id and an email links the visitor to the "
            "person (their profiles merge). 201 when recorded; 200 when it was already kept (same message_id) or "
            "not kept (the person asked not to be tracked). Scope: events:write."
        ),
        request=serializers.EventSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: serializers.EventOutSerializer, 201: serializers.EventOutSerializer},
    )
    def post(self, request: Request) -> Response:
        return idempotent(self, request, lambda: self._track(request))

    def _track(self, request: Request) -> Response:
        incoming = serializers.EventSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        tracked = partner_event_track(partner=self.partner, event=incoming.validated_data)
        recorded = tracked.outcome == EventOutcome.RECORDED
        return Response(_event_answer(tracked), status=status.HTTP_201_CREATED if recorded else status.HTTP_200_OK)


class EventBatchView(PartnerAPIView):
    required_scopes = {"POST": Scope.EVENTS_WRITE}

    @extend_schema(
        operation_id="event_batch",
        tags=["events"],
        summary=_("Track a batch of events"),
        description=_(
            "Up to 1,000 events in one call (413 beyond). The whole batch is checked first: one invalid event "
            "and nothing is recorded (400, each error naming its event as events.<position>.<field>). An event "
            "whose identifiers belong to two people is rejected on its own and listed in “rejected”; the others "
            "are recorded. Scope: events:write."
        ),
        request=serializers.EventBatchSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: serializers.EventBatchOutSerializer},
    )
    def post(self, request: Request) -> Response:
        events = request.data.get("events") if isinstance(request.data, dict) else None
        if isinstance(events, list) and len(events) > MAX_BATCH_EVENTS:
            raise BatchTooLarge(
                _("A batch holds at most %(max)s events; this one has %(count)s: split it.")
                % {"max": MAX_BATCH_EVENTS, "count": len(events)}
            )
        return idempotent(self, request, lambda: self._track(request))

    def _track(self, request: Request) -> Response:
        incoming = serializers.EventBatchSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        result = partner_events_track(partner=self.partner, events=incoming.validated_data["events"])
        return Response(
            {
                "received": result.received,
                "recorded": result.counts[EventOutcome.RECORDED],
                "duplicates": result.counts[EventOutcome.DUPLICATE],
                "not_kept": result.counts[EventOutcome.NOT_KEPT],
                "rejected": [
                    {
                        "index": index,
                        "errors": [
                            {"field": name, "message": message}
                            for name, messages in errors.items()
                            for message in messages
                        ],
                    }
                    for index, errors in result.rejected
                ],
            }
        )


# ---------------------------------------------------------------------------
# Consents


class ConsentUpdateView(PartnerAPIView):
    required_scopes = {"POST": Scope.CONSENTS_WRITE}

    @extend_schema(
        operation_id="consent_update",
        tags=["consents"],
        summary=_("Record a consent or its withdrawal"),
        description=_(
            "Appends to the person's consent log, with your proof: where it was given (source), the version of "
            "the wording and the IP address (required for a grant). For email, SMS and phone, a grant covers an "
            "address: the one given, or else the email or phone among the identifiers. A withdrawal without an "
            "address covers every address of the channel. Scope: consents:write."
        ),
        request=serializers.ConsentUpdateSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: serializers.ConsentOutSerializer},
    )
    def post(self, request: Request) -> Response:
        return idempotent(self, request, lambda: self._update(request))

    def _update(self, request: Request) -> Response:
        incoming = serializers.ConsentUpdateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        update = partner_consent_update(
            partner=self.partner,
            identifiers=data["identifiers"],
            channel=data["channel"],
            status=data["status"],
            proof=data["proof"],
            address=data.get("address", ""),
            legal_basis=data.get("legal_basis", ""),
            occurred_at=data.get("occurred_at"),
        )
        record = update.record
        states = update.profile.consents.filter(channel=record.channel).order_by("address")
        answer = {
            "profile_id": update.profile.uuid,
            "channel": record.channel,
            "status": record.status,
            "address": record.address,
            "legal_basis": record.legal_basis,
            "occurred_at": record.occurred_at,
            "consents": states,
        }
        response = Response(serializers.ConsentOutSerializer(answer).data, status=status.HTTP_201_CREATED)
        response.profile = update.profile
        return response


# ---------------------------------------------------------------------------
# Segments


class SegmentListView(PartnerAPIView):
    required_scopes = {"GET": Scope.SEGMENTS_READ}

    @extend_schema(
        operation_id="segment_list",
        tags=["segments"],
        summary=_("List the segments shared with you"),
        description=_("Scope: segments:read."),
        responses={200: serializers.SegmentOutSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        segments = selectors.partner_segments(partner=self.partner)
        return Response(serializers.SegmentOutSerializer(segments, many=True).data)


class SegmentDetailView(PartnerAPIView):
    required_scopes = {"GET": Scope.SEGMENTS_READ}

    @extend_schema(
        operation_id="segment_read",
        tags=["segments"],
        summary=_("Read a segment shared with you"),
        description=_("Scope: segments:read."),
        parameters=[_path_parameter("segment_id", OpenApiTypes.INT)],
        responses={200: serializers.SegmentOutSerializer},
    )
    def get(self, request: Request, segment_id: str) -> Response:
        segment = selectors.partner_segment(partner=self.partner, segment_id=_path_id(segment_id, int))
        return Response(serializers.SegmentOutSerializer(segment).data)


class SegmentMembersView(PartnerAPIView):
    required_scopes = {"GET": Scope.SEGMENTS_READ}
    pagination_class = MembersPagination

    @extend_schema(
        operation_id="segment_members",
        tags=["segments"],
        summary=_("List the members of a segment shared with you"),
        description=_(
            "The members you may activate on the channel you are registered for: their consent for it is "
            "granted (the platform's consent gate) and they are not in the segment's control group. Each comes "
            "with the consented addresses. Pages follow a cursor: read “next” until it is null. "
            "Scope: segments:read."
        ),
        parameters=[
            _path_parameter("segment_id", OpenApiTypes.INT),
            OpenApiParameter("cursor", OpenApiTypes.STR, OpenApiParameter.QUERY),
            OpenApiParameter("page_size", OpenApiTypes.INT, OpenApiParameter.QUERY),
        ],
        responses={200: serializers.SegmentMemberOutSerializer(many=True)},
    )
    def get(self, request: Request, segment_id: str) -> Response:
        segment = selectors.partner_segment(partner=self.partner, segment_id=_path_id(segment_id, int))
        paginator = self.pagination_class()
        members = selectors.segment_members_for_partner(partner=self.partner, segment=segment)
        page = paginator.paginate_queryset(members, request, view=self)
        addresses = selectors.member_addresses(partner=self.partner, profile_ids=[m.profile_id for m in page])
        for membership in page:
            membership.addresses = addresses[membership.profile_id]
        return paginator.get_paginated_response(serializers.SegmentMemberOutSerializer(page, many=True).data)


# ---------------------------------------------------------------------------
# Campaigns and reports


class CampaignListView(PartnerAPIView):
    required_scopes = {"GET": Scope.CAMPAIGNS_READ}

    @extend_schema(
        operation_id="campaign_list",
        tags=["campaigns"],
        summary=_("List the campaigns shared with you"),
        description=_("Scope: campaigns:read."),
        responses={200: serializers.CampaignOutSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        campaigns = selectors.partner_campaigns(partner=self.partner)
        return Response(serializers.CampaignOutSerializer(campaigns, many=True).data)


class CampaignDetailView(PartnerAPIView):
    required_scopes = {"GET": Scope.CAMPAIGNS_READ}

    @extend_schema(
        operation_id="campaign_read",
        tags=["campaigns"],
        summary=_("Read a campaign shared with you"),
        description=_("Scope: campaigns:read."),
        parameters=[_path_parameter("campaign_id", OpenApiTypes.INT)],
        responses={200: serializers.CampaignOutSerializer},
    )
    def get(self, request: Request, campaign_id: str) -> Response:
        campaign = selectors.partner_campaign(partner=self.partner, campaign_id=_path_id(campaign_id, int))
        return Response(serializers.CampaignOutSerializer(campaign).data)


class CampaignRunsView(PartnerAPIView):
    required_scopes = {"GET": Scope.CAMPAIGNS_READ}
    pagination_class = RunsPagination

    @extend_schema(
        operation_id="campaign_runs",
        tags=["campaigns"],
        summary=_("Results of a campaign: its runs and their deliveries"),
        description=_(
            "Each run, newest first, with its deliveries counted per status (sent, delivered, failed, held out "
            "for the control group, not sent for lack of consent or for the pressure cap…) and the conversions "
            "attributed to it (null until the platform's reporting measures them). Scope: campaigns:read."
        ),
        parameters=[
            _path_parameter("campaign_id", OpenApiTypes.INT),
            OpenApiParameter("cursor", OpenApiTypes.STR, OpenApiParameter.QUERY),
            OpenApiParameter("page_size", OpenApiTypes.INT, OpenApiParameter.QUERY),
        ],
        responses={200: serializers.CampaignRunOutSerializer(many=True)},
    )
    def get(self, request: Request, campaign_id: str) -> Response:
        campaign = selectors.partner_campaign(partner=self.partner, campaign_id=_path_id(campaign_id, int))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.campaign_runs(campaign=campaign), request, view=self)
        run_ids = [run.pk for run in page]
        counts = selectors.delivery_counts(run_ids=run_ids)
        conversions = selectors.run_conversions(run_ids=run_ids) or {}
        runs = [
            {
                "uuid": run.uuid,
                "trigger": run.trigger,
                "status": run.status,
                "created_at": run.created_at,
                "planned_at": run.planned_at,
                "finished_at": run.finished_at,
                "deliveries": {"total": sum(counts[run.pk].values()), "by_status": counts[run.pk]},
                "conversions": conversions.get(run.pk),
            }
            for run in page
        ]
        return paginator.get_paginated_response(serializers.CampaignRunOutSerializer(runs, many=True).data)


class CampaignReportsView(PartnerAPIView):
    required_scopes = {"GET": Scope.REPORTS_READ}

    @extend_schema(
        operation_id="report_campaigns",
        tags=["reports"],
        summary=_("Report on the campaigns shared with you"),
        description=_(
            "For each shared campaign: runs, deliveries per status, messages sent and their cost (fixed cost and "
            "cost per send), and the conversions and revenue credited to it by last touch (refreshed every 15 "
            "minutes). "
            "Scope: reports:read."
        ),
        responses={200: serializers.CampaignReportOutSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        reports = [
            {
                "campaign": report.campaign,
                "runs": report.runs,
                "deliveries": {"total": sum(report.by_status.values()), "by_status": report.by_status},
                "sends": report.sends,
                "cost": report.cost,
                "currency": report.campaign.currency,
                "conversions": report.conversions,
            }
            for report in selectors.partner_campaign_reports(partner=self.partner)
        ]
        return Response(serializers.CampaignReportOutSerializer(reports, many=True).data)


# ---------------------------------------------------------------------------
# GDPR


class GdprRequestsView(PartnerAPIView):
    required_scopes = {"GET": Scope.GDPR, "POST": Scope.GDPR}
    pagination_class = GdprRequestsPagination

    @extend_schema(
        operation_id="gdpr_request_list",
        tags=["gdpr"],
        summary=_("List your GDPR requests"),
        description=_("Newest first, by cursor. Scope: gdpr."),
        parameters=[
            OpenApiParameter("cursor", OpenApiTypes.STR, OpenApiParameter.QUERY),
            OpenApiParameter("page_size", OpenApiTypes.INT, OpenApiParameter.QUERY),
        ],
        responses={200: serializers.GdprRequestOutSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.partner_gdpr_requests(partner=self.partner), request, view=self)
        return paginator.get_paginated_response(serializers.GdprRequestOutSerializer(page, many=True).data)

    @extend_schema(
        operation_id="gdpr_request_create",
        tags=["gdpr"],
        summary=_("Request the export or the erasure of a person"),
        description=_(
            "An erasure deletes the person at once: profile, identifiers, events, consents, and the answers kept "
            "for your retried calls about them; only an anonymous line stays in the privacy log. An export is "
            "downloaded from the request's export address. 404 when no profile holds the identifiers. "
            "Scope: gdpr."
        ),
        request=serializers.GdprRequestCreateSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: serializers.GdprRequestOutSerializer},
    )
    def post(self, request: Request) -> Response:
        return idempotent(self, request, lambda: self._create(request))

    def _create(self, request: Request) -> Response:
        incoming = serializers.GdprRequestCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        profile = selectors.profile_by_identifiers(identifiers=data["identifiers"])
        gdpr_request = partner_gdpr_request(
            partner=self.partner, kind=data["kind"], profile=profile, reason=data.get("reason", "")
        )
        return Response(serializers.GdprRequestOutSerializer(gdpr_request).data, status=status.HTTP_201_CREATED)


class GdprRequestDetailView(PartnerAPIView):
    required_scopes = {"GET": Scope.GDPR}

    @extend_schema(
        operation_id="gdpr_request_read",
        tags=["gdpr"],
        summary=_("Read one of your GDPR requests"),
        description=_("Scope: gdpr."),
        parameters=[_path_parameter("request_id", OpenApiTypes.UUID)],
        responses={200: serializers.GdprRequestOutSerializer},
    )
    def get(self, request: Request, request_id: str) -> Response:
        gdpr_request = selectors.partner_gdpr_request_get(
            partner=self.partner, request_uuid=_path_id(request_id, uuid.UUID)
        )
        return Response(serializers.GdprRequestOutSerializer(gdpr_request).data)


class GdprExportView(PartnerAPIView):
    required_scopes = {"GET": Scope.GDPR}

    @extend_schema(
        operation_id="gdpr_export",
        tags=["gdpr"],
        summary=_("Download the data of an export request"),
        description=_(
            "Everything held about the person, as JSON: the profile and the rows of every table about them. "
            "Each download is written to the privacy log. 404 once the person is erased. Scope: gdpr."
        ),
        parameters=[_path_parameter("request_id", OpenApiTypes.UUID)],
        responses={200: serializers.GdprExportOutSerializer},
    )
    def get(self, request: Request, request_id: str) -> Response:
        gdpr_request = selectors.partner_gdpr_request_get(
            partner=self.partner, request_uuid=_path_id(request_id, uuid.UUID)
        )
        return Response(partner_gdpr_export(partner=self.partner, request=gdpr_request))


def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any other address under /api/v1/: a problem, as everywhere in the API, not an HTML page."""
    return JsonResponse(
        {
            "type": "urn:cdp:problem:not-found",
            "title": _("Not found"),
            "status": 404,
            "detail": _("There is no such address in the partner API: see /api/v1/docs/."),
        },
        status=404,
        content_type="application/problem+json",
    )
