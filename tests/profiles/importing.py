"""Helpers for the import tests: files as the CRM team sends them, and the profiles as comparable data."""

import io

from django.core.management import call_command

from profiles.importing.services import profile_import_run
from profiles.models import ConsentRecord, ConsentState, Event, Identifier, MergeLog, Profile, ProfileImport


def csv_bytes(lines: list[str], *, encoding: str = "utf-8", delimiter: str = ";", newline: str = "\r\n") -> bytes:
    text = newline.join(line.replace(";", delimiter) for line in lines) + newline
    return text.encode(encoding)


def import_bytes(data: bytes, *, name: str = "crm.csv", **options) -> ProfileImport:
    return profile_import_run(stream=io.BytesIO(data), file_name=name, actor="test", **options)


def import_with_command(tmp_path, data: bytes, *args: str, name: str = "crm.csv") -> None:
    path = tmp_path / name
    path.write_bytes(data)
    call_command("import_profiles", str(path), "--no-progress", *args)


def profiles_snapshot() -> list[tuple]:
    """Every profile as what the marketer sees (no primary keys): identifiers, fields, traits, consents."""
    snapshot = []
    for profile in Profile.objects.prefetch_related("identifiers", "consents"):
        snapshot.append(
            (
                tuple(sorted(profile.identifiers.values_list("kind", "value"))),
                profile.first_name,
                profile.last_name,
                profile.birth_date,
                profile.city,
                profile.postcode,
                profile.country,
                profile.language,
                tuple(sorted(profile.traits.items())),
                tuple(sorted(profile.consents.values_list("channel", "address", "status"))),
            )
        )
    return sorted(snapshot, key=repr)


def profile_tables_count() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Profile, Identifier, ConsentRecord, ConsentState, Event, MergeLog)
    }


def profiles_clear() -> None:
    for model in (ConsentState, ConsentRecord, Event, MergeLog, Identifier, Profile):
        model.objects.all().delete()
