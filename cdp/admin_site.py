"""The admin site: a marketer's pages first, in the order of their work; technical pages last."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

# Apps and, inside each, models in the order a marketer meets them. Anything not named follows, alphabetically.
APP_ORDER = ["profiles", "segments", "activations", "reporting", "scores", "partners", "auth", "django_celery_beat"]
MODEL_ORDER = {
    "profiles": ["Profile", "ProfileImport", "Event", "ConsentRecord", "MergeLog", "PrivacyLog"],
    "activations": ["Campaign", "CampaignRun", "Destination", "PressureCap", "Delivery", "WithdrawalNotice"],
    "reporting": ["Dashboard"],
}


def _position(order: list[str], name: str) -> tuple[int, str]:
    return (order.index(name) if name in order else len(order), name)


class CdpAdminSite(admin.AdminSite):
    site_header = _("Customer data platform")
    site_title = _("Customer data platform")
    index_title = _("Your customers, segments and campaigns")
    site_url = None  # no public site behind the platform: no "View site" link leading to a 404

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        from reporting.home import home_figures  # the apps are loaded once the site serves a page

        return super().index(request, {"home": home_figures(user=request.user), **(extra_context or {})})

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict]:
        apps = super().get_app_list(request, app_label)
        for app in apps:
            order = MODEL_ORDER.get(app["app_label"], [])
            app["models"].sort(key=lambda model: _position(order, model["object_name"]))
        return sorted(apps, key=lambda app: _position(APP_ORDER, app["app_label"]))


class CdpAdminConfig(AdminConfig):
    default_site = "cdp.admin_site.CdpAdminSite"
