"""Admin of scores: definitions with their schedule and "compute now", model versions with AUC and calibration.

The profile page shows the person's current scores through a read-only inline
that this module adds to the profiles' admin (profiles imports none of its
dependants: it offers ``profile_page_inlines`` for them).
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from profiles.admin import profile_page_inlines
from profiles.empty_state import EmptyState, add_link
from scores import audiences
from scores.models import ModelVersion, ProfileScore, ScoreDefinition, ScoreKind
from scores.selectors import label_display
from scores.services import (
    DEFAULT_PARAMETERS,
    score_compute_request,
    score_definition_delete,
    score_definition_save,
    score_parameters_check,
)

PARAMETER_HELP = {
    "half_life_days": _("days after which an open or a click counts half"),
    "click_weight": _("how many opens a click is worth"),
    "horizon_days": _("the model predicts the next N days"),
    "seed": _("seed of the random draws: the same data and seed give the same model"),
    "minimum_auc": _("a model whose holdout AUC is lower is not promoted"),
    "max_training_rows": _("the model learns from a sample of at most this many people"),
    "days": _("opens and clicks of the last N days are read"),
    "minimum_events": _("below this many opens and clicks, everybody's best hour is used"),
    "seed_segment": _("the segment of the best customers (chosen above)"),
    "top_percent": _("the audience takes the top N percent of the ranked people"),
    "top_count": _("or the top N people (wins over top_percent)"),
    "segment_name": _("name of the audience segment (an uploaded-list segment, refilled at each computation)"),
}


class ScoreDefinitionForm(forms.ModelForm):
    seed_segment = forms.TypedChoiceField(
        label=_("seed segment"),
        coerce=int,
        required=False,
        empty_value=None,
        help_text=_("Lookalike only: the best customers the audience should resemble."),
    )

    class Meta:
        model = ScoreDefinition
        fields = ["name", "kind", "description", "compute_every", "seed_segment", "parameters"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["seed_segment"].choices = [("", "—"), *audiences.segment_choices()]
        if self.instance.pk and self.instance.kind == ScoreKind.LOOKALIKE:
            self.fields["seed_segment"].initial = (self.instance.parameters or {}).get("seed_segment")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if not kind:
            return cleaned
        parameters = cleaned.get("parameters") or {}
        if isinstance(parameters, dict) and kind == ScoreKind.LOOKALIKE and cleaned.get("seed_segment"):
            parameters = {**parameters, "seed_segment": cleaned["seed_segment"]}
        try:
            cleaned["parameters"] = score_parameters_check(kind=kind, parameters=parameters)
        except forms.ValidationError as error:
            self.add_error("parameters", error.message_dict.get("parameters", error.messages))
        return cleaned


class ModelVersionInline(admin.TabularInline):
    model = ModelVersion
    extra = 0
    can_delete = False
    max_num = 0
    ordering = ["-number"]
    fields = ["number", "trained_at", "holdout_auc_shown", "baseline_auc_shown", "promoted", "promotion_note", "link"]
    readonly_fields = fields
    verbose_name_plural = _("model versions (latest first)")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ModelVersion]:
        return super().get_queryset(request).defer("model", "features")

    @admin.display(description=_("holdout AUC"))
    def holdout_auc_shown(self, version: ModelVersion) -> str:
        return _auc(version.holdout_auc)

    @admin.display(description=_("baseline AUC"))
    def baseline_auc_shown(self, version: ModelVersion) -> str:
        return _auc(version.baseline_auc)

    @admin.display(description=_("details"))
    def link(self, version: ModelVersion) -> str:
        url = reverse("admin:scores_modelversion_change", args=[version.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("calibration and details"))


def _auc(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


@admin.register(ScoreDefinition)
class ScoreDefinitionAdmin(admin.ModelAdmin):
    form = ScoreDefinitionForm
    inlines = [ModelVersionInline]
    list_display = ["name", "kind", "compute_every", "status", "computed_at", "profiles_scored", "latest_auc"]
    list_filter = ["kind", "status"]
    search_fields = ["name"]
    actions = ["compute_now"]
    readonly_fields = ["status_shown", "computed_at", "seconds", "profiles_scored", "audience", "parameters_help"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "description", "compute_every"]}),
        (_("Parameters"), {"fields": ["seed_segment", "parameters", "parameters_help"]}),
        (_("Last computation"), {"fields": ["status_shown", "computed_at", "seconds", "profiles_scored", "audience"]}),
    ]

    def empty_state(self, request: HttpRequest) -> EmptyState:
        return EmptyState(
            message=gettext("No score yet: create one to rank people by value, engagement or likelihood to buy."),
            explanation=gettext(
                "A score gives each person a figure, computed again on its schedule, that segments can use as a "
                "condition: for example the people most likely to buy, or those who look like your best customers."
            ),
            links=add_link(request, ScoreDefinition, _("Create a score")),
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[ScoreDefinition]:
        latest = ModelVersion.objects.filter(definition=OuterRef("pk")).order_by("-number")
        return super().get_queryset(request).annotate(latest_holdout_auc=Subquery(latest.values("holdout_auc")[:1]))

    @admin.display(description=_("latest holdout AUC"), ordering="latest_holdout_auc")
    def latest_auc(self, definition: ScoreDefinition) -> str:
        return _auc(definition.latest_holdout_auc)

    @admin.display(description=_("status"))
    def status_shown(self, definition: ScoreDefinition) -> str:
        detail = f" ({definition.status_detail})" if definition.status_detail else ""
        return f"{definition.get_status_display()}{detail}"

    @admin.display(description=_("audience segment"))
    def audience(self, definition: ScoreDefinition) -> str:
        name = audiences.segment_name(definition.output_segment_id)
        if name is None:
            return "—"
        url = reverse("admin:segments_segment_change", args=[definition.output_segment_id])
        return format_html('<a href="{}">{}</a>', url, name)

    @admin.display(description=_("what each kind takes"))
    def parameters_help(self, definition: ScoreDefinition) -> str:
        rows = []
        for kind, label in ScoreKind.choices:
            names = DEFAULT_PARAMETERS[kind]
            described = (
                "; ".join(f"{name} ({PARAMETER_HELP.get(name, '')}, {names[name]!r})" for name in names)
                if names
                else gettext("no parameter")
            )
            rows.append((label, described))
        return format_html("<dl>{}</dl>", format_html_join("", "<dt>{}</dt><dd>{}</dd>", rows))

    def save_model(self, request: HttpRequest, obj: ScoreDefinition, form: forms.ModelForm, change: bool) -> None:
        score_definition_save(definition=obj)

    def delete_model(self, request: HttpRequest, obj: ScoreDefinition) -> None:
        score_definition_delete(definition=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ScoreDefinition]) -> None:
        for definition in queryset:
            score_definition_delete(definition=definition)

    @admin.action(description=_("Compute now"), permissions=["change"])
    def compute_now(self, request: HttpRequest, queryset: QuerySet[ScoreDefinition]) -> None:
        for definition in queryset:
            score_compute_request(definition=definition)
        self.message_user(
            request,
            gettext("%(count)s score(s) queued: the page shows the result once a worker has computed them.")
            % {"count": queryset.count()},
            messages.SUCCESS,
        )


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "trained_at", "holdout_auc", "baseline_auc", "promoted", "promotion_note"]
    list_filter = ["promoted", "definition__kind"]
    list_select_related = ["definition"]
    fields = [
        "definition", "number", "trained_at", "data_until", "seed", "training_rows", "holdout_rows", "positive_rate",
        "holdout_auc", "baseline_auc", "baseline", "promoted", "promotion_note", "calibration_table",
        "coefficients", "details",
    ]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ModelVersion | None = None) -> bool:
        return False

    @admin.display(description=_("calibration"))
    def calibration_table(self, version: ModelVersion) -> str:
        if not version.calibration:
            return "—"
        rows = [
            (
                f"{row['low']:.1f}–{row['high']:.1f}",
                f"{row['predicted'] * 100:.1f} %",
                f"{row['observed'] * 100:.1f} %",
                row["count"],
            )
            for row in version.calibration
        ]
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            gettext("predicted probability"),
            gettext("mean predicted"),
            gettext("observed"),
            gettext("holdout profiles"),
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    @admin.display(description=_("coefficients (standardised features)"))
    def coefficients(self, version: ModelVersion) -> str:
        if not version.model:
            return "—"
        pairs = sorted(
            zip(version.features, version.model.get("coefficients", []), strict=False),
            key=lambda pair: -abs(pair[1]),
        )
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}: {}</li>", ((n, f"{c:+.3f}") for n, c in pairs)))


class ProfileScoreInline(admin.TabularInline):
    """The person's current scores, read-only, on the profile page."""

    model = ProfileScore
    extra = 0
    max_num = 0
    can_delete = False
    fields = ["definition", "value_shown", "label_shown", "top_share_shown", "model_version", "computed_at"]
    readonly_fields = fields
    verbose_name_plural = _("scores")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProfileScore]:
        return super().get_queryset(request).select_related("definition", "model_version__definition")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("score"))
    def value_shown(self, score: ProfileScore) -> str:
        if score.pk is None:  # the inline's empty form
            return ""
        if score.definition.kind == ScoreKind.BEST_SEND_HOUR:
            return f"{int(score.value):02d}:00"
        if score.definition.kind in (ScoreKind.RFM,):
            return f"{int(score.value)}"
        return f"{score.value:g}"

    @admin.display(description=_("meaning"))
    def label_shown(self, score: ProfileScore) -> str:
        return label_display(score.label) if score.label else "—"

    @admin.display(description=_("rank"))
    def top_share_shown(self, score: ProfileScore) -> str:
        if score.pk is None:
            return ""
        return gettext("top %(share)s %%") % {"share": f"{score.top_share:.4g}"}


profile_page_inlines.append(ProfileScoreInline)
