"""Classification inputs for the counting metrics: labels aligned to predictions, integer class ids,
weights broadcast, and the top-k / arg-max decisions Keras's metrics make.

`prepare` turns whatever the user passed (numpy, lists, tensors; 0/1 labels, one-hot or multi-hot rows,
or integer class ids) into tensors on the metric's device, without reading any value on the host.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from plait.metrics.counting import COUNT_DTYPE
from plait.tensors import align_ranks


class Prepared:
    """A batch in the shape the counting metrics use.

    Attributes:
        y_pred: float predictions (after the sigmoid when `from_logits`).
        weight: float64 weights broadcast to y_pred's shape, or None.
        ids: for integer class labels, the ids shaped like `y_pred` without its class axis, with `columns`
            standing for ids outside `[0, columns)` (and non-integers); else None.
        columns: the size of the last (class / label) axis; 1 for rank <= 1 inputs.
    """

    def __init__(self, y_true: torch.Tensor | None, y_pred: torch.Tensor, weight: torch.Tensor | None,
                 ids: torch.Tensor | None, columns: int) -> None:
        self._y_true = y_true
        self.y_pred, self.weight, self.ids, self.columns = y_pred, weight, ids, columns

    @property
    def sparse(self) -> bool:
        """Whether y_true came as integer class ids (so its rows are one-hot by construction)."""
        return self.ids is not None

    @property
    def y_true(self) -> torch.Tensor:
        """Labels with y_pred's shape (integer ids as one-hot bool rows, built on first use)."""
        if self._y_true is None:
            classes = torch.arange(self.columns, device=self.ids.device)
            self._y_true = self.ids.unsqueeze(-1) == classes
        return self._y_true

    def row_weight(self) -> torch.Tensor | None | bool:
        """One weight per row of (M, columns) data (None: unweighted), or False when weights vary along
        the class axis."""
        if self.weight is None:
            return None
        if self.weight.dim() and self.weight.stride(-1) != 0 and self.columns > 1:
            return False
        return self.weight[..., 0].reshape(-1)


def class_ids(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """int64 ids; labels outside `[0, num_classes)` or not integers become `num_classes` (no class)."""
    if labels.is_floating_point():
        labels = torch.where(labels == labels.trunc(), labels, -1.0)  # 1.5 is no class (NaN neither)
    # Clamp to [-1, k], then -1 -> k with a modulo: two in-place passes instead of compares and a where.
    return labels.long().clamp_(-1, num_classes).remainder_(num_classes + 1)


def sample_weight_shape(sample_weight: Any) -> tuple[int, ...]:
    return tuple(sample_weight.shape) if hasattr(sample_weight, "shape") else np.shape(sample_weight)


def is_sparse_for(y_true: torch.Tensor, y_pred: torch.Tensor) -> bool:
    """Integer class ids for a k > 1 column prediction: y_true lacks the class axis or has it as 1."""
    if y_pred.dim() < 2 or y_pred.shape[-1] == 1:
        return False
    return y_true.dim() == y_pred.dim() - 1 or (y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1)


def prepare(metric: Any, y_true: Any, y_pred: Any, sample_weight: Any, *, from_logits: bool = False,
            what: str = "metric") -> Prepared:
    """Tensors on the metric's device, labels aligned to y_pred (or read as class ids), weights broadcast.

    Args:
        metric: the metric (its `_to_tensor` places inputs next to its states).
        y_true: 0/1 labels of y_pred's shape, or integer class ids for a (..., k) y_pred.
        y_pred: probabilities (or logits with `from_logits`).
        sample_weight: None, a scalar, per-sample (N,) / (N, 1), or per-element weights.
        from_logits: apply a sigmoid to y_pred.
        what: the metric's name, for error messages.
    """
    y_pred = metric._to_tensor(y_pred)
    if not y_pred.is_floating_point():
        y_pred = y_pred.to(metric._dtype)
    if from_logits:
        y_pred = torch.sigmoid(y_pred)
    if y_pred.dim() == 0:
        y_pred = y_pred.reshape(1)
    y_true = metric._to_tensor(y_true)
    ids = None
    if is_sparse_for(y_true, y_pred):
        labels = y_true.squeeze(-1) if y_true.dim() == y_pred.dim() else y_true
        if labels.shape != y_pred.shape[:-1]:
            raise ValueError(f"{what}: y_true of shape {tuple(y_true.shape)} holds class ids but does not match "
                             f"y_pred of shape {tuple(y_pred.shape)}; pass one id per row of y_pred.")
        ids, y_true = class_ids(labels, y_pred.shape[-1]), None
    else:
        # Squeeze, not expand: a (N, 1) output against (N,) labels is one binary column, scored as (N,).
        y_true, y_pred = align_ranks(y_true, y_pred, expand_rank_1=False)
        if y_true.dim() == 0:
            y_true = y_true.reshape(1)
    if y_true is not None and y_true.shape != y_pred.shape:
        raise ValueError(f"{what}: y_true of shape {tuple(y_true.shape)} does not match y_pred of shape "
                         f"{tuple(y_pred.shape)}; pass labels of y_pred's shape (0/1, one-hot or multi-hot), "
                         "or integer class ids with one entry per row of y_pred.")
    weight = None
    if sample_weight is not None:
        w = metric._to_tensor(sample_weight, dtype=COUNT_DTYPE)
        while w.dim() > y_pred.dim() and w.shape[-1] == 1:
            w = w.squeeze(-1)
        while w.dim() < y_pred.dim():
            w = w.unsqueeze(-1)
        try:
            weight = w.broadcast_to(y_pred.shape)
        except RuntimeError as err:
            raise ValueError(f"{what}: sample_weight of shape {tuple(sample_weight_shape(sample_weight))} does not "
                             f"broadcast to y_pred of shape {tuple(y_pred.shape)}; pass one weight per sample, "
                             f"shape ({y_pred.shape[0]},), or one per element.") from err
    columns = y_pred.shape[-1] if y_pred.dim() >= 2 else 1
    return Prepared(y_true, y_pred, weight, ids, columns)


def positives(y_true: torch.Tensor) -> torch.Tensor:
    """The positive cells as bool (any non-zero label is positive, as Keras casts labels to bool)."""
    return y_true if y_true.dtype == torch.bool else y_true != 0


def as_columns(x: torch.Tensor | None, columns: int) -> torch.Tensor | None:
    """(M, columns) view of a prepared tensor: leading axes become rows."""
    return None if x is None else x.reshape(-1, columns)


def keep_top_k(y_pred: torch.Tensor, k: int) -> torch.Tensor:
    """Keras's `_filter_top_k`: the k largest entries of each row stay, the rest become -inf.

    Ties are broken towards the lower index (a stable sort), as `top_k` does.
    """
    k = min(int(k), y_pred.shape[-1])
    order = torch.sort(y_pred, dim=-1, descending=True, stable=True).indices[..., :k]
    keep = torch.zeros_like(y_pred, dtype=torch.bool).scatter_(-1, order, True)
    return y_pred.masked_fill(~keep, -math.inf)


def rows_are_one_hot(labels: torch.Tensor) -> torch.Tensor:
    """0-d bool tensor (no host read): every row of (M, k) bool labels has exactly one True."""
    return (labels.sum(dim=-1) == 1).all()


def argmax_decisions(y_pred: torch.Tensor) -> torch.Tensor:
    """(M, k) bool: True at the first maximum of each row (numpy's argmax rule)."""
    best = y_pred.argmax(dim=-1, keepdim=True)
    return torch.arange(y_pred.shape[-1], device=y_pred.device) == best
