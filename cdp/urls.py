from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from cdp.health import health

admin.site.site_header = _("Customer data platform")
admin.site.site_title = _("Customer data platform")
admin.site.index_title = _("Your customers, segments and campaigns")

urlpatterns = [
    path("health/", health, name="health"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("partners.urls")),
    path("", include("activations.urls")),
    path("", include("reporting.urls")),
]
