"""What the partner API reads and writes: checked here, acted on by ``partners.services``.

Input serializers only check shapes and values and normalise identifiers (with
``profiles.normalisation``, the one place that says what an email or a phone
looks like); output serializers say what the API shows, for the OpenAPI schema too.
"""

import datetime
import json
import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from partners.models import GdprRequestKind
from partners.services import MAX_BATCH_EVENTS
from profiles.models import Channel, ConsentStatus, LegalBasis, identifier_kind_choices
from profiles.normalisation import normalise_identifiers

MAX_JSON_BYTES = 64 * 1024
MAX_JSON_DEPTH = 10
EVENT_TYPE = r"^[a-z][a-z0-9_]{0,63}$"


def _json_problem(value: Any, depth: int = 0) -> str | None:
    if depth > MAX_JSON_DEPTH:
        return _("Nested more than %(max)s levels deep.") % {"max": MAX_JSON_DEPTH}
    if isinstance(value, str):
        return _("Text may not contain the NUL character.") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _json_problem(key, depth + 1) or _json_problem(item, depth + 1)
            if problem:
                return problem
    if isinstance(value, list):
        for item in value:
            problem = _json_problem(item, depth + 1)
            if problem:
                return problem
    return None


@extend_schema_field({"type": "object", "additionalProperties": True})
class JsonObjectField(serializers.JSONField):
    """A JSON object of any shape, within limits the database can store (no NUL, bounded depth and size)."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError(_('A JSON object is expected, such as {"key": "value"}.'))
        problem = _json_problem(data)
        if problem:
            raise serializers.ValidationError(problem)
        if len(json.dumps(data, cls=DjangoJSONEncoder)) > MAX_JSON_BYTES:
            raise serializers.ValidationError(_("Larger than %(max)s bytes.") % {"max": MAX_JSON_BYTES})
        return data


class IdentifiersSerializer(serializers.Serializer):
    """Identifiers of a person, any of them: they are normalised and resolved to one profile."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            kind: serializers.CharField(
                required=False, allow_blank=True, allow_null=True, max_length=255, help_text=str(label)
            )
            for kind, label in identifier_kind_choices()
        }

    def to_internal_value(self, data: Any) -> list[tuple[str, str]]:
        if not isinstance(data, dict):
            raise serializers.ValidationError(_('Identifiers are a JSON object, such as {"email": "…"}.'))
        unknown = sorted(str(name) for name in set(data) - set(self.fields))
        if unknown:
            known = ", ".join(self.fields)
            raise serializers.ValidationError(
                {
                    name: [
                        _("“%(kind)s” is not a known identifier kind (known: %(known)s).")
                        % {"kind": name, "known": known}
                    ]
                    for name in unknown
                }
            )
        values = super().to_internal_value(data)
        try:
            pairs = normalise_identifiers({kind: value for kind, value in values.items() if value})
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None
        if not pairs:
            raise serializers.ValidationError(
                _("At least one identifier (email, phone, CRM id, anonymous id...) is needed.")
            )
        return pairs


class ProfileUpsertSerializer(serializers.Serializer):
    identifiers = IdentifiersSerializer(help_text=gettext_lazy("Who the person is: any of their identifiers."))
    first_name = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=150)
    birth_date = serializers.DateField(required=False, allow_null=True)
    city = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=150)
    postcode = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=20)
    country = serializers.RegexField(
        r"^[A-Za-z]{2}$",
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text=gettext_lazy("Two-letter ISO code, for example FR."),
    )
    language = serializers.RegexField(
        r"^[A-Za-z]{2}([-_][A-Za-z]{2})?$",
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text=gettext_lazy("Language code, for example fr or fr-FR."),
    )
    traits = JsonObjectField(required=False, help_text=gettext_lazy("Custom traits, merged into the profile's."))

    def validate_birth_date(self, value: datetime.date | None) -> datetime.date | None:
        if value is not None and (value > timezone.localdate() or value.year < 1900):
            raise serializers.ValidationError(_("This is not a plausible birth date."))
        return value

    def validate_country(self, value: str | None) -> str | None:
        return value.upper() if value else value

    def validate_language(self, value: str | None) -> str | None:
        return re.split(r"[-_]", value)[0].lower() if value else value


class ProfileLookupSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=identifier_kind_choices())
    value = serializers.CharField(max_length=255)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            pairs = normalise_identifiers([(attrs["kind"], attrs["value"])])
        except DjangoValidationError as error:
            raise serializers.ValidationError({"value": error.messages}) from None
        if not pairs:
            raise serializers.ValidationError({"value": [_("The identifier is empty.")]})
        attrs["kind"], attrs["value"] = pairs[0]
        return attrs


class EventSerializer(serializers.Serializer):
    type = serializers.RegexField(
        EVENT_TYPE,
        max_length=64,
        help_text=gettext_lazy("page_view, product_view, add_to_cart, purchase… or any other lower-case name."),
        error_messages={"invalid": gettext_lazy("An event type is a lower-case name such as page_view or purchase.")},
    )
    identifiers = IdentifiersSerializer(
        help_text=gettext_lazy("Who did it. An anonymous_id with an email links the visitor to the person.")
    )
    occurred_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text=gettext_lazy("When it happened; now when left out.")
    )
    properties = JsonObjectField(required=False)
    revenue = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)
    currency = serializers.RegexField(
        r"^[A-Za-z]{3}$", required=False, allow_blank=True, help_text=gettext_lazy("ISO 4217 code, for example EUR.")
    )
    message_id = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=100,
        help_text=gettext_lazy("Your unique id for the event: the same event sent twice is kept once."),
    )


class EventBatchSerializer(serializers.Serializer):
    events = EventSerializer(many=True, allow_empty=False, max_length=MAX_BATCH_EVENTS)


class ConsentProofSerializer(serializers.Serializer):
    source = serializers.CharField(
        max_length=200, help_text=gettext_lazy("Where the person said it: a form, a page, a checkout step.")
    )
    wording_version = serializers.CharField(
        max_length=100, help_text=gettext_lazy("Version of the wording the person agreed to.")
    )
    ip = serializers.IPAddressField(
        required=False, allow_null=True, help_text=gettext_lazy("The person's IP address; required for a grant.")
    )
    form_url = serializers.URLField(required=False, allow_blank=True, max_length=500)
    user_agent = serializers.CharField(required=False, allow_blank=True, max_length=500)


class ConsentUpdateSerializer(serializers.Serializer):
    identifiers = IdentifiersSerializer()
    channel = serializers.ChoiceField(choices=Channel.choices)
    status = serializers.ChoiceField(choices=ConsentStatus.choices)
    address = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=255,
        help_text=gettext_lazy(
            "For email, SMS and phone: the address it covers; by default the email or phone among the identifiers."
        ),
    )
    legal_basis = serializers.ChoiceField(choices=LegalBasis.choices, required=False)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    proof = ConsentProofSerializer()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["status"] == ConsentStatus.GRANTED and not attrs["proof"].get("ip"):
            raise serializers.ValidationError({"proof": {"ip": [_("A grant needs the IP address it was given from.")]}})
        return attrs


class GdprRequestCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=GdprRequestKind.choices)
    identifiers = IdentifiersSerializer()
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


# ---------------------------------------------------------------------------
# Output


class IdentifierOutSerializer(serializers.Serializer):
    kind = serializers.CharField()
    value = serializers.CharField()


class ConsentStateOutSerializer(serializers.Serializer):
    channel = serializers.CharField()
    address = serializers.CharField()
    status = serializers.CharField()
    legal_basis = serializers.CharField()
    since = serializers.DateTimeField(source="occurred_at")


class MembershipOutSerializer(serializers.Serializer):
    segment_id = serializers.IntegerField()
    segment_name = serializers.CharField(source="segment.name")
    entered_at = serializers.DateTimeField()


class ProfileOutSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="uuid")
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    birth_date = serializers.DateField(allow_null=True)
    city = serializers.CharField()
    postcode = serializers.CharField()
    country = serializers.CharField()
    language = serializers.CharField()
    traits = serializers.SerializerMethodField()
    do_not_track = serializers.BooleanField()
    do_not_contact = serializers.BooleanField()
    identifiers = IdentifierOutSerializer(many=True, source="identifiers.all")
    consents = ConsentStateOutSerializer(many=True, source="consents.all")
    segments = MembershipOutSerializer(many=True, source="shared_memberships")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field({"type": "object", "additionalProperties": True})
    def get_traits(self, profile: Any) -> dict[str, Any]:
        return profile.traits if isinstance(profile.traits, dict) else {}


class ProfileUpsertOutSerializer(ProfileOutSerializer):
    created = serializers.BooleanField()
    merged_profiles = serializers.IntegerField(help_text=gettext_lazy("How many profiles were merged into this one."))


class EventOutSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["recorded", "duplicate", "not_kept"],
        help_text=gettext_lazy(
            "recorded; duplicate: an event with this message_id was already kept; "
            "not_kept: the person asked not to be tracked."
        ),
    )
    profile_id = serializers.UUIDField(allow_null=True)


class RejectedEventSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text=gettext_lazy("Position of the event in the batch, from 0."))
    errors = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))


class EventBatchOutSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    recorded = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    not_kept = serializers.IntegerField()
    rejected = RejectedEventSerializer(many=True)


class ConsentOutSerializer(serializers.Serializer):
    profile_id = serializers.UUIDField()
    channel = serializers.CharField()
    status = serializers.CharField()
    address = serializers.CharField()
    legal_basis = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    consents = ConsentStateOutSerializer(many=True, help_text=gettext_lazy("The current state for this channel."))


class SegmentOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    updated_at = serializers.DateTimeField()


class SegmentMemberOutSerializer(serializers.Serializer):
    profile_id = serializers.UUIDField(source="profile.uuid")
    addresses = serializers.ListField(
        child=serializers.CharField(),
        help_text=gettext_lazy("The consented addresses on the partner's channel (empty for person-wide channels)."),
    )
    entered_at = serializers.DateTimeField()


class DeliveryCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())


class ConversionsSerializer(serializers.Serializer):
    conversions = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=16, decimal_places=2)


class CampaignOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    channel = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()


class CampaignRunOutSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="uuid")
    trigger = serializers.CharField()
    status = serializers.CharField()
    started_at = serializers.DateTimeField(source="created_at")
    planned_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    deliveries = DeliveryCountsSerializer()
    conversions = ConversionsSerializer(
        allow_null=True,
        help_text=gettext_lazy("Null: conversions are credited to campaigns (see the campaigns report), not to runs."),
    )


class CampaignReportOutSerializer(serializers.Serializer):
    campaign = CampaignOutSerializer()
    runs = serializers.IntegerField()
    deliveries = DeliveryCountsSerializer()
    sends = serializers.IntegerField(help_text=gettext_lazy("Messages sent or delivered."))
    cost = serializers.DecimalField(max_digits=16, decimal_places=2)
    currency = serializers.CharField()
    conversions = ConversionsSerializer(
        allow_null=True,
        help_text=gettext_lazy(
            "Conversions and revenue credited to the campaign by last touch, as of the last reporting refresh "
            "(every 15 minutes)."
        ),
    )


class GdprRequestOutSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="uuid")
    kind = serializers.CharField()
    status = serializers.CharField()
    profile_id = serializers.UUIDField(source="profile_uuid")
    requested_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)


class GdprExportOutSerializer(serializers.Serializer):
    format_version = serializers.IntegerField()
    exported_at = serializers.CharField()
    profile = serializers.DictField()
    tables = serializers.DictField(child=serializers.ListField(child=serializers.DictField()))
