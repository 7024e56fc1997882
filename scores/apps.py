from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScoresConfig(AppConfig):
    name = "scores"
    verbose_name = _("Scores")

    def ready(self) -> None:
        from profiles.services import register_merge_handler
        from scores.services import scores_merge

        register_merge_handler(scores_merge)
