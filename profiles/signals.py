"""Signals profiles send once a change has happened (other apps listen; profiles imports none of them)."""

from django.dispatch import Signal

# Sent after the event's transaction commits, with: profile_id, event_type.
event_tracked = Signal()

# Sent after a withdrawal commits, with: profile_id, channel, address ("" when it covers every address).
consent_withdrawn = Signal()
