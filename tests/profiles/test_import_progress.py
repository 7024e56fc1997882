"""The CRM import runs in a worker: its wait page follows its progress, then goes on to the preview or the result."""

import contextlib
import io
import os
import tempfile
import time
from typing import Any, ClassVar

import pytest
from django.contrib.admin.models import LogEntry
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.urls import reverse

from bench.crm_file import crm_file_write
from cdp.celery import app
from profiles import tasks
from profiles.import_progress import (
    DONE,
    FAILED,
    RUNNING,
    import_progress_get,
    import_progress_start,
    import_progress_update,
)
from profiles.import_uploads import tmp_storage
from profiles.importing.reading import ImportFileError
from profiles.models import ImportStatus, ProfileImport
from profiles.tasks import profile_import_task
from tests.profiles.importing import profile_tables_count
from tests.profiles.test_import_admin import (
    CHANGELIST,
    CONFIRM,
    IMPORT,
    MESSY_FILE,
    PREVIEW,
    confirm_post,
    mapping_post,
    upload,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("uploads_in_tmp_path")]


class ProgressWritesCache(LocMemCache):
    """A cache of this process that also keeps, in order, every import progress record written to it."""

    writes: ClassVar[list[dict[str, Any]]] = []

    def set(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        if isinstance(value, dict) and "read_bytes" in value:
            self.writes.append(dict(value))
        super().set(key, value, timeout, version)


@pytest.fixture(autouse=True)
def progress_cache(settings) -> type[ProgressWritesCache]:
    settings.CACHES = {"default": {"BACKEND": f"{__name__}.ProgressWritesCache", "LOCATION": "import-progress"}}
    ProgressWritesCache.writes = []
    return ProgressWritesCache


def progress_url(token: str) -> str:
    return reverse("admin:profiles_profile_import_progress", args=[token])


def admin_progress(admin_user, **changes: Any) -> str:
    """A progress record of the admin's, as the worker would have written it; its token."""
    progress = import_progress_start(
        user_id=admin_user.pk, dry_run=changes.pop("dry_run", True), file_name="export-crm.csv", storage_name="tmpx"
    )
    if changes:
        import_progress_update(progress.token, **changes)
    return progress.token


# ---------------------------------------------------------------------------
# The wait page


def test_the_wait_page_shows_the_progress_the_worker_wrote(admin_client, admin_user):
    token = admin_progress(admin_user, state=RUNNING, read_bytes=4_000_000, size=10_000_000)

    response = admin_client.get(progress_url(token))

    assert response.status_code == 200
    assert '<progress id="import-progress" max="100" value="40"' in response.text
    assert "40 % of the file read (3.8\xa0MB of 9.5\xa0MB)." in response.text
    assert "export-crm.csv" in response.text
    assert '<meta http-equiv="refresh" content="2">' in response.text
    assert "nothing is written yet" in response.text


def test_the_wait_page_script_reads_the_progress_as_json(admin_client, admin_user):
    token = admin_progress(admin_user, state=RUNNING, read_bytes=4_000_000, size=10_000_000)
    status_url = reverse("admin:profiles_profile_import_progress_status", args=[token])

    page = admin_client.get(progress_url(token))
    response = admin_client.get(status_url)
    unknown = admin_client.get(reverse("admin:profiles_profile_import_progress_status", args=["0123abcd"]))

    assert status_url in page.text
    assert response.json() == {
        "state": "running",
        "finished": False,
        "percent": 40,
        "text": "40 % of the file read (3.8\xa0MB of 9.5\xa0MB).",
    }
    assert (unknown.status_code, unknown.json()) == (404, {"state": "unknown", "finished": True})


def test_the_wait_page_of_a_queued_import_says_it_waits_for_the_worker(admin_client, admin_user):
    token = admin_progress(admin_user, dry_run=False)

    response = admin_client.get(progress_url(token))

    assert '<progress id="import-progress" max="100" aria-describedby' in response.text  # no value: waiting
    assert "Waiting for the background worker to start…" in response.text
    assert "You can also leave this page: the import goes on" in response.text


def test_the_wait_page_of_an_import_queued_for_long_says_to_call_the_administrator(admin_client, admin_user):
    token = admin_progress(admin_user, dry_run=False, queued_at=time.time() - 120)

    response = admin_client.get(progress_url(token))

    assert "the background worker may be stopped: tell your administrator." in response.text


def test_the_wait_page_is_in_french_for_a_french_marketer(admin_client, admin_user):
    token = admin_progress(admin_user, state=RUNNING, read_bytes=4_000_000, size=10_000_000)

    response = admin_client.get(progress_url(token), headers={"accept-language": "fr"})

    assert "40\xa0% du fichier lu (3,8\xa0Mio sur 9,5\xa0Mio)." in response.text
    assert "Cette page se met à jour toute seule toutes les 2 secondes." in response.text


def test_the_wait_page_of_a_finished_preview_goes_on_to_the_preview(admin_client, queued_tasks_run):
    mapping_page = upload(admin_client, MESSY_FILE)

    queued = admin_client.post(PREVIEW, mapping_post(mapping_page))
    waited = admin_client.get(queued.url)
    preview = admin_client.get(waited.url)

    assert queued.url.startswith(progress_url("x").removesuffix("x/"))
    assert waited.status_code == 302
    assert preview.status_code == 200
    record = preview.context["record"]
    assert (record.status, record.rows_read, record.rows_rejected) == (ImportStatus.PREVIEWED, 9, 3)
    assert "Import the 6 valid rows" in preview.text
    assert preview.context["form"]["column_7"].value() == "trait:fidelite"


def test_the_wait_page_of_a_finished_import_goes_on_to_the_result(admin_client, queued_tasks_run):
    preview = admin_client.post(PREVIEW, mapping_post(upload(admin_client, MESSY_FILE)), follow=True)
    queued = admin_client.post(CONFIRM, confirm_post(preview, "valid"))

    result = admin_client.get(queued.url, follow=True)
    again = admin_client.get(queued.url, follow=True)

    record = ProfileImport.objects.get(status=ImportStatus.DONE)
    assert result.redirect_chain == [(CHANGELIST, 302)]
    assert str(list(result.context["messages"])[0]).startswith("“export-crm.csv” imported. New profiles: 4;")
    assert again.redirect_chain == [(CHANGELIST, 302)]
    assert LogEntry.objects.filter(object_id=str(record.pk)).count() == 1


def test_the_wait_page_of_a_failed_import_shows_why_and_a_way_back(admin_client, admin_user):
    token = admin_progress(admin_user, dry_run=False, state=FAILED, error="The file is empty.")

    response = admin_client.get(progress_url(token))

    assert "Nothing was imported from “export-crm.csv”: The file is empty." in response.text
    assert f'href="{IMPORT}"' in response.text
    assert "http-equiv" not in response.text


def test_an_unknown_or_someone_elses_import_says_so(admin_client, django_user_model):
    bob = django_user_model.objects.create_superuser("bob", password="pw")
    bobs = import_progress_start(user_id=bob.pk, dry_run=True, file_name="bob.csv", storage_name="tmpb").token

    for token in ("0123456789abcdef", bobs):
        response = admin_client.get(progress_url(token))

        assert response.status_code == 404
        assert "This import cannot be followed" in response.text
        assert f'href="{IMPORT}"' in response.text
        assert "bob.csv" not in response.text


def test_confirming_twice_while_the_import_is_queued_queues_it_once(
    admin_client, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    with django_capture_on_commit_callbacks(execute=True):
        preview = admin_client.post(PREVIEW, mapping_post(upload(admin_client, MESSY_FILE)))
    preview = admin_client.get(preview.url, follow=True)

    with django_capture_on_commit_callbacks(execute=False) as queued:
        first = admin_client.post(CONFIRM, confirm_post(preview, "valid"))
        second = admin_client.post(CONFIRM, confirm_post(preview, "valid"))

    assert len(queued) == 1
    assert first.url == second.url


# ---------------------------------------------------------------------------
# The task


def stored_upload(data: bytes) -> str:
    storage = tmp_storage()
    storage.save(data)
    return os.path.basename(storage.name)


def run_task(admin_user, storage_name: str, *, dry_run: bool) -> str:
    """Queue-less: the task called as the worker calls it; the token of its progress record."""
    token = import_progress_start(
        user_id=admin_user.pk, dry_run=dry_run, file_name="clients.csv", storage_name=storage_name
    ).token
    # An unexpected error goes on to the worker's log; the progress record says the import failed.
    with contextlib.suppress(RuntimeError):
        profile_import_task(
            token=token,
            storage_name=storage_name,
            file_name="clients.csv",
            mapping={},
            dry_run=dry_run,
            all_or_nothing=False,
            user_id=admin_user.pk,
            actor="admin",
            language="en",
        )
    return token


def test_the_task_records_its_progress_while_it_imports_a_file(admin_user, progress_cache):
    # The import says how far it is every 5,000 rows: a generated CRM export of a few hundred people,
    # then many rows without identifier (rejected at once, so that the test stays quick).
    data = io.BytesIO()
    crm_file_write(data, rows=600)
    data.write(";M.;Jean;Sans-Identifiant;;;;;;;;;;;;\r\n".encode("cp1252") * 10_400)
    storage_name = stored_upload(data.getvalue())

    token = run_task(admin_user, storage_name, dry_run=False)

    writes = [(write["state"], write["read_bytes"], write["size"]) for write in progress_cache.writes]
    size = len(data.getvalue())
    assert writes[0] == ("queued", 0, 0)
    assert writes[1] == ("running", 0, 0)
    read = [read_bytes for state, read_bytes, _size in writes[2:-1]]
    assert len(read) == 3  # after 5,000 and 10,000 rows, and at the end
    assert 0 < read[0] < read[1] < read[2] == size
    assert writes[-1] == ("done", size, size)
    progress = import_progress_get(token)
    record = ProfileImport.objects.get(pk=progress.record_id)
    assert LogEntry.objects.get(object_id=str(record.pk)).user == admin_user  # the admin's history
    assert (record.status, record.rows_read) == (ImportStatus.DONE, 11_000)
    assert record.rows_rejected >= 10_400
    assert record.rows_new > 500
    assert not os.path.exists(os.path.join(tempfile.gettempdir(), storage_name))  # imported: forgotten


def test_the_task_keeps_the_file_after_a_preview(admin_user):
    storage_name = stored_upload(MESSY_FILE)

    token = run_task(admin_user, storage_name, dry_run=True)

    assert import_progress_get(token).state == DONE
    assert os.path.exists(os.path.join(tempfile.gettempdir(), storage_name))
    assert profile_tables_count()["Profile"] == 0


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (ImportFileError("The first line must name the columns; it is empty."), "The first line must name"),
        (RuntimeError("disk full"), "RuntimeError: disk full"),
    ],
    ids=["file-error", "unexpected"],
)
def test_a_failed_import_shows_its_error_and_changes_nothing(admin_client, admin_user, monkeypatch, error, shown):
    def failing_run(**kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(tasks, "profile_import_run", failing_run)
    storage_name = stored_upload(MESSY_FILE)

    token = run_task(admin_user, storage_name, dry_run=False)

    response = admin_client.get(progress_url(token))
    assert import_progress_get(token).state == FAILED
    assert f"Nothing was imported from “clients.csv”: {shown}" in response.text
    assert f'href="{IMPORT}"' in response.text
    assert profile_tables_count()["Profile"] == 0
    assert not os.path.exists(os.path.join(tempfile.gettempdir(), storage_name))


def test_a_file_gone_before_its_task_runs_says_so(admin_client, admin_user):
    token = run_task(admin_user, "tmp-gone", dry_run=True)

    response = admin_client.get(progress_url(token))

    assert "The preview of “clients.csv” could not be made: The uploaded file is no longer available" in response.text
