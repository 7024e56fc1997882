"""Public addresses of the campaigns: unsubscribe links in messages, replies posted by SMS providers."""

from django.urls import path

from activations.inbound import inbound_sms_view
from activations.unsubscribe import unsubscribe_view

app_name = "activations"

urlpatterns = [
    path("unsubscribe/<str:token>/", unsubscribe_view, name="unsubscribe"),
    path("inbound/sms/<int:destination_id>/", inbound_sms_view, name="inbound_sms"),
]
