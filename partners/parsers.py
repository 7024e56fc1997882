"""JSON bodies the database can store: text without NUL characters or unpaired surrogates, nesting bounded.

A body larger than MAX_BODY_BYTES is refused (413) before it is read. Python's
JSON reader accepts "\\u0000" and lone "\\ud800", which PostgreSQL and UTF-8
refuse later (a 500 deep in a service); and a deeply nested body exhausts the
recursion limit. All are bad input, refused here with a 400.
"""

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from partners.exceptions import BatchTooLarge

MAX_DEPTH = 32
# Django's DATA_UPLOAD_MAX_MEMORY_SIZE does not apply to bodies DRF reads as a stream: this does.
# 10 MB leaves a batch of 1,000 events some 10 kB each.
MAX_BODY_BYTES = 10 * 1024 * 1024


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return _("Text may not contain the NUL character.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _("The text is not valid Unicode (an unpaired surrogate).")
    return None


def _check(value: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise ParseError(_("The JSON body is nested more than %(max)s levels deep.") % {"max": MAX_DEPTH})
    if isinstance(value, str):
        problem = _text_problem(value)
        if problem:
            raise ParseError(problem)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, depth + 1)
            _check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth + 1)


class StrictJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        request = (parser_context or {}).get("request")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            raise BatchTooLarge(
                _("The request body is larger than %(max)s MB: split it.") % {"max": MAX_BODY_BYTES // (1024 * 1024)}
            )
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("The JSON body is nested too deeply.")) from None
        _check(data)
        return data
