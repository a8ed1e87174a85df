"""`model.report(x, y)` and `model.predict_classes(x, threshold=...)`: the report and thresholds on a model.

NaN policy: neither chooses a class from a missing value (an arg-max reads NaN as a confident class 0). Inputs
holding NaN or inf are refused before the prediction, as `evaluate` refuses them, with a `ValueError` that
names the rows; outputs holding NaN or inf from finite inputs are refused with a `ValueError` saying the model
itself is broken (naming its weights that hold NaN or inf, if any). No row is silently dropped or abstained on.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from plait.data import adapt
from plait.evaluation import data_checks
from plait.evaluation.diagnostics import emit
from plait.evaluation.fit_diagnostics import training_fingerprint
from plait.evaluation.labels import Task, check_class_targets, model_task
from plait.evaluation.report import ClassificationReport, RegressionReport
from plait.evaluation.stats import check_ci_method
from plait.evaluation.thresholds import class_thresholds, predict_with_thresholds, threshold_number


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
    return threshold_number(threshold, "threshold")


def _input_arrays(x: Any) -> dict[str, Any] | None:
    """The arrays of `x` that can be scanned for NaN before predicting, by name ('x', "x['a']", 'x[1]'); None for
    streams (generators, DataLoaders), whose rows are only seen as they are drawn."""
    if isinstance(x, dict):
        parts = {f"x[{key!r}]": part for key, part in x.items()}
    elif isinstance(x, tuple) or (isinstance(x, list) and all(isinstance(p, (np.ndarray, torch.Tensor)) for p in x)):
        parts = {f"x[{i}]": part for i, part in enumerate(x)}  # several inputs (a list of numbers is one array)
    else:
        parts = {"x": x}
    if len(parts) == 1:
        parts = {"x": next(iter(parts.values()))}
    arrays = {}
    for name, part in parts.items():
        if hasattr(part, "to_numpy"):  # pandas
            part = part.to_numpy()
        if isinstance(part, list):
            try:
                part = np.asarray(part, dtype=np.float64)
            except (TypeError, ValueError):
                return None
        if not isinstance(part, (np.ndarray, torch.Tensor)):
            return None
        arrays[name] = part
    return arrays


def _refuse_nonfinite_inputs(x: Any, where: str) -> bool:
    """Refuses arrays of x holding NaN or inf; returns whether x could be scanned (False for streams)."""
    arrays = _input_arrays(x)
    why = ("chooses no class from missing values (an arg-max reads NaN as class 0)" if where == "predict_classes"
           else "scores no prediction made from missing values")
    for name, part in (arrays or {}).items():
        data_checks.refuse_nonfinite(part, name, f"{where} {why}, as evaluate refuses them. Clean or impute them "
                                     f"(e.g. np.nan_to_num, or drop those rows) and call {where} again.")
    return arrays is not None


def _refuse_nonfinite_outputs(model: Any, out: np.ndarray, scanned: bool, where: str) -> None:
    """Refuses outputs holding NaN or inf, saying why: with finite inputs, the model itself is broken."""
    if not data_checks.nonfinite_rows(out).size:
        return
    broken = [getattr(w, "path", getattr(w, "name", "?")) for w in getattr(model, "weights", [])
              if isinstance(w, torch.Tensor) and w.is_floating_point() and not bool(torch.isfinite(w.detach()).all())]
    if broken:
        cause = (f"The model itself is broken: its weights {broken[:5]} hold NaN or inf (e.g. after a diverged fit). "
                 "Reload a good copy or retrain it.")
    elif scanned:
        cause = ("The model itself is broken: those rows of x are finite, but it computes NaN or inf from them (an "
                 "overflow in a layer?). Check its layers and the scale of the inputs.")
    else:
        cause = ("x is a stream, so its rows could not be checked in advance: clean NaN or inf out of those rows, or, "
                 "if they are finite, check the model's layers and the scale of the inputs.")
    data_checks.refuse_nonfinite(out, "The model's output", f"{cause} {where} reads no class or score from NaN.")


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

    Raises:
        ValueError: If rows of x, or of the model's outputs, hold NaN or inf (the module's NaN policy).
    """
    scanned = _refuse_nonfinite_inputs(x, "predict_classes")
    out = _single_output(model.predict(x, batch_size=batch_size, verbose=verbose), "predict_classes")
    _refuse_nonfinite_outputs(model, out, scanned, "predict_classes")
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
    check_ci_method(ci_method)  # the cheap refusals come before the (possibly long) predict
    threshold_value = _threshold_value(threshold)
    y_np = data_checks.as_numpy(y, "y", "A report scores every sample against its target: drop those rows or fill "
                                "in the missing targets.")
    scanned = _refuse_nonfinite_inputs(x, "report")
    out = _single_output(model.predict(x, batch_size=batch_size, verbose=verbose), "report")
    _refuse_nonfinite_outputs(model, out, scanned, "report")
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
        check_class_targets(y_np, int(np.prod(out.shape[1:], dtype=np.int64)), task)
        y_true = y_np
        if task is not None and task.kind == "binary":
            y_true = (y_np.reshape(y_np.shape[0], -1)[:, 0] > 0.5).astype(np.int64)
        report: Any = ClassificationReport(y_true, out.astype(np.float64), threshold=threshold_value,
                                           class_names=class_names,
                                           from_logits=bool(task is not None and task.from_logits), **settings)
    else:
        report = RegressionReport(y_np, out, **settings)
    if diagnostics:
        emit([f for f in report.diagnostics if f.stage == "report"])
    return report
