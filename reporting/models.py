"""Reporting: tracked links and their clicks, email opens, conversion types, attribution settings, and the
aggregate tables the dashboard reads (refreshed by Celery beat, ``reporting.services.reporting_refresh``).

Clicks are kept once per (delivery, link): the first click's time and user agent,
with the count and time of the repeats. A person who clicks a link three times
is one clicker and one touchpoint for attribution; the repeats are still
counted. A unique constraint makes two simultaneous clicks one row.
"""

from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from activations.models import Campaign, Delivery
from profiles.models import Profile

ATTRIBUTION_WINDOW_DAYS = 7


class AttributionModel(models.TextChoices):
    LAST_TOUCH = "last_touch", _("Last touch")
    FIRST_TOUCH = "first_touch", _("First touch")
    LINEAR = "linear", _("Linear")
    POSITION_BASED = "position_based", _("Position-based (40/20/40)")
    TIME_DECAY = "time_decay", _("Time decay (half-life 7 days)")


class TrackedLink(models.Model):
    """A link target found in a message: tracked URLs point at it by id, never carry it."""

    url = models.TextField(_("target"))
    url_hash = models.CharField(_("fingerprint"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("first seen"), auto_now_add=True)

    class Meta:
        verbose_name = _("tracked link")
        verbose_name_plural = _("tracked links")

    def __str__(self) -> str:
        return self.url[:100]


class LinkClick(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="+", verbose_name=_("delivery"))
    link = models.ForeignKey(TrackedLink, on_delete=models.CASCADE, related_name="clicks", verbose_name=_("link"))
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="+", verbose_name=_("profile"), db_index=False
    )
    first_clicked_at = models.DateTimeField(_("first click"))
    last_clicked_at = models.DateTimeField(_("last click"))
    clicks = models.PositiveIntegerField(_("clicks"), default=1)
    user_agent = models.CharField(_("user agent"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("click")
        verbose_name_plural = _("clicks")
        constraints = [models.UniqueConstraint(fields=["delivery", "link"], name="link_click_one_per_delivery_link")]
        indexes = [models.Index(fields=["profile", "first_clicked_at"])]

    def __str__(self) -> str:
        return f"{self.delivery_id} → {self.link_id}"


class EmailOpen(models.Model):
    delivery = models.OneToOneField(Delivery, on_delete=models.CASCADE, related_name="+", verbose_name=_("delivery"))
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="+", verbose_name=_("profile"), db_index=False
    )
    first_opened_at = models.DateTimeField(_("first open"))
    last_opened_at = models.DateTimeField(_("last open"))
    opens = models.PositiveIntegerField(_("opens"), default=1)
    user_agent = models.CharField(_("user agent"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("email open")
        verbose_name_plural = _("email opens")

    def __str__(self) -> str:
        return str(self.delivery_id)


class ConversionType(models.Model):
    """An event type that counts as a conversion (purchase by default), with its revenue."""

    event_type = models.CharField(
        _("event type"), max_length=64, unique=True, help_text=_("For example purchase, subscription, sign_up.")
    )
    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("counted"), default=True)

    class Meta:
        verbose_name = _("conversion type")
        verbose_name_plural = _("conversion types")
        ordering = ["event_type"]

    def __str__(self) -> str:
        return self.name


class CampaignAttribution(models.Model):
    """Reporting settings of a campaign, created on demand (the default window applies without one)."""

    campaign = models.OneToOneField(
        Campaign, on_delete=models.CASCADE, related_name="attribution", verbose_name=_("campaign")
    )
    window_days = models.PositiveSmallIntegerField(
        _("attribution window (days)"),
        default=ATTRIBUTION_WINDOW_DAYS,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text=_("A conversion is credited to a message or a click of the last … days."),
    )

    class Meta:
        verbose_name = _("attribution window")
        verbose_name_plural = _("attribution windows")

    def __str__(self) -> str:
        return f"{self.campaign}: {self.window_days}"


# ---------------------------------------------------------------------------
# Aggregates, rewritten by reporting_refresh


class CampaignDay(models.Model):
    """What a campaign did on one channel on one day (local time): sends, failures, clicks, opens, cost."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(_("channel"), max_length=32)
    # The destination the messages went through (a variant's own, or the campaign's); a plain id.
    destination_id = models.BigIntegerField(null=True, blank=True)
    day = models.DateField(_("day"))
    sends = models.PositiveIntegerField(_("sends"), default=0)
    delivered = models.PositiveIntegerField(_("delivered"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    clickers = models.PositiveIntegerField(_("clickers"), default=0)
    clicks = models.PositiveIntegerField(_("clicks"), default=0)
    openers = models.PositiveIntegerField(_("openers"), default=0)
    cost = models.DecimalField(_("cost"), max_digits=14, decimal_places=2, default=Decimal("0"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "channel", "destination_id", "day"], name="campaign_day_unique")
        ]
        indexes = [models.Index(fields=["day"])]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.channel} {self.day}"


class AttributionDay(models.Model):
    """Conversions (fractions) and revenue credited to a campaign's channel on the conversion's day, per model."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(_("channel"), max_length=32)
    day = models.DateField(_("day"))
    model = models.CharField(_("attribution model"), max_length=16, choices=AttributionModel.choices)
    conversions = models.FloatField(_("conversions"), default=0)
    revenue = models.DecimalField(_("revenue"), max_digits=16, decimal_places=2, default=Decimal("0"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "channel", "day", "model"], name="attribution_day_unique")
        ]
        indexes = [models.Index(fields=["model", "day"])]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.channel} {self.day} {self.model}"


class UpliftGroup(models.Model):
    """One group of a campaign's test (control, the campaign's own message, or a variant), over the window."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    is_control = models.BooleanField(default=False)
    # The variant's id (activations.CampaignArm), null for the campaign's own message and the control group;
    # a plain id so that this table does not depend on the variants' migration.
    arm_id = models.BigIntegerField(null=True, blank=True)
    profiles = models.PositiveIntegerField(default=0)
    converters = models.PositiveIntegerField(default=0)
    conversions = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    revenue_squares = models.FloatField(default=0)  # sum over profiles of (revenue per profile)², for the variance

    def __str__(self) -> str:
        return f"{self.campaign_id} {'control' if self.is_control else self.arm_id or 'A'}"


class UpliftDay(models.Model):
    """Conversions and revenue of a test group by conversion day, to share incremental revenue out per period."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    is_control = models.BooleanField(default=False)
    day = models.DateField()
    conversions = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))

    class Meta:
        indexes = [models.Index(fields=["campaign", "day"])]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.is_control} {self.day}"


class KpiSnapshot(models.Model):
    """A KPI computed at the last refresh (opt-in typology, pressure, consent, customers...), as JSON."""

    name = models.CharField(max_length=64, unique=True)
    data = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    computed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class RefreshLog(models.Model):
    """When the aggregates were last rebuilt, and how long it took."""

    finished_at = models.DateTimeField(auto_now_add=True)
    seconds = models.FloatField()

    def __str__(self) -> str:
        return f"{self.finished_at:%Y-%m-%d %H:%M}"


class RefreshRequest(models.Model):
    """A marketer's "update the figures now": the next reporting refresh starts it, then finishes it.

    Until it finishes, the dashboard says the figures are being updated. A
    refresh (asked for, or Celery beat's) serves every request waiting when it starts.
    """

    requested_at = models.DateTimeField(default=timezone.now)
    requested_by = models.CharField(max_length=150, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["finished_at", "requested_at"])]

    def __str__(self) -> str:
        return f"{self.requested_at:%Y-%m-%d %H:%M} {self.requested_by}"


class Dashboard(models.Model):
    """No table: the entry of the reporting dashboard in the admin (and its view permission)."""

    class Meta:
        managed = False
        default_permissions = ("view",)
        verbose_name = _("dashboard")
        verbose_name_plural = _("dashboard")

    def __str__(self) -> str:
        return str(_("dashboard"))
