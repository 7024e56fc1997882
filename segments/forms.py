"""Admin forms for segments: they check what a marketer typed, the services do the rest."""

from typing import Any

from django import forms
from django.contrib.admin.widgets import AdminRadioSelect
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html, json_script
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from scores.selectors import score_choices
from segments.models import Segment, SegmentKind, rules_empty
from segments.selectors import segment_rule_catalogue
from segments.services import segment_rules_check


def rule_builder_texts() -> dict[str, str]:
    """The words of the rule builder's buttons and messages, in the current language (the script has none)."""
    return {
        "intro": gettext("People who match"),
        "group": gettext("Group %(path)s: people who match"),
        "add_condition": gettext("+ Add a condition"),
        "add_group": gettext("+ Add a group"),
        "remove_condition": gettext("Remove this condition"),
        "remove_group": gettext("Remove this group"),
        "empty_root": gettext("No condition yet: add one to say who belongs to the segment."),
        "empty_group": gettext("This group is empty: add a condition to it, or remove it."),
        "joiner_all": gettext("and"),
        "joiner_any": gettext("or"),
        "joiner_none": gettext("or"),
        "choose_field": gettext("— choose what the condition is about —"),
        "choose": gettext("— choose —"),
        "choose_action": gettext("— choose an action —"),
        "other_action": gettext("Another action…"),
        "action_name": gettext("name of the action, for example newsletter_signup"),
        "choose_segment": gettext("— choose a segment —"),
        "no_segment": gettext("There is no other segment yet."),
        "value": gettext("value"),
        # Read aloud for the number fields, whose "…" the words around them explain on screen.
        "number_of_days": gettext("number of days"),
        "number_of_times": gettext("number of times"),
        "and": gettext("and"),
        "days": gettext("days"),
        "from": gettext("from"),
        "to": gettext("to"),
        "amount": gettext("amount"),
        "list_hint": gettext("Type a value and press Enter; paste a column to add many."),
        "remove_value": gettext("Remove %(value)s"),
        "trait_key": gettext("name of the trait"),
        "trait_kind": gettext("holding a"),
        "of_action": gettext("of the action"),
        "property_add": gettext("+ Only events with a property…"),
        "property_where": gettext("whose property"),
        "property_key": gettext("property name, for example category"),
        "property_remove": gettext("Remove the property filter"),
        "rfm_bands": gettext("band"),
        "rfm_days": gettext("measured over the last"),
        "preview_title": gettext("Who matches"),
        "preview_counting": gettext("Counting…"),
        "preview_none": gettext("Nobody matches these conditions today."),
        "preview_one": gettext("1 profile matches"),
        "preview_many": gettext("%(count)s profiles match"),
        "preview_note": gettext(
            "Counted now from the conditions above, before saving. The segment’s figures change at its next refresh."
        ),
        "preview_sample": gettext("Latest matching profiles"),
        "preview_errors": gettext("Fix these to see who matches:"),
        "preview_failed": gettext("The count is not available right now (error %(status)s). You can still save."),
        "preview_offline": gettext("The count is not available right now. You can still save."),
        "column_name": gettext("Name"),
        "column_identifiers": gettext("Identifiers"),
        "column_city": gettext("City"),
        "choose_score": gettext("— choose a score —"),
        "no_score": gettext("There is no score yet: define one under Scores."),
        "percent": gettext("%"),
        "json_invalid": gettext(
            "The builder cannot read these conditions: correct them in the text box below, or empty it to start again."
        ),
    }


class RuleBuilderWidget(forms.Textarea):
    """The conditions' JSON in a textarea (what the form posts), edited by the rule builder script.

    Without the script, the textarea stays visible and the JSON can be edited by hand.
    """

    segment_id: int | None = None

    class Media:
        css = {"all": ["segments/segments.css"]}
        js = ["segments/rule_builder.js"]

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"rows": 10, "class": "vLargeTextField rule-builder-source", **(attrs or {})})

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        attrs = {**(attrs or {})}
        source_id = attrs.setdefault("id", f"id_{name}")
        catalogue_id = f"{source_id}_catalogue"
        catalogue = {**segment_rule_catalogue(segment_id=self.segment_id), "texts": rule_builder_texts()}
        # Score conditions: the scores to pick from, in a group of their own.
        catalogue["scores"] = score_choices()
        catalogue["field_groups"] = [*catalogue["field_groups"], [gettext("Scores"), ["score"]]]
        return format_html(
            '<div class="rule-builder" data-rule-builder data-source="{}" data-catalogue="{}" '
            'data-preview-url="{}" data-segment-id="{}"></div>{}{}',
            source_id,
            catalogue_id,
            reverse("admin:segments_segment_preview"),
            self.segment_id or "",
            super().render(name, value, attrs, renderer),
            json_script(catalogue, catalogue_id),
        )


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "description", "kind", "rules", "holdout_percent", "refresh_every"]
        widgets = {
            "kind": AdminRadioSelect(attrs={"class": "radiolist"}),
            "rules": RuleBuilderWidget,
            "description": forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField"}),
        }
        help_texts = {
            "name": _(
                "A name your colleagues recognise in campaign screens, for example “Lyon customers, bought in 90 days”."
            ),
            "rules": _(
                "Who belongs to the segment. Combine conditions with “all of” (and), “any of” (or) or “none of”, "
                "and group them for mixes such as “A and (B or C)”. The count updates as you edit."
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["rules"].widget.segment_id = self.instance.pk
        self.fields["rules"].error_messages["invalid"] = _(
            "The conditions are not readable JSON: correct the text, or empty it to start again."
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("kind") == SegmentKind.STATIC:
            # The people of an uploaded list come from its file, not from conditions: whatever the
            # (hidden) conditions box holds does not matter.
            self.errors.pop("rules", None)
            cleaned["rules"] = rules_empty()
        elif "rules" in cleaned:
            try:
                cleaned["rules"] = segment_rules_check(rules=cleaned["rules"], segment_id=self.instance.pk)
            except ValidationError as error:
                self.add_error("rules", error.messages)
        return cleaned


class SegmentListUploadForm(forms.Form):
    """The file of an uploaded-list segment: one identifier per line."""

    REPLACE = "replace"
    ADD = "add"

    file = forms.FileField(
        label=_("File of identifiers (CSV)"),
        help_text=_(
            "One person per line, in the first column: an email address, a phone number or a CRM id. "
            "A first line naming the column (email, téléphone, crm_id…) tells which kind they are; "
            "without it each value’s kind is guessed. Excel’s “CSV (separator: semicolon)” works as it is."
        ),
        error_messages={"required": _("Choose the file to upload."), "empty": _("The file is empty.")},
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv"}),
    )
    mode = forms.ChoiceField(
        label=_("The people of the file"),
        choices=[
            (REPLACE, _("replace the current list (people not in the file leave the segment)")),
            (ADD, _("are added to the current list")),
        ],
        initial=REPLACE,
        widget=AdminRadioSelect(attrs={"class": "radiolist"}),
        help_text=_("People who leave or enter are kept in the segment’s history."),
    )

    @property
    def replace(self) -> bool:
        return self.cleaned_data["mode"] == self.REPLACE
