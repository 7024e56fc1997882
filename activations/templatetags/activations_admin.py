"""Template tags of the admin home's campaign panel."""

from typing import Any

from django import template

from activations.selectors import campaign_runs_needing_attention

register = template.Library()


@register.simple_tag(takes_context=True)
def campaign_runs_attention(context: dict[str, Any]) -> list | None:
    """Runs flagged for failures this week, or None when the user may not see campaign runs."""
    request = context.get("request")
    if request is None or not request.user.has_perm("activations.view_campaignrun"):
        return None
    return list(campaign_runs_needing_attention())
