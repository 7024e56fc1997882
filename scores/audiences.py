"""The one place scores touch segments: a lookalike's seed segment and the audience segment it fills.

Segments sit above scores (their conditions read scores), so this module
imports them lazily, inside each function, through segments' public services
and selectors; nothing else in ``scores`` imports segments.
"""

import csv
import io

import numpy as np
from django.db import connection
from django.utils.translation import gettext as _

from profiles.models import Identifier, IdentifierKind

# Which identifier names a profile in an uploaded list, best first.
_LIST_KINDS = (IdentifierKind.CRM_ID, IdentifierKind.EMAIL, IdentifierKind.PHONE)


def segment_choices() -> list[tuple[int, str]]:
    from segments.models import Segment

    return list(Segment.objects.order_by("name").values_list("pk", "name"))


def segment_name(segment_id: int | None) -> str | None:
    from segments.models import Segment

    return Segment.objects.filter(pk=segment_id).values_list("name", flat=True).first() if segment_id else None


def seed_profile_ids(segment_id: int) -> np.ndarray:
    """The profiles of the seed segment now (its conditions, or its uploaded list), sorted."""
    from segments.models import Segment
    from segments.services import segment_profiles

    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        raise LookupError(segment_id)
    sql, params = segment_profiles(segment=segment).values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = np.array([row[0] for row in cursor.fetchall()], dtype=np.int64)
    return np.sort(ids)


def listable_profile_ids(profile_ids: np.ndarray) -> np.ndarray:
    """Those of ``profile_ids`` that an uploaded list can name (a CRM id, an email or a phone)."""
    held = Identifier.objects.filter(kind__in=_LIST_KINDS).values_list("profile_id", flat=True).distinct()
    known = np.fromiter(held.iterator(chunk_size=50_000), dtype=np.int64)
    return profile_ids[np.isin(profile_ids, known)]


def audience_segment_write(*, name: str, segment_id: int | None, profile_ids: np.ndarray) -> tuple[int, int]:
    """Create or refill the static segment of a lookalike with ``profile_ids``; returns (segment id, members).

    Goes through the static segments' upload service (``segment_list_upload``):
    one identifier per person (CRM id, else email, else phone) in a CSV stream.
    """
    from segments.models import RefreshEvery, Segment, SegmentKind
    from segments.services import segment_list_upload, segment_save

    segment = Segment.objects.filter(pk=segment_id).first() if segment_id else None
    if segment is None:
        segment = Segment.objects.filter(name=name, kind=SegmentKind.STATIC).first()
    if segment is None:
        segment = segment_save(
            segment=Segment(
                name=name,
                kind=SegmentKind.STATIC,
                refresh_every=RefreshEvery.NEVER,
                description=_("Filled by the lookalike score “%(name)s” each time it is computed.") % {"name": name},
            )
        )
    chosen: dict[int, tuple[int, str, str]] = {}
    wanted = set(profile_ids.tolist())
    rank = {kind: position for position, kind in enumerate(_LIST_KINDS)}
    rows = Identifier.objects.filter(kind__in=_LIST_KINDS, profile_id__in=profile_ids.tolist()).values_list(
        "profile_id", "kind", "value"
    )
    for profile_id, kind, value in rows.iterator(chunk_size=10_000):
        if profile_id in wanted and (profile_id not in chosen or rank[kind] < chosen[profile_id][0]):
            chosen[profile_id] = (rank[kind], kind, value)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    by_kind: dict[str, list[str]] = {}
    for _rank, kind, value in chosen.values():
        by_kind.setdefault(kind, []).append(value)
    # One header per file: the upload reads the kind from it. Several kinds: each value's kind is guessed.
    kinds = sorted(by_kind)
    if len(kinds) == 1:
        writer.writerow([kinds[0]])
    for kind in kinds:
        for value in by_kind[kind]:
            writer.writerow([value])
    stream = io.BytesIO(buffer.getvalue().encode())
    upload = segment_list_upload(segment=segment, stream=stream, replace=True)
    return segment.pk, upload.matched
