"""The marketers' screens for partners: who may call the API, with which keys, what they may do, what they did.

Keys are created and revoked through ``partners.services``; a new key is shown
once, in a message, and only its fingerprint is kept. The audit log and the
GDPR requests are read-only.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from partners.models import ApiKey, GdprRequest, Partner, PartnerCall, Scope
from partners.services import api_key_create, api_key_revoke


def _actor(request: HttpRequest) -> str:
    # Stored data, so not translated.
    return f"admin ({request.user.get_username()})"


def _show_new_key(request: HttpRequest, partner: Partner, raw_key: str) -> None:
    messages.warning(
        request,
        format_html(
            '{} <code style="user-select: all">{}</code> {}',
            gettext("New API key for %(partner)s:") % {"partner": partner},
            raw_key,
            gettext("Copy it now and give it to the partner: it will not be shown again."),
        ),
    )


class PartnerForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=capfirst(_("permissions (scopes)")),
        choices=Scope.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("What the partner may do through the API. Give only what it needs."),
    )

    class Meta:
        model = Partner
        fields = [
            "name",
            "slug",
            "description",
            "is_active",
            "channel",
            "scopes",
            "rate_limit_per_minute",
            "segments",
            "campaigns",
        ]


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    can_delete = False
    fields = ["prefix", "name", "created_at", "created_by", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "name", "created_at", "created_by", "last_used_at", "revoked_at"]
    verbose_name_plural = _("API keys (create one with the action “Create a new API key” on the partner list)")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    form = PartnerForm
    list_display = ["name", "channel", "scope_list", "active_keys", "rate_limit_per_minute", "is_active"]
    list_filter = ["is_active", "channel"]
    search_fields = ["name", "slug", "description"]
    search_help_text = _("Search by name or short name.")
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["segments", "campaigns"]
    inlines = [ApiKeyInline]
    actions = ["create_key"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "is_active"]}),
        (_("What the partner may do"), {"fields": ["scopes", "channel", "rate_limit_per_minute"]}),
        (_("What is shared with the partner"), {"fields": ["segments", "campaigns"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Partner]:
        return (
            super()
            .get_queryset(request)
            .annotate(active_key_count=Count("api_keys", filter=Q(api_keys__revoked_at__isnull=True)))
        )

    @admin.display(description=_("permissions (scopes)"))
    def scope_list(self, partner: Partner) -> str:
        labels = dict(Scope.choices)
        return ", ".join(str(labels.get(scope, scope)) for scope in partner.scopes or []) or "—"

    @admin.display(description=_("active keys"), ordering="active_key_count")
    def active_keys(self, partner: Partner) -> int:
        return partner.active_key_count

    def save_model(self, request: HttpRequest, obj: Partner, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            _api_key, raw_key = api_key_create(partner=obj, created_by=_actor(request))
            _show_new_key(request, obj, raw_key)

    @admin.action(description=_("Create a new API key"), permissions=["change"])
    def create_key(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        for partner in queryset:
            _api_key, raw_key = api_key_create(partner=partner, created_by=_actor(request))
            _show_new_key(request, partner, raw_key)


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["partner", "name"]
        help_texts = {"partner": _("The partner that will use the key.")}


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["prefix", "partner", "name", "created_at", "last_used_at", "state"]
    list_filter = ["partner", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["partner"]
    search_fields = ["prefix", "name", "partner__name"]
    search_help_text = _("Search by the start of the key, its label or the partner.")
    readonly_fields = ["prefix", "created_at", "created_by", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return ["partner", "name"]
        return ["partner", "name", "prefix", "created_at", "created_by", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        return self.readonly_fields if obj is None else ["partner", *self.readonly_fields]

    @admin.display(description=_("state"))
    def state(self, api_key: ApiKey) -> str:
        return gettext("revoked") if api_key.is_revoked else gettext("active")

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created, raw_key = api_key_create(partner=obj.partner, name=obj.name, created_by=_actor(request))
        obj.pk, obj.prefix = created.pk, created.prefix
        _show_new_key(request, obj.partner, raw_key)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A key is revoked, not deleted: the audit log keeps pointing at it.
        return False

    @admin.action(description=_("Revoke the selected keys"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(api_key=api_key)
            count += 1
        self.message_user(
            request,
            ngettext(
                "%(count)s key revoked: it is refused from now on.",
                "%(count)s keys revoked: they are refused from now on.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PartnerCall)
class PartnerCallAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "partner", "method", "endpoint", "status", "duration_ms"]
    list_filter = ["partner", "status", "method"]
    list_select_related = ["partner"]
    date_hierarchy = "occurred_at"
    search_fields = ["endpoint"]
    search_help_text = _("Search by endpoint name, for example partners:event-track.")


@admin.register(GdprRequest)
class GdprRequestAdmin(ReadOnlyAdmin):
    list_display = ["requested_at", "partner", "kind", "status", "profile_uuid", "completed_at"]
    list_filter = ["partner", "kind", "status"]
    list_select_related = ["partner"]
    search_fields = ["profile_uuid"]
    search_help_text = _("Search by the profile's public id.")
