"""Attribution on a planted data set: each model's split worked out by hand, and no conversion counted twice.

The story (November 2026, noon UTC):
- Alice is emailed the "Spring email" on the 1st, clicks it on the 2nd, gets the "Weekend SMS" on the 4th
  and buys for 100.00 € on the 5th: three touchpoints, 4, 3 and 1 days before the purchase.
- Bob is emailed on the 1st and buys for 50.00 € on the 3rd (one touchpoint), then for 80.00 € on the 10th,
  9 days after: outside the default 7-day window.
- Charlie's email failed: his purchase on the 2nd is nobody's.
"""

import math
from decimal import Decimal

import pytest

from reporting.models import AttributionDay, AttributionModel
from reporting.services import campaign_attribution_set, reporting_refresh
from reporting.sql import attribution_credits

pytestmark = pytest.mark.django_db


def credited(model: str, campaign) -> tuple[float, Decimal]:
    rows = AttributionDay.objects.filter(model=model, campaign=campaign)
    return sum(row.conversions for row in rows), sum((row.revenue for row in rows), Decimal("0"))


def test_last_and_first_touch(story):
    email, sms = story
    # Last touch: Alice's purchase to the SMS, Bob's to the email. First touch: both to the email.
    assert credited("last_touch", email) == (1.0, Decimal("50.00"))
    assert credited("last_touch", sms) == (1.0, Decimal("100.00"))
    assert credited("first_touch", email) == (2.0, Decimal("150.00"))
    assert credited("first_touch", sms) == (0.0, Decimal("0"))


def test_linear_and_position_based(story):
    email, sms = story
    # Linear: Alice's three touches get 1/3 each (two are the email's); Bob's single touch gets 1.
    conversions, revenue = credited("linear", email)
    assert conversions == pytest.approx(1 + 2 / 3) and revenue == Decimal("116.67")  # 50 + 66.666…
    conversions, revenue = credited("linear", sms)
    assert conversions == pytest.approx(1 / 3) and revenue == Decimal("33.33")
    # Position-based: 40 % first (email sent), 20 % middle (email click), 40 % last (SMS).
    conversions, revenue = credited("position_based", email)
    assert conversions == pytest.approx(1.6) and revenue == Decimal("110.00")  # 50 + 60
    assert credited("position_based", sms) == (pytest.approx(0.4), Decimal("40.00"))


def test_time_decay_halves_the_weight_every_seven_days(story):
    email, sms = story
    weights = {"email sent": 2 ** (-4 / 7), "email click": 2 ** (-3 / 7), "sms sent": 2 ** (-1 / 7)}
    total = sum(weights.values())  # 0.67295 + 0.74300 + 0.90572 = 2.32167
    sms_share = weights["sms sent"] / total  # 0.39012
    conversions, revenue = credited("time_decay", sms)
    assert conversions == pytest.approx(sms_share) and sms_share == pytest.approx(0.39012, abs=1e-5)
    assert revenue == Decimal("39.01")  # 100 × 0.39012
    conversions, revenue = credited("time_decay", email)
    assert conversions == pytest.approx(1 + 1 - sms_share)
    assert revenue == Decimal("110.99")  # 50 + 60.99 (100 × 0.60988)


def test_each_conversion_is_credited_exactly_once_in_every_model(story):
    credits = attribution_credits()
    # Alice's purchase (3 touches) and Bob's first one (1 touch): Bob's late one and Charlie's have none.
    assert sorted({row["conversion_id"] for row in credits}) == sorted(
        {row["conversion_id"] for row in credits if row["touches"] in (1, 3)}
    )
    assert len({row["conversion_id"] for row in credits}) == 2
    for model in AttributionModel.values:
        per_conversion: dict[int, float] = {}
        for row in credits:
            per_conversion[row["conversion_id"]] = per_conversion.get(row["conversion_id"], 0) + float(row[model])
        assert all(math.isclose(total, 1.0, abs_tol=1e-12) for total in per_conversion.values()), model
        total = sum(row.conversions for row in AttributionDay.objects.filter(model=model))
        assert total == pytest.approx(2.0), model


def test_a_longer_window_credits_the_later_purchase(story):
    email, _sms = story
    campaign_attribution_set(campaign_id=email.pk, window_days=10)

    reporting_refresh()

    # Bob's purchase on the 10th is 9 days after his email: inside 10 days.
    assert credited("last_touch", email) == (2.0, Decimal("130.00"))
