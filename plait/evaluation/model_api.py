"""`model.report(x, y)` and `model.predict_classes(x, threshold=...)`: the report and thresholds on a model."""
from __future__ import annotations

from typing import Any

import numpy as np

from plait.data import adapt
from plait.evaluation import data_checks
from plait.evaluation.diagnostics import emit
from plait.evaluation.fit_diagnostics import training_fingerprint
from plait.evaluation.labels import Task, model_task
from plait.evaluation.report import ClassificationReport, RegressionReport, _as_numpy
from plait.evaluation.stats import check_ci_method
from plait.evaluation.thresholds import class_thresholds, predict_with_thresholds


def _single_output(out: Any, what: str) -> np.ndarray:
    if isinstance(out, (list, tuple, dict)):
        raise ValueError(f"{what} works on single-output models; this model has {len(out)} outputs. Call "
                         "plait.evaluation.classification_report(y_true, y_prob) on each output's predictions.")
    return np.asarray(out)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _threshold_value(threshold: Any) -> float:
    """The binary decision threshold of a report (a number or a ThresholdChoice)."""
    if isinstance(threshold, (dict, list, tuple)):
        raise TypeError("report(threshold=...) takes one number or ThresholdChoice (the binary decision threshold); "
                        f"got a {type(threshold).__name__}. Per-class thresholds belong to predict_classes.")
    if getattr(threshold, "class_id", None) not in (None, 1):
        raise ValueError(f"report(threshold=...) is the decision threshold of class 1 of a binary model; this "
                         f"ThresholdChoice was chosen for class {threshold.class_id}. Apply it with "
                         "model.predict_classes(x, threshold=choice) instead.")
    value = getattr(threshold, "threshold", threshold)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"threshold must be a number or a ThresholdChoice from report.threshold_for(...), got "
                        f"{type(threshold).__name__}.")
    return float(value)


def _probabilities(scores: np.ndarray, task: Task) -> np.ndarray:
    """(n, k) class probabilities from (n, 1) or (n, k) outputs; one column becomes [1 - p, p]."""
    if scores.shape[1] == 1:
        p = _sigmoid(scores[:, 0]) if task.from_logits and task.kind == "binary" else scores[:, 0]
        return np.stack([1.0 - p, p], axis=1)
    if not task.from_logits:
        return scores
    z = np.exp(scores - scores.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def predict_classes(model: Any, x: Any, threshold: Any = None, *, batch_size: int | None = None,
                    verbose: Any = 0) -> np.ndarray:
    """Class ids for `x`, optionally under decision thresholds.

    Without `threshold`: class 1 where the probability is above 0.5 for a one-column (sigmoid) model, the
    arg-max class otherwise. With `threshold` (the rule of `thresholds.predict_with_thresholds`): a class
    with a threshold "fires" when its probability is strictly above it; each sample gets the firing class with
    the highest probability, and when none fires, the arg-max over the classes without a threshold (over all
    classes if every class has one). Ties go to the lower class id. With one thresholded class k, k is
    predicted exactly when its probability is above the threshold, so the choice's precision and recall hold.

    `threshold` may be a number (two-class models: the threshold of class 1), a `ThresholdChoice` from
    `report.threshold_for(...)` (applied to its class_id), a dict {class_id: number or ThresholdChoice},
    or a list of ThresholdChoices. Logit outputs (`from_logits=True` losses) are turned into probabilities
    first (sigmoid, softmax), so thresholds always mean probabilities.

    Returns:
        A (samples,) int64 array of class ids.
    """
    out = _single_output(model.predict(x, batch_size=batch_size, verbose=verbose), "predict_classes")
    task = model_task(model) or Task("auto")
    scores = out.reshape(out.shape[0], -1).astype(np.float64)
    probs = _probabilities(scores, task)
    thresholds = class_thresholds(threshold, probs.shape[1])
    if scores.shape[1] == 1 and not thresholds:
        thresholds = {1: 0.5}
    return predict_with_thresholds(probs, thresholds)


def _is_classifier(task: Task | None, out: np.ndarray, y: np.ndarray) -> bool:
    if task is not None:
        return True
    # No classification loss: a multi-column output with integer targets is still read as classes.
    return out.reshape(out.shape[0], -1).shape[1] > 1 and y.dtype.kind in "biu"


def _default_history(model: Any) -> Any:
    history = getattr(model, "history", None)
    return history if history is not None and getattr(history, "history", None) else None


def model_report(model: Any, x: Any, y: Any, *, batch_size: int | None = None, threshold: Any = 0.5,
                 class_names: Any = None, history: Any = "auto", n_bootstrap: int = 1000, confidence: float = 0.95,
                 seed: int | None = 0, ci_method: str = "bca", diagnostics: bool = True, verbose: Any = 0) -> Any:
    """The evaluation report of `model` on (x, y); see `Model.report`."""
    check_ci_method(ci_method)  # before the (possibly long) predict
    out = _single_output(model.predict(x, batch_size=batch_size, verbose=verbose), "report")
    y_np = _as_numpy(y, "y")
    if y_np.shape[0] != out.shape[0]:
        raise ValueError(f"x has {out.shape[0]} samples but y has {y_np.shape[0]}; pass one target per sample.")
    task = model_task(model)
    history = _default_history(model) if isinstance(history, str) and history == "auto" else history
    findings = []
    fingerprint = training_fingerprint(model)
    if diagnostics and fingerprint is not None:
        data = adapt(x, device=fingerprint.hashes.device, check_finite=False)
        findings += data_checks.check_leakage(fingerprint, data.x, where="report", stage="report")
    settings = dict(history=history, n_bootstrap=n_bootstrap, confidence=confidence, seed=seed, ci_method=ci_method,
                    diagnostics=findings)
    if _is_classifier(task, out, y_np):
        y_true = y_np
        if task is not None and task.kind == "binary":
            y_true = (y_np.reshape(y_np.shape[0], -1)[:, 0] > 0.5).astype(np.int64)
        report: Any = ClassificationReport(y_true, out.astype(np.float64), threshold=_threshold_value(threshold),
                                           class_names=class_names,
                                           from_logits=bool(task is not None and task.from_logits), **settings)
    else:
        report = RegressionReport(y_np, out, **settings)
    if diagnostics:
        emit([f for f in report.diagnostics if f.stage == "report"])
    return report
