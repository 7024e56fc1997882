from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "segments"
    verbose_name = _("Segments")

    def ready(self) -> None:
        from profiles.services import register_merge_handler
        from profiles.signals import event_tracked, events_tracked
        from segments import control  # noqa: F401  (registers the SQLite control-group function)
        from segments.receivers import segments_on_event, segments_on_events
        from segments.services import memberships_merge

        register_merge_handler(memberships_merge)
        event_tracked.connect(segments_on_event, dispatch_uid="segments_on_event")
        events_tracked.connect(segments_on_events, dispatch_uid="segments_on_events")
