"""Decision thresholds for the precision/recall trade-off of a binary (or one-vs-rest) classifier.

A sample is predicted positive when its score is strictly above the threshold, as in Keras's metrics
and `model.predict_classes`. The thresholds this module returns lie halfway between two consecutive
distinct scores, so `score > t` and `score >= t` select the same samples: the precision and recall
reported are exactly what applying the threshold gives on this data, under either convention.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np


@dataclass(frozen=True)
class BinaryCurve:
    """Counts at every distinct score: predicting positive the samples scoring >= scores[i].

    Attributes:
        scores: Distinct scores, descending.
        tp, fp: True/false positives (weighted) when the cut sits just below scores[i].
        positives, negatives: Totals.
        thresholds: A threshold that realises each cut (halfway to the next lower distinct score).
    """

    scores: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    positives: float
    negatives: float
    thresholds: np.ndarray

    @property
    def precision(self) -> np.ndarray:
        return self.tp / np.maximum(self.tp + self.fp, 1e-300)

    @property
    def recall(self) -> np.ndarray:
        return self.tp / self.positives if self.positives > 0 else np.full_like(self.tp, np.nan)

    @property
    def fpr(self) -> np.ndarray:
        return self.fp / self.negatives if self.negatives > 0 else np.full_like(self.fp, np.nan)


def _cut_points(scores: np.ndarray) -> np.ndarray:
    lower = np.empty_like(scores)
    lower[:-1] = scores[1:]
    # Below the lowest score: halfway to 0 for probabilities, one unit lower for logits/scores.
    lower[-1] = 0.0 if scores[-1] > 0 else scores[-1] - 1.0
    return (scores + lower) / 2.0


def binary_curve(y_true: Any, scores: Any, sample_weight: Any = None) -> BinaryCurve:
    """The precision/recall/ROC curve counts of `scores` for the 0/1 labels `y_true` (sklearn's rule)."""
    y = np.asarray(y_true).reshape(-1).astype(bool)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise ValueError(f"y_true and scores must have one entry per sample, got {y.shape[0]} labels and "
                         f"{s.shape[0]} scores.")
    w = np.ones_like(s) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    order = np.argsort(-s, kind="mergesort")
    s, y, w = s[order], y[order], w[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]
    tp = np.cumsum(w * y)[last]
    fp = np.cumsum(w * ~y)[last]
    distinct = s[last]
    return BinaryCurve(distinct, tp, fp, float(tp[-1]), float(fp[-1]), _cut_points(distinct))


def roc_auc_from_curve(curve: BinaryCurve) -> float:
    """Area under the ROC curve (trapezoids through (0, 0)); NaN when a class is missing."""
    if curve.positives == 0 or curve.negatives == 0:
        return float("nan")
    return float(np.trapezoid(np.r_[0.0, curve.recall], np.r_[0.0, curve.fpr]))


def average_precision_from_curve(curve: BinaryCurve) -> float:
    """Average precision: sum over recall steps of precision (sklearn's definition, no interpolation)."""
    if curve.positives == 0:
        return float("nan")
    recall = curve.recall
    return float(np.sum(np.diff(np.r_[0.0, recall]) * curve.precision))


@dataclass(frozen=True)
class ThresholdChoice:
    """A decision threshold and what it achieves on the data it was chosen on.

    Use it as `model.predict_classes(x, threshold=choice)` or `float(choice)`.

    Attributes:
        threshold: Predict positive when score > threshold.
        precision, recall, f1, false_positive_rate: What the threshold achieves on that data.
        true_positives, false_positives, false_negatives, true_negatives: The counts behind them.
        target: What was asked, e.g. 'recall >= 0.95'.
    """

    threshold: float
    precision: float
    recall: float
    f1: float
    false_positive_rate: float
    true_positives: float
    false_positives: float
    false_negatives: float
    true_negatives: float
    target: str

    def __float__(self) -> float:
        return self.threshold

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return (f"threshold {self.threshold:.4g} ({self.target}): precision {self.precision:.3f}, "
                f"recall {self.recall:.3f}, F1 {self.f1:.3f}")


def _choice(curve: BinaryCurve, i: int, target: str) -> ThresholdChoice:
    tp, fp = float(curve.tp[i]), float(curve.fp[i])
    p, r = float(curve.precision[i]), float(curve.recall[i])
    f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
    fpr = fp / curve.negatives if curve.negatives > 0 else float("nan")
    return ThresholdChoice(float(curve.thresholds[i]), p, r, f1, fpr, tp, fp, curve.positives - tp,
                           curve.negatives - fp, target)


def _check_target(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value <= 1.0:
        raise ValueError(f"{name} must be a number in (0, 1], got {value!r}; e.g. threshold_for({name}=0.9).")
    return float(value)


def threshold_for(y_true: Any, scores: Any, *, recall: float | None = None, precision: float | None = None,
                  sample_weight: Any = None) -> ThresholdChoice:
    """The threshold meeting a recall or a precision target, and what it achieves.

    `recall=r`: the highest precision among thresholds whose recall is at least r (Keras's
    `PrecisionAtRecall` rule), ties going to the higher threshold. `precision=p`: the highest recall among
    thresholds whose precision is at least p (`RecallAtPrecision`), ties going to the higher precision.

    Args:
        y_true: 0/1 labels.
        scores: Scores or probabilities of the positive class.
        recall: The minimum recall wanted; give exactly one of recall and precision.
        precision: The minimum precision wanted.
        sample_weight: Optional per-sample weights.

    Returns:
        A `ThresholdChoice`.
    """
    if (recall is None) == (precision is None):
        raise ValueError("Give exactly one target: threshold_for(recall=0.95) or threshold_for(precision=0.9).")
    curve = binary_curve(y_true, scores, sample_weight)
    if curve.positives == 0:
        raise ValueError("y_true has no positive samples, so no threshold has a recall; check the labels.")
    prec, rec = curve.precision, curve.recall
    if recall is not None:
        target = _check_target(recall, "recall")
        ok = np.flatnonzero(rec >= target - 1e-12)
        best = ok[np.argmax(prec[ok])]  # argmax takes the first: the highest threshold among ties
        return _choice(curve, int(best), f"recall >= {target:g}")
    target = _check_target(precision, "precision")
    ok = np.flatnonzero(prec >= target - 1e-12)
    if ok.size == 0:
        raise ValueError(f"No threshold reaches precision {target:g} on this data; the highest precision is "
                         f"{prec.max():.3f}. Ask for a lower precision or improve the model.")
    key = np.lexsort((-np.arange(ok.size), prec[ok], rec[ok]))  # max recall, then precision, then threshold
    return _choice(curve, int(ok[key[-1]]), f"precision >= {target:g}")


def threshold_table(y_true: Any, scores: Any, thresholds: Sequence[float] | None = None,
                    sample_weight: Any = None) -> list[dict[str, float]]:
    """Precision, recall, F1, false-positive rate and counts at each threshold (score > threshold).

    Args:
        thresholds: Default: 0.1, 0.2, ..., 0.9 when the scores are probabilities, else the scores'
            10th..90th percentiles.

    Returns:
        One dict per threshold, ascending.
    """
    y = np.asarray(y_true).reshape(-1).astype(bool)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    w = np.ones_like(s) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if thresholds is None:
        in_unit = s.size and s.min() >= 0.0 and s.max() <= 1.0
        thresholds = np.round(np.linspace(0.1, 0.9, 9), 2) if in_unit else np.quantile(s, np.linspace(0.1, 0.9, 9))
    rows = []
    for t in sorted(float(v) for v in thresholds):
        pred = s > t
        tp, fp = float(w[pred & y].sum()), float(w[pred & ~y].sum())
        fn, tn = float(w[~pred & y].sum()), float(w[~pred & ~y].sum())
        p = tp / (tp + fp) if tp + fp > 0 else 0.0
        r = tp / (tp + fn) if tp + fn > 0 else 0.0
        rows.append({"threshold": t, "precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r > 0 else 0.0,
                     "false_positive_rate": fp / (fp + tn) if fp + tn > 0 else 0.0, "true_positives": tp,
                     "false_positives": fp, "false_negatives": fn, "true_negatives": tn})
    return rows
