"""Static segments: an uploaded list of identifiers, with the lines that name nobody reported."""

import io

import pytest
from django.core.exceptions import ValidationError

from segments.models import Segment, SegmentKind, SegmentMembership
from segments.services import segment_list_upload, segment_save
from tests.conftest import ALICE_EMAIL

pytestmark = pytest.mark.django_db


def uploaded(name: str = "Salon 2026 visitors") -> Segment:
    return segment_save(segment=Segment(name=name, kind=SegmentKind.STATIC, refresh_every="never"))


def members(segment: Segment) -> set[str]:
    return set(SegmentMembership.objects.filter(segment=segment).values_list("profile__first_name", flat=True))


def test_a_list_with_a_header_matches_identifiers_as_stored(alice, bob):
    segment = uploaded()
    content = "Courriel\n  Alice.Martin@Example.FR \nnobody@example.fr\nnot an email\n\n".encode("cp1252")

    result = segment_list_upload(segment=segment, stream=io.BytesIO(content))

    assert (result.lines, result.matched, result.added) == (3, 1, 1)
    assert result.unmatched == [
        (3, "nobody@example.fr", "no profile has this identifier"),
        (4, "not an email", "“not an email” is not a valid email address."),
    ]
    assert members(segment) == {"Alice"}


def test_without_a_header_each_line_s_kind_is_guessed(alice, bob):
    segment = uploaded()
    content = f"{ALICE_EMAIL}\n06 12 34 56 78\nCRM-404\n".encode()

    result = segment_list_upload(segment=segment, stream=io.BytesIO(content))

    assert members(segment) == {"Alice", "Bob"}
    assert result.unmatched == [(3, "CRM-404", "no profile has this identifier")]


def test_a_new_upload_replaces_the_list_or_adds_to_it(alice, bob):
    segment = uploaded()
    segment_list_upload(segment=segment, stream=io.BytesIO(b"email\nalice.martin@example.fr\n"))

    segment_list_upload(segment=segment, stream=io.BytesIO(b"phone\n+33612345678\n"), replace=False)
    assert members(segment) == {"Alice", "Bob"}

    segment_list_upload(segment=segment, stream=io.BytesIO(b"phone\n+33612345678\n"))
    assert members(segment) == {"Bob"}


def test_a_file_that_is_no_list_changes_nothing(alice):
    segment = uploaded()
    segment_list_upload(segment=segment, stream=io.BytesIO(b"email\nalice.martin@example.fr\n"))

    with pytest.raises(ValidationError, match="binary data"):
        segment_list_upload(segment=segment, stream=io.BytesIO(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00"))
    with pytest.raises(ValidationError, match="empty"):
        segment_list_upload(segment=segment, stream=io.BytesIO(b""))

    assert members(segment) == {"Alice"}


def test_only_an_uploaded_list_segment_takes_a_file(alice):
    rules_segment = segment_save(
        segment=Segment(name="Lyon", refresh_every="never"),
        rules={"match": "all", "conditions": [{"field": "city", "operator": "equals", "value": "Lyon"}]},
    )

    with pytest.raises(ValidationError, match="uploaded list"):
        segment_list_upload(segment=rules_segment, stream=io.BytesIO(b"email\nalice.martin@example.fr\n"))


def test_a_merge_keeps_the_absorbed_profile_on_the_list(alice, bob, django_capture_on_commit_callbacks):
    from profiles.models import MergeReason
    from profiles.services import profile_merge

    segment = uploaded()
    segment_list_upload(segment=segment, stream=io.BytesIO(b"phone\n+33612345678\n"))

    with django_capture_on_commit_callbacks(execute=True):
        profile_merge(survivor=alice, absorbed=bob, reason=MergeReason.MANUAL)

    assert list(segment.list_entries.values_list("profile", flat=True)) == [alice.pk]
    assert members(segment) == {"Alice"}
