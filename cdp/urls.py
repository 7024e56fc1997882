from django.contrib import admin
from django.urls import include, path

from cdp.health import health

urlpatterns = [
    path("health/", health, name="health"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("partners.urls")),
    path("", include("activations.urls")),
    path("", include("reporting.urls")),
]
