"""The French admin shows no English for the project's own text, on any page a marketer can open.

Every page of every registered model — list, add form, one object's page — is
opened in French on a populated demo instance, and its visible text is searched
for the project's English messages: a message marked for translation but
translated too early (``gettext`` at import time instead of ``gettext_lazy``)
or rendered outside the translation machinery shows up here as English.
"""

import contextlib
import html
import re
from pathlib import Path

import polib
import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import translation

CATALOGUE = Path(__file__).resolve().parents[1] / "locale" / "fr" / "LC_MESSAGES" / "django.po"
# Messages long enough to be unambiguous English sentences once placeholders are cut out of them.
MIN_WORDS = 4


def english_messages() -> set[str]:
    """The fixed parts (between placeholders and tags) of the project's English messages that French changes."""
    parts: set[str] = set()
    for entry in polib.pofile(str(CATALOGUE)):
        if entry.obsolete or not entry.msgstr or entry.msgstr == entry.msgid:
            continue
        for part in re.split(r"%\(\w+\)[sdf]|%[sd]|\{[^}]*\}|<[^>]+>", entry.msgid):
            part = part.strip(" .,:;!?()«»“”\"'–—…\n")
            if len(part.split()) >= MIN_WORDS:
                parts.add(part)
    return parts


def visible_text(page: str) -> str:
    page = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", page)
    page = re.sub(r"(?s)<!--.*?-->", " ", page)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


@pytest.fixture
def demo_instance(db) -> Client:
    # A French instance: its demo data (segment and campaign names, messages) is written in French.
    with translation.override("fr"):
        call_command("generate_demo_data", profiles=60, days=30, verbosity=0)
        call_command("create_demo_segments", verbosity=0)
        call_command("create_demo_campaign", verbosity=0)
    client = Client(HTTP_ACCEPT_LANGUAGE="fr")
    client.force_login(User.objects.create_superuser("admin", password="x"))
    return client


def admin_pages() -> list[str]:
    pages = ["/admin/"]
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        if model._meta.app_label in {"auth", "django_celery_beat"}:
            continue  # Django's and django-celery-beat's own pages, translated by them
        pages.append(reverse("admin:{}_{}_changelist".format(*info)))
        with contextlib.suppress(NoReverseMatch):  # a model that cannot be added has no add page
            pages.append(reverse("admin:{}_{}_add".format(*info)))
        first = model._default_manager.order_by("pk").first() if model._meta.managed else None
        if first is not None:
            pages.append(reverse("admin:{}_{}_change".format(*info), args=[first.pk]))
    return pages


def test_no_page_of_the_french_admin_shows_the_projects_english(demo_instance, settings) -> None:
    english = english_messages()
    assert len(english) > 200, "the catalogue should hold the project's messages"
    found: dict[str, list[str]] = {}
    opened = 0
    for url in admin_pages():
        response = demo_instance.get(url, follow=True)
        if response.status_code in (403, 404) or "text/html" not in response.get("Content-Type", ""):
            continue
        assert response.status_code == 200, url
        opened += 1
        text = visible_text(response.content.decode())
        leaks = sorted(part for part in english if part in text)
        if leaks:
            found[url] = leaks
    assert opened > 40
    assert not found, "English on French pages:\n" + "\n".join(f"{url}: {leaks}" for url, leaks in found.items())
