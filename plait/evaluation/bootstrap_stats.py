"""Bootstrap confidence intervals of a report's headline numbers.

Each resample is a vector of counts (how often each sample was drawn); the statistics are computed for a
whole chunk of resamples at once, as count-weighted versions of the same formulas: weighted confusion
matrices for accuracy and F1, and `plait.metrics`' exact ROC/PR areas with the counts as sample weights.
The jackknife behind BCa's acceleration reuses the same formulas with 0/1 weights (a group left out).

The intervals are BCa (bias-corrected and accelerated) by default, percentile with `ci_method='percentile'`;
an interval whose BCa is undefined (see `stats.bca_levels`) falls back to percentile, and
`report.interval_methods` records which method produced each interval.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from plait.evaluation.stats import bca_interval, bootstrap, jackknife, percentile_interval
from plait.metrics.auc import exact_average_precision, exact_roc_auc


def _f1(tp: torch.Tensor, predicted: torch.Tensor, support: torch.Tensor) -> tuple[torch.Tensor, ...]:
    precision = torch.where(predicted > 0, tp / predicted.clamp(min=1e-300), 0.0)
    recall = torch.where(support > 0, tp / support.clamp(min=1e-300), 0.0)
    total = precision + recall
    f1 = torch.where(total > 0, 2 * precision * recall / total.clamp(min=1e-300), 0.0)
    return precision, recall, f1


def _area_rows(report: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    rows = []
    for c in report.curve_classes():
        labels, scores = report.positive_scores(c)
        rows.append((torch.from_numpy(labels.astype(bool)), torch.from_numpy(scores.astype(np.float64))))
    return rows


def classification_statistics(report: Any) -> tuple[Any, dict[str, float]]:
    """(statistics(weights) -> name -> values, point estimates) for a ClassificationReport."""
    k = len(report.labels)
    index = {label: i for i, label in enumerate(report.labels)}
    t = np.array([index.get(int(v), -1) for v in report.y_true])
    p = np.array([index.get(int(v), -1) for v in report.y_pred])
    keys = torch.from_numpy(np.where((t >= 0) & (p >= 0), t * k + p, k * k))
    binary = report.is_binary and report.labels == [0, 1]
    areas = _area_rows(report)

    def statistics(weights: torch.Tensor) -> dict[str, torch.Tensor]:
        cells = torch.zeros(weights.shape[0], k * k + 1, dtype=torch.float64).index_add_(1, keys, weights)
        cm = cells[:, : k * k].reshape(-1, k, k)
        tp = torch.diagonal(cm, dim1=1, dim2=2)
        support, predicted = cm.sum(dim=2), cm.sum(dim=1)
        precision, recall, f1 = _f1(tp, predicted, support)
        out = {"accuracy": tp.sum(1) / support.sum(1), "macro_f1": f1.mean(1)}
        if binary:
            out.update(precision=precision[:, 1], recall=recall[:, 1], f1=f1[:, 1])
        if areas:
            roc, ap = [], []
            for labels, scores in areas:
                lab, sc = labels.expand_as(weights), scores.expand_as(weights)
                pos = (weights * labels).sum(1)
                undefined = (pos == 0) | (pos == weights.sum(1))  # a resample without one of the classes
                roc.append(torch.where(undefined, float("nan"), exact_roc_auc(sc, lab, weights)))
                ap.append(torch.where(pos == 0, float("nan"), exact_average_precision(sc, lab, weights)))
            out.update(roc_auc=torch.stack(roc).mean(0), pr_auc=torch.stack(ap).mean(0))
        return out

    points = {"accuracy": report.accuracy, "macro_f1": report.averages["macro avg"]["f1-score"]}
    if binary:
        positive = report.per_class[report.class_names[1]]
        points.update(precision=positive["precision"], recall=positive["recall"], f1=positive["f1-score"])
    if areas:
        points.update(roc_auc=report.roc_auc, pr_auc=report.pr_auc)
    return statistics, points


def intervals(statistics: Any, report: Any) -> tuple[dict[str, tuple[float, float]], dict[str, str]]:
    """(name -> (low, high), name -> 'bca' or 'percentile') for the report's settings (n_bootstrap,
    confidence, seed, ci_method); empty with n_bootstrap=0."""
    if report.n_bootstrap == 0:
        return {}, {}
    n = int(report.y_true.shape[0])
    samples = bootstrap(statistics, n, report.n_bootstrap, report.seed)
    out, methods = {}, {}
    if report.ci_method == "bca":
        # The estimate by the same kernel as the resamples, so a resample equal to the data ties exactly.
        points = {k: float(v[0]) for k, v in statistics(torch.ones(1, n, dtype=torch.float64)).items()}
        jack = jackknife(statistics, n, report.seed)
        for name, values in samples.items():
            interval = bca_interval(values, points[name], jack[name], report.confidence)
            if interval is not None:
                out[name], methods[name] = interval, "bca"
    for name, values in samples.items():
        if name not in out:
            out[name], methods[name] = percentile_interval(values, report.confidence), "percentile"
    return {name: out[name] for name in samples}, {name: methods[name] for name in samples}


def classification_intervals(report: Any) -> tuple[dict[str, tuple[float, float]], dict[str, str]]:
    """The bootstrap intervals of a ClassificationReport and the method of each (see `intervals`)."""
    return intervals(classification_statistics(report)[0], report)


def regression_statistics(y_true: np.ndarray, y_pred: np.ndarray) -> Any:
    """statistics(weights) -> {'mse', 'rmse', 'mae', 'r2'} for (n, outputs) arrays."""
    yt, yp = torch.from_numpy(y_true.astype(np.float64)), torch.from_numpy(y_pred.astype(np.float64))
    err = yt - yp
    squared, absolute = err.square(), err.abs()

    def statistics(weights: torch.Tensor) -> dict[str, torch.Tensor]:
        total = weights.sum(1, keepdim=True)
        mse = (weights @ squared.mean(1, keepdim=True)) / total
        mae = (weights @ absolute.mean(1, keepdim=True)) / total
        sse = weights @ squared
        mean = (weights @ yt) / total
        sst = weights @ yt.square() - total * mean.square()
        r2 = torch.where(sst > 1e-12 * (weights @ yt.square()).clamp(min=1e-300), 1.0 - sse / sst, float("nan"))
        return {"mse": mse[:, 0], "rmse": mse[:, 0].sqrt(), "mae": mae[:, 0], "r2": r2.mean(1)}

    return statistics


def regression_intervals(report: Any) -> tuple[dict[str, tuple[float, float]], dict[str, str]]:
    """The bootstrap intervals of a RegressionReport and the method of each (see `intervals`)."""
    return intervals(regression_statistics(report.y_true, report.y_pred), report)
