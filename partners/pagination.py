"""Cursor pagination: stable pages over lists that change while a partner reads them."""

from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request


class PartnerCursorPagination(CursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    invalid_cursor_message = gettext_lazy("This cursor is not valid: use the “next” link of the previous page.")

    def position_valid(self, position: str) -> bool:
        return True

    def decode_cursor(self, request: Request) -> Any:
        # DRF answers 404 to a bad cursor, and trusts the position inside it: both are bad input (400).
        try:
            cursor = super().decode_cursor(request)
        except Exception:
            cursor = False
        if cursor is False or (
            cursor is not None and cursor.position is not None and not self.position_valid(cursor.position)
        ):
            raise ValidationError({self.cursor_query_param: [str(self.invalid_cursor_message)]})
        return cursor

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: [_("A whole number from 1 to %(max)s.") % {"max": self.max_page_size}]}
            )
        return size


class MembersPagination(PartnerCursorPagination):
    ordering = "profile_id"

    def position_valid(self, position: str) -> bool:
        return position.isascii() and position.isdigit() and len(position) < 19


class RunsPagination(PartnerCursorPagination):
    ordering = ("-created_at", "-pk")
    page_size = 50

    def position_valid(self, position: str) -> bool:
        try:
            return parse_datetime(position) is not None
        except ValueError:
            return False


class GdprRequestsPagination(RunsPagination):
    ordering = ("-requested_at", "-pk")
