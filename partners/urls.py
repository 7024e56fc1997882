"""The partner API under /api/v1/, its OpenAPI schema, and the Swagger UI and Redoc pages (assets bundled)."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from partners import api

app_name = "partners"

urlpatterns = [
    path("profiles/", api.ProfileUpsertView.as_view(), name="profile-upsert"),
    path("profiles/lookup/", api.ProfileLookupView.as_view(), name="profile-lookup"),
    path("profiles/<str:profile_id>/", api.ProfileDetailView.as_view(), name="profile-detail"),
    path("events/", api.EventTrackView.as_view(), name="event-track"),
    path("events/batch/", api.EventBatchView.as_view(), name="event-batch"),
    path("consents/", api.ConsentUpdateView.as_view(), name="consent-update"),
    path("segments/", api.SegmentListView.as_view(), name="segment-list"),
    path("segments/<str:segment_id>/", api.SegmentDetailView.as_view(), name="segment-detail"),
    path("segments/<str:segment_id>/members/", api.SegmentMembersView.as_view(), name="segment-members"),
    path("campaigns/", api.CampaignListView.as_view(), name="campaign-list"),
    path("campaigns/<str:campaign_id>/", api.CampaignDetailView.as_view(), name="campaign-detail"),
    path("campaigns/<str:campaign_id>/runs/", api.CampaignRunsView.as_view(), name="campaign-runs"),
    path("reports/campaigns/", api.CampaignReportsView.as_view(), name="report-campaigns"),
    path("gdpr/requests/", api.GdprRequestsView.as_view(), name="gdpr-requests"),
    path("gdpr/requests/<str:request_id>/", api.GdprRequestDetailView.as_view(), name="gdpr-request-detail"),
    path("gdpr/requests/<str:request_id>/export/", api.GdprExportView.as_view(), name="gdpr-export"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="partners:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="partners:schema"), name="redoc"),
    re_path(r"^(?P<path>.*)$", api.api_not_found, name="not-found"),
]
