"""Segments: audiences defined by rules (or by an uploaded list), their members and their history.

A segment's rules are a JSON tree of groups and conditions (``segments.rules``
describes and checks it, ``segments.compiler`` turns it into one SQL query).
Membership is materialised: a refresh writes who entered and who left, so the
volume of a segment over time can be reported, and campaigns read a snapshot
without re-evaluating the rules.
"""

import secrets
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_celery_beat.models import PeriodicTask

from profiles.models import Profile


def control_salt_new() -> str:
    return secrets.token_hex(8)


def rules_empty() -> dict:
    return {"match": "all", "conditions": []}


class SegmentKind(models.TextChoices):
    RULES = "rules", _("Built from rules")
    STATIC = "static", _("Uploaded list")


class RefreshEvery(models.TextChoices):
    """How often a segment is refreshed in full; the marketer picks one, Celery beat does the rest."""

    NEVER = "never", _("Only when I ask")
    FIFTEEN_MINUTES = "15min", _("Every 15 minutes")
    HOUR = "hour", _("Every hour")
    DAY = "day", _("Every day")
    WEEK = "week", _("Every week (Monday)")


class Segment(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True, help_text=_("What this audience is for."))
    kind = models.CharField(
        _("type"),
        max_length=16,
        choices=SegmentKind.choices,
        default=SegmentKind.RULES,
        help_text=_("Built from rules that are evaluated again at each refresh, or a fixed list of people you upload."),
    )
    rules = models.JSONField(
        _("conditions"),
        default=rules_empty,
        blank=True,
        help_text=_("Who belongs to the segment: conditions combined with “all of” or “any of”."),
    )
    # Event types the rules read (nested segments included): an incoming event of
    # one of these types re-evaluates this segment for its profile in real time.
    event_types = models.JSONField(_("event types read"), default=list, blank=True, editable=False)
    holdout_percent = models.DecimalField(
        _("control group (%)"),
        max_digits=4,
        decimal_places=1,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("50"))],
        help_text=_(
            "Share of members kept out of every send to measure what campaigns really bring. The same person "
            "always lands in the same group, even after leaving and re-entering the segment."
        ),
    )
    control_salt = models.CharField(_("control group seed"), max_length=32, default=control_salt_new, editable=False)
    refresh_every = models.CharField(
        _("refresh"),
        max_length=16,
        choices=RefreshEvery.choices,
        default=RefreshEvery.DAY,
        help_text=_(
            "How often the whole segment is evaluated again. Events that a condition reads update a person's "
            "membership as soon as they arrive."
        ),
    )
    refresh_task = models.OneToOneField(
        PeriodicTask, on_delete=models.SET_NULL, null=True, blank=True, editable=False, related_name="+"
    )
    # The current figures, kept on the segment so that lists and the dashboard read one row.
    member_count = models.PositiveIntegerField(_("members"), default=0, editable=False)
    control_count = models.PositiveIntegerField(_("in control group"), default=0, editable=False)
    created_by = models.CharField(_("created by"), max_length=200, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def treatment_count(self) -> int:
        return self.member_count - self.control_count


class SegmentMembership(models.Model):
    """A profile currently in a segment."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="segment_memberships")
    in_control = models.BooleanField(_("in control group"), default=False)
    entered_at = models.DateTimeField(_("entered at"))

    class Meta:
        verbose_name = _("segment member")
        verbose_name_plural = _("segment members")
        constraints = [models.UniqueConstraint(fields=["segment", "profile"], name="segment_membership_unique")]
        indexes = [models.Index(fields=["profile", "segment"])]

    def __str__(self) -> str:
        return f"{self.profile_id} in {self.segment_id}"


class MembershipChangeKind(models.TextChoices):
    ENTERED = "entered", _("Entered")
    LEFT = "left", _("Left")


class SegmentMembershipChange(models.Model):
    """History of a segment: who entered or left it, and when."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="membership_changes")
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="segment_membership_changes", db_index=False
    )
    change = models.CharField(_("change"), max_length=8, choices=MembershipChangeKind.choices)
    changed_at = models.DateTimeField(_("at"))
    refresh = models.ForeignKey(
        "SegmentRefresh", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )

    class Meta:
        verbose_name = _("segment entry or exit")
        verbose_name_plural = _("segment entries and exits")
        indexes = [
            models.Index(fields=["segment", "changed_at"]),
            models.Index(fields=["profile", "changed_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.profile_id} {self.change} {self.segment_id} @ {self.changed_at:%Y-%m-%d %H:%M}"


class SegmentListEntry(models.Model):
    """A person on the uploaded list of a static segment."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="list_entries")
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="segment_list_entries")
    added_at = models.DateTimeField(_("added at"), auto_now_add=True)

    class Meta:
        verbose_name = _("uploaded list entry")
        verbose_name_plural = _("uploaded list entries")
        constraints = [models.UniqueConstraint(fields=["segment", "profile"], name="segment_list_entry_unique")]

    def __str__(self) -> str:
        return f"{self.profile_id} on {self.segment_id}"


class RefreshStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class RefreshTrigger(models.TextChoices):
    SCHEDULE = "schedule", _("Schedule")
    MANUAL = "manual", _("Asked in the admin")
    RULES_CHANGED = "rules_changed", _("Conditions changed")


class SegmentRefresh(models.Model):
    """One full evaluation of a segment: when, how long, what changed, or why it failed."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="refreshes")
    trigger = models.CharField(_("asked by"), max_length=16, choices=RefreshTrigger.choices)
    status = models.CharField(_("status"), max_length=16, choices=RefreshStatus.choices, default=RefreshStatus.RUNNING)
    requested_at = models.DateTimeField(_("asked at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    members = models.PositiveIntegerField(_("members"), null=True, blank=True)
    control = models.PositiveIntegerField(_("in control group"), null=True, blank=True)
    entered = models.PositiveIntegerField(_("entered"), null=True, blank=True)
    left = models.PositiveIntegerField(_("left"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("segment refresh")
        verbose_name_plural = _("segment refreshes")
        indexes = [models.Index(fields=["segment", "-requested_at"])]

    def __str__(self) -> str:
        return f"{self.segment} @ {self.requested_at:%Y-%m-%d %H:%M}"

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None
