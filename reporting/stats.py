"""The tests behind uplift: a two-proportion z-test for conversion rates, Welch's t-test for revenue per person.

Both compare a treatment group (t) with a control group (c) and give the
absolute difference, the relative lift, the 95 % confidence interval of the
difference and the two-sided p-value. The z-test's statistic uses the pooled
proportion (the null hypothesis is "no difference"); its interval uses the
unpooled standard error. Welch's test does not assume equal variances; its
degrees of freedom are Welch–Satterthwaite's.
"""

import math
from dataclasses import dataclass

from scipy.stats import t as student_t

Z_95 = 1.959963984540054  # the 97.5th percentile of the standard normal
ALPHA = 0.05


@dataclass(frozen=True)
class Comparison:
    treatment: float  # rate or mean of the treatment group
    control: float
    difference: float  # absolute lift
    relative: float | None  # lift over the control's value; None when the control's is 0
    low: float | None  # 95 % confidence interval of the difference
    high: float | None
    p_value: float | None  # None when the groups are too small or constant to test

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < ALPHA


def _relative(difference: float, control: float) -> float | None:
    return difference / control if control else None


def proportions_compare(
    *, treatment_hits: int, treatment_size: int, control_hits: int, control_size: int
) -> Comparison:
    if treatment_size == 0 or control_size == 0:
        raise ValueError("Both groups need people.")
    rate_t, rate_c = treatment_hits / treatment_size, control_hits / control_size
    difference = rate_t - rate_c
    pooled = (treatment_hits + control_hits) / (treatment_size + control_size)
    pooled_error = math.sqrt(pooled * (1 - pooled) * (1 / treatment_size + 1 / control_size))
    error = math.sqrt(rate_t * (1 - rate_t) / treatment_size + rate_c * (1 - rate_c) / control_size)
    p_value = None if pooled_error == 0 else math.erfc(abs(difference / pooled_error) / math.sqrt(2))
    return Comparison(
        treatment=rate_t,
        control=rate_c,
        difference=difference,
        relative=_relative(difference, rate_c),
        low=difference - Z_95 * error,
        high=difference + Z_95 * error,
        p_value=p_value,
    )


def means_compare(
    *,
    treatment_sum: float,
    treatment_squares: float,
    treatment_size: int,
    control_sum: float,
    control_squares: float,
    control_size: int,
) -> Comparison:
    """Welch's t-test from each group's size, sum and sum of squares (what one SQL pass gives)."""
    if treatment_size == 0 or control_size == 0:
        raise ValueError("Both groups need people.")
    mean_t, mean_c = treatment_sum / treatment_size, control_sum / control_size
    difference = mean_t - mean_c
    if treatment_size < 2 or control_size < 2:
        return Comparison(mean_t, mean_c, difference, _relative(difference, mean_c), None, None, None)
    variance_t = max(0.0, (treatment_squares - treatment_size * mean_t**2) / (treatment_size - 1))
    variance_c = max(0.0, (control_squares - control_size * mean_c**2) / (control_size - 1))
    part_t, part_c = variance_t / treatment_size, variance_c / control_size
    error = math.sqrt(part_t + part_c)
    if error == 0:
        return Comparison(mean_t, mean_c, difference, _relative(difference, mean_c), None, None, None)
    freedom = (part_t + part_c) ** 2 / (part_t**2 / (treatment_size - 1) + part_c**2 / (control_size - 1))
    statistic = difference / error
    quantile = float(student_t.ppf(0.975, freedom))
    return Comparison(
        treatment=mean_t,
        control=mean_c,
        difference=difference,
        relative=_relative(difference, mean_c),
        low=difference - quantile * error,
        high=difference + quantile * error,
        p_value=float(2 * student_t.sf(abs(statistic), freedom)),
    )
