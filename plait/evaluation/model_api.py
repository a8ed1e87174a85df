"""`model.report(x, y)` and `model.predict_classes(x, threshold=...)`: the report and thresholds on a model."""
from __future__ import annotations

from typing import Any

import numpy as np

from plait.evaluation import data_checks
from plait.evaluation.diagnostics import emit
from plait.evaluation.labels import Task, model_task
from plait.evaluation.report import ClassificationReport, RegressionReport, _as_numpy


def _single_output(out: Any, what: str) -> np.ndarray:
    if isinstance(out, (list, tuple, dict)):
        raise ValueError(f"{what} works on single-output models; this model has {len(out)} outputs. Call "
                         "plait.evaluation.classification_report(y_true, y_prob) on each output's predictions.")
    return np.asarray(out)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _threshold_value(threshold: Any) -> float:
    value = getattr(threshold, "threshold", threshold)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise TypeError(f"threshold must be a number or a ThresholdChoice from report.threshold_for(...), got "
                        f"{type(threshold).__name__}.")
    return float(value)


def predict_classes(model: Any, x: Any, threshold: Any = None, *, batch_size: int | None = None,
                    verbose: Any = 0) -> np.ndarray:
    """Class ids for `x`: class 1 where the positive-class probability is above `threshold` for a binary model
    (default 0.5), the arg-max class for a multi-class one. Logit outputs (`from_logits=True` losses) are
    turned into probabilities first, so thresholds always mean probabilities."""
    out = _single_output(model.predict(x, batch_size=batch_size, verbose=verbose), "predict_classes")
    task = model_task(model) or Task("auto")
    scores = out.reshape(out.shape[0], -1).astype(np.float64)
    if scores.shape[1] == 1:
        p = _sigmoid(scores[:, 0]) if task.from_logits and task.kind == "binary" else scores[:, 0]
        return (p > (0.5 if threshold is None else _threshold_value(threshold))).astype(np.int64)
    if threshold is not None:
        if scores.shape[1] != 2:
            raise ValueError(f"threshold applies to binary models; this one has {scores.shape[1]} classes and "
                             "predicts the arg-max. Call predict_classes(x) without a threshold, or threshold one "
                             "class's probability yourself: model.predict(x)[:, c] > t.")
        z = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True) if task.from_logits else scores
        return (probs[:, 1] > _threshold_value(threshold)).astype(np.int64)
    return scores.argmax(axis=1).astype(np.int64)


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
                 seed: int | None = 0, diagnostics: bool = True, verbose: Any = 0) -> Any:
    """The evaluation report of `model` on (x, y); see `Model.report`."""
    out = _single_output(model.predict(x, batch_size=batch_size, verbose=verbose), "report")
    y_np = _as_numpy(y, "y")
    if y_np.shape[0] != out.shape[0]:
        raise ValueError(f"x has {out.shape[0]} samples but y has {y_np.shape[0]}; pass one target per sample.")
    task = model_task(model)
    history = _default_history(model) if isinstance(history, str) and history == "auto" else history
    findings = []
    fingerprint = getattr(model, "_diagnostics_fingerprint", None)
    if diagnostics and fingerprint is not None:
        from plait.data.adapter import adapt

        data = adapt(x, device=fingerprint.hashes.device, check_finite=False)
        findings += data_checks.check_leakage(fingerprint, data.x, where="report", stage="report")
    settings = dict(history=history, n_bootstrap=n_bootstrap, confidence=confidence, seed=seed, diagnostics=findings)
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
