"""One profile per person, the identifiers that find it, its consents and events.

The consent log (ConsentRecord) is append-only and is the truth; ConsentState is
the current state derived from it (rebuilt by ``profiles.services``), kept as a
table so that segment and campaign queries read it with one join.
"""

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _


class IdentifierKind(models.TextChoices):
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    CRM_ID = "crm_id", _("CRM id")
    ANONYMOUS_ID = "anonymous_id", _("Anonymous id (cookie, device)")


_BUILT_IN_KIND_CHOICES = IdentifierKind.choices


def identifier_kind_choices() -> list[tuple[str, str]]:
    """Built-in kinds plus those a deployment adds (CDP_EXTRA_IDENTIFIER_KINDS)."""
    extra = [(kind, kind) for kind in settings.CDP_EXTRA_IDENTIFIER_KINDS]
    return [*_BUILT_IN_KIND_CHOICES, *extra]


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    PHONE = "phone", _("Phone call")
    POSTAL = "postal", _("Postal mail")
    PUSH = "push", _("Push notification")
    ADVERTISING = "advertising", _("Advertising (ad audiences)")
    PARTNER_SHARING = "partner_sharing", _("Sharing with partners")


# An addressable channel's consent is given for one address, held as an
# identifier of this kind; other channels' consent covers the person.
CHANNEL_ADDRESS_KIND: dict[str, str] = {
    Channel.EMAIL: IdentifierKind.EMAIL,
    Channel.SMS: IdentifierKind.PHONE,
    Channel.PHONE: IdentifierKind.PHONE,
}


class ConsentStatus(models.TextChoices):
    GRANTED = "granted", _("Granted")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class LegalBasis(models.TextChoices):
    CONSENT = "consent", _("Consent")
    CONTRACT = "contract", _("Contract")
    LEGITIMATE_INTEREST = "legitimate_interest", _("Legitimate interest")


class Profile(models.Model):
    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    city = models.CharField(_("city"), max_length=150, blank=True)
    postcode = models.CharField(_("postcode"), max_length=20, blank=True)
    country = models.CharField(
        _("country"), max_length=2, blank=True, help_text=_("Two-letter ISO code, for example FR.")
    )
    language = models.CharField(
        _("language"), max_length=8, blank=True, help_text=_("Preferred language, for example fr or en.")
    )
    traits = models.JSONField(
        _("custom traits"),
        default=dict,
        blank=True,
        encoder=DjangoJSONEncoder,
        help_text=_('Any other attribute, as a JSON object, for example {"loyalty_tier": "gold"}.'),
    )
    do_not_track = models.BooleanField(
        _("do not track"),
        default=False,
        help_text=_("The person refused tracking: no behavioural data (events) is kept for them."),
    )
    do_not_contact = models.BooleanField(
        _("do not contact"),
        default=False,
        help_text=_("Never contact this person on any channel, whatever their consents say."),
    )
    source = models.CharField(_("first source"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")
        indexes = [models.Index(fields=["last_name", "first_name"])]
        # Merging and erasing both remove a profile, but only erasure loses the person's data: apart, a
        # marketer may merge duplicates without being able to erase anyone. The plain delete is not offered.
        permissions = [
            ("merge_profile", "Can merge profiles of the same person"),
            ("erase_profile", "Can erase a person's personal data (GDPR)"),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or str(_("Profile %(id)s") % {"id": self.pk})


class Identifier(models.Model):
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="identifiers", verbose_name=_("profile"), db_index=False
    )
    kind = models.CharField(_("kind"), max_length=32, choices=identifier_kind_choices)
    value = models.CharField(
        _("value"),
        max_length=255,
        help_text=_("Stored normalised: emails trimmed and lower-cased, phones in E.164 (+33612345678)."),
    )
    source = models.CharField(_("source"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        verbose_name = _("identifier")
        verbose_name_plural = _("identifiers")
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="identifier_unique_kind_value"),
        ]
        indexes = [models.Index(fields=["profile", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"


class ConsentRecord(models.Model):
    """One line of the append-only consent log: what the person said, when, and the proof."""

    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="consent_records", verbose_name=_("profile"), db_index=False
    )
    channel = models.CharField(_("channel"), max_length=32, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=16, choices=ConsentStatus.choices)
    legal_basis = models.CharField(
        _("legal basis"), max_length=32, choices=LegalBasis.choices, default=LegalBasis.CONSENT
    )
    address = models.CharField(
        _("address"),
        max_length=255,
        blank=True,
        help_text=_(
            "For email, SMS and phone: the address the consent was given for. "
            "Empty on a withdrawal means every address of the channel."
        ),
    )
    source = models.CharField(
        _("source"), max_length=200, help_text=_("Where the consent came from: a form, an import, the API, the admin.")
    )
    proof = models.JSONField(
        _("proof"),
        default=dict,
        blank=True,
        encoder=DjangoJSONEncoder,
        help_text=_("Form URL, IP address, wording version, user agent..."),
    )
    occurred_at = models.DateTimeField(_("given or withdrawn at"))
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    recorded_by = models.CharField(_("recorded by"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("consent log entry")
        verbose_name_plural = _("consent log")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["profile", "channel", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.get_status_display()}"


class ConsentState(models.Model):
    """The current consent per (profile, channel, address), derived from the log."""

    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="consents", verbose_name=_("profile"), db_index=False
    )
    channel = models.CharField(_("channel"), max_length=32, choices=Channel.choices)
    address = models.CharField(_("address"), max_length=255, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=ConsentStatus.choices)
    legal_basis = models.CharField(_("legal basis"), max_length=32, choices=LegalBasis.choices)
    occurred_at = models.DateTimeField(_("since"))
    record = models.ForeignKey(ConsentRecord, on_delete=models.CASCADE, related_name="+", verbose_name=_("log entry"))

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "channel", "address"], name="consent_state_unique_profile_channel_address"
            ),
        ]
        indexes = [models.Index(fields=["channel", "status", "profile"])]

    def __str__(self) -> str:
        target = f" ({self.address})" if self.address else ""
        return f"{self.get_channel_display()}{target}: {self.get_status_display()}"


class EventType(models.TextChoices):
    """The usual event types; any other lower-case name is accepted too."""

    PAGE_VIEW = "page_view", _("Page view")
    PRODUCT_VIEW = "product_view", _("Product view")
    ADD_TO_CART = "add_to_cart", _("Add to cart")
    PURCHASE = "purchase", _("Purchase")
    EMAIL_OPEN = "email_open", _("Email open")
    EMAIL_CLICK = "email_click", _("Email click")
    FORM_SUBMIT = "form_submit", _("Form submitted")


class Event(models.Model):
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="events", verbose_name=_("profile"), db_index=False
    )
    type = models.CharField(_("type"), max_length=64)
    properties = models.JSONField(_("properties"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    source = models.CharField(_("source"), max_length=200, blank=True)
    revenue = models.DecimalField(_("revenue"), max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    # NULL, not "", for "no id": SQL's unique rule already ignores NULLs.
    message_id = models.CharField(  # noqa: DJ001
        _("message id"),
        max_length=100,
        null=True,
        blank=True,
        help_text=_("Sender's unique id of the event: the same event sent twice is kept once."),
    )

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        # Most events carry no message id: a partial index keeps bulk loads light.
        constraints = [
            models.UniqueConstraint(
                fields=["message_id"], condition=models.Q(message_id__isnull=False), name="event_unique_message_id"
            ),
        ]
        indexes = [
            models.Index(fields=["profile", "type", "occurred_at"]),
            models.Index(fields=["type", "occurred_at"]),
            models.Index(fields=["occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.type} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class MergeReason(models.TextChoices):
    SHARED_IDENTIFIER = "shared_identifier", _("Incoming data carried identifiers of both profiles")
    EVENT_LINK = "event_link", _("An event linked an anonymous id to a known identifier")
    IMPORT = "import", _("A CRM import row carried identifiers of both profiles")
    MANUAL = "manual", _("Merged by hand")
    API = "api", _("A partner API call carried identifiers of both profiles")


class MergeLog(models.Model):
    """What was merged into which profile, when and why."""

    survivor = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="merge_logs", verbose_name=_("kept profile")
    )
    absorbed_profile_id = models.BigIntegerField(_("merged profile id"))
    absorbed_profile_uuid = models.UUIDField(_("merged profile public id"))
    reason = models.CharField(_("reason"), max_length=32, choices=MergeReason.choices)
    detail = models.TextField(_("detail"), blank=True)
    source = models.CharField(_("source"), max_length=200, blank=True)
    moved = models.JSONField(
        _("what moved"),
        default=dict,
        encoder=DjangoJSONEncoder,
        help_text=_("Identifiers, fields and the number of rows of each kind moved to the kept profile."),
    )
    merged_at = models.DateTimeField(_("merged at"), auto_now_add=True)

    class Meta:
        verbose_name = _("merge")
        verbose_name_plural = _("merge history")
        ordering = ["-merged_at", "-id"]

    def __str__(self) -> str:
        return str(_("Profile %(absorbed)s merged into %(survivor)s")) % {
            "absorbed": self.absorbed_profile_id,
            "survivor": self.survivor_id,
        }


class PrivacyAction(models.TextChoices):
    EXPORT = "export", _("Data export")
    ERASURE = "erasure", _("Erasure")
    DO_NOT_TRACK = "do_not_track", _("Do not track changed")
    DO_NOT_CONTACT = "do_not_contact", _("Do not contact changed")


class PrivacyLog(models.Model):
    """GDPR requests carried out. Holds no personal data, so it outlives an erasure."""

    action = models.CharField(_("action"), max_length=32, choices=PrivacyAction.choices)
    profile_uuid = models.UUIDField(_("profile public id"), db_index=True)
    actor = models.CharField(_("done by"), max_length=200)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    occurred_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("privacy log entry")
        verbose_name_plural = _("privacy log")
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.profile_uuid}"


class ImportStatus(models.TextChoices):
    PREVIEWED = "previewed", _("Previewed (nothing imported)")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Imported")
    CANCELLED = "cancelled", _("Not imported: rows were rejected and you chose to import none")
    FAILED = "failed", _("Failed: nothing imported")


class ProfileImport(models.Model):
    """One CRM file imported (or previewed): where it came from, how it was read, what it did."""

    file_name = models.CharField(_("file"), max_length=255)
    file_sha256 = models.CharField(_("file fingerprint (SHA-256)"), max_length=64, blank=True)
    file_size = models.BigIntegerField(_("file size (bytes)"), default=0)
    encoding = models.CharField(_("encoding"), max_length=32, blank=True)
    delimiter = models.CharField(_("delimiter"), max_length=4, blank=True)
    mapping = models.JSONField(
        _("column mapping"), default=dict, blank=True, help_text=_("What each column of the file was imported into.")
    )
    all_or_nothing = models.BooleanField(
        _("all or nothing"), default=False, help_text=_("Import nothing when any row is rejected.")
    )
    method = models.CharField(_("method"), max_length=32, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=ImportStatus.choices, default=ImportStatus.RUNNING)
    error = models.TextField(_("error"), blank=True)
    rows_read = models.PositiveIntegerField(_("rows read"), default=0)
    rows_new = models.PositiveIntegerField(_("new profiles"), default=0)
    rows_updated = models.PositiveIntegerField(_("updated profiles"), default=0)
    rows_merged = models.PositiveIntegerField(_("rows that merged profiles"), default=0)
    rows_rejected = models.PositiveIntegerField(_("rejected rows"), default=0)
    created_by = models.CharField(_("imported by"), max_length=200, blank=True)
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("CRM import")
        verbose_name_plural = _("CRM imports")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.started_at:%Y-%m-%d %H:%M})"

    @property
    def source(self) -> str:
        """How the import is named in the source of what it writes (identifiers, consents)."""
        return f"import #{self.pk} {self.file_name}"[:200]


class ImportRejection(models.Model):
    """A row of an import that was not imported, with where and why."""

    profile_import = models.ForeignKey(
        ProfileImport, on_delete=models.CASCADE, related_name="rejections", verbose_name=_("import")
    )
    line = models.PositiveIntegerField(_("line"))
    column = models.CharField(_("column"), max_length=255)
    value = models.CharField(_("value"), max_length=255, blank=True)
    reason = models.CharField(_("reason"), max_length=500)

    class Meta:
        verbose_name = _("rejected row")
        verbose_name_plural = _("rejected rows")
        ordering = ["line", "id"]

    def __str__(self) -> str:
        return f"{self.line} {self.column}: {self.reason}"
