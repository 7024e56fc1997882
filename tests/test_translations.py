"""The French translation is complete, compiled, and up to date with the source strings."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
MESSAGES = ROOT / "locale" / "fr" / "LC_MESSAGES"
PO_PATH = MESSAGES / "django.po"
MO_PATH = MESSAGES / "django.mo"
# What `manage.py makemessages` reads: the project's code and templates, not .venv, var or bench.
SOURCE_FOLDERS = [
    "cdp", "profiles", "scores", "segments", "activations", "reporting", "partners", "access", "templates", "locale",
]  # fmt: skip
NAMED_PLACEHOLDER = re.compile(r"%\(\w+\)[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")

Key = tuple[str | None, str]


def key(entry: polib.POEntry | polib.MOEntry) -> Key:
    return (entry.msgctxt, entry.msgid)


def translations(catalogue: polib.POFile | polib.MOFile) -> dict[Key, str | tuple[str, ...]]:
    return {
        key(entry): tuple(entry.msgstr_plural[form] for form in sorted(entry.msgstr_plural))
        if entry.msgid_plural
        else entry.msgstr
        for entry in catalogue
        if not entry.obsolete
    }


def placeholders(text: str) -> set[str]:
    return set(NAMED_PLACEHOLDER.findall(text))


def describe(keys: set[Key]) -> str:
    return "\n".join(f"  {msgid!r}" + (f" (context {context!r})" if context else "") for context, msgid in sorted(keys))


@pytest.fixture(scope="module")
def po() -> polib.POFile:
    return polib.pofile(str(PO_PATH))


def test_every_string_is_translated_and_checked(po):
    untranslated = [entry.msgid for entry in po.untranslated_entries()]
    fuzzy = [entry.msgid for entry in po.fuzzy_entries()]

    assert not untranslated, f"{len(untranslated)} strings have no French translation: {untranslated}"
    assert not fuzzy, f"{len(fuzzy)} translations are marked fuzzy (check them, then remove the flag): {fuzzy}"
    assert not po.metadata_is_fuzzy


def test_translations_keep_the_placeholders(po):
    broken = []
    for entry in po:
        if entry.obsolete:
            continue
        expected = placeholders(entry.msgid) | placeholders(entry.msgid_plural)
        forms = entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]
        broken += [(entry.msgid, form) for form in forms if placeholders(form) != expected]

    assert not broken, "Translations that lose or add a %(name)s placeholder:\n" + "\n".join(
        f"  {msgid!r} -> {msgstr!r}" for msgid, msgstr in broken
    )


def test_the_compiled_catalogue_matches_the_po_file(po):
    mo = polib.mofile(str(MO_PATH))

    assert mo.metadata.get("Plural-Forms") == po.metadata.get("Plural-Forms")
    assert translations(mo) == translations(po), (
        "locale/fr/LC_MESSAGES/django.mo is out of date: run `make messages` (compilemessages)."
    )


def test_the_po_file_has_every_string_of_the_source(po, tmp_path):
    if shutil.which("xgettext") is None:
        pytest.skip("GNU gettext (xgettext) is not installed")
    for folder in SOURCE_FOLDERS:
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "manage.py", tmp_path / "manage.py")
    environment = {**os.environ, "DEBUG": "true", "CDP_VAR_DIR": str(tmp_path / "var")}

    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "fr", "--no-obsolete", "--ignore=bench"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr

    regenerated = {key(entry) for entry in polib.pofile(str(tmp_path / PO_PATH.relative_to(ROOT)))}
    committed = {key(entry) for entry in po if not entry.obsolete}
    missing, stale = regenerated - committed, committed - regenerated
    assert not missing and not stale, (
        "locale/fr/LC_MESSAGES/django.po is not up to date with the source: run `make messages`, "
        "translate, and compile.\n"
        f"Missing from the .po ({len(missing)}):\n{describe(missing)}\n"
        f"No longer in the source ({len(stale)}):\n{describe(stale)}"
    )
