"""The marketers' screens on segments: a thin layer over ``segments.services`` and ``segments.selectors``.

The rule builder (``segments.forms.RuleBuilderWidget`` and its script) edits the
conditions' JSON; saving, deleting, refreshing and uploading a list go through
the services, and every figure shown comes from a selector.
"""

import datetime
import json
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from profiles.empty_state import EmptyState, add_link
from profiles.models import EventType, IdentifierKind, Profile
from segments.forms import SegmentForm, SegmentListUploadForm
from segments.models import RefreshTrigger, Segment, SegmentKind, SegmentListEntry
from segments.rules import rules_segment_ids
from segments.selectors import (
    REFRESH_STUCK_AFTER,
    RefreshProgress,
    RefreshState,
    refresh_state,
    segment_membership_history,
    segment_overlap,
    segment_refresh_progress,
    segments_held_rows,
    segments_using,
    segments_with_refresh,
)
from segments.services import (
    segment_delete,
    segment_list_upload,
    segment_preview,
    segment_refresh_request,
    segment_save,
)

OVERLAP_MAX_SEGMENTS = 12
HISTORY_DAYS = 30
UNMATCHED_SHOWN = 1000
PREVIEW_SAMPLE_SIZE = 10
SAMPLE_KIND_ORDER = {IdentifierKind.EMAIL: 0, IdentifierKind.PHONE: 1, IdentifierKind.CRM_ID: 2}

STATE_LABELS = {
    RefreshState.NONE: _("Never refreshed"),
    RefreshState.QUEUED: _("Waiting to start"),
    RefreshState.RUNNING: _("Running"),
    RefreshState.SUCCEEDED: _("Succeeded"),
    RefreshState.FAILED: _("Failed"),
}


class SegmentDeleteRefused(Exception):
    """segment_delete refused: raised through the admin's delete transaction so that nothing is kept."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(*messages)
        self.messages = messages


# ---------------------------------------------------------------------------
# How figures read


def number(value: int) -> str:
    return number_format(value, force_grouping=True)


def duration_text(duration: datetime.timedelta | None) -> str:
    if duration is None:
        return "—"
    seconds = max(duration.total_seconds(), 0)
    if seconds < 10:
        return gettext("%(seconds)s s") % {"seconds": number_format(round(seconds, 1), decimal_pos=1)}
    if seconds < 60:
        return gettext("%(seconds)s s") % {"seconds": int(seconds)}
    minutes = int(seconds // 60)
    if minutes < 60:
        return gettext("%(minutes)s min %(seconds)02d s") % {"minutes": minutes, "seconds": int(seconds % 60)}
    return gettext("%(hours)s h %(minutes)02d min") % {"hours": minutes // 60, "minutes": minutes % 60}


def moment(value: datetime.datetime | None) -> str:
    return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT") if value else "—"


def refresh_summary(progress: RefreshProgress, *, uploaded_list: bool = False) -> str:
    """The latest refresh in one sentence: when, how long, how it ended."""
    refresh = progress.refresh
    if refresh is None:
        if uploaded_list:
            return gettext("Nobody counted yet: upload the file of the people on the list.")
        return gettext("Never refreshed yet: use “Refresh now” to count the members.")
    if progress.state == RefreshState.QUEUED:
        text = gettext("Waiting to start since %(time)s.") % {"time": moment(refresh.requested_at)}
        if progress.elapsed and progress.elapsed > REFRESH_STUCK_AFTER:
            text += " " + gettext("Nothing has started it: check that the background worker (Celery) is running.")
        return text
    if progress.state == RefreshState.RUNNING:
        text = gettext("Running since %(time)s (%(elapsed)s so far).") % {
            "time": moment(refresh.started_at),
            "elapsed": duration_text(progress.elapsed),
        }
        if progress.previous_duration:
            text += " " + gettext("The previous refresh took %(duration)s.") % {
                "duration": duration_text(progress.previous_duration)
            }
        return text
    if progress.state == RefreshState.FAILED:
        return gettext("Failed on %(time)s: %(error)s") % {
            "time": moment(refresh.finished_at or refresh.requested_at),
            "error": refresh.error or gettext("no reason given"),
        }
    return gettext("Succeeded on %(time)s, in %(duration)s: %(entered)s entered, %(left)s left.") % {
        "time": moment(refresh.finished_at),
        "duration": duration_text(refresh.duration),
        "entered": number(refresh.entered or 0),
        "left": number(refresh.left or 0),
    }


def profile_sample_row(profile: Profile) -> dict[str, Any]:
    """A matching profile as the live preview lists it (identifiers already prefetched)."""
    # Emails first, then phones and CRM ids: what a marketer recognises a person by.
    identifiers = sorted(
        profile.identifiers.all(), key=lambda identifier: (SAMPLE_KIND_ORDER.get(identifier.kind, 9), identifier.pk)
    )
    known = [identifier.value for identifier in identifiers if identifier.kind != IdentifierKind.ANONYMOUS_ID]
    if profile.first_name or profile.last_name:
        name = str(profile)
    elif known:
        name = known[0]
    else:
        name = gettext("Anonymous visitor (profile %(id)s)") % {"id": profile.pk}
    return {
        "id": profile.pk,
        "name": name,
        "identifiers": " · ".join(known[:3]) or gettext("cookie or device only"),
        "city": profile.city,
        "url": reverse("admin:profiles_profile_change", args=[profile.pk]),
    }


# ---------------------------------------------------------------------------
# Segment


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    list_display = ["name", "kind", "members", "treatment_and_control", "refresh_every", "last_refresh"]
    list_filter = ["kind", "refresh_every"]
    search_fields = ["name", "description"]
    search_help_text = _("Search by name or description.")
    ordering = ["name"]
    readonly_fields = ["members", "treatment", "control", "last_refresh_detail", "event_types_read"]
    actions = ["refresh_now", "compare_overlap", "delete_selected"]

    class Media:
        css = {"all": ["segments/segments.css"]}
        js = ["segments/segment_page.js"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Segment]:
        return segments_with_refresh(super().get_queryset(request))

    def get_fieldsets(self, request: HttpRequest, obj: Segment | None = None) -> list[tuple[Any, dict[str, Any]]]:
        fieldsets = [
            (None, {"fields": ["name", "description", "kind"]}),
            (_("Who is in the segment"), {"fields": ["rules"], "classes": ["cdp-rules-fieldset"]}),
            (_("Control group and refresh"), {"fields": ["holdout_percent", "refresh_every"]}),
        ]
        if obj is None:
            return fieldsets
        figures = ["members", "treatment", "control", "last_refresh_detail"]
        if obj.kind == SegmentKind.RULES:
            figures.append("event_types_read")
        return [(_("Figures"), {"fields": figures}), *fieldsets]

    def empty_state(self, request: HttpRequest) -> EmptyState:
        return EmptyState(
            message=gettext("No segment yet: create one from conditions or upload a list."),
            explanation=gettext(
                "A segment is an audience for your campaigns: people who match conditions (city, purchases, "
                "consents…), counted again at each refresh, or a fixed list of people you upload from a file."
            ),
            links=[
                *add_link(request, Segment, _("Create a segment")),
                *add_link(request, Segment, _("Upload a list of people"), query=f"kind={SegmentKind.STATIC}"),
            ],
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # "Segments" rather than Django's "Select segment to change".
        return super().changelist_view(
            request, {"title": capfirst(self.opts.verbose_name_plural), **(extra_context or {})}
        )

    # -- Columns and read-only figures -----------------------------------------------------

    @admin.display(description=_("members"), ordering="member_count")
    def members(self, segment: Segment) -> str:
        return format_html('<span data-figure="members">{}</span>', number(segment.member_count))

    @admin.display(description=_("receive campaigns (treatment)"))
    def treatment(self, segment: Segment) -> str:
        return format_html('<span data-figure="treatment">{}</span>', number(segment.treatment_count))

    @admin.display(description=_("control group (kept out of every send)"))
    def control(self, segment: Segment) -> str:
        return format_html(
            '<span data-figure="control">{}</span> <span class="cdp-quiet">({}%)</span>',
            number(segment.control_count),
            number_format(segment.holdout_percent, decimal_pos=1 if segment.holdout_percent % 1 else 0),
        )

    # The list is narrow: both groups in one column.
    @admin.display(description=_("treatment / control"))
    def treatment_and_control(self, segment: Segment) -> str:
        return f"{number(segment.treatment_count)} / {number(segment.control_count)}"

    @admin.display(description=_("last refresh"), ordering="refresh_requested_at")
    def last_refresh(self, segment: Segment) -> str:
        state = refresh_state(segment.refresh_status, segment.refresh_started_at)
        label = STATE_LABELS[state]
        if state == RefreshState.NONE:
            return format_html('<span class="cdp-quiet">{}</span>', label)
        if state in (RefreshState.QUEUED, RefreshState.RUNNING):
            since = segment.refresh_started_at or segment.refresh_requested_at
            return format_html(
                '<span class="cdp-refresh-running">{}</span><br><small>{}</small>',
                label,
                gettext("since %(time)s") % {"time": moment(since)},
            )
        duration = (
            segment.refresh_finished_at - segment.refresh_started_at
            if segment.refresh_finished_at and segment.refresh_started_at
            else None
        )
        when = format_html("{}<br><small>{}</small>", moment(segment.refresh_finished_at), duration_text(duration))
        if state == RefreshState.FAILED:
            error = segment.refresh_error or gettext("no reason given")
            return format_html(
                '<span class="cdp-failed">{}</span> {}<br><span class="cdp-failed-reason" title="{}">{}</span>',
                label,
                when,
                error,
                error if len(error) <= 160 else error[:157] + "…",
            )
        return when

    @admin.display(description=_("last refresh"))
    def last_refresh_detail(self, segment: Segment) -> str:
        progress = segment_refresh_progress(segment=segment)
        return format_html(
            '<div class="cdp-refresh" data-refresh-status-url="{}" data-refresh-state="{}">'
            '<p class="cdp-refresh-summary{}" data-refresh-summary>{}</p>'
            '<div class="cdp-progress"{} data-refresh-progress role="progressbar" aria-label="{}" '
            'aria-valuemin="0" aria-valuemax="100"><div class="cdp-progress-bar" style="width: {}%"></div></div>'
            '<button type="submit" form="segment-refresh-form" class="button" data-refresh-button>{}</button> '
            '<span class="help">{}</span></div>',
            reverse("admin:segments_segment_refresh_status", args=[segment.pk]),
            progress.state,
            " cdp-failed" if progress.state == RefreshState.FAILED else "",
            refresh_summary(progress, uploaded_list=segment.kind == SegmentKind.STATIC),
            "" if progress.state in (RefreshState.QUEUED, RefreshState.RUNNING) else " hidden",
            gettext("Refresh progress"),
            progress.percent or 0,
            gettext("Refresh now"),
            gettext("Counts the members again from the saved conditions, in the background."),
        )

    @admin.display(description=_("event types read"))
    def event_types_read(self, segment: Segment) -> str:
        if not segment.event_types:
            return gettext("None: only a full refresh changes who is in the segment.")
        names = dict(EventType.choices)
        listed = ", ".join(str(names.get(kind, kind)) for kind in segment.event_types)
        return gettext("%(types)s. An event of these types updates the person’s membership at once.") % {
            "types": listed
        }

    # -- Saving and deleting ---------------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Segment, form: Form, change: bool) -> None:
        conditions_changed = not change or bool({"rules", "kind"} & set(form.changed_data))
        segment_save(segment=obj, actor=request.user.get_username(), refresh=True)
        if obj.kind == SegmentKind.RULES and conditions_changed:
            self.message_user(
                request, gettext("The members are being counted again from the new conditions."), messages.INFO
            )

    def response_add(self, request: HttpRequest, obj: Segment, post_url_continue: str | None = None) -> HttpResponse:
        if obj.kind == SegmentKind.STATIC and "_addanother" not in request.POST and "_popup" not in request.POST:
            # A list is empty until its file is uploaded, which happens on the segment's page.
            self.message_user(
                request,
                gettext("The segment “%(name)s” was added. Now upload the file of the people on the list.")
                % {"name": obj},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(self._change_url(obj))
        return super().response_add(request, obj, post_url_continue)

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[str], dict[str, int], set[str], list[str]]:
        # Summarised: the default collector would list every member and history row of the segments.
        segments = list(objs)
        users = segments_using(segment_ids={segment.pk for segment in segments})
        protected = [
            gettext("“%(name)s” is used in the conditions of: %(users)s.")
            % {"name": segment, "users": ", ".join(users[segment.pk])}
            for segment in segments
            if segment.pk in users
        ]
        held = segments_held_rows(segment_ids=[segment.pk for segment in segments])
        counts = {capfirst(str(Segment._meta.verbose_name_plural)): len(segments)}
        counts.update({capfirst(str(label)): count for label, count in held if count})
        return [str(segment) for segment in segments], counts, set(), protected

    def delete_model(self, request: HttpRequest, obj: Segment) -> None:
        try:
            segment_delete(segment=obj)
        except ValidationError as error:
            raise SegmentDeleteRefused(error.messages) from error

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Segment]) -> None:
        # A segment used by another selected one goes after it: segment_delete refuses a segment still in use.
        remaining = {segment.pk: segment for segment in queryset}
        while remaining:
            used = set().union(*(rules_segment_ids(segment.rules or {}) for segment in remaining.values()))
            free = [segment for pk, segment in remaining.items() if pk not in used] or list(remaining.values())
            for segment in free:
                del remaining[segment.pk]
                self.delete_model(request, segment)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except SegmentDeleteRefused as refused:
            self.message_user(request, " ".join(refused.messages), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:segments_segment_change", args=[unquote(object_id)]))

    @admin.action(description=_("Delete the selected segments"), permissions=["delete"])
    def delete_selected(self, request: HttpRequest, queryset: QuerySet[Segment]) -> HttpResponse | None:
        try:
            with transaction.atomic():
                return django_delete_selected(self, request, queryset)
        except SegmentDeleteRefused as refused:
            self.message_user(
                request,
                gettext("Nothing was deleted: %(reason)s") % {"reason": " ".join(refused.messages)},
                messages.ERROR,
            )
            return None

    # -- Actions of the list ----------------------------------------------------------------

    @admin.action(description=_("Refresh the selected segments now"), permissions=["change"])
    def refresh_now(self, request: HttpRequest, queryset: QuerySet[Segment]) -> None:
        segments = list(queryset)
        for segment in segments:
            segment_refresh_request(segment=segment, trigger=RefreshTrigger.MANUAL)
        self.message_user(
            request,
            ngettext(
                "A refresh of %(count)d segment was asked for; its figures update when it is done.",
                "A refresh of %(count)d segments was asked for; their figures update when they are done.",
                len(segments),
            )
            % {"count": len(segments)},
            messages.SUCCESS,
        )

    @admin.action(description=_("Compare overlap of the selected segments"), permissions=["view"])
    def compare_overlap(self, request: HttpRequest, queryset: QuerySet[Segment]) -> HttpResponse | None:
        segments = list(queryset.order_by("name")[: OVERLAP_MAX_SEGMENTS + 1])
        if len(segments) < 2:
            self.message_user(request, gettext("Select at least two segments to compare."), messages.WARNING)
            return None
        if len(segments) > OVERLAP_MAX_SEGMENTS:
            self.message_user(
                request,
                gettext("Select at most %(max)d segments to compare at once.") % {"max": OVERLAP_MAX_SEGMENTS},
                messages.WARNING,
            )
            return None
        overlap = segment_overlap([segment.pk for segment in segments])
        rows = []
        for row_segment in segments:
            members = overlap.get((row_segment.pk, row_segment.pk), 0)
            cells = []
            for column_segment in segments:
                shared = overlap.get((row_segment.pk, column_segment.pk), 0)
                cells.append(
                    {
                        "shared": shared,
                        "shared_text": number(shared),
                        "percent": round(100 * shared / members) if members else None,
                        "diagonal": row_segment.pk == column_segment.pk,
                        "column": column_segment,
                    }
                )
            rows.append({"segment": row_segment, "members": members, "cells": cells})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Overlap between segments"),
            "segments": segments,
            "rows": rows,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/segments/segment/overlap.html", context)

    # -- Pages and JSON of the change page -------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        def view(function: Callable[..., HttpResponse], suffix: str, route: str) -> URLPattern:
            name = f"{self.opts.app_label}_{self.opts.model_name}_{suffix}"
            return path(route, self.admin_site.admin_view(function), name=name)

        # Before the default URLs: "<path:object_id>/" would swallow these.
        return [
            view(self.preview_view, "preview", "preview/"),
            view(self.refresh_view, "refresh", "<path:object_id>/refresh/"),
            view(self.refresh_status_view, "refresh_status", "<path:object_id>/refresh-status/"),
            view(self.upload_view, "upload", "<path:object_id>/upload/"),
            *super().get_urls(),
        ]

    def _change_url(self, segment: Segment) -> str:
        return reverse("admin:segments_segment_change", args=[segment.pk])

    def _segment_or_404(self, request: HttpRequest, object_id: str, allowed: bool) -> Segment | HttpResponse:
        if not allowed:
            raise PermissionDenied
        segment = self.get_object(request, unquote(object_id))
        if segment is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        return segment

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Segment | None = None,
    ) -> HttpResponse:
        context["static_kind"] = SegmentKind.STATIC
        if obj is not None:
            context.update(
                {
                    "refresh_url": reverse("admin:segments_segment_refresh", args=[obj.pk]),
                    "history": segment_membership_history(segment=obj, days=HISTORY_DAYS),
                    "history_days": HISTORY_DAYS,
                    "can_refresh": self.has_change_permission(request, obj),
                }
            )
            if obj.kind == SegmentKind.STATIC:
                context.update(
                    {
                        "upload_form": SegmentListUploadForm(),
                        "upload_url": reverse("admin:segments_segment_upload", args=[obj.pk]),
                        "list_size": SegmentListEntry.objects.filter(segment=obj).count(),
                    }
                )
            history = context["history"]
            context["history_peak"] = max([1, *(max(day.entered, day.left) for day in history)])
            context["history_entered"] = sum(day.entered for day in history)
            context["history_left"] = sum(day.left for day in history)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """Live count and sample of the conditions being edited: {count, sample, errors}."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            payload = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            payload = None
        if not isinstance(payload, dict):
            return JsonResponse({"count": None, "sample": [], "errors": [gettext("The conditions are not readable.")]})
        try:
            segment_id = int(payload["segment_id"]) if payload.get("segment_id") else None
        except (TypeError, ValueError):
            segment_id = None
        try:
            preview = segment_preview(
                rules=payload.get("rules"), segment_id=segment_id, sample_size=PREVIEW_SAMPLE_SIZE
            )
        except ValidationError as error:
            return JsonResponse({"count": None, "sample": [], "errors": list(dict.fromkeys(error.messages))})
        return JsonResponse(
            {"count": preview.count, "sample": [profile_sample_row(p) for p in preview.sample], "errors": []}
        )

    def refresh_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        segment = self._segment_or_404(request, object_id, self.has_change_permission(request))
        if isinstance(segment, HttpResponse):
            return segment
        progress = segment_refresh_progress(segment=segment)
        if not progress.done and progress.elapsed is not None and progress.elapsed < REFRESH_STUCK_AFTER:
            self.message_user(
                request, gettext("A refresh of this segment is already on its way: its progress is shown below.")
            )
        else:
            segment_refresh_request(segment=segment, trigger=RefreshTrigger.MANUAL)
            self.message_user(
                request,
                gettext("Refresh asked for: the figures below update when it is done."),
                messages.SUCCESS,
            )
        return HttpResponseRedirect(self._change_url(segment))

    def refresh_status_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        segment = self._segment_or_404(request, object_id, self.has_view_permission(request))
        if isinstance(segment, HttpResponse):
            return segment
        progress = segment_refresh_progress(segment=segment)
        refresh = progress.refresh

        def seconds(duration: datetime.timedelta | None) -> float | None:
            return round(duration.total_seconds(), 3) if duration is not None else None

        return JsonResponse(
            {
                "status": progress.state,
                "label": str(STATE_LABELS[progress.state]),
                "done": progress.done,
                "summary": refresh_summary(progress, uploaded_list=segment.kind == SegmentKind.STATIC),
                "elapsed": seconds(progress.elapsed),
                "previous_duration": seconds(progress.previous_duration),
                "progress": progress.percent,
                "requested_at": refresh.requested_at.isoformat() if refresh else None,
                "finished_at": refresh.finished_at.isoformat() if refresh and refresh.finished_at else None,
                "error": refresh.error if refresh else "",
                "members": segment.member_count,
                "control": segment.control_count,
                "treatment": segment.treatment_count,
                "figures": {
                    "members": number(segment.member_count),
                    "treatment": number(segment.treatment_count),
                    "control": number(segment.control_count),
                },
            }
        )

    def upload_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        segment = self._segment_or_404(request, object_id, self.has_change_permission(request))
        if isinstance(segment, HttpResponse):
            return segment
        if segment.kind != SegmentKind.STATIC:
            self.message_user(
                request,
                gettext("Only a segment of type “uploaded list” takes a file; this one is built from conditions."),
                messages.WARNING,
            )
            return HttpResponseRedirect(self._change_url(segment))
        form = SegmentListUploadForm(request.POST or None, request.FILES or None)
        result = None
        if request.method == "POST" and form.is_valid():
            # The file object itself: the reader iterates over its lines.
            stream = form.cleaned_data["file"].file
            stream.seek(0)
            try:
                result = segment_list_upload(segment=segment, stream=stream, replace=form.replace)
            except ValidationError as error:
                form.add_error("file", error.messages)
            else:
                segment.refresh_from_db(fields=["member_count", "control_count"])
                self.log_change(
                    request,
                    segment,
                    gettext("Uploaded a list: %(matched)s people found, %(unmatched)s lines unmatched.")
                    % {"matched": result.matched, "unmatched": len(result.unmatched)},
                )
                form = SegmentListUploadForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": segment,
            "title": gettext("Upload the list of “%(name)s”") % {"name": segment},
            "form": form,
            "media": self.media + form.media,
            "result": result,
            "unmatched": result.unmatched[:UNMATCHED_SHOWN] if result else [],
            "unmatched_hidden": max(len(result.unmatched) - UNMATCHED_SHOWN, 0) if result else 0,
            "change_url": self._change_url(segment),
            "upload_url": reverse("admin:segments_segment_upload", args=[segment.pk]),
        }
        return TemplateResponse(request, "admin/segments/segment/upload.html", context)
