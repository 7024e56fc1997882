"""Celery entry points of profiles: thin, they take ids and strings and call one service."""

from celery import shared_task
from django.contrib.admin.models import ADDITION, LogEntry
from django.utils import translation
from django.utils.translation import gettext

from profiles.import_progress import DONE, FAILED, RUNNING, import_progress_update
from profiles.import_uploads import StoredUpload, stored_file_remove, tmp_storage
from profiles.importing.reading import ImportFileError
from profiles.importing.services import profile_import_run


# An import is the marketer's action: a failure is shown on its wait page, never retried behind their back.
@shared_task(name="profiles.tasks.profile_import_task")
def profile_import_task(
    *,
    token: str,
    storage_name: str,
    file_name: str,
    mapping: dict[str, str],
    dry_run: bool,
    all_or_nothing: bool,
    user_id: int,
    actor: str,
    language: str,
) -> int | None:
    """Preview (``dry_run``) or import a file uploaded in the admin, writing its progress under ``token``.

    Returns the import's record id. The file is forgotten once imported, or when it cannot be: the
    marketer starts again from the upload. After a preview it is kept for the confirm step.
    """
    storage = tmp_storage(storage_name)

    def progress(read_bytes: int, size: int) -> None:
        import_progress_update(token, state=RUNNING, read_bytes=read_bytes, size=size)

    with translation.override(language):
        import_progress_update(token, state=RUNNING)
        try:
            with StoredUpload.open_storage(storage) as stream:
                # The default method, as the command's: set-based on PostgreSQL. Out of the web request, a
                # large file from the admin goes as fast as from the command line (a test compares both).
                record = profile_import_run(
                    stream=stream,
                    file_name=file_name,
                    mapping=mapping,
                    all_or_nothing=all_or_nothing,
                    dry_run=dry_run,
                    actor=actor,
                    progress=progress,
                )
        except FileNotFoundError:
            import_progress_update(
                token,
                state=FAILED,
                error=gettext("The uploaded file is no longer available (it was already imported or has expired)."),
            )
            return None
        except ImportFileError as error:
            stored_file_remove(storage)
            import_progress_update(token, state=FAILED, error=str(error))
            return None
        except Exception as error:
            stored_file_remove(storage)
            import_progress_update(token, state=FAILED, error=f"{type(error).__name__}: {error}")
            raise  # for the worker's log
        if not dry_run:
            stored_file_remove(storage)
            # The admin's history of the import, as when it ran in the request, even if nobody waits for it.
            LogEntry.objects.log_actions(
                user_id=user_id, queryset=[record], action_flag=ADDITION, change_message=[{"added": {}}]
            )
        import_progress_update(token, state=DONE, record_id=record.pk)
        return record.pk
