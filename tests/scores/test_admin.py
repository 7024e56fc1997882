"""The marketers' screens on scores: defining one, its schedule, "compute now", versions, the profile page."""

import datetime
import json

import pytest
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from profiles.services import event_track
from scores.models import ComputeStatus, ModelVersion, ProfileScore, ScoreDefinition, ScoreKind
from scores.services import score_compute, score_definition_save
from scores.tasks import score_compute_task
from tests.conftest import ALICE_EMAIL

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:scores_scoredefinition_changelist")
ADD = reverse("admin:scores_scoredefinition_add")


def form(**values) -> dict:
    return {
        "name": "Propensity",
        "kind": ScoreKind.PROPENSITY_PURCHASE,
        "description": "",
        "compute_every": "day",
        "seed_segment": "",
        "parameters": "{}",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "0",
        **values,
    }


def test_a_new_score_gets_its_defaults_and_its_schedule(admin_client):
    response = admin_client.post(ADD, form(parameters='{"horizon_days": 14}'))

    assert response.status_code == 302, response.content.decode()
    definition = ScoreDefinition.objects.get(name="Propensity")
    assert definition.parameters == {"horizon_days": 14, "seed": 42, "minimum_auc": 0.6, "max_training_rows": 100000}
    task = PeriodicTask.objects.get(pk=definition.compute_task_id)
    assert task.task == "scores.tasks.score_compute_task" and json.loads(task.args) == [definition.pk]
    assert task.crontab.hour == "4" and task.enabled


def test_wrong_parameters_are_refused_with_their_name(admin_client):
    response = admin_client.post(ADD, form(parameters='{"horizon_days": 0, "colour": "blue"}'))

    assert response.status_code == 200
    text = response.content.decode()
    assert "“colour”: not a parameter of this kind of score." in text
    assert "horizon_days must be a whole number from 1 to 180." in text
    assert not ScoreDefinition.objects.exists()


def test_a_lookalike_needs_its_seed_segment(admin_client):
    response = admin_client.post(ADD, form(name="Like the best", kind=ScoreKind.LOOKALIKE))

    assert "Choose the seed segment: the best customers the lookalike should resemble." in response.content.decode()


def test_only_when_i_ask_removes_the_schedule(admin_client):
    definition = score_definition_save(definition=ScoreDefinition(name="RFM", kind=ScoreKind.RFM))
    task_id = definition.compute_task_id

    response = admin_client.post(
        reverse("admin:scores_scoredefinition_change", args=[definition.pk]),
        form(name="RFM", kind=ScoreKind.RFM, compute_every="never"),
    )

    assert response.status_code == 302, response.content.decode()
    definition.refresh_from_db()
    assert definition.compute_task_id is None and not PeriodicTask.objects.filter(pk=task_id).exists()


def test_compute_now_queues_the_task_that_computes_the_score(admin_client, alice, django_capture_on_commit_callbacks):
    definition = score_definition_save(definition=ScoreDefinition(name="Engagement", kind=ScoreKind.ENGAGEMENT))
    event_track(type="email_open", identifiers={"email": ALICE_EMAIL}, source="test")

    with django_capture_on_commit_callbacks() as callbacks:
        admin_client.post(CHANGELIST, {"action": "compute_now", "_selected_action": [definition.pk]})

    definition.refresh_from_db()
    assert definition.status == ComputeStatus.QUEUED and len(callbacks) == 1
    # What the worker runs for the queued id:
    version_id = score_compute_task(definition.pk)
    definition.refresh_from_db()
    assert definition.status == ComputeStatus.SUCCEEDED and definition.profiles_scored == 1
    assert ProfileScore.objects.get(profile=alice).model_version_id == version_id
    assert score_compute_task(999999) == 0


def test_the_score_page_lists_versions_with_their_auc(admin_client):
    definition = score_definition_save(definition=ScoreDefinition(name="Churn", kind=ScoreKind.CHURN_RISK))
    version = ModelVersion.objects.create(
        definition=definition,
        number=1,
        trained_at=timezone.now(),
        data_until=timezone.now(),
        holdout_auc=0.8123,
        baseline_auc=0.7,
        promoted=True,
        calibration=[{"low": 0.0, "high": 0.1, "predicted": 0.05, "observed": 0.04, "count": 120}],
    )

    page = admin_client.get(reverse("admin:scores_scoredefinition_change", args=[definition.pk])).content.decode()
    detail = admin_client.get(reverse("admin:scores_modelversion_change", args=[version.pk])).content.decode()
    listing = admin_client.get(CHANGELIST).content.decode()

    assert "0.812" in page and "0.700" in page
    assert "5.0 %" in detail and "4.0 %" in detail and "120" in detail
    assert "0.812" in listing


def test_the_profile_page_shows_the_current_scores(admin_client, alice):
    definition = score_definition_save(definition=ScoreDefinition(name="Best send hour", kind=ScoreKind.BEST_SEND_HOUR))
    opened = timezone.make_aware(datetime.datetime(2026, 6, 10, 19, 15))
    for day in range(6):
        event_track(
            type="email_open",
            identifiers={"email": ALICE_EMAIL},
            source="test",
            occurred_at=opened - datetime.timedelta(days=day),
        )
    score_compute(definition=definition, now=opened + datetime.timedelta(days=1))

    page = admin_client.get(reverse("admin:profiles_profile_change", args=[alice.pk])).content.decode()

    assert "Best send hour" in page
    assert "19:00" in page
    assert "from their own opens and clicks" in page
