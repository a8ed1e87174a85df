"""Thresholded confusion metrics: TruePositives/FalsePositives/TrueNegatives/FalseNegatives, Precision, Recall.

All of them share one state, `ThresholdedConfusion`: weighted TP/FP/TN/FN counts of shape
(thresholds, labels), accumulated on the device without a host sync (see `plait.metrics.counting`).
A prediction is positive when `y_pred > threshold` (strictly), as in Keras.

Multi-class Precision and Recall (a plait addition, Keras has only the flattened form): when `y_pred`
has k > 1 columns and `y_true` holds integer class ids, or one-hot rows of a (batch, k) `y_pred`,
the prediction is the arg-max class and scores are per class, averaged by `average`. Multi-hot
(multi-label) rows are thresholded cell by cell. Integer ids are counted straight from the ids (three
small histograms); whether a one-hot/multi-hot `y_true` is one or the other is decided without a host
read: the metric counts both ways and keeps a device flag saying whether every row seen so far was
one-hot (so a multi-label batch whose rows all happen to hold exactly one label reads as multi-class).
"""
from __future__ import annotations

from typing import Any

import torch

from plait.metrics.counting import (
    AVERAGES,
    COUNT_DTYPE,
    NEG_INF,
    ThresholdGrid,
    average_scores,
    count_above,
    count_decisions,
    count_ids,
    is_evenly_distributed,
    parse_thresholds,
)
from plait.metrics.inputs import argmax_decisions, as_columns, keep_top_k, positives, prepare, rows_are_one_hot
from plait.metrics.metric import METRICS, Metric

_CONFUSION = ("true_positives", "false_positives", "true_negatives", "false_negatives")
_BY_CLASS = tuple(f"class_{name}" for name in _CONFUSION)


def _check_optional_int(value: Any, what: str, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum} or None, got {value!r}.")
    return value


class ThresholdedConfusion(Metric):
    """Weighted TP/FP/TN/FN per threshold and per label: the state the thresholded metrics share.

    The states are `true_positives`, `false_positives`, `true_negatives`, `false_negatives`, float64
    tensors of shape (num_thresholds, num_labels); num_labels is 1 when every cell is pooled (binary
    inputs, `class_id`, or `per_label=False`) and the number of columns of `y_pred` otherwise, known
    from the first batch. Metrics that may score multi-class inputs by arg-max also keep `class_*`
    counts (one threshold) and the flag `labels_one_hot`.

    Args:
        thresholds: a threshold or a list of thresholds in [0, 1] (default 0.5; -1e10 with `top_k`).
        top_k: keep only the k largest predictions of each row before thresholding (Keras).
        class_id: score only this column of a (batch, k) input (Keras).
        average: how per-label scores combine: 'auto', None, 'micro', 'macro' or 'weighted'.
        from_logits: apply a sigmoid to `y_pred` first.
        per_label: False pools every cell into one label (Keras's flattening).
        argmax_multiclass: score one-hot / integer labels by the arg-max class when thresholds,
            top_k and class_id are all unset.
        name: name of the metric.
        dtype: dtype of the result.

    Example:
        >>> m = ThresholdedConfusion([0.3, 0.6], per_label=False)
        >>> m.update_state([0, 1, 1], [0.4, 0.5, 0.9])
        >>> m.true_positives[:, 0].tolist(), m.false_positives[:, 0].tolist()
        ([2.0, 1.0], [1.0, 0.0])
    """

    def __init__(self, thresholds: float | list[float] | None = None, *, top_k: int | None = None,
                 class_id: int | None = None, average: str | None = "auto", from_logits: bool = False,
                 per_label: bool = True, argmax_multiclass: bool = False, name: str | None = None,
                 dtype: str | torch.dtype | None = None) -> None:
        super().__init__(dtype=dtype, name=name)
        if average not in AVERAGES + ("auto",):
            raise ValueError(f"average must be one of 'auto', None, 'micro', 'macro', 'weighted', got {average!r}.")
        self.init_thresholds = thresholds
        self.top_k = _check_optional_int(top_k, "top_k", 1)
        self.class_id = _check_optional_int(class_id, "class_id", 0)
        self.average = average
        self.from_logits = bool(from_logits)
        self.thresholds = parse_thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self._grid = ThresholdGrid(self.thresholds, "plain" if is_evenly_distributed(self.thresholds) else None)
        self._per_label = per_label and self.class_id is None
        self._argmax = argmax_multiclass and thresholds is None and top_k is None and self._per_label
        width = 0 if self._per_label else 1
        for state in _CONFUSION:
            self.add_state(state, torch.zeros(len(self.thresholds), width, dtype=COUNT_DTYPE), reduce="sum")
        if self._argmax:
            for state in _BY_CLASS:
                self.add_state(state, torch.zeros(1, width, dtype=COUNT_DTYPE), reduce="sum")
            self.add_state("labels_one_hot", torch.ones((), dtype=COUNT_DTYPE), reduce="min")

    # --- state -------------------------------------------------------------------------------
    @property
    def num_labels(self) -> int:
        """Labels counted separately (0 before the first batch of a per-label metric)."""
        return self.true_positives.shape[-1]

    def _build(self, width: int) -> None:
        current = self.num_labels
        if current == width:
            return
        if current:
            raise ValueError(f"{self.name}: y_pred has {width} label columns but earlier batches had {current}; "
                             "call reset_state() before scoring data with a different number of classes.")
        for state in _CONFUSION + (_BY_CLASS if self._argmax else ()):
            value = getattr(self, state)
            value.data = torch.zeros(value.shape[0], width, dtype=COUNT_DTYPE, device=value.device)

    def merge_state(self, metrics: Any) -> "ThresholdedConfusion":
        others = [metrics] if isinstance(metrics, Metric) else list(metrics)
        built = [m for m in others if not isinstance(m, ThresholdedConfusion) or m.num_labels]
        for other in built:
            self._build(other.num_labels)
        return super().merge_state(built) if built else self

    # --- update ------------------------------------------------------------------------------
    def _decisions(self, y_pred: torch.Tensor) -> torch.Tensor:
        """(M, L) bool decisions for one threshold, else buckets (thresholds below each prediction)."""
        if len(self.thresholds) == 1:
            return self._grid.decisions(y_pred)
        return self._grid.buckets(y_pred)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds one batch's weighted counts at every threshold.

        Args:
            y_true: 0/1 labels of y_pred's shape, or integer class ids for a (batch, k) y_pred.
            y_pred: probabilities in [0, 1] (logits with `from_logits=True`).
            sample_weight: None, one weight per sample, or one per element.
        """
        batch = prepare(self, y_true, y_pred, sample_weight, from_logits=self.from_logits, what=self.name)
        y_pred, weight = batch.y_pred, batch.weight
        if self.top_k is not None:
            y_pred = keep_top_k(y_pred, self.top_k)
        width = batch.columns if self._per_label else 1
        if batch.sparse and self._per_label and width > 1:
            row_weight = batch.row_weight()
            if row_weight is not False:
                self._build(width)
                if self._update_from_ids(y_pred.reshape(-1, width), batch.ids.reshape(-1), row_weight):
                    return
        y_true = batch.y_true
        if self.class_id is not None:
            if y_pred.dim() < 2 or self.class_id >= y_pred.shape[-1]:
                raise ValueError(f"{self.name}: class_id={self.class_id} needs y_pred of shape (batch, num_classes) "
                                 f"with more than {self.class_id} classes, got shape {tuple(y_pred.shape)}.")
            y_true, y_pred = y_true[..., self.class_id], y_pred[..., self.class_id]
            weight = None if weight is None else weight[..., self.class_id]
        rows, preds = y_true.reshape(-1, width), y_pred.reshape(-1, width)
        weight = as_columns(weight, width)
        self._build(width)
        count_classes = self._argmax and width > 1
        check_one_hot = count_classes and not batch.sparse and y_pred.dim() == 2
        if count_classes and not batch.sparse and y_pred.dim() != 2:
            self.labels_one_hot.zero_()  # rank > 2 same-shape labels (e.g. masks) are never read as classes

        labels = positives(rows)
        decisions = self._decisions(preds)
        if decisions.dtype == torch.bool:
            counts = list(count_decisions(decisions, labels, weight))
        else:
            counts = list(count_above(decisions, labels, weight, len(self.thresholds), self._grid.min_bucket))
        if count_classes:
            counts += count_decisions(argmax_decisions(preds), labels, weight)
            if check_one_hot:
                self.labels_one_hot.mul_(rows_are_one_hot(labels))
        for state, value in zip(_CONFUSION, counts):
            getattr(self, state).add_(self._grid.unsort(value))
        for state, value in zip(_BY_CLASS if count_classes else (), counts[4:]):
            getattr(self, state).add_(value)

    def _update_from_ids(self, y_pred: torch.Tensor, ids: torch.Tensor, weight: torch.Tensor | None) -> bool:
        """Counts a batch of integer class labels straight from the ids (no one-hot matrix); False when
        this metric needs the thresholded cells instead.

        Integer labels are multi-class by construction, so only the arg-max counts are kept.
        """
        if not self._argmax:
            return False
        counts = count_ids(y_pred.argmax(dim=-1), ids, weight, y_pred.shape[-1])
        for state, value in zip(_BY_CLASS, counts):
            getattr(self, state).add_(value)
        return True

    # --- result ------------------------------------------------------------------------------
    def _averaged(self, prefix: str, other: str) -> torch.Tensor:
        """`tp / (tp + other)` averaged over labels per `average`; arg-max counts when labels are classes."""
        tp, fn = getattr(self, prefix + "true_positives"), getattr(self, prefix + "false_negatives")
        den = tp + getattr(self, prefix + other)
        default = "macro" if prefix else "micro"
        return average_scores(tp, den, tp + fn, default if self.average == "auto" else self.average)

    def _score(self, other: str) -> torch.Tensor:
        score = self._averaged("", other)
        if self._argmax and self.num_labels > 1:
            score = torch.where(self.labels_one_hot > 0, self._averaged("class_", other), score)
        return self._finish(score)

    def _finish(self, value: torch.Tensor) -> torch.Tensor:
        return (value[0] if len(self.thresholds) == 1 else value).to(self._dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "thresholds": self.init_thresholds, "from_logits": self.from_logits}


class _ConfusionCount(ThresholdedConfusion):
    _state: str = ""

    def __init__(self, thresholds: float | list[float] | None = None, name: str | None = None,
                 dtype: str | torch.dtype | None = None, *, from_logits: bool = False) -> None:
        super().__init__(thresholds, from_logits=from_logits, per_label=False, name=name, dtype=dtype)

    def result(self) -> torch.Tensor:
        return self._finish(getattr(self, self._state)[:, 0])


_COUNT_DOC = """The weighted number of {what} at each threshold (`y_pred > threshold`), every cell pooled.

    Args:
        thresholds: a threshold or a list of thresholds in [0, 1] (default 0.5); with a list the result
            has one count per threshold.
        name: name of the metric.
        dtype: dtype of the result.
        from_logits: apply a sigmoid to `y_pred` first (plait addition).

    Example:
        >>> m = {cls}()
        >>> float(m([0, 1, 1, 1], [1, 0, 1, 1]))
        {value}
    """


@METRICS.register()
class TruePositives(_ConfusionCount):
    __doc__ = _COUNT_DOC.format(what="true positives", cls="TruePositives", value="2.0")
    _state = "true_positives"


@METRICS.register()
class FalsePositives(_ConfusionCount):
    __doc__ = _COUNT_DOC.format(what="false positives", cls="FalsePositives", value="1.0")
    _state = "false_positives"


@METRICS.register()
class TrueNegatives(_ConfusionCount):
    __doc__ = _COUNT_DOC.format(what="true negatives", cls="TrueNegatives", value="0.0")
    _state = "true_negatives"


@METRICS.register()
class FalseNegatives(_ConfusionCount):
    __doc__ = _COUNT_DOC.format(what="false negatives", cls="FalseNegatives", value="1.0")
    _state = "false_negatives"


class _PrecisionRecall(ThresholdedConfusion):
    higher_is_better = True

    def __init__(self, thresholds: float | list[float] | None = None, top_k: int | None = None,
                 class_id: int | None = None, name: str | None = None, dtype: str | torch.dtype | None = None, *,
                 average: str | None = "auto", from_logits: bool = False) -> None:
        super().__init__(thresholds, top_k=top_k, class_id=class_id, average=average, from_logits=from_logits,
                         argmax_multiclass=True, name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "top_k": self.top_k, "class_id": self.class_id, "average": self.average}


_PR_DOC = """{summary}

    Binary inputs ((batch,), (batch, 1), or `class_id` given): the positive class's {what} at each
    threshold, exactly Keras's metric (scikit-learn's `average='binary'`). Inputs with k > 1 columns:

    - integer class ids, or one-hot rows of a (batch, k) `y_pred`, with `thresholds`, `top_k` and
      `class_id` unset: multi-class, the predicted class is the arg-max; per-class {what} is averaged
      by `average` ('auto' means 'macro');
    - otherwise (multi-hot labels, explicit thresholds, top_k): every cell is thresholded and scored
      per label column; 'auto' means 'micro', the pooled count over every cell, which is Keras's value.

    With `average=None` the result is the per-class (per-label) vector. Division by zero gives 0
    (scikit-learn's `zero_division=0`). Macro averages run over all k classes, also those that never
    occur (scikit-learn with `labels=range(k)`).

    Args:
        thresholds: a threshold or a list of thresholds in [0, 1]; default 0.5, or "every kept
            prediction" (-1e10) when `top_k` is set. With a list the result has one value per threshold.
        top_k: only the k highest predictions of each row can be positive.
        class_id: score only this class column (binary one-vs-rest).
        name: name of the metric.
        dtype: dtype of the result.
        average: 'auto' (default), None, 'micro', 'macro' or 'weighted' (by each class's true count).
        from_logits: apply a sigmoid to `y_pred` first (plait addition; the arg-max is unchanged).

    Example:
        >>> m = {cls}()
        >>> round(float(m([0, 1, 1, 1], [1, 0, 1, 1])), 4)
        {value}
        >>> m = {cls}()  # integer labels and 3-class probabilities: macro average over classes
        >>> round(float(m([0, 1, 2, 2], [[.8, .1, .1], [.2, .7, .1], [.1, .2, .7], [.6, .3, .1]])), 4)
        {multi}
    """


@METRICS.register()
class Precision(_PrecisionRecall):
    __doc__ = _PR_DOC.format(summary="Precision, `TP / (TP + FP)`: how many predicted positives are right.",
                             what="precision", cls="Precision", value="0.6667", multi="0.8333")

    def result(self) -> torch.Tensor:
        return self._score("false_positives")


@METRICS.register()
class Recall(_PrecisionRecall):
    __doc__ = _PR_DOC.format(summary="Recall, `TP / (TP + FN)`: how many actual positives are found.",
                             what="recall", cls="Recall", value="0.6667", multi="0.8333")

    def result(self) -> torch.Tensor:
        return self._score("false_negatives")
