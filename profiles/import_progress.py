"""How far a CRM import started from the admin has gone, for its wait page.

The import runs in a Celery worker and is one transaction: until it ends, the
web server cannot read its rows. So the worker writes its progress to Django's
cache instead (a folder of files by default, Redis in production: CACHE_URL),
which both processes read, under a random token that the wait page's address
carries. Nothing else of the import is kept here.
"""

import dataclasses
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

KEEP_SECONDS = 24 * 3600  # as long as django-import-export keeps an uploaded file in its cache storage
_PREFIX = "cdp:profile-import:"

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"


@dataclass(frozen=True)
class ImportProgress:
    """One import (or preview) queued from the admin, as its worker last wrote it."""

    token: str
    user_id: int
    dry_run: bool
    file_name: str  # as the marketer uploaded it
    storage_name: str  # the file's name in django-import-export's temporary storage
    state: str = QUEUED
    read_bytes: int = 0
    size: int = 0
    record_id: int | None = None  # the ProfileImport, once done
    error: str = ""  # why it failed, in the marketer's language
    queued_at: float = 0.0  # seconds since the epoch

    @property
    def waiting_seconds(self) -> float:
        return time.time() - self.queued_at

    @property
    def percent(self) -> int | None:
        """Share of the file read, None before the worker has said how large it is."""
        if not self.size:
            return None
        return min(100, self.read_bytes * 100 // self.size)

    @property
    def finished(self) -> bool:
        return self.state in (DONE, FAILED)


def _key(token: str, part: str = "") -> str:
    return f"{_PREFIX}{token}{part}"


def import_progress_start(*, user_id: int, dry_run: bool, file_name: str, storage_name: str) -> ImportProgress:
    """A new record, queued, under a new token."""
    progress = ImportProgress(
        token=uuid.uuid4().hex,
        user_id=user_id,
        dry_run=dry_run,
        file_name=file_name,
        storage_name=storage_name,
        queued_at=time.time(),
    )
    cache.set(_key(progress.token), dataclasses.asdict(progress), KEEP_SECONDS)
    return progress


def import_progress_get(token: str, *, user_id: int | None = None) -> ImportProgress | None:
    """The record of ``token``; None when unknown, expired, or (with ``user_id``) someone else's."""
    stored = cache.get(_key(token))
    if not isinstance(stored, dict):
        return None
    known = {field.name for field in dataclasses.fields(ImportProgress)}  # a record from an older version
    progress = ImportProgress(**{name: value for name, value in stored.items() if name in known})
    if user_id is not None and progress.user_id != user_id:
        return None
    return progress


def import_progress_update(token: str, **changes: Any) -> ImportProgress | None:
    """Write some fields of the record (only its worker writes it while it runs)."""
    progress = import_progress_get(token)
    if progress is None:
        return None
    progress = dataclasses.replace(progress, **changes)
    cache.set(_key(token), dataclasses.asdict(progress), KEEP_SECONDS)
    return progress


def import_file_claim(*, storage_name: str, token: str) -> str:
    """Reserve the uploaded file for the import ``token``; the token that holds it (another one if already taken).

    Confirming twice (a double click, a second tab) must import the file once.
    """
    key = f"{_PREFIX}file:{storage_name}"
    if cache.add(key, token, KEEP_SECONDS):
        return token
    return cache.get(key) or token
