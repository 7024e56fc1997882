"""The Marketer and Administrator groups exist after migrate, with exactly the permissions of access.roles."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from access.roles import ADMINISTRATOR, MARKETER, Role
from access.services import roles_sync

pytestmark = pytest.mark.django_db


def names(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_the_marketer_group_exists_after_migrate_with_the_permissions_of_its_work():
    granted = names("Marketer")

    assert granted == MARKETER.permissions
    assert {
        "profiles.view_profile",
        "profiles.change_profile",
        "profiles.merge_profile",
        "profiles.add_consentrecord",
        "profiles.view_event",
        "segments.add_segment",
        "segments.delete_segment",
        "activations.add_campaign",
        "activations.change_campaignrun",
        "activations.view_destination",
        "activations.change_pressurecap",
        "scores.change_scoredefinition",
        "reporting.view_dashboard",
        "reporting.change_conversiontype",
    } <= granted
    forbidden = {
        "profiles.delete_profile",
        "profiles.erase_profile",
        "activations.add_destination",
        "activations.change_destination",
        "activations.delete_campaign",
        "partners.view_apikey",
        "partners.view_partner",
        "partners.view_partnercall",
        "auth.view_user",
        "auth.view_group",
        "django_celery_beat.view_periodictask",
    }
    assert not granted & forbidden
    assert not {name for name in granted if name.split(".")[0] in ("partners", "auth", "django_celery_beat")}


def test_every_permission_the_marketer_role_names_exists():
    existing = {f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.select_related("content_type")}

    assert MARKETER.permissions - existing == set()
    assert roles_sync() == set()


def test_the_administrator_group_has_every_permission_of_the_project_auth_and_celery_beat():
    granted = names("Administrator")

    expected = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.select_related("content_type").filter(
            content_type__app_label__in=["auth", "django_celery_beat", "profiles", "scores", "segments",
                                         "activations", "reporting", "partners"]
        )
    }  # fmt: skip
    assert granted == expected
    assert {
        "profiles.erase_profile",
        "partners.add_apikey",
        "auth.change_user",
        "activations.change_destination",
        "django_celery_beat.change_periodictask",
    } <= granted
    assert "sessions.view_session" not in granted


def test_running_migrate_again_puts_back_a_changed_group_and_changes_nothing_else():
    marketer = Group.objects.get(name="Marketer")
    before = names("Marketer"), names("Administrator"), Group.objects.count()
    # Changed by hand: an extra permission, one taken away.
    marketer.permissions.add(Permission.objects.get(codename="view_apikey"))
    marketer.permissions.remove(Permission.objects.get(codename="view_segment"))

    call_command("migrate", verbosity=0)
    call_command("migrate", verbosity=0)

    assert (names("Marketer"), names("Administrator"), Group.objects.count()) == before


def test_a_permission_left_out_of_the_definition_is_taken_from_the_group(monkeypatch):
    smaller = Role(name="Marketer", description="", permissions=MARKETER.permissions - {"segments.delete_segment"})
    monkeypatch.setattr("access.services.ROLES", (smaller, ADMINISTRATOR))

    missing = roles_sync()

    assert missing == set()
    assert "segments.delete_segment" not in names("Marketer")
    assert names("Marketer") == MARKETER.permissions - {"segments.delete_segment"}


def test_a_permission_named_but_not_in_the_database_is_reported(monkeypatch):
    typo = Role(name="Marketer", description="", permissions=MARKETER.permissions | {"segments.view_segmnt"})
    monkeypatch.setattr("access.services.ROLES", (typo, ADMINISTRATOR))

    assert roles_sync() == {"segments.view_segmnt"}
    assert names("Marketer") == MARKETER.permissions


@pytest.mark.django_db(transaction=True)
def test_the_groups_come_back_after_a_flush():
    # What a transactional test's teardown does: post_migrate is then sent without the migration state.
    call_command("flush", interactive=False, verbosity=0)

    assert names("Marketer") == MARKETER.permissions
    assert "partners.add_apikey" in names("Administrator")
