"""The dashboard's "update the figures now": it queues the reporting refresh, says "updating" until it is done."""

import datetime
from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from cdp.celery import app
from reporting import services
from reporting.models import RefreshLog, RefreshRequest
from reporting.services import reporting_refresh
from reporting.tasks import reporting_refresh_task

pytestmark = pytest.mark.django_db
URL = "/admin/reporting/dashboard/"
REFRESH_URL = "/admin/reporting/dashboard/refresh/"


@pytest.fixture
def queued_tasks() -> Callable[[], list[str]]:
    """The names of the tasks published to the (memory) broker since the test started."""

    def drain() -> list[str]:
        names = []
        with app.connection_for_read() as connection:
            queue = connection.SimpleQueue("celery")
            while queue.qsize():
                message = queue.get(timeout=1)
                names.append(message.headers["task"])
                message.ack()
            queue.close()
        return names

    drain()
    return drain


def staff_user(username: str, *permissions: str):
    user = get_user_model().objects.create_user(username, f"{username}@example.fr", "pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=permissions))
    return user


@pytest.fixture
def diane(client):
    """A marketer who may read the dashboard, and nothing else."""
    client.force_login(staff_user("diane", "view_dashboard"))
    return client


def test_the_button_queues_the_refresh_task_once_the_request_is_saved(
    diane, story, queued_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = diane.post(REFRESH_URL, {"query": "period=day&channel=email"})

    assert response.status_code == 302 and response["Location"] == f"{URL}?period=day&channel=email"
    assert len(callbacks) == 1 and queued_tasks() == ["reporting.tasks.reporting_refresh_task"]
    request = RefreshRequest.objects.get()
    assert (request.requested_by, request.started_at, request.finished_at) == ("diane", None, None)


def test_the_page_says_updating_until_the_worker_has_refreshed_then_gives_the_time(diane, story, queued_tasks):
    diane.post(REFRESH_URL)
    RefreshLog.objects.all().delete()

    html = diane.get(URL).content.decode()
    assert "Update queued…" in html and 'http-equiv="refresh"' in html and "Update the figures now" not in html

    reporting_refresh_task()  # what the worker runs for the queued message

    request = RefreshRequest.objects.get()
    assert request.started_at is not None and request.finished_at == RefreshLog.objects.get().finished_at
    html = diane.get(URL).content.decode()
    assert "Update queued…" not in html and 'http-equiv="refresh"' not in html
    assert "Figures updated on" in html and "less than a minute ago" in html and "Update the figures now" in html


def test_the_page_says_updating_while_the_refresh_runs(diane, story):
    RefreshRequest.objects.create(requested_by="diane", started_at=timezone.now())

    html = diane.get(URL).content.decode()

    assert "Updating the figures…" in html and "Update the figures now" not in html


def test_clicks_while_an_update_waits_queue_nothing_more(
    diane, story, queued_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        diane.post(REFRESH_URL)
        diane.post(REFRESH_URL)

    assert RefreshRequest.objects.count() == 1 and len(queued_tasks()) == 1


def test_a_click_while_a_refresh_runs_queues_another(diane, story, django_capture_on_commit_callbacks):
    RefreshRequest.objects.create(requested_by="bob", started_at=timezone.now())

    with django_capture_on_commit_callbacks() as callbacks:
        diane.post(REFRESH_URL)

    assert RefreshRequest.objects.count() == 2 and len(callbacks) == 1


def test_without_the_dashboard_permission_the_button_is_refused(client, story):
    client.force_login(staff_user("eve", "view_campaign"))

    assert client.post(REFRESH_URL).status_code == 403
    assert client.get(URL).status_code == 403
    assert not RefreshRequest.objects.exists()


def test_the_button_only_posts(diane):
    assert diane.get(REFRESH_URL).status_code == 405
    assert not RefreshRequest.objects.exists()


def test_the_button_needs_a_login(client):
    response = client.post(REFRESH_URL)

    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not RefreshRequest.objects.exists()


def test_a_failed_refresh_leaves_the_request_waiting_for_the_next(story, monkeypatch):
    request = RefreshRequest.objects.create(requested_by="diane")

    def broken(**kwargs) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "kpis_refresh", broken)
    with pytest.raises(RuntimeError):
        reporting_refresh()
    request.refresh_from_db()
    assert (request.started_at, request.finished_at) == (None, None)

    monkeypatch.undo()
    reporting_refresh()
    request.refresh_from_db()
    assert request.finished_at is not None


def test_a_request_no_worker_took_for_30_minutes_is_given_up(diane, story):
    RefreshRequest.objects.create(requested_by="diane", requested_at=timezone.now() - datetime.timedelta(minutes=31))

    html = diane.get(URL).content.decode()

    assert "Update queued…" not in html and "Update the figures now" in html
