"""GDPR: export everything held about a person, and erase it.

Both walk every table that points at Profile (``Profile._meta.related_objects``),
so a table added by another app later is exported and erased without a change
here. Each request is written to the PrivacyLog, which holds no personal data.
"""

import datetime
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction

from profiles.models import PrivacyAction, PrivacyLog, Profile

EXPORT_FORMAT_VERSION = 1


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return value


def _row(instance: models.Model) -> dict[str, Any]:
    return {field.attname: _plain(getattr(instance, field.attname)) for field in instance._meta.concrete_fields}


def _rows_about(profile: Profile) -> Iterator[tuple[type[models.Model], models.QuerySet]]:
    """Each table that points at Profile, with its rows about this person."""
    for relation in Profile._meta.related_objects:
        model = relation.related_model
        yield model, model._default_manager.filter(**{relation.field.name: profile}).order_by("pk")


def _related_tables(profile: Profile) -> dict[str, list[models.Model]]:
    return {model._meta.label: list(rows) for model, rows in _rows_about(profile)}


def gdpr_held_rows(*, profile: Profile) -> list[tuple[str, int]]:
    """How many rows of each table hold data about the person: what an erasure deletes besides the profile."""
    counts = [(str(model._meta.verbose_name_plural), rows.count()) for model, rows in _rows_about(profile)]
    return [(name, count) for name, count in counts if count]


@transaction.atomic
def gdpr_export(*, profile: Profile, actor: str, reason: str = "") -> dict[str, Any]:
    """Everything held about the person, as JSON-ready data: the profile and every related table."""
    data = {
        "format_version": EXPORT_FORMAT_VERSION,
        "exported_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "profile": _row(profile),
        "tables": {label: [_row(row) for row in rows] for label, rows in _related_tables(profile).items()},
    }
    PrivacyLog.objects.create(
        action=PrivacyAction.EXPORT,
        profile_uuid=profile.uuid,
        actor=actor,
        reason=reason,
        detail={"rows": {label: len(rows) for label, rows in data["tables"].items()}},
    )
    return data


@transaction.atomic
def gdpr_erase(*, profile: Profile, actor: str, reason: str = "") -> PrivacyLog:
    """Delete the person: profile, identifiers, events, consent log and proof, merge history.

    The admin's own history of edits to these rows names the person too, so it
    goes as well. What stays is the PrivacyLog line (public id, who, when, row
    counts) and anonymous aggregates computed elsewhere.
    """
    related = _related_tables(profile)
    for rows in related.values():
        if rows:
            content_type = ContentType.objects.get_for_model(rows[0])
            LogEntry.objects.filter(content_type=content_type, object_id__in=[str(row.pk) for row in rows]).delete()
    LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Profile), object_id=str(profile.pk)).delete()
    profile_uuid = profile.uuid
    profile.delete()
    return PrivacyLog.objects.create(
        action=PrivacyAction.ERASURE,
        profile_uuid=profile_uuid,
        actor=actor,
        reason=reason,
        detail={"rows": {label: len(rows) for label, rows in related.items()}},
    )
