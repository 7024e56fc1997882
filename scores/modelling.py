"""Training and judging the predictive scores: scikit-learn on numpy arrays, deterministic for a seed.

A model is a logistic regression on standardised features. It is trained on a
seeded sample of the rows, judged on a seeded holdout (AUC and calibration),
and compared with a baseline, a one-feature rule a marketer would use anyway
(the more recent the last purchase, the likelier the next one). A model that
does no better than its baseline, or than ``minimum_auc``, is not promoted.

The fitted model is kept as plain numbers (means, scales, coefficients), so a
promoted version scores again later, the same way, without pickles.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

HOLDOUT_SHARE = 0.25
CALIBRATION_BINS = 10


@dataclass
class LinearModel:
    features: list[str]
    means: np.ndarray
    scales: np.ndarray
    coefficients: np.ndarray
    intercept: float

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Probabilities for each row of ``matrix`` (columns in ``features`` order)."""
        scaled = (matrix - self.means) / self.scales
        return 1.0 / (1.0 + np.exp(-(scaled @ self.coefficients + self.intercept)))

    def as_json(self) -> dict[str, Any]:
        return {
            "type": "logistic_regression",
            "means": self.means.tolist(),
            "scales": self.scales.tolist(),
            "coefficients": self.coefficients.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_json(cls, features: list[str], data: dict[str, Any]) -> "LinearModel":
        return cls(
            features=list(features),
            means=np.array(data["means"], dtype=np.float64),
            scales=np.array(data["scales"], dtype=np.float64),
            coefficients=np.array(data["coefficients"], dtype=np.float64),
            intercept=float(data["intercept"]),
        )


@dataclass
class TrainingResult:
    model: LinearModel | None
    training_rows: int
    holdout_rows: int
    positive_rate: float | None
    holdout_auc: float | None
    baseline_auc: float | None
    calibration: list[dict[str, float]] = field(default_factory=list)
    promoted: bool = False
    note: str = ""


def auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve, or None when only one class is present."""
    labels = np.asarray(labels, dtype=bool)
    if labels.all() or not labels.any():
        return None
    return float(roc_auc_score(labels, scores))


def calibration_bins(labels: np.ndarray, predicted: np.ndarray, bins: int = CALIBRATION_BINS) -> list[dict[str, float]]:
    """Holdout rows in equal-width bins of predicted probability: mean predicted, observed rate, count."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(predicted, edges[1:-1]), 0, bins - 1)
    result = []
    for number in range(bins):
        inside = which == number
        count = int(inside.sum())
        if not count:
            continue
        result.append(
            {
                "low": round(float(edges[number]), 2),
                "high": round(float(edges[number + 1]), 2),
                "predicted": round(float(predicted[inside].mean()), 4),
                "observed": round(float(labels[inside].mean()), 4),
                "count": count,
            }
        )
    return result


def split(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the training and the holdout rows, drawn from ``seed``."""
    order = np.random.default_rng(seed).permutation(rows)
    holdout = int(round(rows * HOLDOUT_SHARE))
    return np.sort(order[holdout:]), np.sort(order[:holdout])


def train(
    *,
    matrix: np.ndarray,
    labels: np.ndarray,
    baseline: np.ndarray,
    features: list[str],
    seed: int,
    max_training_rows: int,
    minimum_auc: float,
    balanced: bool = False,
) -> TrainingResult:
    """Fit on a seeded sample, judge on the holdout against ``baseline`` (a score where higher means likelier)."""
    labels = np.asarray(labels, dtype=bool)
    rows = len(labels)
    if rows < 20 or labels.all() or not labels.any():
        return TrainingResult(
            model=None,
            training_rows=0,
            holdout_rows=0,
            positive_rate=float(labels.mean()) if rows else None,
            holdout_auc=None,
            baseline_auc=None,
            note="too few examples, or only one outcome: nothing to learn",
        )
    training, holdout = split(rows, seed)
    if len(training) > max_training_rows:
        training = np.sort(np.random.default_rng(seed + 1).choice(training, max_training_rows, replace=False))
    if labels[training].all() or not labels[training].any():
        return TrainingResult(None, len(training), len(holdout), float(labels.mean()), None, None,
                              note="the training sample holds one outcome only")  # fmt: skip
    x_train = matrix[training]
    means = x_train.mean(axis=0)
    scales = x_train.std(axis=0)
    scales[scales == 0] = 1.0
    classifier = LogisticRegression(C=1.0, max_iter=500, solver="lbfgs", class_weight="balanced" if balanced else None)
    classifier.fit((x_train - means) / scales, labels[training])
    model = LinearModel(
        features=list(features),
        means=means,
        scales=scales,
        coefficients=classifier.coef_[0].astype(np.float64),
        intercept=float(classifier.intercept_[0]),
    )
    predicted = model.predict(matrix[holdout])
    holdout_auc = auc(labels[holdout], predicted)
    baseline_auc = auc(labels[holdout], baseline[holdout])
    result = TrainingResult(
        model=model,
        training_rows=len(training),
        holdout_rows=len(holdout),
        positive_rate=float(labels.mean()),
        holdout_auc=holdout_auc,
        baseline_auc=baseline_auc,
        calibration=calibration_bins(labels[holdout].astype(np.float64), predicted),
    )
    if holdout_auc is None:
        result.note = "the holdout holds one outcome only"
    elif baseline_auc is not None and holdout_auc <= baseline_auc:
        result.note = f"holdout AUC {holdout_auc:.3f} is not above the baseline's {baseline_auc:.3f}"
    elif holdout_auc < minimum_auc:
        result.note = f"holdout AUC {holdout_auc:.3f} is below the minimum {minimum_auc:.2f}"
    else:
        result.promoted = True
        baseline_text = f"{baseline_auc:.3f}" if baseline_auc is not None else "n/a"
        result.note = f"holdout AUC {holdout_auc:.3f} above the baseline's {baseline_text}"
    return result


def top_share(values: np.ndarray) -> np.ndarray:
    """For each value, the percentage of values that are this one or higher (5.0: in the top 5 %)."""
    count = len(values)
    if not count:
        return np.empty(0, dtype=np.float64)
    ordered = np.sort(values)
    at_least = count - np.searchsorted(ordered, values, side="left")
    return at_least * 100.0 / count


def quintiles(values: np.ndarray) -> np.ndarray:
    """Bands 1..5 (5 the highest values): ceil(5 x mid-rank share), so equal values share a band.

    The mid-rank (between the first and the last position of equal values)
    keeps a large group of equal values (most buyers bought once) in the middle
    bands instead of pushing it to the top one.
    """
    count = len(values)
    if not count:
        return np.empty(0, dtype=np.int64)
    ordered = np.sort(values)
    below = np.searchsorted(ordered, values, side="left")
    at_most = np.searchsorted(ordered, values, side="right")
    return np.clip(np.ceil(5 * (below + at_most) / (2 * count) - 1e-9), 1, 5).astype(np.int64)
