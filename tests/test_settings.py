import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_settings(tmp_path: Path, **environment: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in {"DEBUG", "SECRET_KEY", "DATABASE_URL"}}
    env.update({"DJANGO_SETTINGS_MODULE": "cdp.settings", "CDP_VAR_DIR": str(tmp_path), **environment})
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'])"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = load_settings(tmp_path, DEBUG="false")

    assert result.returncode != 0
    assert "Set the SECRET_KEY environment variable" in result.stderr


def test_the_embedded_defaults_need_no_server(tmp_path):
    result = load_settings(tmp_path, DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.sqlite3"
    assert (tmp_path / "broker" / "queue").is_dir()


@pytest.mark.parametrize(
    ("url", "engine"),
    [("postgres://postgres@127.0.0.1:5432/cdp", "django.db.backends.postgresql")],
)
def test_database_url_selects_the_database(tmp_path, url, engine):
    result = load_settings(tmp_path, DEBUG="false", SECRET_KEY="x" * 50, DATABASE_URL=url)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == engine
