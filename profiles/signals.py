"""Signals profiles send once a change has happened (other apps listen; profiles imports none of them)."""

from django.dispatch import Signal

# Sent after the event's transaction commits, with: profile_id, event_type.
event_tracked = Signal()

# Sent once after a batch of events commits (profiles.services.events_track_bulk), with: events, a list of
# (profile_id, event_type) pairs, one per person and type the batch recorded. When it has receivers, a batch
# sends this signal instead of event_tracked: an app listening to event_tracked listens to this one too.
events_tracked = Signal()

# Sent after a withdrawal commits, with: profile_id, channel, address ("" when it covers every address).
consent_withdrawn = Signal()
