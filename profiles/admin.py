"""The marketers' screens on profiles: a thin layer over ``profiles.services``, ``selectors`` and ``gdpr``.

Changes go through the services (profile update, consents, privacy flags,
merges) and the GDPR functions, never by writing the tables here. The consent
log, merge history, privacy log and events are read-only.
"""

import contextlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Model, OuterRef, Q, QuerySet, Subquery
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from profiles.empty_state import EmptyState
from profiles.forms import (
    ConsentRecordForm,
    IdentifierForm,
    MergeForm,
    PrivacyFlagForm,
    PrivacyRequestForm,
    ProfileForm,
    add_service_errors,
)
from profiles.gdpr import gdpr_erase, gdpr_export, gdpr_held_rows
from profiles.import_admin import CrmImportMixin, ProfileImportPages
from profiles.models import (
    CHANNEL_ADDRESS_KIND,
    Channel,
    ConsentRecord,
    Event,
    EventType,
    Identifier,
    IdentifierKind,
    MergeLog,
    MergeReason,
    PrivacyLog,
    Profile,
    ProfileImport,
    identifier_kind_choices,
)
from profiles.selectors import (
    profile_detail,
    profile_identified_filter,
    profile_search_q,
    profile_timeline,
    profiles_contactable,
)
from profiles.services import (
    STANDARD_FIELDS,
    consent_record,
    identifier_add,
    profile_merge,
    profile_set_do_not_contact,
    profile_set_do_not_track,
    profile_update,
)

TIMELINE_LENGTH = 50
CONSENT_HISTORY_LENGTH = 50
# The merge confirmation lists every selected profile: more than this is a slip of "select all".
MERGE_MAX_PROFILES = 20

EVENT_TYPE_NAMES = dict(EventType.choices)
PROOF_LABELS = {
    "form_url": _("form address"),
    "wording_version": _("wording version"),
    "ip": _("IP address"),
    "user_agent": _("browser"),
    "method": _("how"),
}


def admin_source(request: HttpRequest) -> str:
    # Stored data, so not translated.
    return f"admin ({request.user.get_username()})"


def profile_link(profile: Profile | None) -> str:
    if profile is None:
        return "—"
    url = reverse("admin:profiles_profile_change", args=[profile.pk])
    return format_html('<a href="{}">{}</a>', url, profile)


def _verbose_name_plural(label: str) -> str:
    try:
        return capfirst(apps.get_model(label)._meta.verbose_name_plural)
    except (LookupError, ValueError):
        return label


def _field_label(name: str) -> str:
    try:
        return capfirst(Profile._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name


class ProfileSearchMixin:
    """A search box that finds rows by their person: an identifier written any way, the public id or the name.

    ``search_fields`` must still be set for the admin to show the box.
    """

    profile_path = ""  # from the listed model to its Profile, "profile__" for example
    search_names = True

    def search_filter(self, term: str) -> Q:
        return profile_search_q(term, prefix=self.profile_path, names=self.search_names)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(self.search_filter(term)), False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Logs and histories: looked at, never written from the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


# ---------------------------------------------------------------------------
# Profile list filters


class IdentifiedFilter(admin.SimpleListFilter):
    title = _("identified")
    parameter_name = "identified"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            ("yes", _("Identified (email, phone or CRM id)")),
            ("no", _("Anonymous (cookie or device only)")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Profile]) -> QuerySet[Profile]:
        if self.value() == "yes":
            return queryset.filter(profile_identified_filter())
        if self.value() == "no":
            return queryset.filter(~profile_identified_filter())
        return queryset


class ConsentFilter(admin.SimpleListFilter):
    """Who may be contacted on a channel: a valid consent, and not marked "do not contact"."""

    title = _("consent given (contact allowed)")
    parameter_name = "consent"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(Channel.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Profile]) -> QuerySet[Profile]:
        if self.value() in Channel.values:
            return queryset.filter(pk__in=profiles_contactable(channel=self.value()).values("pk"))
        return queryset


# ---------------------------------------------------------------------------
# Profile


class IdentifierInline(admin.TabularInline):
    """Identifiers already held are shown read-only; a new one can be added (checked by IdentifierForm)."""

    model = Identifier
    form = IdentifierForm
    extra = 0
    fields = ["kind", "value", "source", "created_at"]
    readonly_fields = ["source", "created_at"]
    can_delete = False
    verbose_name_plural = _("identifiers (email addresses, phones, CRM id, cookies)")

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


# Read-only panels that apps built on profiles (scores...) add to the profile page from their own
# admin module: profiles imports none of them.
profile_page_inlines: list[type[admin.options.InlineModelAdmin]] = []


def crm_import_link(profile_admin: Any, request: HttpRequest) -> list[tuple[str, str]]:
    """The profile list's "Import a CRM file" page, when the user may import."""
    if not profile_admin.has_import_permission(request):
        return []
    return [(gettext("Import a CRM file"), reverse("admin:profiles_profile_import"))]


@admin.register(Profile)
class ProfileAdmin(CrmImportMixin, ProfileSearchMixin, admin.ModelAdmin):
    form = ProfileForm
    inlines = [IdentifierInline]
    change_form_template = "admin/profiles/profile/change_form.html"
    list_display = ["name", "email", "phone", "city", "country", "identified", "created"]
    list_display_links = ["name"]
    list_filter = [IdentifiedFilter, "country", ConsentFilter, "do_not_track", "do_not_contact"]
    search_fields = ["first_name", "last_name"]
    search_help_text = _(
        "Search by email, phone (written any way), CRM id, public id or name. "
        "Emails and phones are matched in full: “06 12 34 56 78” finds +33612345678."
    )
    ordering = ["-created_at", "-pk"]
    readonly_fields = ["tracking", "contact", "uuid", "source", "created_at", "updated_at"]
    fieldsets = [
        (_("Person"), {"fields": ["first_name", "last_name", "birth_date"]}),
        (_("Address and language"), {"fields": ["city", "postcode", "country", "language"]}),
        (_("Custom traits"), {"fields": ["traits"]}),
        (
            _("Privacy"),
            {
                "fields": ["tracking", "contact"],
                "description": _(
                    "Change these with the buttons at the top of the page: each change is kept in the privacy log."
                ),
            },
        ),
        (_("Record"), {"fields": ["uuid", "source", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]
    actions = ["merge_profiles"]

    def empty_state(self, request: HttpRequest) -> EmptyState:
        return EmptyState(
            message=gettext("No profile yet: import a CRM file."),
            explanation=gettext(
                "Profiles come from your CRM exports (CSV, as Excel saves them), from the web shop and from "
                "partners: one profile per person, whatever the number of emails and phones they used."
            ),
            links=crm_import_link(self, request),
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Profile]:
        def first_identifier(kind: str) -> Subquery:
            held = Identifier.objects.filter(profile=OuterRef("pk"), kind=kind).order_by("created_at", "pk")
            return Subquery(held.values("value")[:1])

        return (
            super()
            .get_queryset(request)
            .annotate(
                first_email=first_identifier(IdentifierKind.EMAIL),
                first_phone=first_identifier(IdentifierKind.PHONE),
                is_identified=profile_identified_filter(),
            )
        )

    def get_inlines(self, request: HttpRequest, obj: Profile | None) -> list[type[admin.options.InlineModelAdmin]]:
        # The panels take no input: shown on the page, left out of what a save reads and checks.
        panels = profile_page_inlines if request.method == "GET" else []
        return [*super().get_inlines(request, obj), *panels]

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Profile | None:
        try:
            return profile_detail(pk=self.opts.pk.to_python(object_id))
        except (Profile.DoesNotExist, ValidationError):
            return None

    # Profiles come from imports, the API and events (identity resolution), and
    # leave through a GDPR erasure, which is logged: not through the plain add and delete.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Profile | None = None) -> bool:
        return False

    def has_merge_permission(self, request: HttpRequest) -> bool:
        # Not "delete": merging keeps the person's data, so it is allowed apart from erasing it.
        return request.user.has_perms(["profiles.change_profile", "profiles.merge_profile"])

    @admin.display(description=_("name"), ordering="last_name")
    def name(self, profile: Profile) -> str:
        if not (profile.first_name or profile.last_name or profile.is_identified):
            return gettext("Anonymous visitor (profile %(id)s)") % {"id": profile.pk}
        return str(profile)

    @admin.display(description=_("email"))
    def email(self, profile: Profile) -> str | None:
        return profile.first_email

    @admin.display(description=_("phone"))
    def phone(self, profile: Profile) -> str | None:
        return profile.first_phone

    @admin.display(description=_("identified"), boolean=True, ordering="is_identified")
    def identified(self, profile: Profile) -> bool:
        return profile.is_identified

    @admin.display(description=_("created"), ordering="created_at")
    def created(self, profile: Profile) -> str:
        return date_format(timezone.localtime(profile.created_at), "SHORT_DATE_FORMAT")

    @admin.display(description=_("do not track"))
    def tracking(self, profile: Profile) -> str:
        if profile.do_not_track:
            return gettext("Yes: the person refused tracking, no events are kept about them.")
        return gettext("No: events about the person are kept.")

    @admin.display(description=_("do not contact"))
    def contact(self, profile: Profile) -> str:
        if profile.do_not_contact:
            return gettext("Yes: no message is sent to the person on any channel, whatever their consents say.")
        return gettext("No: the person may be contacted on the channels they gave consent for.")

    def save_model(self, request: HttpRequest, obj: Profile, form: ProfileForm, change: bool) -> None:
        # The form has already put the edited values on obj, so a trait the marketer
        # deleted stays deleted through the service's merge of traits.
        profile_update(
            profile=obj,
            fields={name: form.cleaned_data[name] for name in STANDARD_FIELDS if name in form.cleaned_data},
            traits=form.cleaned_data.get("traits"),
        )

    def save_formset(self, request: HttpRequest, form: Form, formset: Any, change: bool) -> None:
        # Identifiers already held are read-only here: only new ones are saved, through the service.
        for identifier in formset.save(commit=False):
            identifier_add(
                profile=form.instance, kind=identifier.kind, value=identifier.value, source=admin_source(request)
            )

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Profile | None = None,
    ) -> HttpResponse:
        if obj is not None:
            context.update(self._profile_page_context(request, obj))
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def _profile_page_context(self, request: HttpRequest, profile: Profile) -> dict[str, Any]:
        records = list(profile.consent_records.all())
        records_by_id = {record.pk: record for record in records}
        return {
            "can_record_consent": request.user.has_perm("profiles.add_consentrecord"),
            "can_change_privacy": request.user.has_perm("profiles.change_profile"),
            "can_erase": request.user.has_perm("profiles.erase_profile"),
            "consents": [
                {
                    "state": state,
                    "record": records_by_id.get(state.record_id),
                    # An empty address is every address of an email/SMS/phone channel, the person otherwise.
                    "address": state.address
                    or (gettext("every address") if state.channel in CHANNEL_ADDRESS_KIND else "—"),
                }
                for state in profile.consents.all()
            ],
            "consent_history": [
                {"record": record, "proof": self._proof_lines(record.proof)}
                for record in records[:CONSENT_HISTORY_LENGTH]
            ],
            "consent_history_total": len(records),
            "timeline": [
                {
                    "event": event,
                    "type": EVENT_TYPE_NAMES.get(event.type, event.type),
                    "details": " · ".join(f"{key}: {value}" for key, value in (event.properties or {}).items()),
                }
                for event in profile_timeline(profile=profile, limit=TIMELINE_LENGTH)
            ],
            "event_total": profile.events.count(),
            "events_url": reverse("admin:profiles_event_changelist") + f"?profile__id__exact={profile.pk}",
            "consent_log_url": reverse("admin:profiles_consentrecord_changelist") + f"?profile__id__exact={profile.pk}",
            "merges": [{"log": log, "moved": self._moved_lines(log.moved)} for log in profile.merge_logs.all()],
        }

    @staticmethod
    def _proof_lines(proof: dict[str, Any]) -> list[tuple[str, str]]:
        return [(str(PROOF_LABELS.get(key, key)), str(value)) for key, value in (proof or {}).items()]

    @staticmethod
    def _moved_lines(moved: dict[str, Any]) -> list[str]:
        kinds = dict(identifier_kind_choices())
        lines = [f"{kinds.get(kind, kind)}: {value}" for kind, value in moved.get("identifiers", [])]
        lines += [f"{_field_label(name)}: {value}" for name, value in moved.get("fields", {}).items()]
        lines += [f"{_verbose_name_plural(label)}: {count}" for label, count in moved.get("rows", {}).items()]
        return lines

    # -- Buttons of the profile page -------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        def view(function: Callable[..., HttpResponse], suffix: str, route: str) -> URLPattern:
            name = f"{self.opts.app_label}_{self.opts.model_name}_{suffix}"
            return path(f"<path:object_id>/{route}/", self.admin_site.admin_view(function), name=name)

        # Before the default URLs: "<path:object_id>/" would swallow these.
        return [
            view(self.record_consent_view, "record_consent", "record-consent"),
            view(self.gdpr_export_view, "gdpr_export", "gdpr-export"),
            view(self.gdpr_erase_view, "gdpr_erase", "gdpr-erase"),
            view(self.do_not_track_view, "do_not_track", "do-not-track"),
            view(self.do_not_contact_view, "do_not_contact", "do-not-contact"),
            *super().get_urls(),
        ]

    def _profile_or_redirect(self, request: HttpRequest, object_id: str, permission: str) -> Profile | HttpResponse:
        if not request.user.has_perm(permission):
            raise PermissionDenied
        profile = self.get_object(request, unquote(object_id))
        if profile is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        return profile

    def _change_url(self, profile: Profile) -> str:
        return reverse("admin:profiles_profile_change", args=[profile.pk])

    def _render_action_page(
        self,
        request: HttpRequest,
        profile: Profile,
        *,
        title: str,
        form: Form,
        submit_label: str,
        intro: list[str] | None = None,
        summary: list[tuple[str, int]] | None = None,
        danger: bool = False,
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": profile,
            "title": title,
            "form": form,
            "media": self.media + form.media,
            "submit_label": submit_label,
            "intro": intro or [],
            "summary": summary or [],
            "danger": danger,
            "cancel_url": self._change_url(profile),
        }
        return TemplateResponse(request, "admin/profiles/profile/action_form.html", context)

    def record_consent_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        profile = self._profile_or_redirect(request, object_id, "profiles.add_consentrecord")
        if isinstance(profile, HttpResponse):
            return profile
        form = ConsentRecordForm(request.POST or None, profile=profile)
        if request.method == "POST" and form.is_valid():
            try:
                record = consent_record(
                    profile=profile, recorded_by=request.user.get_username(), **form.service_arguments()
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                self.log_change(request, profile, gettext("Recorded a consent: %(record)s") % {"record": record})
                self.message_user(
                    request,
                    gettext("Consent recorded: %(record)s.") % {"record": record},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(self._change_url(profile))
        return self._render_action_page(
            request,
            profile,
            title=gettext("Record a consent for %(profile)s") % {"profile": profile},
            form=form,
            submit_label=gettext("Record the consent"),
            intro=[
                gettext(
                    "Use this when the person gave or withdrew consent outside the usual forms "
                    "(paper form, phone call, email). It is added to the consent log with its proof."
                )
            ],
        )

    def gdpr_export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        profile = self._profile_or_redirect(request, object_id, "profiles.change_profile")
        if isinstance(profile, HttpResponse):
            return profile
        form = PrivacyRequestForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = gdpr_export(profile=profile, actor=request.user.get_username(), reason=form.cleaned_data["reason"])
            response = HttpResponse(
                json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
                content_type="application/json; charset=utf-8",
            )
            response["Content-Disposition"] = f'attachment; filename="personal-data-{profile.uuid}.json"'
            return response
        return self._render_action_page(
            request,
            profile,
            title=gettext("Export the personal data of %(profile)s") % {"profile": profile},
            form=form,
            submit_label=gettext("Download the file"),
            intro=[
                gettext(
                    "Downloads everything held about this person (profile, identifiers, consents and their proof, "
                    "events, merge history) as a JSON file, to answer a GDPR access or portability request."
                ),
                gettext("The export is written to the privacy log, with your name."),
            ],
        )

    def gdpr_erase_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        profile = self._profile_or_redirect(request, object_id, "profiles.erase_profile")
        if isinstance(profile, HttpResponse):
            return profile
        form = PrivacyRequestForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            log = gdpr_erase(profile=profile, actor=request.user.get_username(), reason=form.cleaned_data["reason"])
            self.message_user(
                request,
                gettext(
                    "The personal data of profile %(uuid)s was erased. The privacy log keeps a trace of the "
                    "request, without personal data."
                )
                % {"uuid": log.profile_uuid},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:profiles_profile_changelist"))
        return self._render_action_page(
            request,
            profile,
            title=gettext("Erase the personal data of %(profile)s") % {"profile": profile},
            form=form,
            submit_label=gettext("Yes, erase everything"),
            intro=[
                gettext(
                    "This deletes the profile and everything held about the person, to answer a GDPR erasure "
                    "request. It cannot be undone. To keep a copy for the person, export their data first."
                ),
                gettext("What will be deleted:"),
            ],
            summary=[(str(Profile._meta.verbose_name), 1), *gdpr_held_rows(profile=profile)],
            danger=True,
        )

    def do_not_track_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        profile = self._profile_or_redirect(request, object_id, "profiles.change_profile")
        if isinstance(profile, HttpResponse):
            return profile
        if profile.do_not_track:
            intro = [
                gettext("Events about this person will be kept again from now on."),
                gettext("Events deleted when “Do not track” was turned on do not come back."),
            ]
        else:
            count = profile.events.count()
            intro = [
                ngettext(
                    "The %(count)d event already kept about this person will be deleted, "
                    "and new events will no longer be kept. This cannot be undone.",
                    "The %(count)d events already kept about this person will be deleted, "
                    "and new events will no longer be kept. This cannot be undone.",
                    count,
                )
                % {"count": count}
            ]
        return self._privacy_flag_view(
            request,
            profile,
            flag="do_not_track",
            service=profile_set_do_not_track,
            title_on=gettext("Turn on “Do not track” for %(profile)s"),
            title_off=gettext("Turn off “Do not track” for %(profile)s"),
            intro=intro,
        )

    def do_not_contact_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        profile = self._profile_or_redirect(request, object_id, "profiles.change_profile")
        if isinstance(profile, HttpResponse):
            return profile
        if profile.do_not_contact:
            intro = [gettext("The person can be contacted again on the channels they gave consent for.")]
        else:
            intro = [
                gettext(
                    "The person will get no message on any channel, whatever their consents say. "
                    "Their consents are kept as they are."
                )
            ]
        return self._privacy_flag_view(
            request,
            profile,
            flag="do_not_contact",
            service=profile_set_do_not_contact,
            title_on=gettext("Turn on “Do not contact” for %(profile)s"),
            title_off=gettext("Turn off “Do not contact” for %(profile)s"),
            intro=intro,
        )

    def _privacy_flag_view(
        self,
        request: HttpRequest,
        profile: Profile,
        *,
        flag: str,
        service: Callable[..., Profile],
        title_on: str,
        title_off: str,
        intro: list[str],
    ) -> HttpResponse:
        current = getattr(profile, flag)
        form = PrivacyFlagForm(request.POST or None, initial={"value": "off" if current else "on"})
        if request.method == "POST" and form.is_valid():
            value = form.cleaned_data["value"]
            label = capfirst(Profile._meta.get_field(flag).verbose_name)
            text = (gettext("“%(flag)s” is on.") if value else gettext("“%(flag)s” is off.")) % {"flag": label}
            if value != current:
                service(
                    profile=profile, value=value, actor=request.user.get_username(), reason=form.cleaned_data["reason"]
                )
                self.log_change(request, profile, text)
            self.message_user(request, text, messages.SUCCESS)
            return HttpResponseRedirect(self._change_url(profile))
        title = (title_off if current else title_on) % {"profile": profile}
        return self._render_action_page(
            request,
            profile,
            title=title,
            form=form,
            submit_label=gettext("Turn off") if current else gettext("Turn on"),
            intro=[*intro, gettext("The change is kept in the privacy log, with your name and the reason.")],
            danger=not current and flag == "do_not_track",
        )

    # -- Action of the profile list ---------------------------------------------

    @admin.action(description=_("Merge the selected profiles"), permissions=["merge"])
    def merge_profiles(self, request: HttpRequest, queryset: QuerySet[Profile]) -> HttpResponse | None:
        # Identified first, then the oldest: the profile identity resolution would keep.
        profiles = list(
            queryset.prefetch_related("identifiers").order_by("-is_identified", "created_at", "pk")[
                : MERGE_MAX_PROFILES + 1
            ]
        )
        if len(profiles) < 2:
            self.message_user(request, gettext("Select at least two profiles to merge."), messages.WARNING)
            return None
        if len(profiles) > MERGE_MAX_PROFILES:
            self.message_user(
                request,
                gettext("Select at most %(max)d profiles to merge at once.") % {"max": MERGE_MAX_PROFILES},
                messages.WARNING,
            )
            return None
        form = MergeForm(request.POST if "confirm" in request.POST else None, profiles=profiles)
        if form.is_valid():
            survivor = next(profile for profile in profiles if profile.pk == form.cleaned_data["survivor"])
            try:
                # All the merges or none: a conflict on the third profile leaves the first two apart.
                with transaction.atomic():
                    for other in profiles:
                        if other.pk != survivor.pk:
                            profile_merge(
                                survivor=survivor,
                                absorbed=other,
                                reason=MergeReason.MANUAL,
                                source=admin_source(request),
                            )
            except ValidationError as error:
                self.message_user(
                    request,
                    gettext("The profiles were not merged: %(reason)s") % {"reason": " ".join(error.messages)},
                    messages.ERROR,
                )
                return None
            self.message_user(
                request,
                ngettext(
                    "%(count)d profile was merged into “%(survivor)s”.",
                    "%(count)d profiles were merged into “%(survivor)s”.",
                    len(profiles) - 1,
                )
                % {"count": len(profiles) - 1, "survivor": survivor},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(self._change_url(survivor))
        chosen = str(form["survivor"].value() or profiles[0].pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Merge profiles"),
            "form": form,
            "rows": [
                {
                    "profile": profile,
                    "checked": str(profile.pk) == chosen,
                    "identifiers": [str(identifier) for identifier in profile.identifiers.all()],
                }
                for profile in profiles
            ],
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/profiles/profile/merge_confirmation.html", context)


# ---------------------------------------------------------------------------
# Logs and events: read-only


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ProfileSearchMixin, ReadOnlyAdmin):
    """The consent log is append-only: entries are added from the profile page ("Record a consent")."""

    list_display = [
        "occurred_at",
        "person",
        "channel",
        "address",
        "status",
        "legal_basis",
        "source",
        "recorded_by",
    ]
    list_filter = ["channel", "status", "legal_basis"]
    list_select_related = ["profile"]
    date_hierarchy = "occurred_at"
    search_fields = ["address"]
    profile_path = "profile__"
    search_help_text = _("Search by the person’s email, phone (written any way), CRM id, public id or name.")

    @admin.display(description=_("person"), ordering="profile__last_name")
    def person(self, record: ConsentRecord) -> str:
        return profile_link(record.profile)


@admin.register(MergeLog)
class MergeLogAdmin(ProfileSearchMixin, ReadOnlyAdmin):
    list_display = ["merged_at", "kept_profile", "absorbed_profile_id", "reason", "source"]
    list_filter = ["reason"]
    list_select_related = ["survivor"]
    date_hierarchy = "merged_at"
    search_fields = ["source"]
    profile_path = "survivor__"
    search_help_text = _("Search by the kept person’s email, phone, CRM id, public id or name, or a merged public id.")

    def search_filter(self, term: str) -> Q:
        found = super().search_filter(term)
        with contextlib.suppress(ValueError):
            found |= Q(absorbed_profile_uuid=uuid.UUID(term))
        return found

    @admin.display(description=_("kept profile"), ordering="survivor__last_name")
    def kept_profile(self, log: MergeLog) -> str:
        return profile_link(log.survivor)


@admin.register(PrivacyLog)
class PrivacyLogAdmin(ProfileSearchMixin, ReadOnlyAdmin):
    list_display = ["occurred_at", "action", "profile_uuid", "actor", "reason"]
    list_filter = ["action"]
    date_hierarchy = "occurred_at"
    search_fields = ["actor", "reason"]
    search_help_text = _(
        "Search by profile public id, by who did it or by reason; an email or phone finds the requests of a person "
        "whose profile still exists."
    )

    def search_filter(self, term: str) -> Q:
        holders = Profile.objects.filter(profile_search_q(term, names=False)).values("uuid")
        found = Q(actor__icontains=term) | Q(reason__icontains=term) | Q(profile_uuid__in=holders)
        with contextlib.suppress(ValueError):
            found |= Q(profile_uuid=uuid.UUID(term))
        return found


class EventTypeFilter(admin.SimpleListFilter):
    # The usual types, listed without reading the (large) event table.
    title = _("type")
    parameter_name = "type"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(EventType.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Event]) -> QuerySet[Event]:
        if self.value():
            return queryset.filter(type=self.value())
        return queryset


@admin.register(Event)
class EventAdmin(ProfileSearchMixin, ReadOnlyAdmin):
    list_display = ["occurred_at", "type_name", "person", "revenue", "currency", "source"]
    list_filter = [EventTypeFilter]
    list_select_related = ["profile"]
    date_hierarchy = "occurred_at"
    ordering = ["-occurred_at", "-pk"]
    # Counting every event for the "show all" link is slow on a large table.
    show_full_result_count = False
    search_fields = ["type"]
    profile_path = "profile__"
    search_names = False
    search_help_text = _("Search by the person’s email, phone (written any way), CRM id or public id.")

    @admin.display(description=_("type"), ordering="type")
    def type_name(self, event: Event) -> str:
        return EVENT_TYPE_NAMES.get(event.type, event.type)

    @admin.display(description=_("person"), ordering="profile__last_name")
    def person(self, event: Event) -> str:
        return profile_link(event.profile)


@admin.register(ProfileImport)
class ProfileImportAdmin(ProfileImportPages, ReadOnlyAdmin):
    """CRM imports (and previews) as they ran: made from the profile list's "Import a CRM file" or the command."""

    def empty_state(self, request: HttpRequest) -> EmptyState:
        return EmptyState(
            message=gettext("No CRM import yet: import a CRM file from the list of profiles."),
            explanation=gettext(
                "Each import is kept here with its figures and its rejected rows, with their line number and reason."
            ),
            links=crm_import_link(admin.site._registry[Profile], request),
        )
