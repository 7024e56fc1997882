"""Reads on scores: a person's scores, the best send hour of many people, and the filters segments compile.

Segments read scores through ``score_filter`` (the rule compiler) and
``score_choices`` (the rule builder); campaigns read ``best_send_hours``.
"""

from collections.abc import Iterable
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from profiles.models import Profile
from scores.models import ModelVersion, ProfileScore, ScoreDefinition, ScoreKind
from scores.services import DEFAULT_SEND_HOUR, HOUR_OWN, HOUR_POPULATION

LABEL_NAMES: dict[str, Any] = {
    "champions": _("Champions"),
    "loyal_customers": _("Loyal customers"),
    "potential_loyalists": _("Potential loyalists"),
    "new_customers": _("New customers"),
    "promising": _("Promising"),
    "need_attention": _("Need attention"),
    "about_to_sleep": _("About to sleep"),
    "cannot_lose_them": _("Cannot lose them"),
    "at_risk": _("At risk"),
    "lost": _("Lost"),
    "hibernating": _("Hibernating"),
    HOUR_OWN: _("from their own opens and clicks"),
    HOUR_POPULATION: _("too few opens: everybody's best hour"),
}


def label_display(label: str) -> str:
    return str(LABEL_NAMES.get(label, label))


def profile_scores(*, profile_id: int) -> QuerySet[ProfileScore]:
    """A person's current scores, with their definition and model version (one query)."""
    return (
        ProfileScore.objects.filter(profile_id=profile_id)
        .select_related("definition", "model_version")
        .order_by("definition__name")
    )


def score_choices() -> list[dict[str, Any]]:
    """The scores a segment condition can read: id, name, kind (for the rule builder)."""
    return [
        {"id": pk, "name": name, "kind": kind}
        for pk, name, kind in ScoreDefinition.objects.order_by("name").values_list("pk", "name", "kind")
    ]


def score_filter(
    *, definition_id: int, above: float | None = None, top_percent: float | None = None, profile_id: int | None = None
) -> Q:
    """Profiles whose current score is above ``above``, or in the top ``top_percent`` % of the scored people.

    One EXISTS on the scores' (profile, definition) index; "top N %" reads the
    share stored with each score at computation time, so no ranking is redone
    per query (people tied at the boundary are in or out together).
    """
    scores = ProfileScore.objects.filter(definition_id=definition_id, profile=OuterRef("pk"))
    if profile_id is not None:
        scores = scores.filter(profile_id=profile_id)
    if above is not None:
        scores = scores.filter(value__gt=above)
    if top_percent is not None:
        scores = scores.filter(top_share__lte=top_percent)
    return Q(Exists(scores))


def population_send_hour() -> int:
    """Everybody's best hour, from the latest best-send-hour computation (10:00 before there is one)."""
    version = (
        ModelVersion.objects.filter(definition__kind=ScoreKind.BEST_SEND_HOUR, promoted=True)
        .order_by("-trained_at", "-pk")
        .values_list("details", flat=True)
        .first()
    )
    return int(version["population_hour"]) if version and "population_hour" in version else DEFAULT_SEND_HOUR


def send_hour_scores() -> tuple[QuerySet[ProfileScore], int]:
    """The people whose best send hour is known (``profile_id``, ``value``: the hour), and everybody's hour.

    The scores come from the best-send-hour score computed last; campaigns join
    them in their planning statement, and give the others everybody's hour.
    """
    definition = (
        ScoreDefinition.objects.filter(kind=ScoreKind.BEST_SEND_HOUR, profiles_scored__gt=0)
        .order_by("-computed_at", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    scores = ProfileScore.objects.filter(definition_id=definition) if definition else ProfileScore.objects.none()
    return scores.values("profile_id", "value").order_by(), population_send_hour()


def best_send_hours(*, profile_ids: Iterable[int] | QuerySet) -> dict[int, int]:
    """Each person's best local send hour (0-23): their own when their opens and clicks say it, else everybody's.

    ``profile_ids`` is a list of ids or a queryset of profiles; three queries
    whatever the number of people (which score, its values, the population's hour).
    """
    if isinstance(profile_ids, QuerySet) and profile_ids.model is Profile:
        profile_ids = profile_ids.values_list("pk", flat=True)
    ids = [int(pk) for pk in profile_ids]
    scores, fallback = send_hour_scores()
    hours: dict[int, int] = {}
    for start in range(0, len(ids), 50_000):
        rows = scores.filter(profile_id__in=ids[start : start + 50_000]).values_list("profile_id", "value")
        hours.update((pk, int(value)) for pk, value in rows)
    return {pk: hours.get(pk, fallback) for pk in ids}
