"""Pitfall diagnostics: the warnings plait raises when a number you are about to trust is misleading.

Each pitfall is a warning class under `PitfallWarning` (a `UserWarning`), so they can be filtered as one
(`warnings.simplefilter("ignore", plait.diagnostics.PitfallWarning)`) or one by one. Every warning
carries a `Finding` (`warning.finding`) with the figures behind it; `fit` also lists them in
`history.diagnostics`.

The rules are chosen so clean, balanced, well-split data raises nothing. Each threshold is a module
constant, documented where it is used; the data checks live in `plait.evaluation.data_checks` and the
training-time checks (accuracy paradox, overfitting) here.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from plait.evaluation.stats import wilson_interval
from plait.caller import user_stacklevel


class PitfallWarning(UserWarning):
    """Base class of plait's diagnostics: a result that looks fine but should not be trusted as is.

    Args:
        message: What was found, the figures, and what to do about it.
        finding: The `Finding` record behind the message.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warnings.warn(OverfittingWarning("val_loss rose for 5 epochs"))
        >>> issubclass(caught[0].category, PitfallWarning)
        True
    """

    def __init__(self, message: str = "", finding: "Finding | None" = None) -> None:
        super().__init__(message)
        self.finding = finding


class DataLeakageWarning(PitfallWarning):
    """Validation or test rows that also appear in the training data, or a feature that gives the label away."""


class AccuracyParadoxWarning(PitfallWarning):
    """Accuracy that looks good only because one class dominates: a class the model mostly misses."""


class ClassImbalanceWarning(PitfallWarning):
    """A class rare enough in the training labels that the model can score well by ignoring it."""


class OverfittingWarning(PitfallWarning):
    """Validation loss rising while training loss falls: the model is memorising the training data."""


class SplitWarning(PitfallWarning):
    """`validation_split` on label-sorted data: Keras takes the last rows, so the sides hold different classes."""


class NoValidationNotice(PitfallWarning):
    """`fit` ran without validation data, so overfitting cannot be seen (emitted once per process)."""


@dataclass
class Finding:
    """One diagnosed pitfall: what, where, the figures behind it, and the message shown.

    Attributes:
        kind: Short id: 'data_leakage', 'perfect_feature', 'accuracy_paradox', 'class_imbalance',
            'overfitting', 'sorted_split' or 'no_validation'.
        category: The warning class it is reported as.
        message: The human-readable message (what, the figures, how to fix it).
        figures: The numbers behind it (counts, fractions, recalls, the best epoch, ...).
        stage: 'fit', 'evaluate' or 'report'.
    """

    kind: str
    category: type
    message: str
    figures: dict[str, Any] = field(default_factory=dict)
    stage: str = "fit"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "category": self.category.__name__, "message": self.message,
                "figures": dict(self.figures), "stage": self.stage}

    def __str__(self) -> str:
        return f"{self.category.__name__}: {self.message}"


def emit(findings: Sequence[Finding]) -> None:
    """Issues each finding as its warning class, pointing at the user's code."""
    for finding in findings:
        warnings.warn(finding.category(finding.message, finding), stacklevel=user_stacklevel())


_noticed_no_validation = False


def no_validation_notice() -> list[Finding]:
    """The one-time notice that `fit` has no validation data (an empty list after the first time)."""
    global _noticed_no_validation
    if _noticed_no_validation:
        return []
    _noticed_no_validation = True
    return [Finding("no_validation", NoValidationNotice,
                    "fit is running without validation data, so overfitting cannot be detected and the training "
                    "metrics are optimistic. Pass validation_split=0.2 or validation_data=(x_val, y_val). "
                    "(Shown once per session.)", {})]


# ------------------------------------------------------------------ accuracy paradox
HIGH_ACCURACY = 0.8
"""Accuracy at or above this 'looks high': a class with recall under `WEAK_RECALL` is then the paradox."""
WEAK_RECALL = 0.5
"""A class the model finds less than half the time is mostly missed."""
MIN_SUPPORT = 3
"""Recall on fewer than 3 samples of a class is too noisy to report as a finding."""
IMBALANCED_SHARE = 0.6
"""The majority class makes accuracy look good for free once it holds min(0.6, 1.5/k) of the labels."""


def _name(names: Sequence[Any] | None, c: int) -> str:
    return str(names[c]) if names is not None and c < len(names) else str(c)


def balanced_class_weight(counts: np.ndarray) -> dict[int, float]:
    """scikit-learn's 'balanced' weights, n / (k * count_c), for classes that occur."""
    present = np.flatnonzero(counts > 0)
    n, k = counts.sum(), len(present)
    return {int(c): round(float(n / (k * counts[c])), 4) for c in present}


def check_accuracy_paradox(cm: np.ndarray, class_names: Sequence[Any] | None = None, *,
                           stage: str = "evaluate", where: str = "the evaluation data") -> list[Finding]:
    """The accuracy paradox, from a confusion matrix (rows: true class, columns: predicted class).

    Two rules, both needing a class the model mostly misses (recall < 0.5 on at least 3 samples):
    - the majority class holds at least min(0.6, 1.5/k) of the labels (accuracy comes cheap) and the
      95% Wilson interval of the accuracy reaches down to the majority baseline, i.e. accuracy is not
      meaningfully above always predicting the majority class; or
    - accuracy looks high (>= 0.8) although that class is mostly missed.

    Balanced data has a baseline of 1/k, so the first rule cannot fire there; a well-trained model
    has no class with recall under 0.5, so the second cannot either.
    """
    cm = np.asarray(cm, dtype=np.float64)
    n = cm.sum()
    support = cm.sum(axis=1)
    present = np.flatnonzero(support > 0)
    if n == 0 or len(present) < 2:
        return []
    accuracy = float(np.trace(cm) / n)
    majority = int(np.argmax(support))
    baseline = float(support[majority] / n)
    recall = np.divide(np.diag(cm), support, out=np.zeros_like(support), where=support > 0)
    weak = [int(c) for c in present if support[c] >= MIN_SUPPORT and recall[c] < WEAK_RECALL]
    if not weak:
        return []
    lo, hi = wilson_interval(np.trace(cm), n)
    cheap = baseline >= min(IMBALANCED_SHARE, 1.5 / len(present))
    near_baseline = cheap and lo <= baseline
    looks_high = accuracy >= HIGH_ACCURACY
    if not (near_baseline or looks_high):
        return []
    worst = min(weak, key=lambda c: (recall[c], support[c]))
    name = _name(class_names, worst)
    weights = balanced_class_weight(support.astype(np.int64))
    figures = {"class": worst, "class_name": name, "recall": float(recall[worst]),
               "support": int(support[worst]), "found": int(cm[worst, worst]), "accuracy": accuracy,
               "accuracy_interval": (lo, hi), "baseline": baseline, "majority_class": majority,
               "weak_classes": {int(c): float(recall[c]) for c in weak}, "suggested_class_weight": weights}
    relation = "below" if accuracy < baseline else "not meaningfully above"
    verdict = (f"{relation} the majority-class baseline {baseline:.3f} (always predicting class "
               f"{_name(class_names, majority)}; 95% interval of the accuracy {lo:.3f}-{hi:.3f})"
               if near_baseline else f"high next to a majority-class baseline of {baseline:.3f}")
    message = (f"Accuracy paradox on {where}: accuracy {accuracy:.3f} is {verdict}, yet class {name} has recall "
               f"{recall[worst]:.2f} ({int(cm[worst, worst])} of {int(support[worst])} found). Accuracy hides the "
               f"class that matters: train with class_weight={weights}, or choose a decision threshold with "
               f"model.report(x, y).threshold_for(recall=0.9) and model.predict_classes(x, threshold=...).")
    return [Finding("accuracy_paradox", AccuracyParadoxWarning, message, figures, stage)]


# ------------------------------------------------------------------ overfitting
OVERFIT_PATIENCE = 3
"""Validation loss must have been above its best for at least 3 validation rounds ('several epochs')."""
OVERFIT_RISE = 0.10
"""... and end at least 10% above its best value, so noise around a plateau does not count."""
OVERFIT_GAP = 3.0
"""... while the training loss kept falling, or the validation loss ends 3x the training loss (a large gap)."""


def check_overfitting(epochs: Sequence[int], loss: Sequence[float], val_loss: Sequence[float], *,
                      total_epochs: int | None = None) -> list[Finding]:
    """Overfitting from per-epoch training and validation losses (epochs where both were logged).

    Fires when the best validation loss lies at least `OVERFIT_PATIENCE` validation rounds back, the last
    validation loss is at least `OVERFIT_RISE` (10%) above that best, and either the training loss kept
    falling meanwhile or the last validation loss is `OVERFIT_GAP` times the training loss. A gap alone is
    not enough: on easy data a tiny validation loss can be many times a tinier training loss while both
    still improve, and noise around a plateau stays within 10%.
    """
    val = np.asarray(val_loss, dtype=np.float64)
    train = np.asarray(loss, dtype=np.float64)
    if val.size <= OVERFIT_PATIENCE or not np.all(np.isfinite(val)) or not np.all(np.isfinite(train)):
        return []
    best = int(np.argmin(val))
    since = val.size - 1 - best
    if since < OVERFIT_PATIENCE:
        return []
    rose = val[-1] >= (1.0 + OVERFIT_RISE) * val[best]
    diverging = train[-1] < train[best]
    gap = val[-1] >= OVERFIT_GAP * max(train[-1], 0.0)
    if not (rose and (diverging or gap)):
        return []
    best_epoch = int(epochs[best])
    figures = {"best_epoch": best_epoch, "best_val_loss": float(val[best]), "final_val_loss": float(val[-1]),
               "train_loss_at_best": float(train[best]), "final_train_loss": float(train[-1]),
               "epochs_since_best": int(epochs[-1] - best_epoch), "rise": float(val[-1] / val[best] - 1.0),
               "gap_ratio": float(val[-1] / train[-1]) if train[-1] > 0 else float("inf")}
    of = f" of {total_epochs}" if total_epochs else ""
    message = (f"Overfitting: val_loss was lowest at epoch {best_epoch + 1}{of} ({val[best]:.4g}; best_epoch="
               f"{best_epoch}, 0-based as in history.epoch) and rose to {val[-1]:.4g} over the next "
               f"{figures['epochs_since_best']} epochs while the training loss went from {train[best]:.4g} to "
               f"{train[-1]:.4g}. The final weights are worse than those of epoch {best_epoch + 1}: use "
               "callbacks=[plait.callbacks.EarlyStopping(monitor='val_loss', patience=3, restore_best_weights=True)]"
               ", fewer epochs, more data, or regularisation (Dropout, weight decay).")
    return [Finding("overfitting", OverfittingWarning, message, figures, "fit")]
