"""Receivers: what segments do when something happened elsewhere. Each calls a service."""

import logging

from segments.services import segment_profile_evaluate, segment_profiles_evaluate

logger = logging.getLogger(__name__)


def segments_on_event(sender, *, profile_id: int, event_type: str, **kwargs) -> None:  # noqa: ANN001, ANN003
    """An event arrived (and committed): re-evaluate that profile in the segments reading its type."""
    try:
        segment_profile_evaluate(profile_id=profile_id, event_type=event_type)
    except Exception:
        # The event itself is kept; the next full refresh of the segments catches up.
        logger.exception("Real-time segment evaluation failed for profile %s after a %s event", profile_id, event_type)


def segments_on_events(sender, *, events: list[tuple[int, str]], **kwargs) -> None:  # noqa: ANN001, ANN003
    """A batch of events committed: re-evaluate each profile in the segments reading the types it did."""
    segment_profiles_evaluate(events=events)
