from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = _("Reporting")

    def ready(self) -> None:
        # activations must not import reporting: the connectors call whatever is registered here.
        from activations.connectors import register_link_rewriter
        from reporting.links import message_track

        register_link_rewriter(message_track)
