"""Signals segments send once a change has happened (campaign triggers listen to them)."""

from django.dispatch import Signal

# Sent after commit with: segment, entered (profile ids), left (profile ids),
# refresh (the SegmentRefresh for a full refresh, None for a real-time change).
segment_membership_changed = Signal()
