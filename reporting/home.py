"""What the admin home shows a marketer first: the figures that matter, read in a handful of queries.

Each figure is only read for a user who may see the page it links to, so the
home of a user without campaigns rights runs no campaign query.
"""

import datetime
from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils import timezone

from activations.models import Campaign, CampaignRun, CampaignStatus
from activations.selectors import run_batches_done
from profiles.models import ImportStatus, Profile, ProfileImport
from profiles.selectors import profile_identified_filter

LATEST_RUNS = 5
NEW_PROFILES_DAYS = 7


@dataclass(frozen=True)
class ProfileFigures:
    total: int
    identified: int
    new_this_week: int

    @property
    def identified_percent(self) -> float | None:
        return 100 * self.identified / self.total if self.total else None


@dataclass(frozen=True)
class HomeFigures:
    profiles: ProfileFigures | None  # None: the user may not see profiles
    active_campaigns: int | None
    latest_runs: list[CampaignRun] | None  # with n_batches_done
    latest_import: ProfileImport | None


def home_profile_figures(*, now: datetime.datetime | None = None) -> ProfileFigures:
    since = (now or timezone.now()) - datetime.timedelta(days=NEW_PROFILES_DAYS)
    figures = Profile.objects.aggregate(
        total=Count("pk"),
        identified=Count("pk", filter=Q(profile_identified_filter())),
        new_this_week=Count("pk", filter=Q(created_at__gte=since)),
    )
    return ProfileFigures(**figures)


def home_latest_runs(*, limit: int = LATEST_RUNS) -> list[CampaignRun]:
    """The latest runs with their batches done (a run's progress): batches, not deliveries, are counted."""
    return list(
        CampaignRun.objects.select_related("campaign")
        .annotate(n_batches_done=run_batches_done())
        .order_by("-created_at", "-pk")[:limit]
    )


def home_figures(*, user) -> HomeFigures:
    can = user.has_perm
    return HomeFigures(
        profiles=home_profile_figures() if can("profiles.view_profile") else None,
        active_campaigns=(
            Campaign.objects.filter(status__in=[CampaignStatus.SCHEDULED, CampaignStatus.RUNNING]).count()
            if can("activations.view_campaign")
            else None
        ),
        latest_runs=home_latest_runs() if can("activations.view_campaignrun") else None,
        latest_import=(
            ProfileImport.objects.exclude(status=ImportStatus.PREVIEWED).order_by("-pk").first()
            if can("profiles.view_profileimport")
            else None
        ),
    )
