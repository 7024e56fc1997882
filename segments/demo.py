"""Example segments on the demo data, so that a new instance shows what the builder can say."""

from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from segments.models import RefreshEvery, RefreshTrigger, Segment
from segments.services import segment_refresh, segment_save


def demo_segments_rules() -> list[tuple[str, str, Decimal, dict]]:
    """(name, description, control group %, rules) of each example segment."""
    return [
        (
            _("Recent buyers"),
            _("Bought something in the last 30 days."),
            Decimal("10"),
            {
                "match": "all",
                "conditions": [
                    {"field": "event", "event_type": "purchase", "operator": "did", "window": "last_days", "days": 30}
                ],
            },
        ),
        (
            _("Shoe lovers reachable by email"),
            _("Looked at shoes at least twice in the last 90 days, and accept emails."),
            Decimal("10"),
            {
                "match": "all",
                "conditions": [
                    {
                        "field": "event",
                        "event_type": "product_view",
                        "operator": "at_least",
                        "count": 2,
                        "window": "last_days",
                        "days": 90,
                        "property_key": "category",
                        "property_operator": "equals",
                        "property_value": "shoes",
                    },
                    {"field": "consent", "operator": "granted", "value": "email"},
                ],
            },
        ),
        (
            _("Big spenders drifting away"),
            _("Among the 40 % who spend most over a year, but no purchase for 60 days or more."),
            Decimal("20"),
            {
                "match": "all",
                "conditions": [
                    {"field": "rfm", "dimension": "monetary", "value": [4, 5], "days": 365},
                    {"field": "last_event", "event_type": "purchase", "operator": "older_than", "value": 60},
                ],
            },
        ),
        (
            _("Lyon or Paris, identified"),
            _("Lives in Lyon or Paris and is known by more than a cookie."),
            Decimal("0"),
            {
                "match": "all",
                "conditions": [
                    {"field": "city", "operator": "in", "value": ["Lyon", "Paris"]},
                    {"field": "identity", "operator": "identified"},
                ],
            },
        ),
    ]


@transaction.atomic
def demo_segments_create(*, actor: str = "demo") -> list[Segment]:
    """Create the example segments (those whose name is free) and refresh them."""
    created = []
    for name, description, holdout, rules in demo_segments_rules():
        if Segment.objects.filter(name=name).exists():
            continue
        segment = Segment(name=name, description=description, holdout_percent=holdout, refresh_every=RefreshEvery.DAY)
        created.append(segment_save(segment=segment, rules=rules, actor=actor))
    for segment in created:
        segment_refresh(segment=segment, trigger=RefreshTrigger.RULES_CHANGED)
    return created
