"""The evaluation report: every number needed to decide whether to trust a classifier or a regressor.

`classification_report(y_true, y_prob)` and `regression_report(y_true, y_pred)` (and `model.report(x, y)`)
return report objects that print as text, render as a self-contained HTML page with embedded figures
(`save_html`), display in notebooks (`_repr_html_`), and answer threshold questions (`threshold_for`).

The numbers come from `plait.metrics` (ConfusionMatrix, the exact ROC/PR areas, the regression
metrics); per-class precision, recall and F1 are read from the confusion matrix as scikit-learn does,
and agree with `sklearn.metrics.classification_report`.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np
import torch

from plait import metrics as plait_metrics
from plait.evaluation import bootstrap_stats, render
from plait.evaluation.data_checks import as_numpy
from plait.evaluation.diagnostics import Finding, check_accuracy_paradox
from plait.evaluation.png import PNGImage
from plait.evaluation.reports_base import Report
from plait.evaluation.thresholds import (BinaryCurve, ThresholdChoice, binary_curve, threshold_for, threshold_number,
                                         threshold_table)
from plait.metrics.auc import exact_average_precision, exact_roc_auc


# Predictions holding NaN would become class 0 (arg-max of NaN) or NaN metrics: the reports refuse them.
_PREDICTION_FIX = ("NaN predictions come from NaN inputs or a broken model (weights holding NaN): clean the "
                   "inputs or reload the model, then build the report again.")


def _true_ids(y_true: Any) -> np.ndarray:
    y = as_numpy(y_true, "y_true")
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    y = y.reshape(y.shape[0], -1)
    if y.shape[1] != 1:
        raise ValueError(f"y_true must be class ids (n,) or one-hot rows (n, k), got shape {y.shape}.")
    y = y[:, 0]
    if y.dtype.kind == "f" and not np.all(y == np.round(y)):
        raise ValueError("y_true holds non-integer values; a classification report needs class ids 0..k-1 "
                         "(for a regression model use regression_report).")
    ids = y.astype(np.int64)
    if ids.min() < 0:
        raise ValueError(f"y_true holds negative class ids (min {ids.min()}); expected ids 0..k-1.")
    return ids


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _scores(y_prob: Any, threshold: float, from_logits: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(predicted ids, scores): scores is (n,) for binary, (n, k) for multi-class, None for hard labels."""
    p = as_numpy(y_prob, "y_prob", _PREDICTION_FIX)
    if p.dtype.kind in "biu":
        if p.ndim != 1 and not (p.ndim == 2 and p.shape[1] == 1):
            raise ValueError(f"Integer y_prob must be predicted class ids of shape (n,), got {p.shape}.")
        return p.reshape(-1).astype(np.int64), None
    p = p.astype(np.float64).reshape(p.shape[0], -1)
    if p.shape[1] == 1:
        s = p[:, 0]
        s = 1.0 / (1.0 + np.exp(-s)) if from_logits else s
        return (s > threshold).astype(np.int64), s
    probs = _softmax(p) if from_logits else p
    if probs.shape[1] == 2:
        return (probs[:, 1] > threshold).astype(np.int64), probs
    return probs.argmax(axis=1), probs


class ClassificationReport(Report):
    """Classification results: confusion matrix, per-class and averaged precision/recall/F1, accuracy next to
    the majority baseline, ROC-AUC and PR-AUC, bootstrap confidence intervals, thresholds and diagnostics.

    Build it with `plait.evaluation.classification_report(y_true, y_prob)` or `model.report(x, y)`.

    Attributes:
        labels: The class ids reported (those in y_true or the predictions, as scikit-learn).
        class_names: Their display names.
        confusion_matrix: (k, k) counts, rows = true class, columns = predicted class.
        per_class: name -> {'precision', 'recall', 'f1-score', 'support'}.
        averages: 'micro avg', 'macro avg', 'weighted avg' -> the same keys.
        accuracy, baseline, baseline_class: Accuracy and that of always predicting the majority class.
        roc_auc, pr_auc: Areas under the ROC and precision-recall curves (binary: of class 1; multi-class:
            macro average of one-vs-rest); None without scores.
        intervals: metric name -> (low, high) bootstrap interval at `confidence`.
        interval_methods: metric name -> 'bca' or 'percentile', the method that produced its interval.
        diagnostics: The `Finding`s about this data (accuracy paradox, leakage, and those of the History).

    Example:
        >>> report = classification_report([0, 1, 1, 0, 1], [0.2, 0.9, 0.4, 0.1, 0.8], n_bootstrap=0)
        >>> report.accuracy
        0.8
        >>> report.threshold_for(recall=1.0).recall
        1.0
    """

    def __init__(self, y_true: Any, y_prob: Any, *, threshold: float = 0.5, labels: Sequence[int] | None = None,
                 class_names: Sequence[Any] | None = None, from_logits: bool = False, history: Any = None,
                 n_bootstrap: int = 1000, confidence: float = 0.95, seed: int | None = 0, ci_method: str = "bca",
                 diagnostics: Sequence[Finding] = ()) -> None:
        super().__init__(history=history, n_bootstrap=n_bootstrap, confidence=confidence, seed=seed,
                         ci_method=ci_method)
        self.threshold = threshold_number(threshold, "threshold")
        self.y_true = _true_ids(y_true)
        self.y_pred, self.scores = _scores(y_prob, self.threshold, from_logits)
        if self.y_pred.shape[0] != self.y_true.shape[0]:
            raise ValueError(f"y_true has {self.y_true.shape[0]} samples but y_prob has {self.y_pred.shape[0]}; "
                             "pass one prediction per sample.")
        present = np.union1d(self.y_true, self.y_pred)
        self.labels = [int(v) for v in (present if labels is None else labels)]
        self.class_names = self._names(class_names)
        self._compute_counts()
        self._compute_areas()
        self.intervals, self.interval_methods = bootstrap_stats.classification_intervals(self)
        self.diagnostics = list(diagnostics) + check_accuracy_paradox(
            self.confusion_matrix, self.class_names, stage="report", where="this data")
        self.diagnostics += self._history_findings()

    # ------------------------------------------------------------------ numbers
    def _names(self, class_names: Sequence[Any] | None) -> list[str]:
        if class_names is None:
            return [str(v) for v in self.labels]
        if isinstance(class_names, dict):
            return [str(class_names.get(v, v)) for v in self.labels]
        names = list(class_names)
        if len(names) > max(self.labels):
            return [str(names[v]) for v in self.labels]
        if len(names) == len(self.labels):
            return [str(n) for n in names]
        raise ValueError(f"class_names has {len(names)} entries but the classes are {self.labels}; give one name "
                         "per class id (or a dict {id: name}).")

    def _compute_counts(self) -> None:
        k_all = int(max(max(self.labels), self.y_true.max(), self.y_pred.max())) + 1
        metric = plait_metrics.ConfusionMatrix(num_classes=max(k_all, 2), dtype="float64")
        metric.update_state(torch.from_numpy(self.y_true), torch.from_numpy(self.y_pred))
        full = metric.result().cpu().numpy()
        cm = full[np.ix_(self.labels, self.labels)]
        self.confusion_matrix = cm.astype(np.int64)
        tp, support, predicted = np.diag(cm), cm.sum(axis=1), cm.sum(axis=0)
        precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
        recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
        f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=precision + recall > 0)
        self.per_class = {name: {"precision": float(p), "recall": float(r), "f1-score": float(f), "support": int(s)}
                          for name, p, r, f, s in zip(self.class_names, precision, recall, f1, support)}
        n = float(support.sum())
        micro_p = float(tp.sum() / predicted.sum()) if predicted.sum() > 0 else 0.0
        micro_r = float(tp.sum() / n) if n > 0 else 0.0
        micro_f = 2 * micro_p * micro_r / (micro_p + micro_r) if micro_p + micro_r > 0 else 0.0
        weights = support / n if n > 0 else np.zeros_like(support)
        self.averages = {
            "micro avg": {"precision": micro_p, "recall": micro_r, "f1-score": micro_f, "support": int(n)},
            "macro avg": {"precision": float(precision.mean()), "recall": float(recall.mean()),
                          "f1-score": float(f1.mean()), "support": int(n)},
            "weighted avg": {"precision": float(precision @ weights), "recall": float(recall @ weights),
                             "f1-score": float(f1 @ weights), "support": int(n)},
        }
        self.num_samples = int(n)
        self.accuracy = float(tp.sum() / n) if n > 0 else float("nan")
        majority = int(np.argmax(support))
        self.baseline = float(support[majority] / n) if n > 0 else float("nan")
        self.baseline_class = self.class_names[majority]

    @property
    def is_binary(self) -> bool:
        return self.scores is not None and (self.scores.ndim == 1 or self.scores.shape[1] == 2)

    def positive_scores(self, class_id: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(0/1 labels, scores) of one class against the rest: class 1 for a binary model."""
        if self.scores is None:
            raise ValueError("This report was built from hard class predictions, so it has no scores to choose a "
                             "threshold or draw curves from. Pass probabilities (model.predict output) as y_prob.")
        if self.scores.ndim == 1:
            if class_id not in (None, 1):
                raise ValueError(f"A binary model scores class 1; got class_id={class_id!r}.")
            return (self.y_true == 1).astype(np.int64), self.scores
        if class_id is None:
            if self.scores.shape[1] != 2:
                raise ValueError(f"The model has {self.scores.shape[1]} classes: say which one, e.g. "
                                 "threshold_for(recall=0.9, class_id=2) (that class against the rest).")
            class_id = 1
        if isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer)) \
                or not 0 <= class_id < self.scores.shape[1]:
            raise ValueError(f"class_id must be a class id in 0..{self.scores.shape[1] - 1} (one per column of the "
                             f"scores), got {class_id!r}.")
        return (self.y_true == class_id).astype(np.int64), self.scores[:, class_id]

    def curve_classes(self) -> list[int]:
        """The classes with a one-vs-rest curve: class 1 for binary models, else every class with both
        positives and negatives in y_true."""
        if self.scores is None:
            return []
        if self.is_binary:
            return [1] if 0 < (self.y_true == 1).sum() < self.y_true.size else []
        return [c for c in range(self.scores.shape[1]) if 0 < (self.y_true == c).sum() < self.y_true.size]

    def curve(self, class_id: int | None = None) -> BinaryCurve:
        labels, scores = self.positive_scores(class_id)
        return binary_curve(labels, scores)

    def _compute_areas(self) -> None:
        self.roc_auc = self.pr_auc = None
        self.per_class_auc: dict[str, tuple[float, float]] = {}
        classes = self.curve_classes()
        if not classes:
            return
        rows = [self.positive_scores(c) for c in classes]
        labels = torch.from_numpy(np.stack([r[0] for r in rows]).astype(bool))
        scores = torch.from_numpy(np.stack([r[1] for r in rows]))
        weights = torch.ones_like(scores)
        roc = exact_roc_auc(scores, labels, weights).numpy()
        ap = exact_average_precision(scores, labels, weights).numpy()
        self.per_class_auc = {str(c): (float(a), float(b)) for c, a, b in zip(classes, roc, ap)}
        self.roc_auc, self.pr_auc = float(roc.mean()), float(ap.mean())

    # ------------------------------------------------------------------ thresholds
    def threshold_for(self, *, recall: float | None = None, precision: float | None = None,
                      class_id: int | None = None) -> ThresholdChoice:
        """The decision threshold that reaches a recall (or precision) target on this data, and what it achieves.

        Args:
            recall: Minimum recall wanted (the threshold with the best precision among those reaching it).
            precision: Minimum precision wanted (the threshold with the best recall among those reaching it).
            class_id: For multi-class models, the class scored against the rest.

        Returns:
            A `ThresholdChoice` (threshold, precision, recall, F1, counts, and the class_id it was chosen for);
            pass it to `model.predict_classes(x, threshold=choice)`, which applies it to that class.
        """
        labels, scores = self.positive_scores(class_id)
        choice = threshold_for(labels, scores, recall=recall, precision=precision)
        return dataclasses.replace(choice, class_id=None if class_id is None else int(class_id))

    def threshold_table(self, thresholds: Sequence[float] | None = None, *,
                        class_id: int | None = None) -> list[dict[str, float]]:
        """Precision, recall, F1, false-positive rate and counts at each threshold (default 0.1 ... 0.9)."""
        labels, scores = self.positive_scores(class_id)
        return threshold_table(labels, scores, thresholds)

    # ------------------------------------------------------------------ output
    def to_dict(self) -> dict[str, Any]:
        """The scikit-learn `classification_report(..., output_dict=True)` layout."""
        out: dict[str, Any] = {name: dict(values) for name, values in self.per_class.items()}
        out["accuracy"] = self.accuracy
        out["macro avg"] = dict(self.averages["macro avg"])
        out["weighted avg"] = dict(self.averages["weighted avg"])
        return out

    def summary(self) -> dict[str, Any]:
        """The headline numbers with their intervals, as a flat dict."""
        out = {"accuracy": self.accuracy, "baseline": self.baseline, "roc_auc": self.roc_auc, "pr_auc": self.pr_auc,
               "macro_f1": self.averages["macro avg"]["f1-score"], "num_samples": self.num_samples}
        out.update({f"{name}_interval": interval for name, interval in self.intervals.items()})
        return out

    def __str__(self) -> str:
        return render.classification_text(self)

    def _html_body(self) -> str:
        return render.classification_html(self)

    def figures(self) -> dict[str, PNGImage]:
        return render.classification_figures(self)

    def plot_confusion_matrix(self, path: Any = None, **kwargs: Any) -> PNGImage:
        """The confusion-matrix heat map as a `PNGImage` (written to `path` if given)."""
        from plait.evaluation.plots import confusion_matrix_png

        return confusion_matrix_png(self.confusion_matrix, self.class_names, path=path, **kwargs)

    def plot_roc_curve(self, path: Any = None, **kwargs: Any) -> PNGImage:
        """ROC curve(s) as a `PNGImage` (written to `path` if given)."""
        return render.roc_figure(self, path=path, **kwargs)

    def plot_pr_curve(self, path: Any = None, **kwargs: Any) -> PNGImage:
        """Precision-recall curve(s) as a `PNGImage` (written to `path` if given)."""
        return render.pr_figure(self, path=path, **kwargs)


def classification_report(y_true: Any, y_prob: Any, *, threshold: float = 0.5, labels: Sequence[int] | None = None,
                          class_names: Sequence[Any] | None = None, from_logits: bool = False, history: Any = None,
                          n_bootstrap: int = 1000, confidence: float = 0.95, seed: int | None = 0,
                          ci_method: str = "bca") -> ClassificationReport:
    """The evaluation report of a classifier's predictions.

    Args:
        y_true: Class ids (n,) or one-hot rows (n, k).
        y_prob: Probabilities: (n,) or (n, 1) of class 1 for a binary model, (n, k) per class; or predicted
            class ids (integers), which give no curves or thresholds.
        threshold: A binary model predicts class 1 when its probability is above it.
        labels: The class ids to report (default: those present, as scikit-learn).
        class_names: Display names, a list indexed by class id or a dict.
        from_logits: y_prob holds logits (a sigmoid or softmax is applied).
        history: The `History` from `fit`, for learning curves and its diagnostics.
        n_bootstrap: Bootstrap resamples for the confidence intervals (0 to skip).
        confidence: Confidence level of the intervals.
        seed: Seed of the resampling (reproducible intervals).
        ci_method: 'bca' (bias-corrected and accelerated bootstrap, the default; percentile where BCa is
            undefined) or 'percentile'.

    Returns:
        A `ClassificationReport`.
    """
    return ClassificationReport(y_true, y_prob, threshold=threshold, labels=labels, class_names=class_names,
                                from_logits=from_logits, history=history, n_bootstrap=n_bootstrap,
                                confidence=confidence, seed=seed, ci_method=ci_method)


def _regression_arrays(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    yt = as_numpy(y_true, "y_true").astype(np.float64)
    yp = as_numpy(y_pred, "y_pred", _PREDICTION_FIX).astype(np.float64)
    yt, yp = yt.reshape(yt.shape[0], -1), yp.reshape(yp.shape[0], -1)
    if yt.shape != yp.shape:
        raise ValueError(f"y_true and y_pred must have the same shape (samples, outputs), got {yt.shape} and "
                         f"{yp.shape}.")
    return yt, yp


class RegressionReport(Report):
    """Regression results: MSE, RMSE, MAE, R2 with bootstrap intervals, the residuals and their plots.

    Build it with `plait.evaluation.regression_report(y_true, y_pred)` or `model.report(x, y)`.

    Attributes:
        mse, rmse, mae, r2: The metrics (R2 averaged uniformly over outputs, as scikit-learn's r2_score).
        baseline_mse: The MSE of always predicting the mean of y_true (R2 = 0 there).
        residuals: y_true - y_pred, shape (samples, outputs).
        intervals: metric name -> (low, high) bootstrap interval at `confidence`.
        interval_methods: metric name -> 'bca' or 'percentile', the method that produced its interval.
        diagnostics: The `Finding`s of the History, if one was given.

    Example:
        >>> report = regression_report([1.0, 2.0, 3.0, 4.0], [1.1, 1.9, 3.2, 3.8], n_bootstrap=0)
        >>> round(report.mse, 4)
        0.025
    """

    def __init__(self, y_true: Any, y_pred: Any, *, history: Any = None, n_bootstrap: int = 1000,
                 confidence: float = 0.95, seed: int | None = 0, ci_method: str = "bca",
                 diagnostics: Sequence[Finding] = ()) -> None:
        super().__init__(history=history, n_bootstrap=n_bootstrap, confidence=confidence, seed=seed,
                         ci_method=ci_method)
        self.y_true, self.y_pred = _regression_arrays(y_true, y_pred)
        yt, yp = torch.from_numpy(self.y_true), torch.from_numpy(self.y_pred)
        values = {}
        for name, metric in (("mse", plait_metrics.MeanSquaredError(dtype="float64")),
                             ("rmse", plait_metrics.RootMeanSquaredError(dtype="float64")),
                             ("mae", plait_metrics.MeanAbsoluteError(dtype="float64")),
                             ("r2", plait_metrics.R2Score(dtype="float64"))):
            metric.update_state(yt, yp)
            values[name] = float(metric.result())
        self.mse, self.rmse, self.mae, self.r2 = values["mse"], values["rmse"], values["mae"], values["r2"]
        self.baseline_mse = float(np.mean((self.y_true - self.y_true.mean(axis=0)) ** 2))
        self.residuals = self.y_true - self.y_pred
        self.num_samples = int(self.y_true.shape[0])
        self.intervals, self.interval_methods = bootstrap_stats.regression_intervals(self)
        self.diagnostics = list(diagnostics) + self._history_findings()

    def to_dict(self) -> dict[str, Any]:
        return {"mse": self.mse, "rmse": self.rmse, "mae": self.mae, "r2": self.r2, "baseline_mse": self.baseline_mse,
                "num_samples": self.num_samples, **{f"{k}_interval": v for k, v in self.intervals.items()}}

    summary = to_dict

    def __str__(self) -> str:
        return render.regression_text(self)

    def _html_body(self) -> str:
        return render.regression_html(self)

    def figures(self) -> dict[str, PNGImage]:
        return render.regression_figures(self)

    def plot_residuals(self, path: Any = None, **kwargs: Any) -> PNGImage:
        """Residuals against predictions, and predictions against truth, as a `PNGImage` (written to `path`
        if given)."""
        from plait.evaluation.plots import residuals_png

        return residuals_png(self.y_true[:, 0], self.y_pred[:, 0], path=path, **kwargs)


def regression_report(y_true: Any, y_pred: Any, *, history: Any = None, n_bootstrap: int = 1000,
                      confidence: float = 0.95, seed: int | None = 0, ci_method: str = "bca") -> RegressionReport:
    """The evaluation report of a regressor's predictions (see `RegressionReport`).

    Args:
        y_true, y_pred: Targets and predictions, (n,) or (n, outputs).
        history: The `History` from `fit`, for learning curves and its diagnostics.
        n_bootstrap: Bootstrap resamples for the confidence intervals (0 to skip).
        confidence: Confidence level of the intervals.
        seed: Seed of the resampling.
        ci_method: 'bca' (the default; percentile where BCa is undefined) or 'percentile'.

    Returns:
        A `RegressionReport`.
    """
    return RegressionReport(y_true, y_pred, history=history, n_bootstrap=n_bootstrap, confidence=confidence,
                            seed=seed, ci_method=ci_method)
