"""Reporting in the admin: the dashboard (tables, charts, CSV exports), conversion types and attribution windows."""

import csv
import datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from activations.models import Campaign
from profiles.empty_state import EmptyState, add_link
from reporting import formatting
from reporting.dashboard import Table, dashboard_tables
from reporting.forms import DashboardFilterForm
from reporting.models import CampaignAttribution, ConversionType, Dashboard
from reporting.selectors import campaign_sent_exists, refresh_last, refresh_request_pending
from reporting.services import reporting_refresh_request


def table_csv(table: Table) -> HttpResponse:
    """One table as a CSV file: ``;`` and decimal commas in French (as Excel reads them there), ``,`` otherwise."""
    french = (get_language() or "en").startswith("fr")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slugify(str(table.title)) or table.name}.csv"'
    response.write("\ufeff")  # Excel opens UTF-8 with its BOM
    writer = csv.writer(response, delimiter=";" if french else ",")
    writer.writerow([str(column.title) for column in table.columns])
    for row in table.rows:
        writer.writerow([formatting.csv_value(row.get(column.key), column.kind) for column in table.columns])
    return response


# An update this recent is said to be "less than a minute ago" (the time since it would read "0 minutes").
JUST_NOW = datetime.timedelta(minutes=1)


def no_campaign_empty_state(request: HttpRequest, site: admin.AdminSite) -> EmptyState:
    """What the report says before the first campaign run: what to do, with the links the user may follow."""
    links = add_link(request, Campaign, _("Create a campaign"))
    campaigns = site._registry.get(Campaign)
    if campaigns is not None and campaigns.has_view_permission(request):
        links.append((gettext("See the campaigns"), reverse("admin:activations_campaign_changelist")))
    return EmptyState(
        message=gettext("No campaign has been sent yet: this report fills in after the first one."),
        explanation=gettext(
            "Create a campaign on a segment, keep a control group (%(share)s is usual) and send it. Its return on "
            "investment, the uplift against the control group and the delivery quality then appear here. The "
            "figures on your customers are below."
        )
        % {"share": formatting.percent(Decimal("0.1"), 0)},
        links=links,
    )


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        refresh = path("refresh/", self.admin_site.admin_view(self.refresh_view), name="reporting_dashboard_refresh")
        return [refresh, *super().get_urls()]

    def refresh_view(self, request: HttpRequest) -> HttpResponse:
        """The "update the figures now" button: queue a reporting refresh, then back to the dashboard.

        Whoever may read the dashboard may ask: an update changes no data, it only recomputes the figures
        they already see, and clicks while one waits make one update.
        """
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        reporting_refresh_request(requested_by=request.user.get_username())
        self.message_user(
            request,
            gettext(
                "The figures are being updated: this page shows them as soon as they are ready, usually within "
                "a minute."
            ),
            messages.SUCCESS,
        )
        url = reverse("admin:reporting_dashboard_changelist")
        # Back to the same filters; only the query string comes from the form, the address is ours.
        query = QueryDict(request.POST.get("query", "")).urlencode()
        return HttpResponseRedirect(f"{url}?{query}" if query else url)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = DashboardFilterForm(request.GET or None)
        filters = form.filters()
        campaigns_sent = campaign_sent_exists()
        tables = dashboard_tables(filters, campaigns_sent=campaigns_sent)
        export = request.GET.get("export")
        if export:
            for table in tables:
                if table.name == export:
                    return table_csv(table)
        query = request.GET.copy()
        query.pop("export", None)
        refreshed = refresh_last()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Reporting dashboard"),
            "opts": self.model._meta,
            "form": form,
            "tables": tables,
            "query": query.urlencode(),
            "refreshed": refreshed,
            "refreshed_just_now": refreshed is not None and timezone.now() - refreshed.finished_at < JUST_NOW,
            "refresh_pending": refresh_request_pending(),
            "empty_state": None if campaigns_sent else no_campaign_empty_state(request, self.admin_site),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/reporting/dashboard.html", context)


class ConversionTypeForm(forms.ModelForm):
    class Meta:
        model = ConversionType
        fields = ["event_type", "name", "is_active"]
        # Here rather than on the model: the same words, without a migration of the reporting tables.
        help_texts = {
            "name": _("How the reports call it, for example “Online purchase”."),
            "is_active": _("Untick to stop counting it as a conversion in the reports; its events are kept."),
        }


class CampaignAttributionForm(forms.ModelForm):
    class Meta:
        model = CampaignAttribution
        fields = ["campaign", "window_days"]
        help_texts = {
            "campaign": _("The campaign that gets its own window; the others keep the usual one."),
        }


@admin.register(ConversionType)
class ConversionTypeAdmin(admin.ModelAdmin):
    form = ConversionTypeForm
    list_display = ["event_type", "name", "is_active"]
    list_editable = ["is_active"]

    def empty_state(self, request: HttpRequest) -> EmptyState:
        return EmptyState(
            message=gettext("No conversion type yet: purchases count as conversions until you add one."),
            explanation=gettext(
                "Add the events that count as a success of your campaigns, for example purchase, subscription or "
                "sign_up: the reports credit them, and their revenue, to the campaigns that led to them."
            ),
            links=add_link(request, ConversionType, _("Add a conversion type")),
        )


@admin.register(CampaignAttribution)
class CampaignAttributionAdmin(admin.ModelAdmin):
    form = CampaignAttributionForm
    list_display = ["campaign", "window_days"]
    list_select_related = ["campaign"]
