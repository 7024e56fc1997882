"""Partners of the platform (an agency, an ad tool, the web shop, an ESP) and what their API calls leave behind.

A partner holds API keys (only a hash is kept), the scopes it was granted, its
rate limit, the channel it is registered for and the segments and campaigns a
marketer shared with it. Each call is written to the audit log, which holds no
personal data: the route's name, never the path or the body. Idempotency
records keep the first answer to a POST so that a retried call has no second
effect.
"""

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from activations.models import Campaign
from profiles.models import Channel, PrivacyLog, Profile
from segments.models import Segment


class Scope(models.TextChoices):
    PROFILES_READ = "profiles:read", _("Read profiles")
    PROFILES_WRITE = "profiles:write", _("Create and update profiles")
    EVENTS_WRITE = "events:write", _("Send events")
    CONSENTS_WRITE = "consents:write", _("Record consents")
    SEGMENTS_READ = "segments:read", _("Read shared segments and their members")
    CAMPAIGNS_READ = "campaigns:read", _("Read the results of shared campaigns")
    REPORTS_READ = "reports:read", _("Read reports on shared campaigns")
    GDPR = "gdpr", _("Request data exports and erasures (GDPR)")


def scopes_default() -> list[str]:
    return []


class Partner(models.Model):
    name = models.CharField(
        _("name"), max_length=200, unique=True, help_text=_("The company or tool, for example “Web shop”.")
    )
    slug = models.SlugField(
        _("short name"),
        max_length=64,
        unique=True,
        help_text=_("Written in the consent log and the privacy log as the partner's signature, for example web-shop."),
    )
    description = models.TextField(_("description"), blank=True, help_text=_("What the partner does with the API."))
    is_active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Untick to refuse every call of this partner at once, whatever its keys."),
    )
    scopes = models.JSONField(
        _("permissions (scopes)"),
        default=scopes_default,
        blank=True,
        help_text=_("What the partner may do through the API. Give only what it needs."),
    )
    channel = models.CharField(
        _("channel"),
        max_length=32,
        choices=Channel.choices,
        default=Channel.PARTNER_SHARING,
        help_text=_(
            "The channel the partner activates people on. The members of a shared segment it may read are only "
            "those whose consent for this channel lets them be contacted."
        ),
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        _("calls per minute"),
        default=600,
        validators=[MinValueValidator(1), MaxValueValidator(1_000_000)],
        help_text=_("Calls beyond this number in a minute are refused, with the time to wait before trying again."),
    )
    segments = models.ManyToManyField(
        Segment,
        related_name="partners",
        blank=True,
        verbose_name=_("shared segments"),
        help_text=_("Segments this partner may list and read the members of. It cannot see any other segment."),
    )
    campaigns = models.ManyToManyField(
        Campaign,
        related_name="partners",
        blank=True,
        verbose_name=_("shared campaigns"),
        help_text=_("Campaigns whose results this partner may read. It cannot see any other campaign."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True, help_text=_("When the partner was added."))
    updated_at = models.DateTimeField(_("updated"), auto_now=True, help_text=_("When the partner was last changed."))

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or [])


class ApiKey(models.Model):
    """One API key of a partner. Only its SHA-256 is kept: the key is shown once, when it is created."""

    partner = models.ForeignKey(
        Partner,
        on_delete=models.CASCADE,
        related_name="api_keys",
        verbose_name=_("partner"),
        help_text=_("The partner that uses the key."),
    )
    name = models.CharField(
        _("label"), max_length=200, blank=True, help_text=_("Where the key is used, for example “production server”.")
    )
    prefix = models.CharField(
        _("key start"),
        max_length=16,
        unique=True,
        editable=False,
        help_text=_("The first characters of the key, to recognise it; the rest is never shown again."),
    )
    hashed_key = models.CharField(
        _("key fingerprint"),
        max_length=64,
        editable=False,
        help_text=_("SHA-256 of the key: enough to recognise it, useless to call the API with."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True, help_text=_("When the key was created."))
    created_by = models.CharField(
        _("created by"), max_length=200, blank=True, editable=False, help_text=_("Who created the key.")
    )
    last_used_at = models.DateTimeField(
        _("last used"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("The last call made with the key, to the minute."),
    )
    revoked_at = models.DateTimeField(
        _("revoked"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("A revoked key is refused from that moment on."),
    )

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}…"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class PartnerCall(models.Model):
    """One API call, for the audit log: who, which route, the answer and how long it took. No personal data."""

    partner = models.ForeignKey(
        Partner,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="calls",
        verbose_name=_("partner"),
        help_text=_("Empty when the call carried no valid key."),
    )
    api_key = models.ForeignKey(
        ApiKey,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("API key"),
        help_text=_("The key the call was made with."),
    )
    endpoint = models.CharField(
        _("endpoint"), max_length=100, help_text=_("The name of the route called, never its address or content.")
    )
    method = models.CharField(_("method"), max_length=10, help_text=_("GET to read, POST to send."))
    status = models.PositiveSmallIntegerField(
        _("answer (HTTP status)"), help_text=_("2xx: done; 4xx: refused (see the API documentation); 5xx: our error.")
    )
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), help_text=_("How long the platform took to answer."))
    occurred_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True, help_text=_("When the call came."))

    class Meta:
        verbose_name = _("API call")
        verbose_name_plural = _("API calls (audit log)")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["partner", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} {self.status}"


class IdempotencyRecord(models.Model):
    """The first answer to a POST sent with an Idempotency-Key, replayed to the partner's retries."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+", verbose_name=_("partner"))
    key = models.CharField(_("idempotency key"), max_length=255)
    endpoint = models.CharField(_("endpoint"), max_length=100)
    request_fingerprint = models.CharField(_("request fingerprint (SHA-256)"), max_length=64)
    status = models.PositiveSmallIntegerField(_("answer (HTTP status)"))
    response = models.JSONField(_("answer"), null=True, blank=True, encoder=DjangoJSONEncoder)
    # The answer may name the person (a profile with its identifiers): it goes when the person is erased.
    profile = models.ForeignKey(
        Profile,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="partner_idempotency_records",
        verbose_name=_("profile"),
        db_index=False,
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("idempotent answer")
        verbose_name_plural = _("idempotent answers")
        constraints = [models.UniqueConstraint(fields=["partner", "key"], name="partner_idempotency_key_unique")]
        indexes = [models.Index(fields=["partner", "created_at"]), models.Index(fields=["profile"])]

    def __str__(self) -> str:
        return f"{self.partner_id}: {self.key}"


class GdprRequestKind(models.TextChoices):
    EXPORT = "export", _("Data export")
    ERASURE = "erasure", _("Erasure")


class GdprRequestStatus(models.TextChoices):
    READY = "ready", _("Ready to download")
    DONE = "done", _("Done")


class GdprRequest(models.Model):
    """A GDPR request a partner made for a person. Holds no personal data beyond the link to the profile."""

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    partner = models.ForeignKey(
        Partner,
        on_delete=models.CASCADE,
        related_name="gdpr_requests",
        verbose_name=_("partner"),
        help_text=_("The partner that made the request."),
    )
    kind = models.CharField(
        _("request"), max_length=16, choices=GdprRequestKind.choices, help_text=_("Export or erasure of the data.")
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=GdprRequestStatus.choices,
        help_text=_("An export is ready until the partner downloads it; an erasure is done at once."),
    )
    profile = models.ForeignKey(
        Profile,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="partner_gdpr_requests",
        verbose_name=_("profile"),
        help_text=_("Empty once the person is erased."),
    )
    profile_uuid = models.UUIDField(_("profile public id"), help_text=_("The person the request was made for."))
    privacy_log = models.ForeignKey(
        PrivacyLog,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("privacy log"),
        help_text=_("The privacy log entry of the erasure."),
    )
    reason = models.CharField(_("reason"), max_length=500, blank=True, help_text=_("Why the partner asked."))
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True, help_text=_("When the partner asked."))
    completed_at = models.DateTimeField(
        _("completed at"), null=True, blank=True, help_text=_("When the data was erased or first downloaded.")
    )

    class Meta:
        verbose_name = _("GDPR request from a partner")
        verbose_name_plural = _("GDPR requests from partners")
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.profile_uuid}"
