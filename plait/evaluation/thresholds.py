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

from plait.evaluation.data_checks import refuse_nonfinite

_SCORES_FIX = ("A threshold cannot rank a missing score (NaN would fall on one side at random): drop those "
               "samples, or find why the model scored them NaN (NaN inputs, or weights holding NaN).")

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
    refuse_nonfinite(s, "scores", _SCORES_FIX)
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

    Use it as `model.predict_classes(x, threshold=choice)` or `float(choice)`. A choice made for one class of
    a multi-class model (`report.threshold_for(recall=0.9, class_id=2)`) remembers that class, and
    `predict_classes` applies it to that class's probability (one class against the rest).

    Attributes:
        threshold: Predict positive when score > threshold.
        precision, recall, f1, false_positive_rate: What the threshold achieves on that data.
        true_positives, false_positives, false_negatives, true_negatives: The counts behind them.
        target: What was asked, e.g. 'recall >= 0.95'.
        class_id: The class scored against the rest, or None for the positive class of a binary model.
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
    class_id: int | None = None

    def __float__(self) -> float:
        return self.threshold

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        of = "" if self.class_id is None else f" for class {self.class_id} against the rest"
        return (f"threshold {self.threshold:.4g}{of} ({self.target}): precision {self.precision:.3f}, "
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
    refuse_nonfinite(s, "scores", _SCORES_FIX)
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


# ------------------------------------------------------------------ applying thresholds to a model's classes
_HOW = ("Pass report.threshold_for(recall=..., class_id=c), a dict {class_id: threshold}, or a list of "
        "ThresholdChoices.")


def threshold_number(value: Any, where: str) -> float:
    """A decision threshold given as a number or a `ThresholdChoice`, as a finite float (`where` names it)."""
    number = getattr(value, "threshold", value)
    if isinstance(number, (bool, np.bool_)) or not isinstance(number, (int, float, np.integer, np.floating)):
        raise TypeError(f"{where} must be a number or a ThresholdChoice from report.threshold_for(...), got "
                        f"{type(value).__name__}.")
    if not np.isfinite(number):
        raise ValueError(f"{where} must be a finite number, got {number!r}.")
    return float(number)


def _class_index(value: Any, num_classes: int, where: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{where} must be an integer class id in 0..{num_classes - 1}, got {value!r} "
                        f"({type(value).__name__}).")
    if not 0 <= int(value) < num_classes:
        raise ValueError(f"{where} must be a class id in 0..{num_classes - 1} (the model has {num_classes} classes), "
                         f"got {int(value)}.")
    return int(value)


def _choice_class(choice: Any, num_classes: int, where: str) -> int:
    """The class a ThresholdChoice applies to: its class_id, or class 1 of a two-class model when it has none."""
    class_id = getattr(choice, "class_id", None)
    if class_id is None:
        if num_classes != 2:
            raise ValueError(f"{where} was chosen without a class_id (for a binary model), but this model has "
                             f"{num_classes} classes. Choose it for one class, e.g. "
                             "report.threshold_for(recall=0.9, class_id=2), or give the class as a dict key: "
                             "{2: choice}.")
        return 1
    return _class_index(class_id, num_classes, f"{where}.class_id")


def class_thresholds(threshold: Any, num_classes: int) -> dict[int, float]:
    """Normalises `predict_classes`' `threshold` argument to {class id: threshold}.

    Args:
        threshold: None; a number (two-class models only: the threshold of class 1); a `ThresholdChoice`
            (applied to its `class_id`, class 1 when it has none and the model has two classes); a dict
            {class_id: number or ThresholdChoice}; or a list of ThresholdChoices that each carry a class_id.
        num_classes: The model's number of classes (2 for a one-column sigmoid model).

    Returns:
        {class id: threshold}; empty for None.
    """
    if threshold is None:
        return {}
    if isinstance(threshold, dict):
        out = {}
        for key, value in threshold.items():
            cid = _class_index(key, num_classes, f"threshold key {key!r}")
            where = f"threshold[{key!r}]"
            if getattr(value, "class_id", None) is not None and _choice_class(value, num_classes, where) != cid:
                raise ValueError(f"threshold[{key!r}] is a ThresholdChoice chosen for class {value.class_id}, not "
                                 f"class {cid}. Use the key {value.class_id} or choose it with class_id={cid}.")
            out[cid] = threshold_number(value, where)
        return out
    if isinstance(threshold, (list, tuple)):
        out = {}
        for i, choice in enumerate(threshold):
            if not hasattr(choice, "threshold"):
                raise TypeError(f"threshold[{i}] must be a ThresholdChoice, got {type(choice).__name__}. For plain "
                                "numbers use a dict {class_id: threshold}.")
            cid = _choice_class(choice, num_classes, f"threshold[{i}]")
            if cid in out:
                raise ValueError(f"threshold lists two choices for class {cid}; give one threshold per class.")
            out[cid] = threshold_number(choice, f"threshold[{i}]")
        return out
    if hasattr(threshold, "threshold"):
        return {_choice_class(threshold, num_classes, "threshold"): threshold_number(threshold, "threshold")}
    value = threshold_number(threshold, "threshold")
    if num_classes != 2:
        raise ValueError(f"threshold={value!r} is one number, but this model has {num_classes} classes, so it is not "
                         f"clear which class it applies to. Say which: threshold={{2: {value!r}}} (class 2 against "
                         "the rest), or pass report.threshold_for(recall=0.9, class_id=2).")
    return {1: value}


def predict_with_thresholds(probs: np.ndarray, thresholds: dict[int, float]) -> np.ndarray:
    """Class ids from (n, k) probabilities under per-class thresholds (the rule of `predict_classes`).

    A class with a threshold "fires" when its probability is strictly above it. Each sample gets the firing
    class with the highest probability; when none fires, the arg-max over the classes without a threshold,
    or over all classes when every class has one. Ties in probability go to the lower class id. So with
    one thresholded class k, k is predicted exactly when its probability is above its threshold: the
    precision and recall of class k are those of `probs[:, k] > t`, as `threshold_for` reported them.

    Args:
        probs: (n, k) probabilities (or any scores on the thresholds' scale).
        thresholds: {class id: threshold}; empty gives the plain arg-max.

    Returns:
        (n,) int64 class ids.

    Raises:
        ValueError: If a row of `probs` holds NaN or inf: no class is chosen from a missing probability (an
            arg-max would read NaN as class 0).
    """
    probs = np.asarray(probs, dtype=np.float64)
    refuse_nonfinite(probs, "probs", _SCORES_FIX)
    if not thresholds:
        return probs.argmax(axis=1).astype(np.int64)
    ids = np.array(sorted(thresholds), dtype=np.int64)
    cut = np.array([thresholds[int(c)] for c in ids])
    chosen = probs[:, ids]
    fires = chosen > cut
    firing_best = ids[np.where(fires, chosen, -np.inf).argmax(axis=1)]
    rest = np.setdiff1d(np.arange(probs.shape[1]), ids)
    pool = rest if rest.size else np.arange(probs.shape[1])
    fallback = pool[probs[:, pool].argmax(axis=1)]
    return np.where(fires.any(axis=1), firing_best, fallback).astype(np.int64)
