"""The platform served on loopback, as `make run` serves it, and Debian's Chromium driven by Playwright.

The platform runs in child processes of its own — the web server and a Celery
worker, on a database and a broker folder of their own — so that the browser
sees what a marketer sees: real requests, real background tasks, nothing
shared with the test process. When the suite runs on PostgreSQL
(``DATABASE_URL=postgres://...``), the platform gets a PostgreSQL database
(``<name>_e2e``), otherwise a SQLite file.

A failing test leaves a screenshot (pytest-playwright's ``--screenshot
only-on-failure``, under ``var/e2e-results/``).
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import environ
import psycopg
import pytest
from psycopg import sql

from tests.activations.conftest import Receiver

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
STARTUP_TIMEOUT = 60  # seconds for the web server and the worker to come up
# The two people of the browser tests: Marie, a marketer, and the administrator who set up the destinations.
USERS = """
from django.contrib.auth.models import Group, User
marketer = User.objects.create_user("{marketer.username}", password="{marketer.password}", is_staff=True)
marketer.groups.add(Group.objects.get_or_create(name="Marketer")[0])
User.objects.create_superuser("{administrator.username}", password="{administrator.password}")
"""


@dataclass(frozen=True)
class Login:
    username: str
    password: str


@dataclass
class Platform:
    url: str
    env: dict[str, str]
    marketer: Login
    administrator: Login

    def manage(self, *args: str, timeout: float = 120) -> str:
        """Run a management command against the served platform's database; its output."""
        completed = subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if completed.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}")
        return completed.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _database_url(var_dir: Path) -> tuple[str, str | None]:
    """The platform's database URL, and the PostgreSQL database to drop afterwards (None for SQLite)."""
    suite_url = os.environ.get("DATABASE_URL", "")
    if not suite_url.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{var_dir / 'cdp.sqlite3'}", None
    config = environ.Env.db_url_config(suite_url)
    name = f"{config['NAME']}_e2e"
    admin_url = suite_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return suite_url.rsplit("/", 1)[0] + f"/{name}", admin_url


def _wait_for(url: str, processes: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"The platform stopped at start-up:\n{_tail(logs)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 (loopback)
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"The platform did not answer {url} within {STARTUP_TIMEOUT} s:\n{_tail(logs)}")


def _tail(logs: list[Path]) -> str:
    return "\n".join(f"== {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in logs if log.exists())


@pytest.fixture(scope="session")
def platform() -> Iterator[Platform]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install chromium).")
    var_dir = Path(tempfile.mkdtemp(prefix="cdp-e2e-"))
    database_url, admin_url = _database_url(var_dir)
    port = _free_port()
    env = {
        **os.environ,
        "DEBUG": "true",
        "CDP_VAR_DIR": str(var_dir),
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "PYTHONUNBUFFERED": "1",
    }
    platform = Platform(
        url=f"http://127.0.0.1:{port}",
        env=env,
        marketer=Login("marie", "Marketing-e2e-2026"),
        administrator=Login("admin", "Admin-e2e-2026"),
    )
    platform.manage("migrate", "--no-input", timeout=300)
    platform.manage("generate_demo_data", "--profiles", "300", "--if-empty", timeout=300)
    platform.manage("create_demo_segments", "--if-empty")
    platform.manage("shell", "-c", USERS.format(marketer=platform.marketer, administrator=platform.administrator))
    logs = [var_dir / "web.log", var_dir / "worker.log"]
    commands = [
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        [sys.executable, "-m", "celery", "-A", "cdp", "worker", "--pool=solo", "--loglevel=INFO"],
    ]
    processes = []
    for command, log in zip(commands, logs, strict=True):
        with log.open("w") as output:
            processes.append(
                subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603
            )
    try:
        _wait_for(f"{platform.url}/health/", processes, logs)
        yield platform
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        if admin_url is not None:
            name = database_url.rsplit("/", 1)[1]
            with psycopg.connect(admin_url, autocommit=True) as connection:
                connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        shutil.rmtree(var_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's Chromium, never a downloaded browser. As root it needs --no-sandbox."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ["--no-sandbox"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict, platform: Platform) -> dict:
    """A French marketer's browser: French first, a laptop's screen."""
    return {
        **browser_context_args,
        "base_url": platform.url,
        "locale": "fr-FR",
        "viewport": {"width": 1400, "height": 900},
        "accept_downloads": True,
    }


@pytest.fixture
def webhook_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


def log_in(page, login: Login) -> None:
    """Log in through the admin's own login page, as a person would."""
    page.goto("/admin/login/")
    page.get_by_label("Nom d’utilisateur").fill(login.username)
    page.get_by_label("Mot de passe").fill(login.password)
    page.get_by_role("button", name="Connexion").click()
    page.wait_for_url("**/admin/")
