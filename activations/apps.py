from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ActivationsConfig(AppConfig):
    name = "activations"
    verbose_name = _("Campaigns and destinations")

    def ready(self) -> None:
        from activations import sql  # noqa: F401  (registers the SQLite functions of the planning)
        from activations.receivers import (
            campaigns_on_event,
            campaigns_on_events,
            campaigns_on_segment_change,
            destinations_on_withdrawal,
        )
        from profiles.signals import consent_withdrawn, event_tracked, events_tracked
        from segments.signals import segment_membership_changed

        event_tracked.connect(campaigns_on_event, dispatch_uid="campaigns_on_event")
        events_tracked.connect(campaigns_on_events, dispatch_uid="campaigns_on_events")
        segment_membership_changed.connect(campaigns_on_segment_change, dispatch_uid="campaigns_on_segment_change")
        consent_withdrawn.connect(destinations_on_withdrawal, dispatch_uid="destinations_on_withdrawal")
