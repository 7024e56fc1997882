"""``{% admin_empty_state cl as state %}``: what the list's admin says to do when the list is empty."""

from typing import Any

from django import template

from profiles.empty_state import EmptyState

register = template.Library()


@register.simple_tag(takes_context=True)
def admin_empty_state(context: template.Context, cl: Any) -> EmptyState | None:
    if cl.result_count or cl.query or cl.has_active_filters:
        return None
    empty_state = getattr(cl.model_admin, "empty_state", None)
    return empty_state(context["request"]) if empty_state else None
