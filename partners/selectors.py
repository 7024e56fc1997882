"""Reads of the partner API. Every one is scoped to the partner: what it was not given does not exist for it.

Segment members go through ``profiles.selectors.consent_gate`` for the channel
the partner is registered for: the one rule that says who may be activated.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from activations.models import Campaign, CampaignRun, Delivery, DeliveryStatus
from partners.models import GdprRequest, Partner
from profiles.models import ConsentState, Identifier, MergeLog, Profile
from profiles.selectors import consent_gate, profile_find
from profiles.services import IdentityConflict
from segments.models import Segment, SegmentMembership

# A profile merged into another is found from its old public id through the merge history, this many hops at most.
MERGE_HOPS = 10
SENT_STATUSES = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED)

# ---------------------------------------------------------------------------
# Profiles


def _profiles_with_details(partner: Partner) -> QuerySet[Profile]:
    shared = SegmentMembership.objects.filter(segment__in=partner.segments.all()).select_related("segment")
    return Profile.objects.prefetch_related(
        "identifiers",
        Prefetch("consents", queryset=ConsentState.objects.order_by("channel", "address")),
        Prefetch("segment_memberships", queryset=shared.order_by("segment__name"), to_attr="shared_memberships"),
    )


def partner_profile(*, partner: Partner, profile_uuid: uuid.UUID) -> Profile:
    """The profile with this public id (or the one it was merged into), with what the API shows of it.

    The segment memberships shown are those of segments shared with the partner only.
    """
    profiles = _profiles_with_details(partner)
    for _hop in range(MERGE_HOPS):
        profile = profiles.filter(uuid=profile_uuid).first()
        if profile is not None:
            return profile
        survivor = (
            MergeLog.objects.filter(absorbed_profile_uuid=profile_uuid).values_list("survivor__uuid", flat=True).first()
        )
        if survivor is None:
            break
        profile_uuid = survivor
    raise Profile.DoesNotExist


def partner_profile_by_identifier(*, partner: Partner, kind: str, value: str) -> Profile:
    """The profile holding this identifier, with what the API shows of it; Profile.DoesNotExist when none."""
    found = profile_find(kind=kind, value=value)
    if found is None:
        raise Profile.DoesNotExist
    return _profiles_with_details(partner).get(pk=found.pk)


def profile_by_identifiers(*, identifiers: Iterable[tuple[str, str]]) -> Profile:
    """The one profile holding these (normalised) identifiers, for a GDPR request.

    Profile.DoesNotExist when none holds any; IdentityConflict when they are held
    by different people, so that a request never acts on the wrong person.
    """
    match = Q()
    for kind, value in identifiers:
        match |= Q(kind=kind, value=value)
    holders = set(Identifier.objects.filter(match).values_list("profile_id", flat=True)) if match else set()
    if not holders:
        raise Profile.DoesNotExist
    if len(holders) > 1:
        raise IdentityConflict(
            {"identifiers": [_("These identifiers belong to different people: name one person.")]},
            code="identity_conflict",
        )
    return Profile.objects.get(pk=holders.pop())


# ---------------------------------------------------------------------------
# Segments


def partner_segments(*, partner: Partner) -> QuerySet[Segment]:
    return partner.segments.order_by("name", "pk")


def partner_segment(*, partner: Partner, segment_id: int) -> Segment:
    """A segment shared with the partner; Segment.DoesNotExist for any other, shared or not with someone else."""
    return partner_segments(partner=partner).get(pk=segment_id)


def segment_members_for_partner(*, partner: Partner, segment: Segment) -> QuerySet[SegmentMembership]:
    """The segment's members the partner may activate: consent for its channel, and not in the control group.

    The control group is kept out of every send (DESIGN.md), a partner's
    activation included. One row per member, ordered by profile for a stable cursor.
    """
    gate = consent_gate(channel=partner.channel).filter(profile=OuterRef("profile_id"))
    return (
        SegmentMembership.objects.filter(segment=segment, in_control=False)
        .filter(Exists(gate))
        .select_related("profile")
        .order_by("profile_id")
    )


def member_addresses(*, partner: Partner, profile_ids: list[int]) -> dict[int, list[str]]:
    """The addresses the gate allows for each profile ("" is dropped: person-wide consent has no address)."""
    addresses: dict[int, list[str]] = {pk: [] for pk in profile_ids}
    rows = (
        consent_gate(channel=partner.channel)
        .filter(profile_id__in=profile_ids)
        .exclude(address="")
        .order_by("profile_id", "address")
        .values_list("profile_id", "address")
    )
    for profile_id, address in rows:
        addresses[profile_id].append(address)
    return addresses


# ---------------------------------------------------------------------------
# Campaigns and reports


def partner_campaigns(*, partner: Partner) -> QuerySet[Campaign]:
    return partner.campaigns.order_by("name", "pk")


def partner_campaign(*, partner: Partner, campaign_id: int) -> Campaign:
    return partner_campaigns(partner=partner).get(pk=campaign_id)


def campaign_runs(*, campaign: Campaign) -> QuerySet[CampaignRun]:
    return CampaignRun.objects.filter(campaign=campaign).order_by("-created_at", "-pk")


def delivery_counts(*, run_ids: list[int]) -> dict[int, dict[str, int]]:
    """Deliveries per status of each run (one query)."""
    counts: dict[int, dict[str, int]] = {pk: {} for pk in run_ids}
    rows = (
        Delivery.objects.filter(run_id__in=run_ids)
        .values_list("run_id", "status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    for run_id, status, count in rows:
        counts[run_id][status] = count
    return counts


def campaign_delivery_counts(*, campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """Deliveries per status over all the runs of each campaign (one query)."""
    counts: dict[int, dict[str, int]] = {pk: {} for pk in campaign_ids}
    rows = (
        Delivery.objects.filter(run__campaign_id__in=campaign_ids)
        .values_list("run__campaign_id", "status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    for campaign_id, status, count in rows:
        counts[campaign_id][status] = count
    return counts


def run_conversions(*, run_ids: list[int]) -> dict[int, Any] | None:
    """Conversions per run: None, as reporting credits conversions to campaigns per day, not to runs."""
    return None


def campaign_conversions(*, campaign_ids: list[int]) -> dict[int, Any]:
    """Conversions and revenue credited to each campaign by last touch, as of the last reporting refresh."""
    from reporting.selectors import campaign_conversions as credited

    return credited(campaign_ids=campaign_ids)


@dataclass
class CampaignReport:
    campaign: Campaign
    runs: int
    by_status: dict[str, int]
    sends: int
    cost: Decimal
    conversions: Any


def partner_campaign_reports(*, partner: Partner) -> list[CampaignReport]:
    """For each shared campaign: runs, deliveries per status, messages sent and their cost (three queries)."""
    campaigns = list(partner_campaigns(partner=partner).annotate(run_count=Count("runs")))
    ids = [campaign.pk for campaign in campaigns]
    counts = campaign_delivery_counts(campaign_ids=ids)
    conversions = campaign_conversions(campaign_ids=ids)
    reports = []
    for campaign in campaigns:
        by_status = counts[campaign.pk]
        sends = sum(by_status.get(status, 0) for status in SENT_STATUSES)
        cost = campaign.fixed_cost + campaign.cost_per_send * sends if campaign.run_count else Decimal("0")
        reports.append(
            CampaignReport(
                campaign=campaign,
                runs=campaign.run_count,
                by_status=by_status,
                sends=sends,
                cost=cost.quantize(Decimal("0.01")),
                conversions=conversions.get(campaign.pk),
            )
        )
    return reports


# ---------------------------------------------------------------------------
# GDPR


def partner_gdpr_request_get(*, partner: Partner, request_uuid: uuid.UUID) -> GdprRequest:
    return GdprRequest.objects.filter(partner=partner).select_related("profile").get(uuid=request_uuid)


def partner_gdpr_requests(*, partner: Partner) -> QuerySet[GdprRequest]:
    return GdprRequest.objects.filter(partner=partner).order_by("-requested_at", "-pk")
