"""Admin of destinations, campaigns and their runs: thin, every action calls a service."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.formats import date_format, number_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from activations.connectors import ConnectorError, connector_for
from activations.exports import csv_export_download, csv_export_path
from activations.forms import CONTENT_FIELD_NAMES, ContentFields, arm_campaign, content_fieldsets
from activations.models import (
    AudienceRemoval,
    BatchStatus,
    Campaign,
    CampaignArm,
    CampaignRun,
    ConnectorKind,
    Delivery,
    DeliveryStatus,
    Destination,
    PressureCap,
    ScheduleKind,
    WithdrawalNotice,
)
from activations.selectors import destination_delivery_history, run_batches_done
from activations.services import (
    campaign_arms_check,
    campaign_preview,
    campaign_run_retry_failed,
    campaign_run_start,
    campaign_save,
    campaign_schedule_check,
    campaign_test_send,
)
from profiles.empty_state import EmptyState, add_link
from segments.models import Segment

# Secrets a destination may hold, by the form field that sets them. They are written, never shown back.
SECRET_FIELDS: dict[str, Any] = {
    "signing_secret": _("Signing secret (webhook, whsec_…)"),
    "previous_signing_secret": _("Previous signing secret, while the receiver switches"),
    "password": _("Password"),
    "private_key": _("Private key (PEM)"),
    "key_passphrase": _("Private key passphrase"),
    "token": _("API token of the SMS provider"),
    "inbound_token": _("Token the SMS provider sends with replies"),
    "access_token": _("Access token of the ad platform (sent as Bearer)"),
}
# What each secret is for, said under its field with whether one is set.
SECRET_HELP: dict[str, Any] = {
    "signing_secret": _("Webhook: the receiver checks with it that each request comes from you."),
    "previous_signing_secret": _(
        "Webhook, while you change the secret: requests are signed with both until the receiver has the new one."
    ),
    "password": _("Email or SFTP server, or SMS provider: the password of the user name given in the settings."),
    "private_key": _("SFTP: a key that logs in instead of a password, pasted whole (“-----BEGIN …”)."),
    "key_passphrase": _("SFTP: the passphrase of the private key, if it has one."),
    "token": _("SMS provider that authenticates by token (settings “auth”: bearer or header)."),
    "inbound_token": _("SMS replies (STOP): the provider sends it with each reply, so that nobody else can."),
    "access_token": _("Ad audience: the token the ad platform gave you to update the audience."),
}
SETTINGS_HELP = _(
    "Settings of the connector, as JSON. Webhook: url, batch_size, timeout. SFTP: host, port, username, path, "
    "host_key, columns, delimiter, encoding. CSV file: columns, delimiter, encoding. Email: from_email, host, "
    "port, username, use_tls. SMS: url, auth, payload, sender. Ad audience: url, audience_id, batch_size, "
    "timeout, phone_format (digits, or e164 for Google Customer Match)."
)


class DestinationForm(forms.ModelForm):
    class Meta:
        model = Destination
        fields = ["name", "kind", "is_active", "settings"]
        help_texts = {
            "name": _("How campaigns name this destination, for example “Brevo newsletter” or “Partner SFTP”."),
            "kind": _("How the messages or files reach it."),
            "is_active": _("An inactive destination receives nothing; its campaigns wait."),
            "settings": SETTINGS_HELP,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        held = self.instance.secrets or {}
        for name in SECRET_FIELDS:
            state = gettext("Set: leave empty to keep it.") if held.get(name) else gettext("Not set.")
            self.fields[name].help_text = f"{SECRET_HELP[name]} {state}"

    def save(self, commit: bool = True) -> Destination:
        destination = super().save(commit=False)
        secrets = dict(destination.secrets or {})
        for name in SECRET_FIELDS:
            if self.cleaned_data.get(f"clear_{name}"):
                secrets.pop(name, None)
            elif self.cleaned_data.get(name):
                secrets[name] = self.cleaned_data[name]
        destination.secrets = secrets
        if commit:
            destination.save()
        return destination


# The secret fields are declared on the form class (the admin only accepts declared fields); a
# password input never renders its value back, and an empty one keeps the stored secret.
for _name, _label in SECRET_FIELDS.items():
    DestinationForm.base_fields[_name] = DestinationForm.declared_fields[_name] = forms.CharField(
        label=_label,
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3}) if _name == "private_key" else forms.PasswordInput(),
    )
    DestinationForm.base_fields[f"clear_{_name}"] = DestinationForm.declared_fields[f"clear_{_name}"] = (
        forms.BooleanField(label=_("Remove it"), required=False, help_text=_("Tick to delete the secret saved above."))
    )


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin):
    form = DestinationForm
    list_display = ["name", "kind", "is_active", "campaign_count", "updated_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    actions = ["connection_test"]
    readonly_fields = ["delivery_history"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Destination]:
        return super().get_queryset(request).annotate(campaign_total=Count("campaigns"))

    def empty_state(self, request: HttpRequest) -> EmptyState:
        return EmptyState(
            message=gettext("No destination yet: add the place your campaigns send to."),
            explanation=gettext(
                "A destination is your email or SMS provider, a webhook of a partner tool, an SFTP server or an ad "
                "platform. Once it is added, test the connection from this list."
            ),
            links=add_link(request, Destination, _("Add a destination")),
        )

    @admin.display(description=_("campaigns"), ordering="campaign_total")
    def campaign_count(self, destination: Destination) -> int:
        return destination.campaign_total

    def get_fieldsets(self, request: HttpRequest, obj: Destination | None = None) -> list:
        secrets = []
        for name in SECRET_FIELDS:
            secrets += [name, f"clear_{name}"]
        fieldsets = [
            (None, {"fields": ["name", "kind", "is_active", "settings"]}),
            (_("Secrets (never shown again once saved)"), {"fields": secrets, "classes": ["collapse"]}),
        ]
        if obj is not None:
            fieldsets.append((_("Deliveries of the last 30 days"), {"fields": ["delivery_history"]}))
        return fieldsets

    @admin.display(description=_("delivered and failed per day"))
    def delivery_history(self, destination: Destination) -> str:
        days = destination_delivery_history(destination=destination)
        if not days:
            return gettext("Nothing sent through this destination in the last 30 days.")
        widest = max(day.delivered + day.failed for day in days)
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td style="width: 50%">'
            '<span style="display: inline-block; height: .8em; width: {}%; background: #417690"></span>'
            '<span style="display: inline-block; height: .8em; width: {}%; background: #ba2121"></span></td></tr>',
            (
                (
                    date_format(day.day, "SHORT_DATE_FORMAT"),
                    number_format(day.delivered, force_grouping=True),
                    number_format(day.failed, force_grouping=True),
                    number_format(100 * day.failed / (day.delivered + day.failed), decimal_pos=1) + "\u00a0%",
                    round(100 * day.delivered / widest, 1),
                    round(100 * day.failed / widest, 1),
                )
                for day in days
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead>"
            "<tbody>{}</tbody></table>",
            gettext("Day"),
            gettext("Delivered"),
            gettext("Failed"),
            gettext("Failure rate"),
            rows,
        )

    # Testing uses the secrets and reaches the outside: part of setting a destination up.
    @admin.action(description=_("Test the connection"), permissions=["change"])
    def connection_test(self, request: HttpRequest, queryset: QuerySet[Destination]) -> None:
        for destination in queryset:
            try:
                said = connector_for(destination).test_connection()
            except ConnectorError as error:
                self.message_user(request, f"{destination}: {error}", messages.ERROR)
            else:
                self.message_user(request, f"{destination}: {said}", messages.SUCCESS)


def channel_mismatch(destination: Destination | None, channel: str | None) -> str | None:
    """Why ``destination`` cannot send on ``channel`` (email, SMS and ad audiences have one channel), or None."""
    wanted = {ConnectorKind.EMAIL: "email", ConnectorKind.SMS: "sms", ConnectorKind.AD_AUDIENCE: "advertising"}
    if destination and channel and destination.kind in wanted and wanted[destination.kind] != channel:
        return gettext("The destination “%(destination)s” sends on the channel “%(channel)s” only.") % {
            "destination": destination,
            "channel": wanted[destination.kind],
        }
    return None


class CampaignForm(ContentFields, forms.ModelForm):
    class Meta:
        model = Campaign
        fields = [
            "name", "slug", "description", "segments", "channel", "destination", "holdout_percent",
            "pressure_max_messages", "pressure_window_days", "priority", "fixed_cost", "cost_per_send", "currency",
            "status", "schedule", "send_at", "recurrence", "send_time", "send_weekday", "send_monthday",
            "trigger_event_type", "trigger_delay_minutes", "cancel_event_type", "send_at_best_hour",
            "best_hour_window_hours",
        ]  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "best_hour_window_hours" in self.fields:
            self.fields["best_hour_window_hours"].required = False
        self.content_initial(self.instance.content, self.instance.channel)

    def clean_best_hour_window_hours(self) -> int:
        # Left empty (or not shown): the usual window.
        window = self.cleaned_data.get("best_hour_window_hours")
        return Campaign._meta.get_field("best_hour_window_hours").default if window is None else window

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("segments") and cleaned.get("schedule") != ScheduleKind.EVENT:
            self.add_error("segments", gettext("Choose at least one segment: who should receive it?"))
        mismatch = channel_mismatch(cleaned.get("destination"), cleaned.get("channel"))
        if mismatch:
            self.add_error("channel", mismatch)
        content = self.content_build(channel=cleaned.get("channel"), destination=cleaned.get("destination"))
        if content is not None:
            self.instance.content = content
        return cleaned

    def _post_clean(self) -> None:
        super()._post_clean()
        # The schedule's rules live in the service; the instance now holds the submitted values.
        try:
            campaign_schedule_check(self.instance)
        except ValidationError as error:
            self._update_errors(error)


class ArmForm(ContentFields, forms.ModelForm):
    class Meta:
        model = CampaignArm
        fields = ["name", "share_percent", "channel", "destination"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        campaign = arm_campaign(self.instance)
        self.content_initial(self.instance.content, self.instance.channel or (campaign.channel if campaign else None))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # The formset's campaign: on the add page it is not saved yet, and the variant does not know it.
        campaign = cleaned.get("campaign") or arm_campaign(self.instance)
        channel = cleaned.get("channel") or (campaign.channel if campaign else None)
        destination = cleaned.get("destination") or (campaign.destination if campaign else None)
        mismatch = channel_mismatch(destination, channel)
        if mismatch:
            self.add_error("channel" if cleaned.get("channel") else "destination", mismatch)
        # A variant without a message of its own sends the campaign's.
        if not any(cleaned.get(name) for name in CONTENT_FIELD_NAMES):
            self.instance.content = {}
        else:
            content = self.content_build(channel=channel, destination=destination)
            if content is not None:
                self.instance.content = content
        return cleaned


class ArmFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        shares = [
            form.cleaned_data["share_percent"]
            for form in self.forms
            if form.cleaned_data.get("share_percent") is not None and not form.cleaned_data.get("DELETE")
        ]
        campaign_arms_check(shares=shares)


class ArmInline(admin.StackedInline):
    model = CampaignArm
    form = ArmForm
    formset = ArmFormSet
    extra = 0
    fieldsets = [
        (None, {"fields": ["name", "share_percent", "channel", "destination"]}),
        *content_fieldsets(variant=True),
    ]
    verbose_name = _("variant (A/B test)")
    verbose_name_plural = _(
        "A/B test: variants that each take a share of the treatment group (the campaign's own message keeps the rest)"
    )


class RunInline(admin.TabularInline):
    model = CampaignRun
    fields = ["created_at", "trigger", "status", "finished_at"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    ordering = ["-created_at"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = ["name", "channel", "destination", "status", "schedule", "priority", "holdout_percent"]
    list_filter = ["status", "channel", "schedule"]
    list_select_related = ["destination"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["segments"]
    inlines = [ArmInline, RunInline]
    actions = ["send_now", "send_test"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "status"]}),
        (_("Audience and channel"), {"fields": ["segments", "channel", "destination"]}),
        *content_fieldsets(),
        (
            _("Control group and pressure"),
            {
                "fields": [
                    "holdout_percent",
                    "pressure_max_messages",
                    "pressure_window_days",
                    "priority",
                ]
            },
        ),  # fmt: skip
        (
            _("When to send"),
            {
                "fields": [
                    "schedule",
                    "send_at",
                    "recurrence",
                    "send_time",
                    "send_weekday",
                    "send_monthday",
                    "trigger_event_type",
                    "trigger_delay_minutes",
                    "cancel_event_type",
                    "send_at_best_hour",
                    "best_hour_window_hours",
                ]
            },  # fmt: skip
        ),
        (_("Cost"), {"fields": ["fixed_cost", "cost_per_send", "currency"]}),
    ]

    def save_model(self, request: HttpRequest, obj: Campaign, form: forms.Form, change: bool) -> None:
        campaign_save(campaign=obj)

    def empty_state(self, request: HttpRequest) -> EmptyState:
        # A campaign needs both: point to whichever is missing first.
        links = []
        if not Segment.objects.exists():
            links += add_link(request, Segment, _("Create a segment"))
        if not Destination.objects.exists():
            links += add_link(request, Destination, _("Add a destination"))
        return EmptyState(
            message=gettext("No campaign yet: pick a segment and a destination first."),
            explanation=gettext(
                "A campaign sends a message (or a file) to the people of its segments through a destination, "
                "keeping a control group aside to measure what it brings."
            ),
            links=[*links, *add_link(request, Campaign, _("Create a campaign"))],
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="activations_campaign_preview",
            ),
            path(
                "<path:object_id>/send/",
                self.admin_site.admin_view(self.send_view),
                name="activations_campaign_send",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        campaign = self.get_object(request, object_id)
        if campaign is None or not self.has_view_permission(request, campaign):
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        preview = campaign_preview(campaign=campaign)
        labels = dict(DeliveryStatus.choices)
        rows = [
            {"status": labels.get(status, status), "count": count, "sample": preview.samples.get(status, [])}
            for status, count in sorted(preview.counts.items(), key=lambda item: -item[1])
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": campaign,
            "title": gettext("Before sending “%(name)s”") % {"name": campaign},
            "rows": rows,
            "total": sum(preview.counts.values()),
            "variants": [
                {
                    "name": name,
                    "to_send": counts.get(DeliveryStatus.PENDING, 0),
                    "no_consent": counts.get(DeliveryStatus.SUPPRESSED_NO_CONSENT, 0),
                    "over_cap": counts.get(DeliveryStatus.SUPPRESSED_PRESSURE, 0),
                }
                for name, counts in preview.variants.items()
            ],
        }
        context["can_send"] = self.has_change_permission(request, campaign)
        return TemplateResponse(request, "admin/activations/campaign/preview.html", context)

    @method_decorator(require_POST)
    def send_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The preview's “Send now”: start a run, then show it, where its progress can be followed."""
        campaign = self.get_object(request, object_id)
        if campaign is None or not self.has_change_permission(request, campaign):
            raise PermissionDenied
        try:
            run = campaign_run_start(campaign=campaign, trigger="manual")
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.WARNING)
            return HttpResponseRedirect(reverse("admin:activations_campaign_preview", args=[campaign.pk]))
        self.message_user(
            request, gettext("“%(name)s” is being sent: this page follows its progress.") % {"name": campaign}
        )
        return HttpResponseRedirect(reverse("admin:activations_campaignrun_change", args=[run.pk]))

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        obj = kwargs.get("obj")
        if obj is not None:
            context["preview_url"] = reverse("admin:activations_campaign_preview", args=[obj.pk])
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.action(description=_("Send now"), permissions=["change"])
    def send_now(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        started = 0
        for campaign in queryset:
            try:
                campaign_run_start(campaign=campaign, trigger="manual")
            except ValidationError as error:
                self.message_user(request, f"{campaign}: {' '.join(error.messages)}", messages.WARNING)
            else:
                started += 1
        if started:
            self.message_user(
                request,
                ngettext(
                    "%(count)d campaign is being sent; follow it in its runs.",
                    "%(count)d campaigns are being sent; follow them in their runs.",
                    started,
                )
                % {"count": started},
                messages.SUCCESS,
            )

    @admin.action(description=_("Send a test to me"), permissions=["view"])
    def send_test(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            try:
                outcomes = campaign_test_send(campaign=campaign, user=request.user)
            except (ValidationError, ConnectorError) as error:
                self.message_user(request, f"{campaign}: {' '.join(getattr(error, 'messages', [str(error)]))}",
                                  messages.ERROR)  # fmt: skip
                continue
            for name, outcome in outcomes:
                if outcome.delivered:
                    self.message_user(
                        request,
                        gettext("%(campaign)s: a test was sent to %(email)s.")
                        % {"campaign": name, "email": request.user.email},
                        messages.SUCCESS,
                    )
                else:
                    reasons = [*outcome.failed.values(), *outcome.retry.values()]
                    self.message_user(
                        request,
                        gettext("%(campaign)s: the test could not be sent: %(reason)s")
                        % {"campaign": name, "reason": reasons[0] if reasons else "?"},
                        messages.ERROR,
                    )


def _status_count(status: str) -> Count:
    return Count("deliveries", filter=Q(deliveries__status=status))


class AudienceRemovalInline(admin.TabularInline):
    """The people a run took out of its ad audience: how many, and whether the platform has done it."""

    model = AudienceRemoval
    fields = readonly_fields = ["destination", "people", "status", "attempts", "next_attempt_at", "error", "sent_at"]
    extra = 0
    can_delete = False
    verbose_name_plural = _("removals from the ad audience")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CampaignRun)
class CampaignRunAdmin(admin.ModelAdmin):
    list_display = [
        "__str__", "trigger", "status", "progress", "delivered", "failed", "held_out", "no_consent", "pressure",
    ]  # fmt: skip
    list_filter = ["status", "trigger", "campaign"]
    list_select_related = ["campaign__destination"]
    readonly_fields = ["campaign", "trigger", "status", "batch_size", "batches", "created_at", "planned_at",
                       "finished_at", "error", "progress", "file"]  # fmt: skip
    fields = readonly_fields
    actions = ["retry_failed"]
    inlines = [AudienceRemovalInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def empty_state(self, request: HttpRequest) -> EmptyState:
        campaigns = reverse("admin:activations_campaign_changelist")
        return EmptyState(
            message=gettext("No campaign run yet: start a campaign, or wait for its schedule."),
            explanation=gettext(
                "Each send of a campaign is a run: who received it, who was held out, and what failed. In the list "
                "of campaigns, tick one and choose “Send now”."
            ),
            links=[(gettext("Go to the campaigns"), campaigns)],
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<uuid:run_uuid>/file/",
                self.admin_site.admin_view(csv_export_download),
                name="activations_campaignrun_file",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("file"))
    def file(self, run: CampaignRun) -> str:
        if run.campaign.destination.kind != ConnectorKind.CSV_FILE or not csv_export_path(run.uuid).exists():
            return "—"
        url = reverse("admin:activations_campaignrun_file", args=[run.uuid])
        return format_html('<a href="{}">{}</a>', url, gettext("Download the CSV file"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[CampaignRun]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_delivered=_status_count(DeliveryStatus.DELIVERED) + _status_count(DeliveryStatus.SENT),
                n_failed=_status_count(DeliveryStatus.FAILED),
                n_held_out=_status_count(DeliveryStatus.HELD_OUT),
                n_no_consent=_status_count(DeliveryStatus.SUPPRESSED_NO_CONSENT),
                n_pressure=_status_count(DeliveryStatus.SUPPRESSED_PRESSURE),
                n_batches_done=run_batches_done(),
            )
        )

    @admin.display(description=_("progress"))
    def progress(self, run: CampaignRun) -> str:
        done = getattr(run, "n_batches_done", None)
        if done is None:
            done = run.delivery_batches.filter(status__in=[BatchStatus.DONE, BatchStatus.FAILED]).count()
        if not run.batches:
            return "—"
        percent = int(100 * done / run.batches)
        return format_html('<progress max="100" value="{}"></progress> {} / {}', percent, done, run.batches)

    @admin.display(description=_("delivered"))
    def delivered(self, run: CampaignRun) -> int:
        return run.n_delivered

    @admin.display(description=_("failed"))
    def failed(self, run: CampaignRun) -> int:
        return run.n_failed

    @admin.display(description=_("held out"))
    def held_out(self, run: CampaignRun) -> int:
        return run.n_held_out

    @admin.display(description=_("no consent"))
    def no_consent(self, run: CampaignRun) -> int:
        return run.n_no_consent

    @admin.display(description=_("pressure cap"))
    def pressure(self, run: CampaignRun) -> int:
        return run.n_pressure

    @admin.action(description=_("Retry the failed deliveries"), permissions=["change"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[CampaignRun]) -> None:
        count = sum(campaign_run_retry_failed(run=run) for run in queryset)
        self.message_user(
            request,
            ngettext("%(count)d delivery is sent again.", "%(count)d deliveries are sent again.", count)
            % {"count": count},
            messages.SUCCESS if count else messages.INFO,
        )


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["profile", "run", "channel", "status", "address", "attempts", "error", "sent_at"]
    list_filter = ["status", "channel"]
    list_select_related = ["profile", "run__campaign"]
    raw_id_fields = ["profile", "run"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False


@admin.register(PressureCap)
class PressureCapAdmin(admin.ModelAdmin):
    list_display = ["__str__", "channel", "max_messages", "window_days"]


@admin.register(WithdrawalNotice)
class WithdrawalNoticeAdmin(admin.ModelAdmin):
    list_display = ["profile", "destination", "channel", "status", "attempts", "error", "created_at", "sent_at"]
    list_filter = ["status", "channel", "destination"]
    list_select_related = ["profile", "destination"]
    raw_id_fields = ["profile"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WithdrawalNotice | None = None) -> bool:
        return False
