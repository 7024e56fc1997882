"""Destinations (where messages and files go), campaigns, their runs and one Delivery per profile and run.

A run follows DESIGN.md: a snapshot of the campaign's segments becomes one
Delivery row per profile, with its status decided in SQL (held out for the
control group, suppressed without consent or over the pressure cap, pending
otherwise); the pending ones are then sent in batches whose content and
idempotency keys are fixed at planning, so that a retried batch is the same
request and a peer can drop what it has already received.
"""

import secrets
import uuid
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django_celery_beat.models import PeriodicTask

from profiles.models import Channel, Profile
from segments.models import Segment


def salt_new() -> str:
    return secrets.token_hex(8)


class ConnectorKind(models.TextChoices):
    WEBHOOK = "webhook", _("Webhook / HTTP API")
    SFTP = "sftp", _("SFTP file drop (CSV)")
    CSV_FILE = "csv_file", _("CSV file to download")
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS (HTTP provider)")
    AD_AUDIENCE = "ad_audience", _("Ad audience (hashed identifiers)")


class Destination(models.Model):
    """A connector and its settings. Secrets are kept apart and never shown back in the admin."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    kind = models.CharField(_("type"), max_length=32, choices=ConnectorKind.choices)
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    secrets = models.JSONField(_("secrets"), default=dict, blank=True, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("destination")
        verbose_name_plural = _("destinations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    FINISHED = "finished", _("Finished")


class ScheduleKind(models.TextChoices):
    MANUAL = "manual", _("Only when I start it")
    ONCE = "once", _("Once, at a date and time")
    RECURRING = "recurring", _("Again and again")
    EVENT = "event", _("When a person does something (event)")
    SEGMENT_ENTRY = "segment_entry", _("When a person enters one of its segments")


class Recurrence(models.TextChoices):
    DAILY = "daily", _("Every day")
    WEEKLY = "weekly", _("Every week")
    MONTHLY = "monthly", _("Every month")


class Weekday(models.IntegerChoices):
    MONDAY = 1, _("Monday")
    TUESDAY = 2, _("Tuesday")
    WEDNESDAY = 3, _("Wednesday")
    THURSDAY = 4, _("Thursday")
    FRIDAY = 5, _("Friday")
    SATURDAY = 6, _("Saturday")
    SUNDAY = 0, _("Sunday")


class Campaign(models.Model):
    name = models.CharField(
        _("name"),
        max_length=200,
        unique=True,
        help_text=_("How you and the reports call this campaign, for example “Spring sale – newsletter”."),
    )
    slug = models.SlugField(
        _("short name"),
        max_length=100,
        unique=True,
        help_text=_(
            "Used in tracked links and sent to destinations: lower-case letters, digits and dashes, for example "
            "spring-sale. Filled in from the name."
        ),
    )
    description = models.TextField(
        _("description"),
        blank=True,
        help_text=_("A note for your team: the goal, the offer, who asked for it. Never sent."),
    )
    segments = models.ManyToManyField(
        Segment,
        related_name="campaigns",
        verbose_name=_("segments"),
        blank=True,
        help_text=_("Who receives it. A campaign triggered by an event may have none: then anyone who triggers it."),
    )
    channel = models.CharField(
        _("channel"),
        max_length=32,
        choices=Channel.choices,
        help_text=_("How people are reached. Only those who gave their consent for this channel receive it."),
    )
    destination = models.ForeignKey(
        Destination,
        on_delete=models.PROTECT,
        related_name="campaigns",
        verbose_name=_("destination"),
        help_text=_(
            "Where the messages or the file go: your email or SMS provider, a partner's webhook, an SFTP server, an "
            "ad platform. Destinations are added under “Destinations”."
        ),
    )
    content = models.JSONField(
        _("content"),
        default=dict,
        blank=True,
        help_text=_("Subject and body of a message, or the payload sent to the destination."),
    )
    holdout_percent = models.DecimalField(
        _("control group (%)"),
        max_digits=4,
        decimal_places=1,
        default=Decimal("10"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("50"))],
        help_text=_("Share of the audience that receives nothing, to measure what the campaign brings."),
    )
    control_salt = models.CharField(_("control group seed"), max_length=32, default=salt_new, editable=False)
    pressure_max_messages = models.PositiveSmallIntegerField(
        _("at most … messages per person"),
        null=True,
        blank=True,
        help_text=_("This campaign skips people who already received this many messages on its channel…"),
    )
    pressure_window_days = models.PositiveSmallIntegerField(
        _("… over the last … days"),
        default=7,
        validators=[MinValueValidator(1)],
        help_text=_("The period the limit above counts over: 7 for “at most 2 messages a week”."),
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"),
        default=100,
        help_text=_("When campaigns compete for the same people under a pressure cap, the lower number goes first."),
    )
    fixed_cost = models.DecimalField(
        _("fixed cost"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        help_text=_(
            "What the campaign costs whatever the number of messages (design, agency…), for its return on "
            "investment in the reports."
        ),
    )
    cost_per_send = models.DecimalField(
        _("cost per send"),
        max_digits=10,
        decimal_places=4,
        default=Decimal("0"),
        help_text=_("What each message costs, for example 0.045 for an SMS: the reports add it up per campaign."),
    )
    currency = models.CharField(
        _("currency"), max_length=3, default="EUR", help_text=_("The currency of the costs, for example EUR.")
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=CampaignStatus.choices,
        default=CampaignStatus.DRAFT,
        help_text=_(
            "Draft while you prepare it. A campaign with a schedule becomes “Scheduled” when saved; “Paused” stops "
            "its schedule until you set it back to “Scheduled”."
        ),
    )
    schedule = models.CharField(
        _("send"),
        max_length=16,
        choices=ScheduleKind.choices,
        default=ScheduleKind.MANUAL,
        help_text=_("Only when you start it, once at a date and time, or again and again."),
    )
    send_at = models.DateTimeField(_("send at"), null=True, blank=True, help_text=_("For a campaign sent once."))
    recurrence = models.CharField(
        _("repeat"),
        max_length=16,
        choices=Recurrence.choices,
        blank=True,
        help_text=_("For a campaign sent again and again: every day, week or month, at the time of day below."),
    )
    send_time = models.TimeField(
        _("time of day"), null=True, blank=True, help_text=_("Time of day of a repeated send.")
    )
    send_weekday = models.PositiveSmallIntegerField(
        _("day of the week"), choices=Weekday.choices, null=True, blank=True, help_text=_("Day of a weekly send.")
    )
    send_monthday = models.PositiveSmallIntegerField(
        _("day of the month"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(28)],
        help_text=_("Day of the month of a monthly send (1 to 28, so that every month has it)."),
    )
    trigger_event_type = models.CharField(
        _("triggering event"),
        max_length=64,
        blank=True,
        help_text=_("For a campaign sent when a person does something, for example add_to_cart."),
    )
    trigger_delay_minutes = models.PositiveIntegerField(
        _("wait (minutes)"),
        default=0,
        help_text=_("How long after the trigger to send, for example 120 for a cart-abandonment email."),
    )
    cancel_event_type = models.CharField(
        _("cancelled by"),
        max_length=64,
        blank=True,
        help_text=_("An event that cancels the send when it happens during the wait, for example purchase."),
    )
    send_at_best_hour = models.BooleanField(
        _("send at each person's best hour"),
        default=False,
        help_text=_(
            "Email and SMS: each person gets the message at the hour they usually open and click (the best send "
            "hour score), else at the hour most people do, within the window below. A person whose hour is further "
            "away than the window gets it at once."
        ),
    )
    best_hour_window_hours = models.PositiveSmallIntegerField(
        _("within the next … hours"),
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(168)],
        help_text=_("How long after the start the last people may get it (1 to 168 hours, that is a week)."),
    )
    schedule_task = models.OneToOneField(
        PeriodicTask, on_delete=models.SET_NULL, null=True, blank=True, editable=False, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["priority", "name"]

    def __str__(self) -> str:
        return self.name


class CampaignArm(models.Model):
    """A variant of a campaign (A/B/n test): a deterministic share of the treatment group gets another message.

    The campaign's own channel, destination and content are the first variant
    ("A"); each arm takes its share of the people who are not held out, and the
    campaign keeps the rest. An arm's bucket is a hash of (campaign seed,
    profile id), like the control group, so a person stays in the same arm on
    every run.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="arms", verbose_name=_("campaign"))
    name = models.CharField(_("name"), max_length=100, help_text=_("What this variant tries, for example “B: by SMS”."))
    share_percent = models.DecimalField(
        _("share of the treatment group (%)"),
        max_digits=4,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("0.1")), MaxValueValidator(Decimal("100"))],
        help_text=_("Share of the people who are not in the control group that get this variant instead."),
    )
    channel = models.CharField(
        _("channel"),
        max_length=32,
        choices=Channel.choices,
        blank=True,
        help_text=_("Leave empty to use the campaign's channel."),
    )
    destination = models.ForeignKey(
        Destination,
        on_delete=models.PROTECT,
        related_name="campaign_arms",
        verbose_name=_("destination"),
        null=True,
        blank=True,
        help_text=_("Leave empty to use the campaign's destination."),
    )
    content = models.JSONField(
        _("content"),
        default=dict,
        blank=True,
        help_text=_("Leave empty to send the campaign's content."),
    )

    class Meta:
        verbose_name = _("variant (A/B test)")
        verbose_name_plural = _("variants (A/B test)")
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["campaign", "name"], name="campaign_arm_unique_name")]

    def __str__(self) -> str:
        return self.name


class PressureCap(models.Model):
    """A global rule: at most N messages per person over a rolling window, on one channel or on all of them."""

    channel = models.CharField(
        _("channel"),
        max_length=32,
        choices=Channel.choices,
        blank=True,
        help_text=_("Leave empty for a cap across all channels."),
    )
    max_messages = models.PositiveSmallIntegerField(
        _("at most … messages"),
        validators=[MinValueValidator(1)],
        help_text=_("The most messages one person may receive over the period below, for example 3."),
    )
    window_days = models.PositiveSmallIntegerField(
        _("over the last … days"),
        validators=[MinValueValidator(1)],
        help_text=_("The period, in days, counted back from each send: 7 for a week, 30 for a month."),
    )

    class Meta:
        verbose_name = _("pressure cap")
        verbose_name_plural = _("pressure caps")
        constraints = [models.UniqueConstraint(fields=["channel", "window_days"], name="pressure_cap_unique")]

    def __str__(self) -> str:
        channel = self.get_channel_display() if self.channel else _("all channels")
        return f"{channel}: {self.max_messages} / {self.window_days} d"


class RunStatus(models.TextChoices):
    PLANNING = "planning", _("Planning")
    SENDING = "sending", _("Sending")
    FINISHED = "finished", _("Finished")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class RunTrigger(models.TextChoices):
    MANUAL = "manual", _("Started in the admin")
    SCHEDULE = "schedule", _("Schedule")
    EVENT = "event", _("Triggered by an event")
    SEGMENT_ENTRY = "segment_entry", _("Triggered by entering a segment")


class CampaignRun(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="runs", verbose_name=_("campaign"))
    trigger = models.CharField(_("started by"), max_length=16, choices=RunTrigger.choices)
    status = models.CharField(_("status"), max_length=16, choices=RunStatus.choices, default=RunStatus.PLANNING)
    batch_size = models.PositiveIntegerField(_("batch size"), default=500)
    batches = models.PositiveIntegerField(_("batches"), default=0)
    created_at = models.DateTimeField(_("started"), auto_now_add=True)
    planned_at = models.DateTimeField(_("planned"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    alerted_at = models.DateTimeField(_("failure alert sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("campaign run")
        verbose_name_plural = _("campaign runs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        # The time the marketer reads everywhere else: local, in her language's format.
        return f"{self.campaign} — {date_format(timezone.localtime(self.created_at), 'SHORT_DATETIME_FORMAT')}"


class BatchStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RETRYING = "retrying", _("Waiting to retry")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class DeliveryBatch(models.Model):
    """A group of deliveries sent in one request: its rows and its idempotency id never change."""

    run = models.ForeignKey(CampaignRun, on_delete=models.CASCADE, related_name="delivery_batches")
    number = models.PositiveIntegerField(_("number"))
    # The variant the batch sends (null: the campaign's own); every delivery of a batch has the same.
    arm = models.ForeignKey(
        CampaignArm, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("variant")
    )
    status = models.CharField(_("status"), max_length=16, choices=BatchStatus.choices, default=BatchStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    # Send-time optimisation: the batch's people read at this hour; the sweeper sends it once it has come.
    not_before = models.DateTimeField(_("not before"), null=True, blank=True)
    error = models.CharField(_("last error"), max_length=500, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery batch")
        verbose_name_plural = _("delivery batches")
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="delivery_batch_unique")]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.number}: {self.status}"

    @property
    def message_id(self) -> str:
        """The idempotency id sent with this batch, the same on every attempt."""
        return f"msg_{self.run.uuid.hex}_{self.number}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    HELD_OUT = "held_out", _("Held out (control group)")
    SUPPRESSED_NO_CONSENT = "suppressed_no_consent", _("Not sent: no consent")
    SUPPRESSED_PRESSURE = "suppressed_pressure", _("Not sent: pressure cap")
    CANCELLED = "cancelled", _("Not sent: cancelled by a later event")


class Delivery(models.Model):
    run = models.ForeignKey(CampaignRun, on_delete=models.CASCADE, related_name="deliveries")
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    channel = models.CharField(_("channel"), max_length=32, choices=Channel.choices)
    # The A/B test variant this person was given; null: the campaign's own message (or held out).
    arm = models.ForeignKey(
        CampaignArm,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="deliveries",
        verbose_name=_("variant"),
        db_index=False,
    )
    status = models.CharField(_("status"), max_length=24, choices=DeliveryStatus.choices)
    address = models.CharField(_("address"), max_length=255, blank=True)
    batch = models.PositiveIntegerField(_("batch"), null=True, blank=True)
    idempotency_key = models.UUIDField(_("idempotency key"), default=uuid.uuid4, unique=True, editable=False)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.CharField(_("reason"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("planned"))
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    # Triggered sends: the time of the event that triggered it (a later cancelling event stops it).
    triggered_at = models.DateTimeField(_("triggered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [models.UniqueConstraint(fields=["run", "profile"], name="delivery_one_per_run_and_profile")]
        indexes = [
            models.Index(fields=["run", "batch"]),
            models.Index(fields=["run", "status"]),
            # The pressure cap counts a profile's recent messages, per channel.
            models.Index(fields=["profile", "channel", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.profile_id}: {self.status}"


class WithdrawalNotice(models.Model):
    """A consent withdrawal to pass on to a destination that keeps its own list of people."""

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="withdrawal_notices")
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="withdrawal_notices")
    channel = models.CharField(_("channel"), max_length=32, choices=Channel.choices)
    address = models.CharField(_("address"), max_length=255, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=BatchStatus.choices, default=BatchStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("withdrawal passed on")
        verbose_name_plural = _("withdrawals passed on")
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.destination} ← {self.profile_id} {self.channel}: {self.status}"


class AudienceMemberState(models.TextChoices):
    ADDING = "adding", _("Being added")
    IN_AUDIENCE = "in_audience", _("In the audience")
    REMOVING = "removing", _("Being removed")
    REMOVED = "removed", _("Removed")


class AudienceRemoval(models.Model):
    """People taken out of an ad audience in one request, planned by a run: its people and its id never change.

    Written in the same transaction as the run's plan, then sent and retried on
    the deliveries' schedule; the id is the idempotency key of every attempt.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    destination = models.ForeignKey(
        Destination, on_delete=models.CASCADE, related_name="audience_removals", verbose_name=_("destination")
    )
    # Kept when the run is deleted: a removal that is still to be sent must not be lost with it.
    run = models.ForeignKey(
        CampaignRun,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audience_removals",
        verbose_name=_("campaign run"),
    )
    people = models.PositiveIntegerField(_("people"), default=0)
    status = models.CharField(_("status"), max_length=16, choices=BatchStatus.choices, default=BatchStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("planned"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("removal from an ad audience")
        verbose_name_plural = _("removals from ad audiences")
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.destination} − {self.people}: {self.status}"

    @property
    def message_id(self) -> str:
        """The idempotency id sent with this removal, the same on every attempt."""
        return f"removal_{self.uuid.hex}"


class AudienceMember(models.Model):
    """A person an ad-audience destination was given, with every hash ever sent for them (removals send them all).

    ``identifier_count`` and ``identifier_last_id`` describe the identifiers the
    hashes were made from: when the profile's differ, the person is sent again.
    There is no unique (destination, profile): a profile merge moves the absorbed
    person's rows onto the survivor, and the services read every row of a person.
    """

    destination = models.ForeignKey(
        Destination, on_delete=models.CASCADE, related_name="audience_members", verbose_name=_("destination")
    )
    # Kept when the profile is deleted, so that its hashes can still be removed from the audience.
    profile = models.ForeignKey(
        Profile,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audience_memberships",
        verbose_name=_("profile"),
        db_index=False,
    )
    state = models.CharField(
        _("state"), max_length=16, choices=AudienceMemberState.choices, default=AudienceMemberState.ADDING
    )
    hashes = models.JSONField(_("hashes sent"), default=dict, blank=True)
    identifier_count = models.PositiveIntegerField(default=0, editable=False)
    identifier_last_id = models.BigIntegerField(default=0, editable=False)
    added_at = models.DateTimeField(_("added"), null=True, blank=True)
    added_by = models.ForeignKey(
        CampaignRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("added by")
    )
    removal = models.ForeignKey(
        AudienceRemoval,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("removal"),
    )
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True)

    class Meta:
        verbose_name = _("ad audience member")
        verbose_name_plural = _("ad audience members")
        indexes = [
            models.Index(fields=["destination", "profile"]),
            models.Index(fields=["destination", "state"]),
        ]

    def __str__(self) -> str:
        return f"{self.destination} ∋ {self.profile_id}: {self.state}"
