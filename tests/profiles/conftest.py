"""Fixtures of the CRM import's admin tests: where uploads go, and the worker's part run in this process."""

import tempfile

import pytest
from django.test import Client

from cdp.celery import app


@pytest.fixture
def uploads_in_tmp_path(tmp_path, monkeypatch) -> None:
    """django-import-export keeps the uploaded file in the temporary folder: the test's own."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))


@pytest.fixture
def queued_tasks_run(monkeypatch, django_capture_on_commit_callbacks) -> None:
    """Each request of the test client runs the Celery tasks it queued on commit (``task_always_eager``), in this
    process, before the client follows its redirects."""
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    request = Client.request

    def request_then_its_tasks(client: Client, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return request(client, **kwargs)

    monkeypatch.setattr(Client, "request", request_then_its_tasks)
