"""Reporting in the admin: the dashboard (tables, charts, CSV exports), conversion types and attribution windows."""

import csv
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from reporting import formatting
from reporting.dashboard import Table, dashboard_tables
from reporting.forms import DashboardFilterForm
from reporting.models import CampaignAttribution, ConversionType, Dashboard
from reporting.selectors import campaign_sent_exists, refresh_last


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


def _url_if_allowed(request: HttpRequest, permission: str, name: str) -> str:
    return reverse(name) if request.user.has_perm(permission) else ""


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

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
        context = {
            **self.admin_site.each_context(request),
            "title": _("Reporting dashboard"),
            "opts": self.model._meta,
            "form": form,
            "tables": tables,
            "query": query.urlencode(),
            "refreshed": refresh_last(),
            "campaigns_sent": campaigns_sent,
            "campaigns_url": _url_if_allowed(
                request, "activations.view_campaign", "admin:activations_campaign_changelist"
            ),
            "campaign_add_url": _url_if_allowed(request, "activations.add_campaign", "admin:activations_campaign_add"),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/reporting/dashboard.html", context)


@admin.register(ConversionType)
class ConversionTypeAdmin(admin.ModelAdmin):
    list_display = ["event_type", "name", "is_active"]
    list_editable = ["is_active"]


@admin.register(CampaignAttribution)
class CampaignAttributionAdmin(admin.ModelAdmin):
    list_display = ["campaign", "window_days"]
    list_select_related = ["campaign"]
