"""The dashboard's filters: they only check what the marketer chose and turn it into ReportFilters."""

from django import forms
from django.utils.translation import gettext_lazy as _

from activations.models import Campaign
from profiles.models import Channel
from reporting.models import AttributionModel
from reporting.selectors import Period, ReportFilters
from segments.models import Segment

PERIOD_CHOICES = [(Period.DAY, _("Day")), (Period.WEEK, _("Week")), (Period.MONTH, _("Month"))]


class DashboardFilterForm(forms.Form):
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    period = forms.ChoiceField(label=_("By"), choices=PERIOD_CHOICES, required=False, initial=Period.WEEK)
    channel = forms.ChoiceField(label=_("Channel"), choices=[("", _("All channels")), *Channel.choices], required=False)
    campaign = forms.ModelChoiceField(
        label=_("Campaign"), queryset=Campaign.objects.order_by("name"), required=False, empty_label=_("All campaigns")
    )
    segment = forms.ModelChoiceField(
        label=_("Segment"), queryset=Segment.objects.order_by("name"), required=False, empty_label=_("All segments")
    )
    model = forms.ChoiceField(
        label=_("Attribution"), choices=AttributionModel.choices, required=False, initial=AttributionModel.LAST_TOUCH
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError(_("The start of the period is after its end."))
        return data

    def filters(self) -> ReportFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return ReportFilters(
            start=data.get("start"),
            end=data.get("end"),
            channel=data.get("channel") or "",
            campaign_id=data["campaign"].pk if data.get("campaign") else None,
            segment_id=data["segment"].pk if data.get("segment") else None,
            model=data.get("model") or AttributionModel.LAST_TOUCH,
            period=data.get("period") or Period.WEEK,
        )
