"""Admin forms for profiles: they check what a marketer typed, the services do the rest."""

import re
from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib.admin.widgets import AdminDateWidget, AdminRadioSelect, AdminSplitDateTime
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export.forms import ConfirmImportForm, ImportForm

from profiles.importing.mapping import mapping_check, mapping_guess, target_choices, trait_name
from profiles.importing.reading import ImportFileError
from profiles.models import (
    CHANNEL_ADDRESS_KIND,
    Channel,
    ConsentStatus,
    Identifier,
    LegalBasis,
    Profile,
)
from profiles.services import identifier_check


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: on the field it names, else at the top."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for name, messages in error.message_dict.items():
        form.add_error(name if name in form.fields else None, messages)


COUNTRY_CODE_MESSAGE = _("Use the two-letter country code, for example FR for France or BE for Belgium.")


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Profile
        fields = ["first_name", "last_name", "birth_date", "city", "postcode", "country", "language", "traits"]
        help_texts = {
            "first_name": _("As the person writes it, for example Élodie."),
            "last_name": _("Family name, for example Martin."),
            "birth_date": _("Used for birthday campaigns and age-based audiences."),
            "city": _("City of the postal address, for example Lyon."),
            "postcode": _("Postcode of the postal address, for example 69002."),
        }
        widgets = {"birth_date": AdminDateWidget}
        error_messages = {"country": {"max_length": COUNTRY_CODE_MESSAGE}}

    def clean_country(self) -> str:
        country = self.cleaned_data["country"].strip().upper()
        if country and not re.fullmatch(r"[A-Z]{2}", country):
            raise ValidationError(COUNTRY_CODE_MESSAGE, code="invalid_country")
        return country

    def clean_traits(self) -> dict[str, Any]:
        traits = self.cleaned_data["traits"]
        if traits is None:
            return {}
        if not isinstance(traits, dict):
            raise ValidationError(
                _('Custom traits must be a list of names and values in braces, for example {"loyalty_tier": "gold"}.'),
                code="invalid_traits",
            )
        return traits


class IdentifierForm(forms.ModelForm):
    """A new identifier typed on the profile page: stored normalised, refused when another profile holds it."""

    class Meta:
        model = Identifier
        fields = ["kind", "value"]
        help_texts = {
            "kind": _("What the value is: an email address, a phone number, a CRM id..."),
            "value": _(
                "Type it as you have it: “ Alice@Example.FR ” is stored as alice@example.fr "
                "and “06 12 34 56 78” as +33612345678."
            ),
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind, raw = cleaned.get("kind"), cleaned.get("value")
        if kind and raw is not None:
            try:
                cleaned["value"] = identifier_check(profile=self.instance.profile, kind=kind, value=raw)
            except ValidationError as error:
                add_service_errors(self, error)
        return cleaned


class ConsentRecordForm(forms.Form):
    """What a marketer records when a person gives or withdraws a consent outside the usual forms."""

    channel = forms.ChoiceField(
        label=_("Channel"), choices=Channel.choices, help_text=_("Which kind of message the consent is about.")
    )
    status = forms.ChoiceField(
        label=_("Consent"),
        choices=[
            (ConsentStatus.GRANTED, _("Granted: the person agreed")),
            (ConsentStatus.WITHDRAWN, _("Withdrawn: the person said no or unsubscribed")),
        ],
        widget=AdminRadioSelect(attrs={"class": "radiolist"}),
        initial=ConsentStatus.GRANTED,
        help_text=_("A withdrawal stops messages from the next send on."),
    )
    address = forms.ChoiceField(
        label=_("Address"),
        required=False,
        help_text=_(
            "For email, SMS and phone calls: the email address or phone number the person agreed for. "
            "Leave empty to withdraw every address of the channel, or for channels without an address "
            "(postal mail, push, advertising, partners)."
        ),
        error_messages={"invalid_choice": _("%(value)s is not one of this profile’s email addresses or phones.")},
    )
    legal_basis = forms.ChoiceField(
        label=_("Legal basis"),
        choices=LegalBasis.choices,
        initial=LegalBasis.CONSENT,
        help_text=_("Why you may contact the person. Marketing messages usually need their consent."),
    )
    source = forms.CharField(
        label=_("Source"),
        max_length=200,
        help_text=_(
            "Where the person said it, for example “paper form, Lyon shop” or “phone call to customer service”."
        ),
    )
    occurred_at = forms.SplitDateTimeField(
        label=_("Given or withdrawn on"),
        widget=AdminSplitDateTime,
        help_text=_("When the person said it (not today’s date if it was earlier)."),
    )
    form_url = forms.URLField(
        label=_("Form address (URL)"),
        required=False,
        assume_scheme="https",
        help_text=_("Proof: the web page of the form the person filled in, if any."),
    )
    wording_version = forms.CharField(
        label=_("Wording version"),
        max_length=100,
        required=False,
        help_text=_("Proof: which version of the consent text the person saw, for example “newsletter-v3”."),
    )
    ip = forms.GenericIPAddressField(
        label=_("IP address"),
        required=False,
        help_text=_("Proof: the IP address the consent came from, if known."),
    )

    def __init__(self, *args: Any, profile: Profile, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("occurred_at", timezone.now())
        super().__init__(*args, **kwargs)
        address_kinds = set(CHANNEL_ADDRESS_KIND.values())
        addresses = [identifier for identifier in profile.identifiers.all() if identifier.kind in address_kinds]
        self.fields["address"].choices = [
            ("", gettext("— no address —")),
            *[(identifier.value, f"{identifier.value} ({identifier.get_kind_display()})") for identifier in addresses],
        ]

    def service_arguments(self) -> dict[str, Any]:
        """The keyword arguments of ``profiles.services.consent_record``."""
        data = self.cleaned_data
        proof = {key: data[key] for key in ("form_url", "wording_version", "ip") if data.get(key)}
        return {
            "channel": data["channel"],
            "status": data["status"],
            "address": data["address"],
            "legal_basis": data["legal_basis"],
            "source": data["source"],
            "occurred_at": data["occurred_at"],
            "proof": proof,
        }


class PrivacyRequestForm(forms.Form):
    """The reason kept in the privacy log for an export, an erasure or a privacy flag change."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        required=False,
        help_text=_("Why, for the privacy log: for example the request’s reference or “email of 12 March”."),
    )


class PrivacyFlagForm(PrivacyRequestForm):
    # The wanted value travels with the form, so that sending it twice does not switch the flag back.
    value = forms.TypedChoiceField(
        choices=[("on", "on"), ("off", "off")], coerce=lambda value: value == "on", widget=forms.HiddenInput
    )


class MergeForm(forms.Form):
    survivor = forms.TypedChoiceField(
        label=_("Profile to keep"),
        coerce=int,
        error_messages={"required": _("Choose the profile to keep.")},
    )

    def __init__(self, *args: Any, profiles: list[Profile], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["survivor"].choices = [(profile.pk, str(profile)) for profile in profiles]


# ---------------------------------------------------------------------------
# CRM import (django-import-export's forms, our steps)


class CrmFileForm(ImportForm):
    """The upload step: the file only. CSV is the one format; its encoding and delimiter are detected."""

    def __init__(self, formats: list, resources: list, **kwargs: Any) -> None:
        super().__init__(formats, resources, **kwargs)
        field = self.fields["import_file"]
        field.label = _("CRM file (CSV)")
        field.help_text = _(
            "A CSV export of your CRM or of Excel (“CSV (separator: semicolon)” or “CSV UTF-8”). "
            "The separator (; or ,) and the encoding are recognised on their own. "
            "The first line must name the columns; you choose what each column is imported into at the next step."
        )
        field.error_messages["required"] = _("Choose the file to import.")
        field.error_messages["empty"] = _("The file is empty.")
        field.widget.attrs = {"accept": ".csv,.txt,text/csv"}
        self.fields["format"].widget = forms.HiddenInput()
        self.fields["format"].required = False
        self.initial["format"] = "0"

    def clean_format(self) -> str:
        return "0"  # CSV, the only format

    @property
    def media(self) -> forms.Media:
        # ImportForm's script guesses the format from the file name: there is only one format here.
        return forms.Media()


class CrmMappingForm(ConfirmImportForm):
    """What each column of the file is imported into: one choice per column, pre-filled by ``mapping_guess``.

    The file's temporary name travels in the hidden fields of django-import-export's ConfirmImportForm.
    """

    def __init__(self, *args: Any, header: Sequence[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header = tuple(header)
        guessed = mapping_guess(self.header)
        targets = target_choices()
        for position, column in enumerate(self.header):
            trait = f"trait:{trait_name(column)}"
            self.fields[self.column_field_name(position)] = forms.ChoiceField(
                label=column,
                choices=[
                    *targets[:1],
                    (trait, gettext("Custom trait “%(name)s” (kept as written)") % {"name": trait_name(column)}),
                    *targets[1:],
                ],
                initial=guessed[column],
            )

    @staticmethod
    def column_field_name(position: int) -> str:
        return f"column_{position}"

    def column_fields(self) -> list[forms.BoundField]:
        return [self[self.column_field_name(position)] for position in range(len(self.header))]

    def guessed_identifier(self) -> bool:
        return any(target.startswith("identifier:") for target in mapping_guess(self.header).values())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        names = [self.column_field_name(position) for position in range(len(self.header))]
        if all(name in cleaned for name in names):
            mapping = {column: cleaned[name] for column, name in zip(self.header, names, strict=True)}
            try:
                cleaned["mapping"] = mapping_check(self.header, mapping)
            except ImportFileError as error:
                raise ValidationError(str(error), code="invalid_mapping") from None
        return cleaned


class CrmConfirmForm(CrmMappingForm):
    """The confirm step: the file and its mapping again (hidden), and which rows to import."""

    VALID_ROWS = "valid"
    ALL_OR_NOTHING = "all_or_nothing"

    rows = forms.ChoiceField(
        choices=[(VALID_ROWS, _("the valid rows")), (ALL_OR_NOTHING, _("all rows or none"))],
        error_messages={"required": _("Choose which rows to import.")},
    )

    def __init__(self, *args: Any, header: Sequence[str], **kwargs: Any) -> None:
        super().__init__(*args, header=header, **kwargs)
        for position in range(len(self.header)):
            self.fields[self.column_field_name(position)].widget = forms.HiddenInput()
        # ``rows`` is not rendered: its value is the button the user clicks.

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        cleaned["all_or_nothing"] = cleaned.get("rows") == self.ALL_OR_NOTHING
        return cleaned
