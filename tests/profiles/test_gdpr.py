import json

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.management import CommandError, call_command
from django.db import models

from profiles.gdpr import gdpr_erase, gdpr_export
from profiles.models import PrivacyAction, PrivacyLog, Profile
from profiles.services import consent_record, event_track, profile_resolve, profile_update
from tests.conftest import ALICE_EMAIL, make_profile

pytestmark = pytest.mark.django_db

# Values that belong to Zoé only, so that finding one anywhere means her data is still there.
ZOE = {
    "email": "zoe.quintard@exemple-unique.fr",
    "phone": "+33798765432",
    "crm_id": "CRM-ZQ-7781",
    "anonymous_id": "anon-zq-5521",
    "first_name": "Zoéline",
    "last_name": "Quintard",
    "ip": "198.51.100.77",
    "order": "ORDER-ZQ-1",
}


@pytest.fixture
def zoe(db) -> Profile:
    zoe = make_profile(identifiers={"email": ZOE["email"], "crm_id": ZOE["crm_id"]}, source="crm")
    profile_update(
        profile=zoe,
        fields={"first_name": ZOE["first_name"], "last_name": ZOE["last_name"], "city": "Quimper"},
        traits={"nickname": "zq"},
    )
    # A second profile of hers, merged in, so that the merge history names her too.
    make_profile(identifiers={"phone": ZOE["phone"], "anonymous_id": ZOE["anonymous_id"]}, source="web")
    zoe = profile_resolve(identifiers={"email": ZOE["email"], "phone": ZOE["phone"]}, source="shop").profile
    consent_record(
        profile=zoe,
        channel="email",
        status="granted",
        address=ZOE["email"],
        source="newsletter form",
        proof={"ip": ZOE["ip"], "form_url": "https://shop.example.fr/n", "wording_version": "v3"},
    )
    event_track(
        type="purchase",
        identifiers={"email": ZOE["email"]},
        source="shop",
        revenue="120.00",
        properties={"order_id": ZOE["order"]},
    )
    return zoe


def profile_tables() -> list[type[models.Model]]:
    return [relation.related_model for relation in Profile._meta.related_objects]


def test_the_export_holds_every_table_s_rows_about_the_person(zoe, alice):
    data = gdpr_export(profile=zoe, actor="dpo@example.fr", reason="request 12")

    assert data["profile"]["first_name"] == ZOE["first_name"]
    for model in profile_tables():
        field = next(r.field.name for r in Profile._meta.related_objects if r.related_model is model)
        expected = model._default_manager.filter(**{field: zoe}).count()
        assert len(data["tables"][model._meta.label]) == expected, model._meta.label
    text = json.dumps(data, ensure_ascii=False)
    for value in ZOE.values():
        assert value in text
    assert ALICE_EMAIL not in text
    log = PrivacyLog.objects.get()
    assert (log.action, log.profile_uuid, log.actor) == (PrivacyAction.EXPORT, zoe.uuid, "dpo@example.fr")


def every_stored_value() -> str:
    """Every text and JSON value of every table of the project, to look for a person in."""
    chunks = []
    for model in apps.get_models():
        fields = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField | models.UUIDField)
        ]
        if fields:
            for row in model._default_manager.values_list(*fields):
                chunks.append(json.dumps(row, default=str, ensure_ascii=False))
    return "\n".join(chunks)


def test_after_erasure_no_table_holds_the_person_s_data(zoe, alice, admin_user):
    # The admin's own edit history names her too.
    LogEntry.objects.log_actions(user_id=admin_user.pk, queryset=[zoe], action_flag=CHANGE)
    assert ZOE["last_name"] in every_stored_value()

    log = gdpr_erase(profile=zoe, actor="dpo@example.fr", reason="request 13")

    stored = every_stored_value()
    for name, value in ZOE.items():
        assert value not in stored, f"{name} is still stored"
    assert ALICE_EMAIL in stored  # the others are untouched
    assert log.action == PrivacyAction.ERASURE
    assert log.detail["rows"]["profiles.Event"] == 1


def test_the_gdpr_command_exports_and_erases(zoe, tmp_path, capsys):
    path = tmp_path / "zoe.json"

    call_command("gdpr", "export", f"email={ZOE['email'].upper()}", "-o", str(path), "--reason", "ticket 9")

    assert json.loads(path.read_text())["profile"]["uuid"] == str(zoe.uuid)
    with pytest.raises(CommandError, match="--yes"):
        call_command("gdpr", "erase", "phone=07 98 76 54 32")
    assert Profile.objects.filter(pk=zoe.pk).exists()

    call_command("gdpr", "erase", "phone=07 98 76 54 32", "--yes", "--actor", "dpo")

    assert not Profile.objects.filter(pk=zoe.pk).exists()
    assert list(PrivacyLog.objects.order_by("id").values_list("action", "actor")) == [
        ("export", "command line"),
        ("erasure", "dpo"),
    ]


@pytest.mark.parametrize("person", ["email=nobody@example.fr", "email=not-an-email", "not-a-uuid", "fax=1"])
def test_the_gdpr_command_says_clearly_when_it_finds_nobody(zoe, person):
    with pytest.raises(CommandError):
        call_command("gdpr", "export", person)

    assert not PrivacyLog.objects.exists()
