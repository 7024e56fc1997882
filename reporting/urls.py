"""Public addresses of reporting: tracked links and the email open pixel (under /r/)."""

from django.urls import path

from reporting.views import click_view, open_view

app_name = "reporting"

urlpatterns = [
    path("r/<str:token>/", click_view, name="click"),
    path("r/o/<str:token>/", open_view, name="open"),
]
