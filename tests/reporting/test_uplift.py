"""Uplift against the control group on a planted test (``black_friday``), with the statistics worked out by hand.

300 people were planned on 1 November: 100 held out (control), 100 sent the campaign's own message (A) and
100 sent variant B. On the 3rd, 20 of A bought for 50 €, 10 of B for 20 €, 8 of the control group for 30 €.
"""

import math
from decimal import Decimal

import pytest
from scipy.stats import t as student_t

from reporting.selectors import ReportFilters, campaign_uplift, roi_rows

pytestmark = pytest.mark.django_db


def test_conversion_rate_lift_with_the_two_proportion_z_test(black_friday):
    line = campaign_uplift(campaign=black_friday).overall

    # Treatment 30 / 200 = 0.15, control 8 / 100 = 0.08.
    pooled = 38 / 300
    z = (0.15 - 0.08) / math.sqrt(pooled * (1 - pooled) * (1 / 200 + 1 / 100))  # 1.7184
    p_value = math.erfc(z / math.sqrt(2))  # two-sided: 0.0857
    error = math.sqrt(0.15 * 0.85 / 200 + 0.08 * 0.92 / 100)  # 0.037061
    assert (line.treatment.profiles, line.treatment.converters) == (200, 30)
    assert (line.control.profiles, line.control.converters) == (100, 8)
    assert line.rate.difference == pytest.approx(0.07) and line.rate.relative == pytest.approx(0.875)
    assert line.rate.p_value == pytest.approx(p_value) and line.rate.p_value == pytest.approx(0.0857, abs=1e-4)
    assert (line.rate.low, line.rate.high) == (
        pytest.approx(0.07 - 1.959964 * error),
        pytest.approx(0.07 + 1.959964 * error),
    )
    assert line.rate.low == pytest.approx(-0.00264, abs=1e-5)
    assert not line.rate.significant  # p > 0.05: not significant
    assert line.incremental_conversions == pytest.approx(14.0)  # 0.07 × 200


def test_revenue_per_person_lift_with_welch_t_test(black_friday):
    line = campaign_uplift(campaign=black_friday).overall

    # Treatment: 1,200 € over 200 people (mean 6), 20 × 50² + 10 × 20² = 54,000 summed squares.
    # Control: 240 € over 100 (mean 2.4), 8 × 30² = 7,200.
    variance_t = (54_000 - 200 * 6.0**2) / 199  # 235.176
    variance_c = (7_200 - 100 * 2.4**2) / 99  # 66.909
    part_t, part_c = variance_t / 200, variance_c / 100
    error = math.sqrt(part_t + part_c)  # 1.3583
    freedom = (part_t + part_c) ** 2 / (part_t**2 / 199 + part_c**2 / 99)  # 296.8
    statistic = 3.6 / error  # 2.6504
    assert line.revenue.treatment == pytest.approx(6.0) and line.revenue.control == pytest.approx(2.4)
    assert line.revenue.difference == pytest.approx(3.6) and line.revenue.relative == pytest.approx(1.5)
    assert line.revenue.p_value == pytest.approx(2 * student_t.sf(statistic, freedom))
    assert line.revenue.p_value == pytest.approx(0.0085, abs=1e-4) and line.revenue.significant
    quantile = student_t.ppf(0.975, freedom)  # 1.968
    assert line.revenue.low == pytest.approx(3.6 - quantile * error)
    assert line.revenue.high == pytest.approx(3.6 + quantile * error)
    assert line.incremental_revenue == Decimal("720.00")  # 3.6 × 200


def test_each_variant_against_the_control_group_and_against_each_other(black_friday):
    uplift = campaign_uplift(campaign=black_friday)

    own, variant_b = uplift.arms
    assert (own.treatment.label, own.treatment.converters, own.treatment.profiles) == (
        "Campaign's own message",
        20,
        100,
    )
    assert (variant_b.treatment.label, variant_b.treatment.converters) == ("B: short subject", 10)
    assert own.control.converters == variant_b.control.converters == 8
    [a_against_b] = uplift.arms_against_each_other
    # 0.20 against 0.10, pooled 0.15: z = 0.1 / √(0.15 × 0.85 × 2/100) = 1.9803, p = 0.0477.
    z = 0.1 / math.sqrt(0.15 * 0.85 * (2 / 100))
    assert a_against_b.rate.p_value == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert a_against_b.rate.p_value == pytest.approx(0.0477, abs=1e-4) and a_against_b.rate.significant


def test_incremental_revenue_and_its_roi_in_the_roi_report(black_friday):
    [row] = roi_rows(ReportFilters(), by="campaign")

    # 1,200 € treated − 240 € control × (200 treated / 100 control) = 720 €; cost 200 sends × 0.50 = 100 €.
    assert row.incremental_revenue == Decimal("720.00") and row.cost == Decimal("100.00")
    assert row.incremental_roi == Decimal("6.2000")  # (720 − 100) / 100
