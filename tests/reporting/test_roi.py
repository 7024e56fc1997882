"""ROI per campaign, per channel and per week on the planted story (tests/reporting/conftest.py), by hand."""

import datetime
from decimal import Decimal

import pytest

from reporting.selectors import ReportFilters, roi_rows

pytestmark = pytest.mark.django_db


def test_roi_per_campaign_with_last_touch(story):
    email, sms = (row for row in roi_rows(ReportFilters(model="last_touch"), by="campaign"))

    # Spring email: Alice and Bob sent (Charlie failed): 100 + 2 × 0.10 = 100.20 €; Bob's 50 € is its only
    # last-touch sale; Alice clicked.
    assert (email.label, email.sends, email.failed, email.clickers) == ("Spring email", 2, 1, 1)
    assert email.cost == Decimal("100.20") and email.revenue == Decimal("50.00") and email.conversions == 1
    assert email.roi == Decimal("-0.5010")  # (50 − 100.20) / 100.20 = −0.500998
    assert email.cost_per_acquisition == Decimal("100.20")
    assert email.conversion_rate == Decimal("0.5000") and email.click_rate == Decimal("0.5000")
    assert email.incremental_revenue is None  # no control group
    # Weekend SMS: one send at 0.05 €, Alice's 100 € sale.
    assert (sms.label, sms.sends, sms.cost, sms.revenue) == ("Weekend SMS", 1, Decimal("0.05"), Decimal("100.00"))
    assert sms.roi == Decimal("1999.0000")  # (100 − 0.05) / 0.05
    assert sms.cost_per_acquisition == Decimal("0.05")


def test_roi_per_channel_with_linear_attribution(story):
    rows = {row.key: row for row in roi_rows(ReportFilters(model="linear"), by="channel")}

    # Linear: email gets Bob's 50 + 2/3 of Alice's 100 = 116.67; SMS 33.33.
    assert rows["email"].revenue == Decimal("116.67") and rows["sms"].revenue == Decimal("33.33")
    assert rows["email"].roi == Decimal("0.1644")  # (116.67 − 100.20) / 100.20 = 0.16437
    assert rows["sms"].cost_per_acquisition == Decimal("0.15")  # 0.05 / (1/3)


def test_roi_per_week_puts_costs_on_the_send_week_and_revenue_on_the_purchase_week(story):
    rows = {row.key: row for row in roi_rows(ReportFilters(model="last_touch", period="week"), by="period")}

    # 1 November 2026 is a Sunday: the emails are sent in the week of 26 October, the sales happen the week after.
    assert datetime.date(2026, 11, 1).weekday() == 6
    october, november = datetime.date(2026, 10, 26), datetime.date(2026, 11, 2)
    assert set(rows) == {(october, "email"), (november, "email"), (november, "sms")}
    assert (rows[october, "email"].cost, rows[october, "email"].revenue) == (Decimal("100.20"), Decimal("0"))
    assert (rows[november, "email"].cost, rows[november, "email"].revenue) == (Decimal("0"), Decimal("50.00"))
    assert rows[november, "sms"].roi == Decimal("1999.0000")


def test_a_period_filter_keeps_the_days_inside_it(story):
    [email] = roi_rows(
        ReportFilters(start=datetime.date(2026, 11, 2), end=datetime.date(2026, 11, 8), channel="email"), by="campaign"
    )

    assert (email.cost, email.sends, email.revenue) == (Decimal("0"), 0, Decimal("50.00"))
    assert email.roi is None  # no cost in the period: no ROI rather than a division by zero
