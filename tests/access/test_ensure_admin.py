import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client


@pytest.mark.django_db
def test_ensure_admin_creates_a_login_once_and_prints_it(settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path

    call_command("ensure_admin")
    first = capsys.readouterr().out
    call_command("ensure_admin")
    second = capsys.readouterr().out

    password = re.search(r"Admin login: admin / (\S+)", first).group(1)
    assert f"admin / {password}" in second  # the same login is printed each time
    assert get_user_model().objects.filter(username="admin", is_superuser=True).count() == 1
    client = Client()
    assert client.login(username="admin", password=password)
    assert client.get("/admin/").status_code == 200
