"""`make run` creates marie, a demo marketer login, prints it, and she logs in with what was printed."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_ensure_marketer_creates_marie_once_in_the_marketer_group_and_prints_her_login(settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path

    call_command("ensure_marketer")
    first = capsys.readouterr().out
    call_command("ensure_marketer")
    second = capsys.readouterr().out

    password = re.search(r"Marketer login: marie / (\S+)", first).group(1)
    assert f"marie / {password}" in second
    assert (tmp_path / "marie-password.txt").read_text().strip() == password
    marie = get_user_model().objects.get(username="marie")
    assert marie.is_staff and not marie.is_superuser
    assert list(marie.groups.values_list("name", flat=True)) == ["Marketer"]
    client = Client()
    assert client.login(username="marie", password=password)
    assert client.get(reverse("admin:segments_segment_changelist")).status_code == 200
    assert client.get(reverse("admin:partners_apikey_changelist")).status_code == 403


def test_marie_is_put_back_in_her_group(settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    call_command("ensure_marketer")
    marie = get_user_model().objects.get(username="marie")
    marie.groups.clear()

    call_command("ensure_marketer")

    assert list(marie.groups.values_list("name", flat=True)) == ["Marketer"]


def test_without_the_roles_the_command_says_to_migrate(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    Group.objects.filter(name="Marketer").delete()

    with pytest.raises(CommandError, match="run “manage.py migrate” first"):
        call_command("ensure_marketer")
    assert not get_user_model().objects.filter(username="marie").exists()
