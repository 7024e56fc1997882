"""The message of a campaign or of a variant as form fields, read from and written to its JSON content.

A marketer writes a subject and a text, not JSON: the form shows one field per
thing the destination's connector reads from ``content`` (email: subject, text,
HTML; SMS: text) and keeps every other key of the content in an optional
"extra data" field, so that nothing stored is lost when a page is saved. What
is valid is decided by the connector itself (``templates()``), never here: the
form only says on which field its complaint goes.
"""

import json
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ObjectDoesNotExist
from django.utils.functional import lazy
from django.utils.html import format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from activations.connectors import ConnectorError, connectors_load
from activations.models import ConnectorKind, Destination
from activations.services import PROFILE_FIELDS

# The form field of each key a channel's connector reads from the content, in the order they are checked.
CHANNEL_CONTENT_FIELDS: dict[str, dict[str, str]] = {
    "email": {"content_subject": "subject", "content_text": "text", "content_html": "html"},
    "sms": {"content_sms_text": "text"},
}
# The connector that reads each channel's message when the destination is of that kind.
CHANNEL_CONNECTOR_KIND = {"email": ConnectorKind.EMAIL, "sms": ConnectorKind.SMS}
# A content that passes a connector's checks, for checking one field at a time.
NEUTRAL_CONTENT: dict[str, dict[str, str]] = {"email": {"subject": "x", "text": "x"}, "sms": {"text": "x"}}
CONTENT_FIELD_NAMES = ["content_subject", "content_text", "content_html", "content_sms_text", "content_extra"]


def _placeholders_help(channel: str, variant: bool = False) -> SafeString:
    names = format_html_join(", ", "<code>{{{{ {} }}}}</code>", ((name,) for name in PROFILE_FIELDS))
    text = gettext(
        "Placeholders put each person’s details into the message: %(names)s, and any trait imported from the "
        "CRM, for example <code>{{ loyalty_tier }}</code>. To write something when a detail is missing: "
        '<code>{{ first_name|default:"dear customer" }}</code>.'
    ) % {"names": names}
    if channel == "email":
        text += " " + gettext("The link to unsubscribe: <code>{{ unsubscribe_url }}</code>.")
    if variant:
        text = gettext("Leave the message empty to send the campaign’s own.") + " " + text
    return SafeString(text)


placeholders_help = lazy(_placeholders_help, SafeString)


def content_fieldsets(*, variant: bool = False) -> list[tuple[Any, dict[str, Any]]]:
    """The admin fieldsets of the message, one per channel: the page's script shows the chosen channel's only."""
    return [
        (
            _("Email message"),
            {
                "fields": ["content_subject", "content_text", "content_html"],
                "classes": ["cdp-content", "cdp-content-email"],
                "description": placeholders_help("email", variant),
            },
        ),
        (
            _("SMS message"),
            {
                "fields": ["content_sms_text"],
                "classes": ["cdp-content", "cdp-content-sms"],
                "description": placeholders_help("sms", variant),
            },
        ),
        (
            _("Message"),
            {
                "fields": [],
                "classes": ["cdp-content", "cdp-content-none"],
                "description": _(
                    "On this channel there is no message to write here: the destination receives the list of "
                    "people with their details (a file, an ad audience, or a webhook with the extra data below)."
                ),
            },
        ),
        (_("Webhook"), {"fields": ["content_extra"], "classes": ["cdp-content-extra"]}),
    ]


def _text_area(rows: int, **attrs: str) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "class": "vLargeTextField", **attrs})


class ContentFields(forms.Form):
    """Builds ``content`` from the message fields (``content_*``) and shows the stored content in them.

    A model form lists it first among its bases, shows the stored content with ``content_initial``
    and, in its ``clean``, stores what ``content_build`` returns: a variant passes its campaign's
    channel and destination when it has none of its own.
    """

    class Media:
        js = ["activations/campaign_content.js"]

    content_subject = forms.CharField(
        label=_("Subject"),
        required=False,
        max_length=500,
        # As wide as the text below: a subject with placeholders is long.
        widget=forms.TextInput(attrs={"class": "vTextField", "style": "width: 100%; max-width: 38em"}),
        help_text=_(
            "The subject line people see in their inbox, for example “{{ first_name }}, your discount ends tonight”."
        ),
    )
    content_text = forms.CharField(
        label=_("Text"),
        required=False,
        widget=_text_area(10),
        help_text=_(
            "The message itself, as plain text. Needed unless you write an HTML version: then people whose mail "
            "program shows no HTML get the HTML without its formatting."
        ),
    )
    content_html = forms.CharField(
        label=_("HTML version (optional)"),
        required=False,
        widget=_text_area(10),
        help_text=_(
            "The same message with layout and images, as HTML made in your email editor. Leave empty for text only."
        ),
    )
    content_sms_text = forms.CharField(
        label=_("Text of the SMS"),
        required=False,
        widget=_text_area(
            4,
            **{
                "data-sms-counter": _(
                    "%(characters)s characters, %(messages)s SMS (before the placeholders are filled)"
                ),
            },
        ),
        help_text=_(
            "One SMS holds 160 characters, or 70 when the text has an emoji or a letter outside the SMS alphabet "
            "(such as â, ê or ç); a longer text is sent as several SMS, each paid for. The destination may add its "
            "STOP notice at the end."
        ),
    )
    content_extra = forms.CharField(
        label=_("Extra data sent to the webhook (optional)"),
        required=False,
        widget=_text_area(4, placeholder='{"offer": "SUMMER24"}'),
        help_text=_(
            "Only for a webhook destination: data its receiver expects with the message, written between braces, "
            'for example {"template_id": 42, "offer": "SUMMER24"}. Sent as written: placeholders are not filled '
            "here, the receiver gets each person’s details beside it."
        ),
    )

    def content_initial(self, content: Mapping[str, Any] | None, channel: str | None) -> None:
        """Show the stored content in the fields of its channel; every other key in the extra data."""
        # The page's script shows the extra data with a webhook destination only (or when it holds something).
        webhooks = Destination.objects.filter(kind=ConnectorKind.WEBHOOK).values_list("pk", flat=True)
        self.fields["content_extra"].widget.attrs["data-webhook-destinations"] = json.dumps(list(webhooks))
        content = dict(content or {})
        for field_name, key in CHANNEL_CONTENT_FIELDS.get(channel or "", {}).items():
            value = content.pop(key, None)
            if value is not None:
                self.fields[field_name].initial = value if isinstance(value, str) else json.dumps(value)
        if content:
            self.fields["content_extra"].initial = json.dumps(content, ensure_ascii=False, indent=2)

    def clean_content_extra(self) -> dict[str, Any]:
        text = (self.cleaned_data.get("content_extra") or "").strip()
        if not text:
            return {}
        try:
            extra = json.loads(text)
        except ValueError as error:
            raise forms.ValidationError(
                gettext(
                    "This is not data the webhook can read (%(error)s). Write it between braces, with names and "
                    'texts in double quotes, for example {"offer": "SUMMER24"}.'
                )
                % {"error": error}
            ) from None
        if not isinstance(extra, dict):
            raise forms.ValidationError(gettext('Write the data between braces, for example {"offer": "SUMMER24"}.'))
        return extra

    def content_build(self, *, channel: str | None, destination: Destination | None) -> dict[str, Any] | None:
        """The content from the fields of ``channel``, checked by the connector that will send it; None if wrong."""
        extra = self.cleaned_data.get("content_extra")
        if extra is None:  # its own error is shown already
            return None
        fields = CHANNEL_CONTENT_FIELDS.get(channel or "", {})
        taken = sorted(key for key in fields.values() if key in extra)
        if taken:
            self.add_error(
                "content_extra",
                gettext("Remove “%(keys)s” from the extra data: the fields above set it.") % {"keys": ", ".join(taken)},
            )
            return None
        content = dict(extra)
        for field_name, key in fields.items():
            value = self.cleaned_data.get(field_name) or ""
            if value.strip():
                content[key] = value
        return content if self._content_check(content, channel=channel, destination=destination) else None

    def _content_check(self, content: dict[str, Any], *, channel: str | None, destination: Destination | None) -> bool:
        """Run the sending connector's own checks, one field at a time so that each complaint lands on its field."""
        kind = CHANNEL_CONNECTOR_KIND.get(channel or "")
        if kind is None or destination is None or destination.kind != kind:
            return True  # another connector sends it as it is (webhook) or reads no message (files, audiences)
        registry = connectors_load()
        fields = CHANNEL_CONTENT_FIELDS[kind]
        # The message's own parts, with a destination of no settings: its settings are not the message's fault.
        alone = registry[kind](Destination(kind=kind)).templates
        valid = True
        for field_name, key in fields.items():
            if key in content:
                try:
                    alone({**NEUTRAL_CONTENT[kind], key: content[key]})
                except ConnectorError as error:
                    self.add_error(field_name, str(error))
                    valid = False
        if not valid:
            return False
        try:
            registry[kind](destination).templates(content)
        except ConnectorError as error:
            # Each part is right on its own: something is missing, or the destination's settings are wrong.
            missing = [name for name, key in fields.items() if key not in content and name != "content_html"]
            self.add_error(missing[0] if missing else "destination", str(error))
            return False
        return True


def arm_campaign(arm: Any) -> Any:
    """The campaign of a saved variant; None for a new one."""
    try:
        return arm.campaign
    except ObjectDoesNotExist:
        return None
