"""What an empty admin list says to do next: one sentence, a word of explanation and the links to follow.

A ModelAdmin says it with a method ``empty_state(self, request) -> EmptyState | None``; the project's
``admin/change_list.html`` shows it in place of the empty table (the ``admin_empty_state`` tag asks
the list's admin). Searching or filtering down to nothing still shows the usual "0 results".
"""

from dataclasses import dataclass, field
from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from django.urls import reverse


@dataclass(frozen=True)
class EmptyState:
    message: str
    explanation: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, url): only those the user may follow


def add_link(request: HttpRequest, model: type[Model], label: Any, *, query: str = "") -> list[tuple[str, str]]:
    """A link to the add page of ``model`` with its label, when the user may add one; else nothing."""
    model_admin = admin.site._registry.get(model)
    if model_admin is None or not model_admin.has_add_permission(request):
        return []
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
    return [(str(label), f"{url}?{query}" if query else url)]
