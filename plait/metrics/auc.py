"""AUC: the area under the ROC or precision-recall curve, on Keras's threshold grid or exactly.

The default is Keras's streaming approximation: TP/FP/TN/FN at `num_thresholds` thresholds
`[-eps, 1/(n-1), ..., (n-2)/(n-1), 1 + eps]`, counted with one weighted histogram per batch
(`plait.metrics.counting`), then a Riemann sum ('interpolation' is the trapezoid; for the PR curve it
is Davis & Goadrich's interpolation, as Keras). `exact=True` keeps the predictions instead and
computes the exact area with one sort per label, ties handled as scikit-learn does: the ROC area is
`roc_auc_score`, the PR area is `average_precision_score` (step-wise average precision, no
interpolation).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from plait import config
from plait.metrics.counting import (
    COUNT_DTYPE,
    ThresholdGrid,
    blockwise,
    count_above,
    divide_no_nan,
    is_evenly_distributed,
    parse_thresholds,
    row_blocks,
    tally,
)
from plait.metrics.inputs import as_columns, positives, prepare
from plait.metrics.metric import METRICS, Metric

_CONFUSION = ("true_positives", "false_positives", "true_negatives", "false_negatives")
_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "majoring", "minoring")


def _orderable(scores: torch.Tensor) -> torch.Tensor:
    """Integers that sort like the float scores (the IEEE bit trick), so sorting is an integer radix sort.

    Adding 0.0 turns -0.0 into +0.0, so equal scores get equal keys.
    """
    bits = (scores + 0.0).view(torch.int64 if scores.dtype == torch.float64 else torch.int32)
    return torch.where(bits < 0, bits ^ torch.iinfo(bits.dtype).max, bits)


def _score_groups(scores: torch.Tensor, labels: torch.Tensor,
                  weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Positive and negative weight per distinct score of each row, highest score first.

    Args:
        scores, labels, weights: (L, M) tensors, one row per label.

    Returns:
        `(pos, neg)`, float64 (L, M): entry g is the weight of the g-th highest distinct score of the row
        (rows with fewer distinct scores are zero-padded), so tied predictions form one group.
    """
    width, m = scores.shape
    if scores.dtype not in (torch.float32, torch.float64):
        scores = scores.to(torch.float64)
    # One 1-D sort per row: torch sorts 1-D integer keys with a radix sort, far faster than rows of floats.
    keys, order = zip(*(torch.sort(_orderable(row.contiguous())) for row in scores))
    keys, order = torch.stack(keys).flip(1), torch.stack(order).flip(1)  # highest score first
    weights = weights.to(COUNT_DTYPE)
    pos = torch.where(labels, weights, 0.0).gather(1, order)
    neg = torch.where(labels, 0.0, weights).gather(1, order)
    starts = torch.ones_like(keys, dtype=torch.bool)
    starts[:, 1:] = keys[:, 1:] != keys[:, :-1]
    group_keys = (starts.cumsum(dim=1) - 1) + m * torch.arange(width, device=scores.device).unsqueeze(1)
    group_keys = group_keys.reshape(-1)
    grouped_pos = tally(group_keys, pos, width * m)
    grouped_neg = tally(group_keys, neg, width * m)
    return grouped_pos.view(width, m), grouped_neg.view(width, m)


def exact_roc_auc(scores: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Exact ROC AUC of each row of (L, M) inputs (scikit-learn's `roc_auc_score`; 0 without both classes).

    The trapezoid over the ROC points of the distinct scores: every positive-negative pair ranked
    correctly counts 1, a tied pair 1/2.
    """
    pos, neg = _score_groups(scores, labels, weights)
    tp_through = pos.cumsum(dim=1)
    area = (neg * (tp_through - 0.5 * pos)).sum(dim=1)
    return divide_no_nan(area, tp_through[:, -1] * neg.sum(dim=1))


def exact_average_precision(scores: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Average precision of each row of (L, M) inputs: `sum_n (R_n - R_{n-1}) P_n` over distinct scores
    (scikit-learn's `average_precision_score`; 0 without positives)."""
    pos, neg = _score_groups(scores, labels, weights)
    tp_through, fp_through = pos.cumsum(dim=1), neg.cumsum(dim=1)
    precision = divide_no_nan(tp_through, tp_through + fp_through)
    return divide_no_nan((pos * precision).sum(dim=1), tp_through[:, -1])


@METRICS.register("auc")
class AUC(Metric):
    """Area under the ROC curve (default) or the precision-recall curve, streaming over batches.

    Inputs are probabilities (logits with `from_logits=True`) and 0/1 labels of the same shape;
    integer class ids with a (batch, k) `y_pred` are read one-vs-rest (plait addition). Without
    `multi_label` every cell is pooled into one curve; with it, one curve per label column and the
    mean of their areas (weighted by `label_weights` if given). A curve with no positives (or, for
    ROC, no negatives) has area 0.

    Args:
        num_thresholds: thresholds of the approximation, endpoints included (> 1).
        curve: 'ROC', 'PR' or 'PRGAIN' (precision-recall gain; not with `exact`).
        summation_method: 'interpolation' (trapezoid; Davis & Goadrich for PR), 'minoring' or 'majoring'.
        name: name of the metric.
        dtype: dtype of the result.
        thresholds: explicit thresholds in [0, 1] instead of the even grid (-eps and 1 + eps are added,
            so `num_thresholds` becomes `len(thresholds) + 2`).
        multi_label: one curve per label column, areas averaged.
        num_labels: number of label columns (else taken from the first batch); needs `multi_label`.
        label_weights: per-label weights: they weight the areas' average with `multi_label`, and the
            cells' counts without it.
        from_logits: apply a sigmoid to `y_pred` first.
        exact: keep every prediction and compute the exact area (plait addition): ROC gives
            scikit-learn's `roc_auc_score`, PR its `average_precision_score`; `num_thresholds`,
            `thresholds` and `summation_method` are then unused. Memory grows with the data seen.

    Example:
        >>> m = AUC(num_thresholds=3)
        >>> round(float(m([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])), 4)
        0.75
        >>> round(float(AUC(exact=True)([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])), 4)
        0.75
    """

    higher_is_better = True

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC", summation_method: str = "interpolation",
                 name: str | None = None, dtype: str | torch.dtype | None = None,
                 thresholds: list[float] | None = None, multi_label: bool = False, num_labels: int | None = None,
                 label_weights: Any = None, from_logits: bool = False, *, exact: bool = False) -> None:
        super().__init__(dtype=dtype, name=name)
        if not isinstance(curve, str) or curve.lower() not in _CURVES:
            raise ValueError(f"curve must be 'ROC', 'PR' or 'PRGAIN', got {curve!r}.")
        if not isinstance(summation_method, str) or summation_method.lower() not in _SUMMATIONS:
            raise ValueError(f"summation_method must be one of {_SUMMATIONS}, got {summation_method!r}.")
        self.curve = _CURVES[curve.lower()]
        self.summation_method = summation_method.lower()
        self.exact = bool(exact)
        if self.exact and self.curve == "PRGAIN":
            raise ValueError("exact=True computes 'ROC' (roc_auc_score) or 'PR' (average precision); the PRGAIN "
                             "curve is only available on the threshold grid (exact=False).")
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(parse_thresholds(thresholds, 0.5))
            evenly = is_evenly_distributed([0.0] + inner + [1.0])
        else:
            if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int) or num_thresholds <= 1:
                raise ValueError(f"num_thresholds must be an integer > 1, got {num_thresholds!r}.")
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            evenly = True
        eps = config.epsilon()
        self.num_thresholds = len(inner) + 2
        self._thresholds = [0.0 - eps] + inner + [1.0 + eps]
        self._grid = ThresholdGrid(self._thresholds, "epsilon" if evenly else None)
        self.multi_label = bool(multi_label)
        if num_labels is not None and not self.multi_label:
            raise ValueError("num_labels is needed only when multi_label=True.")
        if num_labels is not None and (isinstance(num_labels, bool) or not isinstance(num_labels, int)
                                       or num_labels < 1):
            raise ValueError(f"num_labels must be a positive integer or None, got {num_labels!r}.")
        self.num_labels = num_labels
        self.label_weights = None
        self._label_weights_on: dict[torch.device, torch.Tensor] = {}
        if label_weights is not None:
            self.label_weights = torch.as_tensor(np.asarray(label_weights, dtype=np.float64)).reshape(-1)
        self._from_logits = bool(from_logits)
        if self.label_weights is not None and num_labels is not None and self.label_weights.numel() != num_labels:
            raise ValueError(f"label_weights has {self.label_weights.numel()} entries but num_labels={num_labels}.")
        known = num_labels or (None if self.label_weights is None else self.label_weights.numel())
        width = (known or 0) if self.multi_label else 1
        for state in _CONFUSION:
            self.add_state(state, torch.zeros(self.num_thresholds, width, dtype=COUNT_DTYPE), reduce="sum")
        for state in ("seen_scores", "seen_labels", "seen_weights"):
            self.add_state(state, [], reduce="cat")

    @property
    def thresholds(self) -> list[float]:
        """The thresholds, endpoints included (Keras)."""
        return list(self._thresholds)

    @property
    def from_logits(self) -> bool:
        return self._from_logits

    def _weights_on(self, device: torch.device) -> torch.Tensor:
        # Cached per device: a host-to-device copy on every batch would synchronize the device.
        if device not in self._label_weights_on:
            self._label_weights_on[device] = self.label_weights.to(device)
        return self._label_weights_on[device]

    def _width(self) -> int:
        return self.true_positives.shape[-1]

    def _build(self, width: int) -> None:
        current = self._width()
        if current == width:
            return
        if current:
            raise ValueError(f"{self.name}: y_pred has {width} labels but earlier batches had {current}; "
                             "call reset_state() first, or pass num_labels matching the data.")
        for state in _CONFUSION:
            value = getattr(self, state)
            value.data = torch.zeros(self.num_thresholds, width, dtype=COUNT_DTYPE, device=value.device)

    def merge_state(self, metrics: Any) -> "AUC":
        others = [metrics] if isinstance(metrics, Metric) else list(metrics)
        built = [m for m in others if not isinstance(m, AUC) or m._width()]
        for other in built:
            if isinstance(other, AUC):
                self._build(other._width())
        return super().merge_state(built) if built else self

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds one batch: its counts at every threshold, or its predictions when `exact`."""
        batch = prepare(self, y_true, y_pred, sample_weight, from_logits=self._from_logits, what=self.name)
        y_true, y_pred, weight = batch.y_true, batch.y_pred, batch.weight
        if self.multi_label and y_pred.dim() != 2:
            raise ValueError(f"{self.name}: multi_label=True needs y_pred of shape (batch, num_labels), got "
                             f"{tuple(y_pred.shape)}.")
        if self.label_weights is not None:
            if y_pred.shape[-1] != self.label_weights.numel() or y_pred.dim() < 2:
                raise ValueError(f"{self.name}: label_weights has {self.label_weights.numel()} entries but y_pred "
                                 f"has shape {tuple(y_pred.shape)}; pass one weight per label column.")
            if not self.multi_label:
                per_label = self._weights_on(y_pred.device)
                weight = per_label.expand(y_pred.shape) if weight is None else weight * per_label
        width = y_pred.shape[-1] if self.multi_label else 1
        rows, preds = y_true.reshape(-1, width), y_pred.reshape(-1, width)
        weight = as_columns(weight, width)
        self._build(width)
        if self.exact:
            w = torch.ones_like(preds, dtype=COUNT_DTYPE) if weight is None else weight.to(COUNT_DTYPE)
            self.seen_scores.append(preds.detach().clone())
            labels = positives(rows)
            self.seen_labels.append(labels.clone() if labels is rows else labels)  # never alias the input
            self.seen_weights.append(w.clone())
            return

        def count(part: slice) -> tuple[torch.Tensor, ...]:
            return count_above(self._grid.buckets(preds[part]), positives(rows[part]),
                               None if weight is None else weight[part], self.num_thresholds, self._grid.min_bucket)

        # Block by block on CPU (see `row_blocks`): a 10M-prediction batch is then 2-3x faster.
        counts = blockwise(count, preds.shape[0], row_blocks(preds.shape[0], width, preds.device))
        for state, value in zip(_CONFUSION, counts):
            getattr(self, state).add_(value)

    # --- result ------------------------------------------------------------------------------
    def _average_labels(self, by_label: torch.Tensor) -> torch.Tensor:
        if not self.multi_label:
            return by_label.sum(dim=-1)  # a single pooled column
        if self.label_weights is None:
            return by_label.sum(dim=-1) / max(by_label.shape[-1], 1)
        weights = self._weights_on(by_label.device)
        return divide_no_nan((by_label * weights).sum(dim=-1), weights.sum())

    def _exact_result(self) -> torch.Tensor:
        if not self.seen_scores:
            return torch.zeros((), dtype=self._dtype, device=self.device)
        scores = torch.cat(self.seen_scores).T
        labels, weights = torch.cat(self.seen_labels).T, torch.cat(self.seen_weights).T
        area = exact_roc_auc if self.curve == "ROC" else exact_average_precision
        return self._average_labels(area(scores, labels, weights)).to(self._dtype)

    def interpolate_pr_auc(self) -> torch.Tensor:
        """PR AUC with Davis & Goadrich's interpolation between thresholds (Keras's formula)."""
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        prec_slope = divide_no_nan(dtp, dp.clamp_min(0))
        intercept = tp[1:] - prec_slope * p[1:]
        safe_p_ratio = torch.where((p[:-1] > 0) & (p[1:] > 0), divide_no_nan(p[:-1], p[1:].clamp_min(0)),
                                   torch.ones_like(p[1:]))
        increments = divide_no_nan(prec_slope * (dtp + intercept * torch.log(safe_p_ratio)),
                                   (tp[1:] + fn[1:]).clamp_min(0))
        return self._average_labels(increments.sum(dim=0))

    def _curve(self) -> tuple[torch.Tensor, torch.Tensor]:
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            return divide_no_nan(fp, fp + tn), recall
        if self.curve == "PR":
            return recall, divide_no_nan(tp, tp + fp)
        # Precision-recall gain (Keras): no true positives gives recall gain 0 and precision gain 1.
        scaling = divide_no_nan(tp + fn, tn + fp)
        recall_gain = torch.where(tp == 0, 0.0, 1.0 - scaling * divide_no_nan(fn, tp)).clamp_min(0.0)
        precision_gain = torch.where(tp == 0, 1.0, 1.0 - scaling * divide_no_nan(fp, tp))
        return recall_gain, precision_gain

    def result(self) -> torch.Tensor:
        if self.exact:
            return self._exact_result()
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self.interpolate_pr_auc().to(self._dtype)
        x, y = self._curve()
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = torch.minimum(y[:-1], y[1:])
        else:
            heights = torch.maximum(y[:-1], y[1:])
        return self._average_labels(((x[:-1] - x[1:]) * heights).sum(dim=0)).to(self._dtype)

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels,
                  "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
                  "from_logits": self._from_logits, "exact": self.exact}
        if self._init_from_thresholds:
            config["thresholds"] = self._thresholds[1:-1]
        return config


def _prc() -> AUC:
    # 'prc' is the id Keras users give to the PR-curve AUC (`AUC(curve='PR', name='prc')` in Keras's guides).
    return AUC(curve="PR", name="prc")


METRICS.add("prc", _prc)
