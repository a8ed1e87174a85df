"""ConfusionMatrix: the streaming (num_classes x num_classes) table, rows = true class, columns = predicted.

Keras has no such metric (only a helper function); it is the table every other classification metric
is read from, so plait accumulates it on the device like any metric and `plait.evaluation` reads it.
"""
from __future__ import annotations

from typing import Any

import torch

from plait.metrics.counting import COUNT_DTYPE, tally
from plait.metrics.inputs import sample_weight_shape
from plait.metrics.metric import METRICS, Metric


def confusion_counts(true_ids: torch.Tensor, pred_ids: torch.Tensor, weight: torch.Tensor | None,
                     num_classes: int) -> torch.Tensor:
    """Weighted (num_classes, num_classes) counts of `(true, predicted)` id pairs, float64.

    Pairs with an id outside `[0, num_classes)` are left out (as Keras's IoU metrics do), without a
    host read: they go to an extra bin that is dropped.
    """
    k = num_classes
    true_ids, pred_ids = true_ids.reshape(-1).long(), pred_ids.reshape(-1).long()
    valid = (true_ids >= 0) & (true_ids < k) & (pred_ids >= 0) & (pred_ids < k)
    keys = torch.where(valid, true_ids * k + pred_ids, k * k)
    return tally(keys, weight, k * k + 1)[:-1].view(k, k)


def _check_num_classes(num_classes: Any, allow_none: bool) -> int | None:
    if num_classes is None and allow_none:
        return None
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}.")
    return num_classes


@METRICS.register()
class ConfusionMatrix(Metric):
    """Weighted confusion matrix over all batches: entry `[i, j]` counts samples of true class i
    predicted as class j (scikit-learn's layout).

    Predictions may be:

    - (batch, k) probabilities or logits: the predicted class is the arg-max;
    - (batch,) or (batch, 1) scores of a binary problem: class 1 when `y_pred > threshold`
      (after a sigmoid with `from_logits=True`); needs `num_classes` 2 (or None);
    - integer class ids (any integer dtype), or float ids with `num_classes > 2`.

    Labels may be integer class ids or, for a (batch, k) `y_pred`, one-hot rows. Ids outside
    `[0, num_classes)` are left out. The result is a float matrix (weights may be fractional).

    Args:
        num_classes: number of classes; None takes it from the first batch's `y_pred` columns (2 for
            binary scores).
        threshold: decision threshold of binary scores.
        from_logits: binary scores are logits.
        name: name of the metric.
        dtype: dtype of the result.

    Example:
        >>> m = ConfusionMatrix(num_classes=2)
        >>> m([1, 1, 0, 0, 1], [0.9, 0.2, 0.6, 0.1, 0.8]).tolist()
        [[1.0, 1.0], [1.0, 2.0]]
    """

    higher_is_better = None

    def __init__(self, num_classes: int | None = None, *, threshold: float = 0.5, from_logits: bool = False,
                 name: str = "confusion_matrix", dtype: str | torch.dtype | None = None) -> None:
        super().__init__(dtype=dtype, name=name)
        self.num_classes = _check_num_classes(num_classes, allow_none=True)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise ValueError(f"threshold must be a number, got {threshold!r}.")
        self.threshold = float(threshold)
        self.from_logits = bool(from_logits)
        k = self.num_classes or 0
        self.add_state("matrix", torch.zeros(k, k, dtype=COUNT_DTYPE), reduce="sum")

    def _build(self, k: int) -> None:
        current = self.matrix.shape[0]
        if current == k:
            return
        if current:
            raise ValueError(f"{self.name}: the batch has {k} classes but the matrix has {current}; pass "
                             f"num_classes={max(k, current)} or call reset_state() between datasets.")
        self.matrix.data = torch.zeros(k, k, dtype=COUNT_DTYPE, device=self.matrix.device)

    def merge_state(self, metrics: Any) -> "ConfusionMatrix":
        others = [metrics] if isinstance(metrics, Metric) else list(metrics)
        built = [m for m in others if not isinstance(m, ConfusionMatrix) or m.matrix.shape[0]]
        for other in built:
            if isinstance(other, ConfusionMatrix):
                self._build(other.matrix.shape[0])
        return super().merge_state(built) if built else self

    def _predicted_ids(self, y_pred: torch.Tensor) -> tuple[torch.Tensor, int, bool]:
        """(ids, num_classes, came_as_scores_matrix)."""
        if y_pred.dim() >= 2 and y_pred.shape[-1] > 1:
            k = y_pred.shape[-1]
            if self.num_classes is not None and self.num_classes != k:
                raise ValueError(f"{self.name}: y_pred has {k} class columns but num_classes={self.num_classes}.")
            return y_pred.argmax(dim=-1), k, True
        if y_pred.dim() >= 2:
            y_pred = y_pred.squeeze(-1)
        if y_pred.is_floating_point() and self.num_classes in (None, 2):
            scores = torch.sigmoid(y_pred) if self.from_logits else y_pred
            return (scores > self.threshold).long(), 2, False
        if self.num_classes is None:
            raise ValueError(f"{self.name}: y_pred holds class ids of shape {tuple(y_pred.shape)}; pass "
                             "num_classes=... (it cannot be read from ids without a host sync).")
        return y_pred, self.num_classes, False

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds one batch's (weighted) `(true, predicted)` pairs."""
        y_pred = self._to_tensor(y_pred)
        y_true = self._to_tensor(y_true)
        if y_pred.dim() == 0:
            y_pred = y_pred.reshape(1)
        pred_ids, k, from_scores = self._predicted_ids(y_pred)
        if from_scores and y_true.shape == y_pred.shape:
            true_ids = y_true.argmax(dim=-1)  # one-hot rows
        else:
            true_ids = y_true.squeeze(-1) if y_true.dim() == pred_ids.dim() + 1 and y_true.shape[-1] == 1 else y_true
        if true_ids.shape != pred_ids.shape:
            raise ValueError(f"{self.name}: y_true of shape {tuple(y_true.shape)} does not match y_pred of shape "
                             f"{tuple(y_pred.shape)}; pass one class id (or one-hot row) per prediction.")
        if true_ids.is_floating_point():
            true_ids = true_ids.round()
        weight = None
        if sample_weight is not None:
            w = self._to_tensor(sample_weight, dtype=COUNT_DTYPE)
            while w.dim() > pred_ids.dim() and w.shape[-1] == 1:
                w = w.squeeze(-1)
            while w.dim() < pred_ids.dim():
                w = w.unsqueeze(-1)
            try:
                weight = w.broadcast_to(pred_ids.shape)
            except RuntimeError as err:
                raise ValueError(f"{self.name}: sample_weight of shape {sample_weight_shape(sample_weight)} does "
                                 f"not match {tuple(pred_ids.shape)} predictions; pass one weight per sample.") from err
        if pred_ids.is_floating_point():
            pred_ids = pred_ids.round()
        self._build(k)
        self.matrix.add_(confusion_counts(true_ids, pred_ids, weight, k))

    def result(self) -> torch.Tensor:
        return self.matrix.to(self._dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_classes": self.num_classes, "threshold": self.threshold,
                "from_logits": self.from_logits}
