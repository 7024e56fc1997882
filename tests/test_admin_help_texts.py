"""Every field a marketer can edit says what it is for: the admin's add and change forms, and the forms of its pages."""

import pytest
from django import forms
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from activations.models import ConnectorKind, Destination
from profiles.forms import ConsentRecordForm
from segments.forms import SegmentListUploadForm

pytestmark = pytest.mark.django_db

# The apps a marketer works in (partners, users and the scheduler are the administrator's).
MARKETER_APPS = {"profiles", "segments", "activations", "reporting", "scores"}
# Fields whose label says all there is to say, as "model label.field name", each with its reason. None today:
# even "first name" says how to write it. An entry here must still be a field without a help text.
SELF_EXPLAINED: dict[str, str] = {}


def editable_fields(form: forms.BaseForm) -> dict[str, forms.Field]:
    return {name: field for name, field in form.fields.items() if not field.widget.is_hidden}


def marketer_forms(request) -> list[tuple[str, forms.BaseForm]]:
    """(model label, form) of every add and change form, and of each inline, that the user may fill in."""
    found = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in MARKETER_APPS:
            continue
        label = model._meta.label
        for change in (False, True):
            allowed = model_admin.has_change_permission(request) if change else model_admin.has_add_permission(request)
            if not allowed:
                continue
            found.append((label, model_admin.get_form(request, None, change=change)()))
            for inline in model_admin.get_inline_instances(request, None):
                if inline.has_add_permission(request, None) or inline.has_change_permission(request, None):
                    found.append((inline.model._meta.label, inline.get_formset(request, None).form()))
    return found


def test_every_field_a_marketer_edits_has_a_help_text(admin_user, alice):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    pages = [
        *marketer_forms(request),
        ("profiles.ConsentRecord", ConsentRecordForm(profile=alice)),
        ("segments.SegmentListEntry", SegmentListUploadForm()),
    ]
    assert {label for label, _form in pages} >= {
        "profiles.Profile", "profiles.Identifier", "profiles.ConsentRecord", "segments.Segment",
        "activations.Campaign", "activations.CampaignArm", "activations.Destination", "activations.PressureCap",
        "reporting.ConversionType", "reporting.CampaignAttribution", "scores.ScoreDefinition",
    }  # fmt: skip

    missing = sorted(
        {
            f"{label}.{name} (“{field.label}”)"
            for label, form in pages
            for name, field in editable_fields(form).items()
            if not str(field.help_text or "").strip() and f"{label}.{name}" not in SELF_EXPLAINED
        }
    )

    assert not missing, "Fields a marketer edits without a help text:\n" + "\n".join(missing)
    stale = set(SELF_EXPLAINED) - {f"{label}.{name}" for label, form in pages for name in editable_fields(form)}
    assert not stale, f"Allowed without a help text, but no longer a field: {stale}"


def test_the_sms_token_field_sets_the_secret_the_sms_connector_reads(admin_client):
    destination = Destination.objects.create(name="SMS", kind=ConnectorKind.SMS, settings={"auth": "bearer"})
    url = reverse("admin:activations_destination_change", args=[destination.pk])
    data = {"name": "SMS", "kind": "sms", "is_active": "on", "settings": '{"auth": "bearer"}', "token": "t0ken"}

    assert admin_client.post(url, data).status_code == 302

    destination.refresh_from_db()
    assert destination.secrets == {"token": "t0ken"}
