"""The CRM import in the admin: upload a file, map its columns, preview, confirm; and the imports' records.

Built on django-import-export's ImportMixin: its import page and forms, its
temporary storage of the uploaded file between the steps, its confirm step.
Reading, checking and writing are ``profiles.importing``'s, the same as the
``import_profiles`` command's: the preview is ``profile_import_run(dry_run=True)``
and the confirm is the same call with ``dry_run=False``, both run by a Celery task
(``profiles.tasks``) while the browser waits on a page that follows its progress
(``profiles.import_progress``).
"""

import contextlib
import csv
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone, translation
from django.utils.decorators import method_decorator
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.http import content_disposition_header
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from import_export.admin import ImportMixin
from import_export.formats.base_formats import CSV
from import_export.forms import ConfirmImportForm
from import_export.tmp_storages import BaseStorage

from profiles.forms import CrmConfirmForm, CrmFileForm, CrmMappingForm
from profiles.import_progress import (
    DONE,
    QUEUED,
    ImportProgress,
    import_file_claim,
    import_progress_get,
    import_progress_start,
)
from profiles.import_uploads import StoredUpload, tmp_storage
from profiles.importing.mapping import IGNORE, target_choices
from profiles.importing.reading import (
    ImportFileError,
    csv_layout_detect,
    csv_rows,
    delimiter_label,
    encoding_label,
)
from profiles.importing.services import REJECTIONS_KEPT
from profiles.models import ImportStatus, ProfileImport

SAMPLE_ROWS = 10
MAPPING_SAMPLE_ROWS = 50  # read to find a few example values of each column
PREVIEW_REJECTIONS = 100
RECORD_REJECTIONS_PER_PAGE = 100
WORKER_LATE_SECONDS = 60  # an import still queued after this long may have no worker to run it

# The list's column is narrow: the status in a few words.
STATUS_SHORT_LABELS = {
    ImportStatus.PREVIEWED: _("Preview only"),
    ImportStatus.RUNNING: _("Importing"),
    ImportStatus.DONE: _("Imported"),
    ImportStatus.CANCELLED: _("Not imported (rows rejected)"),
    ImportStatus.FAILED: _("Failed"),
}
METHOD_LABELS = {
    "rows": _("row by row"),
    "bulk": _("set-based (PostgreSQL)"),
}


def target_label(target: str) -> str:
    kind, _sep, name = target.partition(":")
    if kind == "trait":
        return gettext("Custom trait “%(name)s”") % {"name": name}
    return dict(target_choices()).get(target, target)


def progress_text(progress: ImportProgress) -> str:
    """Where the worker is, in one sentence under the progress bar."""
    if progress.state == QUEUED and progress.waiting_seconds > WORKER_LATE_SECONDS:
        return gettext(
            "Waiting for the background worker to start. If nothing moves for several minutes, "
            "the background worker may be stopped: tell your administrator."
        )
    if progress.state == QUEUED:
        return gettext("Waiting for the background worker to start…")
    if progress.percent is None:
        return gettext("Reading the first rows…")
    if progress.read_bytes >= progress.size:
        return gettext("The whole file is read (%(size)s); finishing…") % {"size": filesizeformat(progress.size)}
    return gettext("%(percent)d %% of the file read (%(read)s of %(size)s).") % {
        "percent": progress.percent,
        "read": filesizeformat(progress.read_bytes),
        "size": filesizeformat(progress.size),
    }


def import_record_url(record: ProfileImport) -> str:
    return reverse("admin:profiles_profileimport_change", args=[record.pk])


class CrmImportMixin(ImportMixin):
    """The "Import a CRM file" button of the profile list and its steps: file, columns, preview, confirm."""

    import_export_change_list_template = "admin/profiles/profile/change_list.html"
    import_template_name = "admin/profiles/profile/import.html"
    mapping_template_name = "admin/profiles/profile/import_mapping.html"
    preview_template_name = "admin/profiles/profile/import_preview.html"
    progress_template_name = "admin/profiles/profile/import_progress.html"
    import_form_class = CrmFileForm
    confirm_form_class = CrmConfirmForm

    def get_import_formats(self) -> list:
        return [CSV]

    def has_import_permission(self, request: HttpRequest) -> bool:
        # An import creates and changes profiles (ProfileAdmin has no "add" button: profiles come from imports).
        return request.user.has_perms(["profiles.add_profile", "profiles.change_profile"])

    def get_urls(self) -> list[URLPattern]:
        app_label, model_name = self.get_model_info()
        return [
            path(
                "import/preview/",
                self.admin_site.admin_view(self.import_preview_view),
                name=f"{app_label}_{model_name}_import_preview",
            ),
            path(
                "import/preview/<slug:token>/",
                self.admin_site.admin_view(self.import_preview_result_view),
                name=f"{app_label}_{model_name}_import_preview_result",
            ),
            path(
                "import/progress/<slug:token>/",
                self.admin_site.admin_view(self.import_progress_view),
                name=f"{app_label}_{model_name}_import_progress",
            ),
            path(
                "import/progress/<slug:token>/status/",
                self.admin_site.admin_view(self.import_progress_status_view),
                name=f"{app_label}_{model_name}_import_progress_status",
            ),
            *super().get_urls(),
        ]

    # -- The temporary file ------------------------------------------------------

    def _upload_store(self, upload: Any) -> StoredUpload:
        """Keep the uploaded file and read its layout; ImportFileError (and nothing kept) when it cannot be imported."""
        storage = tmp_storage()
        storage.save(b"".join(upload.chunks()))
        try:
            return self._stored(storage, first_row=True)
        except ImportFileError:
            with contextlib.suppress(FileNotFoundError):
                storage.remove()
            raise

    def _stored(self, storage: BaseStorage, *, first_row: bool = False) -> StoredUpload:
        with StoredUpload.open_storage(storage) as stream:
            layout = csv_layout_detect(stream)
            if first_row and next(csv_rows(stream, layout), None) is None:
                raise ImportFileError(gettext("The file has a header line but no rows to import."))
        return StoredUpload(storage=storage, layout=layout)

    def _upload_from_post(self, request: HttpRequest) -> StoredUpload | None:
        """The file uploaded at the first step, named by the hidden fields of a later step; None once gone."""
        names = ConfirmImportForm(request.POST)
        if not names.is_valid():
            return None
        try:
            return self._stored(tmp_storage(names.cleaned_data["import_file_name"]))
        except (OSError, ImportFileError):
            return None

    def _upload_lost(self, request: HttpRequest) -> HttpResponse:
        self.message_user(
            request,
            gettext(
                "The uploaded file is no longer available (it was already imported, cancelled or has expired). "
                "Upload it again."
            ),
            messages.ERROR,
        )
        return HttpResponseRedirect(self._import_url())

    def _admin_url(self, name: str, *args: str) -> str:
        app_label, model_name = self.get_model_info()
        return reverse(f"admin:{app_label}_{model_name}_{name}", args=args, current_app=self.admin_site.name)

    def _import_url(self) -> str:
        return self._admin_url("import")

    def _changelist_url(self) -> str:
        return self._admin_url("changelist")

    # -- Steps -------------------------------------------------------------------

    def _render_step(
        self, request: HttpRequest, template: str, title: str, *, status: int = 200, **context: Any
    ) -> TemplateResponse:
        media = self.media
        if context.get("form") is not None:
            media += context["form"].media
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request,
            [template],
            status=status,
            context={
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": title,
                "media": media,
                "import_url": self._import_url(),
                "changelist_url": self._changelist_url(),
                **context,
            },
        )

    def _sample(self, stored: StoredUpload, count: int) -> list[tuple[int, tuple[str, ...]]]:
        """The first rows of the file, as the import reads them."""
        with stored.open() as stream:
            try:
                return list(itertools.islice(csv_rows(stream, stored.layout), count))
            except ImportFileError:
                return []

    def _file_context(self, stored: StoredUpload, file_name: str) -> dict[str, Any]:
        return {
            "file_name": file_name,
            "encoding": stored.layout.encoding_label,
            "delimiter": stored.layout.delimiter_label,
            "column_count": len(stored.layout.header),
        }

    def import_action(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        """Step 1, the file: stored, its encoding, delimiter and columns read, then step 2."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = self.create_import_form(request)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["import_file"]
            try:
                stored = self._upload_store(upload)
            except ImportFileError as error:
                form.add_error("import_file", str(error))
            else:
                upload.tmp_storage_name = stored.storage.name
                mapping_form = CrmMappingForm(
                    initial=self.get_confirm_form_initial(request, form), header=stored.layout.header
                )
                return self._render_mapping(request, stored, mapping_form)
        refused = request.FILES.get("import_file") if form.errors else None
        return self._render_step(
            request,
            self.import_template_name,
            gettext("Import a CRM file"),
            form=form,
            step=1,
            refused_file_name=refused.name if refused else "",
        )

    def _render_mapping(self, request: HttpRequest, stored: StoredUpload, form: CrmMappingForm) -> TemplateResponse:
        sample = self._sample(stored, MAPPING_SAMPLE_ROWS)
        columns = []
        for position, field in enumerate(form.column_fields()):
            values = (cells[position].strip() for _line, cells in sample if position < len(cells))
            examples = list(dict.fromkeys(value for value in values if value))[:3]
            columns.append({"field": field, "examples": examples})
        return self._render_step(
            request,
            self.mapping_template_name,
            gettext("Import a CRM file: what each column holds"),
            form=form,
            columns=columns,
            no_identifier_guessed=not form.guessed_identifier(),
            step=2,
            **self._file_context(stored, form["original_file_name"].value()),
        )

    def import_preview_view(self, request: HttpRequest) -> HttpResponse:
        """Step 3, the preview: the whole import run, then rolled back (a dry run), and what it would do."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseRedirect(self._import_url())
        stored = self._upload_from_post(request)
        if stored is None:
            return self._upload_lost(request)
        form = CrmMappingForm(request.POST, header=stored.layout.header)
        if "edit" in request.POST or not form.is_valid():
            return self._render_mapping(request, stored, form)
        return self._import_queue(request, stored, form, dry_run=True)

    def _import_queue(
        self, request: HttpRequest, stored: StoredUpload, form: CrmMappingForm, *, dry_run: bool
    ) -> HttpResponseRedirect:
        """Run the preview or the import in a worker, and send the browser to its wait page."""
        from profiles.tasks import profile_import_task

        progress = import_progress_start(
            user_id=request.user.pk,
            dry_run=dry_run,
            file_name=form.cleaned_data["original_file_name"],
            storage_name=stored.storage.name,
        )
        if not dry_run:
            holder = import_file_claim(storage_name=stored.storage.name, token=progress.token)
            if holder != progress.token:  # confirmed twice: the first import goes on, once
                return HttpResponseRedirect(self._progress_url(holder))
        arguments = {
            "token": progress.token,
            "storage_name": stored.storage.name,
            "file_name": form.cleaned_data["original_file_name"],
            "mapping": form.cleaned_data["mapping"],
            "dry_run": dry_run,
            "all_or_nothing": form.cleaned_data.get("all_or_nothing", False),
            "actor": request.user.get_username(),
            "language": translation.get_language(),
            "user_id": request.user.pk,
        }
        transaction.on_commit(lambda: profile_import_task.delay(**arguments))
        return HttpResponseRedirect(self._progress_url(progress.token))

    def _progress_url(self, token: str) -> str:
        return self._admin_url("import_progress", token)

    def import_progress_view(self, request: HttpRequest, token: str) -> HttpResponse:
        """The wait page of a preview or an import: its progress, then on to its result once done."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        progress = import_progress_get(token, user_id=request.user.pk)
        if progress is not None and progress.state == DONE:
            if progress.dry_run:
                return HttpResponseRedirect(self._admin_url("import_preview_result", token))
            return self._import_done(request, progress)
        if progress is None:
            title = gettext("Import a CRM file")
        elif progress.dry_run:
            title = gettext("Import a CRM file: preview in progress")
        else:
            title = gettext("Import a CRM file: import in progress")
        return self._render_step(
            request,
            self.progress_template_name,
            title,
            status=404 if progress is None else 200,
            step=3,
            progress=progress,
            progress_text=progress_text(progress) if progress is not None else "",
            status_url=self._admin_url("import_progress_status", token),
            imports_url=reverse("admin:profiles_profileimport_changelist", current_app=self.admin_site.name),
        )

    def import_progress_status_view(self, request: HttpRequest, token: str) -> JsonResponse:
        """The wait page's progress as JSON: its script follows it without reloading the page."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        progress = import_progress_get(token, user_id=request.user.pk)
        if progress is None:
            return JsonResponse({"state": "unknown", "finished": True}, status=404)
        return JsonResponse(
            {
                "state": progress.state,
                "finished": progress.finished,
                "percent": progress.percent,
                "text": progress_text(progress),
            }
        )

    def import_preview_result_view(self, request: HttpRequest, token: str) -> HttpResponse:
        """Step 3, the preview once its worker is done: built from its record and the stored file."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        progress = import_progress_get(token, user_id=request.user.pk)
        if progress is None or progress.state != DONE or not progress.dry_run:
            return HttpResponseRedirect(self._progress_url(token))
        record = ProfileImport.objects.filter(pk=progress.record_id).first()
        try:
            stored = self._stored(tmp_storage(progress.storage_name))
        except (OSError, ImportFileError):
            stored = None
        if record is None or stored is None:
            return self._upload_lost(request)
        header = stored.layout.header
        confirm_form = CrmConfirmForm(
            initial={
                "import_file_name": progress.storage_name,
                "original_file_name": record.file_name,
                "format": "0",
                **{
                    CrmConfirmForm.column_field_name(position): record.mapping.get(column, IGNORE)
                    for position, column in enumerate(header)
                },
            },
            header=header,
        )
        return self._render_preview(request, stored, record, confirm_form)

    def _render_preview(
        self, request: HttpRequest, stored: StoredUpload, record: ProfileImport, form: CrmConfirmForm
    ) -> TemplateResponse:
        header = stored.layout.header
        sample = self._sample(stored, SAMPLE_ROWS)
        rejections = list(record.rejections.all()[:PREVIEW_REJECTIONS])
        last_sample_line = sample[-1][0] if sample else 0
        rejected_in_sample = set(
            record.rejections.filter(line__lte=last_sample_line).values_list("line", flat=True).distinct()
        )
        mapping = record.mapping
        valid_rows = record.rows_read - record.rows_rejected
        return self._render_step(
            request,
            self.preview_template_name,
            gettext("Import a CRM file: check before importing"),
            form=form,
            step=3,
            record=record,
            record_url=import_record_url(record),
            counts=[
                ("new", gettext("New profiles"), record.rows_new),
                (
                    "updated",
                    gettext("Rows updating a profile (already known, or listed earlier in the file)"),
                    record.rows_updated,
                ),
                ("merged", gettext("Rows that merge two profiles or more into one"), record.rows_merged),
                ("rejected", gettext("Rejected rows (not imported)"), record.rows_rejected),
            ],
            valid_rows=valid_rows,
            rejections=rejections,
            rejections_more=record.rows_rejected > len({rejection.line for rejection in rejections}),
            sample_header=[
                (column, mapping.get(column) == IGNORE, target_label(mapping.get(column, ""))) for column in header
            ],
            sample_rows=[
                {
                    "line": line,
                    "rejected": line in rejected_in_sample,
                    "cells": [cells[position] if position < len(cells) else "" for position in range(len(header))],
                }
                for line, cells in sample
            ],
            **self._file_context(stored, record.file_name),
        )

    @method_decorator(require_POST)
    def process_import(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        """Step 4, the import: the same run as the preview, for real; or cancel."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        stored = self._upload_from_post(request)
        if stored is None:
            return self._upload_lost(request)
        if "cancel" in request.POST:
            stored.remove()
            self.message_user(request, gettext("Import cancelled: nothing was imported."), messages.INFO)
            return HttpResponseRedirect(self._changelist_url())
        form = self.get_confirm_form_class(request)(request.POST, header=stored.layout.header)
        if not form.is_valid():
            errors = [str(error) for field_errors in form.errors.values() for error in field_errors]
            self.message_user(request, " ".join(errors), messages.ERROR)
            return HttpResponseRedirect(self._import_url())
        return self._import_queue(request, stored, form, dry_run=False)

    def _import_done(self, request: HttpRequest, progress: ImportProgress) -> HttpResponse:
        record = ProfileImport.objects.filter(pk=progress.record_id).first()
        if record is None:
            return HttpResponseRedirect(self._changelist_url())
        self._result_message(request, record)
        return HttpResponseRedirect(self._changelist_url())

    def _result_message(self, request: HttpRequest, record: ProfileImport) -> None:
        link = format_html('<a href="{}">{}</a>', import_record_url(record), gettext("See the import’s record"))
        if record.status == ImportStatus.CANCELLED:
            text = ngettext(
                "Nothing was imported from “%(file)s”: %(rejected)d row was rejected and you chose to import "
                "nothing if any row is rejected.",
                "Nothing was imported from “%(file)s”: %(rejected)d rows were rejected and you chose to import "
                "nothing if any row is rejected.",
                record.rows_rejected,
            ) % {"file": record.file_name, "rejected": record.rows_rejected}
            self.message_user(request, format_html("{} {}", text, link), messages.WARNING)
            return
        text = gettext(
            "“%(file)s” imported. New profiles: %(new)d; rows updating a profile: %(updated)d; "
            "rows merging profiles: %(merged)d; rejected rows: %(rejected)d."
        ) % {
            "file": record.file_name,
            "new": record.rows_new,
            "updated": record.rows_updated,
            "merged": record.rows_merged,
            "rejected": record.rows_rejected,
        }
        level = messages.WARNING if record.rows_rejected else messages.SUCCESS
        self.message_user(request, format_html("{} {}", text, link), level)


# ---------------------------------------------------------------------------
# The imports' records (registered read-only in profiles.admin)


class ImportStatusFilter(admin.SimpleListFilter):
    """Imports as they ran; the previews (dry runs, one before each import from the admin) only when asked for."""

    title = _("status")
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        ran = [
            (status, STATUS_SHORT_LABELS[status]) for status in ImportStatus.values if status != ImportStatus.PREVIEWED
        ]
        return [
            *ran,
            (ImportStatus.PREVIEWED, STATUS_SHORT_LABELS[ImportStatus.PREVIEWED]),
            (self.ALL, _("All, previews included")),
        ]

    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:
        choices = list(super().choices(changelist))
        choices[0]["display"] = _("Imports (previews left out)")
        return iter(choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[ProfileImport]) -> QuerySet[ProfileImport]:
        if self.value() is None:
            return queryset.exclude(status=ImportStatus.PREVIEWED)
        if self.value() == self.ALL:
            return queryset
        return queryset.filter(status=self.value())


class ProfileImportPages:
    """The list of CRM imports and an import's page, with its rejected rows and their CSV download."""

    list_display = [
        "started",
        "file_name",
        "outcome",
        "new",
        "updated",
        "merged",
        "rejected",
        "created_by",
    ]
    list_display_links = ["started", "file_name"]
    list_filter = [ImportStatusFilter]
    search_fields = ["file_name", "created_by"]
    search_help_text = _("Search by file name or by who imported it.")
    date_hierarchy = "started_at"
    change_form_template = "admin/profiles/profileimport/change_form.html"
    readonly_fields = [
        "file_size_display",
        "encoding_display",
        "delimiter_display",
        "mapping_display",
        "method_display",
    ]
    fieldsets = [
        (
            _("Result"),
            {
                "fields": [
                    "status",
                    "error",
                    "rows_read",
                    "rows_new",
                    "rows_updated",
                    "rows_merged",
                    "rows_rejected",
                    "all_or_nothing",
                ]
            },
        ),
        (_("Who and when"), {"fields": ["created_by", "started_at", "finished_at", "method_display"]}),
        (
            _("File"),
            {"fields": ["file_name", "file_size_display", "encoding_display", "delimiter_display", "file_sha256"]},
        ),
        (_("Column mapping"), {"fields": ["mapping_display"]}),
    ]

    @admin.display(description=_("started"), ordering="started_at")
    def started(self, record: ProfileImport) -> str:
        return date_format(timezone.localtime(record.started_at), "SHORT_DATETIME_FORMAT")

    @admin.display(description=_("status"), ordering="status")
    def outcome(self, record: ProfileImport) -> str:
        return str(STATUS_SHORT_LABELS.get(record.status, record.get_status_display()))

    @admin.display(description=_("new"), ordering="rows_new")
    def new(self, record: ProfileImport) -> int:
        return record.rows_new

    @admin.display(description=_("updates"), ordering="rows_updated")
    def updated(self, record: ProfileImport) -> int:
        return record.rows_updated

    @admin.display(description=_("merges"), ordering="rows_merged")
    def merged(self, record: ProfileImport) -> int:
        return record.rows_merged

    @admin.display(description=_("rejected"), ordering="rows_rejected")
    def rejected(self, record: ProfileImport) -> int:
        return record.rows_rejected

    @admin.display(description=_("method"))
    def method_display(self, record: ProfileImport) -> str:
        return str(METHOD_LABELS.get(record.method, record.method or "—"))

    @admin.display(description=_("file size"))
    def file_size_display(self, record: ProfileImport) -> str:
        return filesizeformat(record.file_size)

    @admin.display(description=_("encoding"))
    def encoding_display(self, record: ProfileImport) -> str:
        return encoding_label(record.encoding) if record.encoding else "—"

    @admin.display(description=_("delimiter"))
    def delimiter_display(self, record: ProfileImport) -> str:
        return delimiter_label(record.delimiter) if record.delimiter else "—"

    @admin.display(description=_("column mapping"))
    def mapping_display(self, record: ProfileImport) -> str:
        if not record.mapping:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td></tr>",
            ((column, target_label(target)) for column, target in record.mapping.items()),
        )
        return format_html(
            '<table class="cdp-mapping"><thead><tr><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>',
            gettext("Column of the file"),
            gettext("Imported into"),
            rows,
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/rejected-rows/",
                self.admin_site.admin_view(self.rejected_rows_view),
                name=f"{self.opts.app_label}_{self.opts.model_name}_rejected_rows",
            ),
            *super().get_urls(),
        ]

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: ProfileImport | None = None,
    ) -> HttpResponse:
        if obj is not None:
            paginator = Paginator(obj.rejections.all(), RECORD_REJECTIONS_PER_PAGE)
            page = paginator.get_page(request.GET.get("rejections_page"))
            context.update(
                {
                    "rejections_page": page,
                    "rejections_total": paginator.count,
                    "rejections_capped": paginator.count >= REJECTIONS_KEPT,
                    "rejections_kept": REJECTIONS_KEPT,
                    "rejected_rows_url": reverse(
                        "admin:profiles_profileimport_rejected_rows", args=[obj.pk], current_app=self.admin_site.name
                    ),
                }
            )
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def rejected_rows_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The import's rejected rows as a CSV file that Excel opens as it is (semicolons, UTF-8 with BOM)."""
        record = self.get_object(request, unquote(object_id))
        if record is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, record):
            raise PermissionDenied
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(
            True, f"{Path(record.file_name).stem}-rejected-rows.csv"
        )
        response.write("\ufeff")
        writer = csv.writer(response, delimiter=";")
        writer.writerow([gettext("Line"), gettext("Column"), gettext("Value"), gettext("Reason")])
        for rejection in record.rejections.iterator():
            writer.writerow([rejection.line, rejection.column, rejection.value, rejection.reason])
        return response
