from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ActivationsConfig(AppConfig):
    name = "activations"
    verbose_name = _("Campaigns and destinations")

    def ready(self) -> None:
        from activations import sql  # noqa: F401  (registers the SQLite functions of the planning)
