"""Template tags of the admin's pages that are not the segments' own (the admin home)."""

from typing import Any

from django import template

from segments.selectors import Attention, segments_needing_attention

register = template.Library()


@register.simple_tag(takes_context=True)
def segments_attention(context: dict[str, Any]) -> list[Attention] | None:
    """The segments needing attention, or None when the user may not see segments."""
    request = context.get("request")
    if request is None or not request.user.has_perm("segments.view_segment"):
        return None
    return segments_needing_attention()
