"""Two profiles merge: the survivor keeps its own scores; the absorbed one's other scores move to it."""

import pytest
from django.utils import timezone

from profiles.models import MergeReason
from profiles.services import profile_merge
from scores.models import ModelVersion, ProfileScore, ScoreDefinition, ScoreKind

pytestmark = pytest.mark.django_db


def scored(profile, definition, value: float) -> None:
    version = ModelVersion.objects.get_or_create(
        definition=definition, number=1, defaults={"trained_at": timezone.now(), "data_until": timezone.now()}
    )[0]
    ProfileScore.objects.create(
        profile=profile, definition=definition, value=value, top_share=50, model_version=version,
        computed_at=timezone.now(),
    )  # fmt: skip


def test_a_merge_keeps_one_score_per_definition(alice, charlie):
    rfm = ScoreDefinition.objects.create(name="RFM", kind=ScoreKind.RFM)
    engagement = ScoreDefinition.objects.create(name="Engagement", kind=ScoreKind.ENGAGEMENT)
    scored(alice, rfm, 555)
    scored(charlie, rfm, 111)
    scored(charlie, engagement, 4.5)

    profile_merge(survivor=alice, absorbed=charlie, reason=MergeReason.MANUAL)

    assert set(ProfileScore.objects.values_list("profile_id", "definition__name", "value")) == {
        (alice.pk, "RFM", 555.0),
        (alice.pk, "Engagement", 4.5),
    }


def test_an_erased_profile_takes_its_scores_with_it(alice):
    rfm = ScoreDefinition.objects.create(name="RFM", kind=ScoreKind.RFM)
    scored(alice, rfm, 555)

    alice.delete()

    assert not ProfileScore.objects.exists()
