"""Weighted confusion counts at thresholds: the input handling and kernels every thresholded metric shares.

A prediction is positive at threshold `t` when `y_pred > t` (strictly), as in Keras. Instead of
comparing every prediction with every threshold (an N x T matrix), each prediction is mapped to its
bucket, the number of thresholds strictly below it, and one weighted histogram of
`(bucket, label, class)` keys gives every count: `TP(t_j) = sum of positive weight in buckets > j`.
For Keras's evenly spaced thresholds the bucket is arithmetic (`ceil(p * (T - 1))`, Keras's own
optimized formula); for other lists it is a comparison or a binary search. Counts accumulate in
float64, so they stay exact far past float32's 2**24.

Nothing here reads a tensor value on the host, so metrics built on it never synchronize a device.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from plait import config
from plait.tensors import align_ranks

COUNT_DTYPE = torch.float64
"""Counts are float64: exact integers up to 2**53 and weighted sums without float32 drift."""

NEG_INF = -1e10
"""Keras's default threshold when `top_k` is set: every kept prediction is above it."""

AVERAGES = (None, "micro", "macro", "weighted")


def parse_thresholds(thresholds: Any, default: float) -> list[float]:
    """Keras's `parse_init_thresholds`: a number or a list of numbers in [0, 1] (default when None)."""
    if thresholds is None:
        return [float(default)]
    values = list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) else [thresholds]
    if not values:
        raise ValueError("thresholds must not be empty; pass a number in [0, 1] or a list of them.")
    for t in values:
        if isinstance(t, bool) or not isinstance(t, (int, float, np.floating, np.integer)) or not 0 <= t <= 1:
            raise ValueError(f"Threshold values must be numbers in [0, 1], got {t!r} in thresholds={thresholds!r}. "
                             "For a model that outputs logits keep probability thresholds and pass "
                             "from_logits=True.")
    return [float(t) for t in values]


def is_evenly_distributed(thresholds: Sequence[float]) -> bool:
    """Keras's test: at least 3 thresholds equal to `[0, 1/(n-1), ..., 1]` within epsilon."""
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(thresholds, even, atol=config.epsilon()))


class ThresholdGrid:
    """A list of thresholds and the cheapest exact way to count, per prediction, how many lie below it.

    Args:
        thresholds: the thresholds, in any order (results come back in this order).
        evenly: 'plain' for Keras's `[0, 1/(n-1), ..., 1]` grid, 'epsilon' for AUC's
            `[-eps, 1/(n-1), ..., 1 + eps]` grid (both counted with Keras's arithmetic bucket, on
            predictions clipped to [0, 1]), or None to compare against the values themselves.
    """

    def __init__(self, thresholds: Sequence[float], evenly: str | None = None) -> None:
        self.values = [float(t) for t in thresholds]
        self.size = len(self.values)
        self.evenly = evenly
        order = sorted(range(self.size), key=self.values.__getitem__)
        self._sorted = torch.tensor([self.values[i] for i in order], dtype=torch.float64)
        inverse = [0] * self.size
        for rank, i in enumerate(order):
            inverse[i] = rank
        self._inverse = None if order == list(range(self.size)) else torch.tensor(inverse)
        self._cache: dict[tuple[torch.dtype, torch.device], tuple[torch.Tensor, torch.Tensor | None]] = {}

    def _on(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        # Cached per dtype and device: a host-to-device copy on every batch would synchronize the device.
        key = (like.dtype, like.device)
        if key not in self._cache:
            inverse = None if self._inverse is None else self._inverse.to(like.device)
            # Thresholds take the predictions' dtype, as Keras casts them to the variables' dtype.
            self._cache[key] = (self._sorted.to(device=like.device, dtype=like.dtype), inverse)
        return self._cache[key]

    @property
    def min_bucket(self) -> int:
        """The lowest possible bucket: 1 on the epsilon grid, whose -eps lies below every clipped prediction."""
        return 1 if self.evenly == "epsilon" else 0

    def decisions(self, y_pred: torch.Tensor) -> torch.Tensor:
        """Bool tensor `y_pred > threshold` for a single threshold (the common, cheapest case)."""
        return y_pred > self._on(y_pred)[0][0]

    def buckets(self, y_pred: torch.Tensor) -> torch.Tensor:
        """How many thresholds are strictly below each prediction, shaped like `y_pred`.

        Evenly spaced grids give float buckets holding exact integers (one cast fewer on the hot path);
        NaN predictions land in bucket 0 there. Other lists give int64 buckets.
        """
        n = self.size
        if self.evenly is not None:
            # Keras's bucket, ceil(clip(p, 0, 1) * (n - 1)); for the epsilon grid bucket 0 is read as 1
            # by `count_above` (min_bucket), which saves a pass over the predictions.
            return y_pred.mul(n - 1).clamp_(0, n - 1).nan_to_num_(0.0).ceil_()
        thresholds, _ = self._on(y_pred)
        if n <= 8:
            return (y_pred.unsqueeze(-1) > thresholds).sum(dim=-1)
        return torch.searchsorted(thresholds, y_pred.contiguous(), right=False)

    def unsort(self, counts: torch.Tensor) -> torch.Tensor:
        """Puts counts computed in sorted-threshold order (first axis) back in the user's order."""
        if self._inverse is None:
            return counts
        return counts.index_select(0, self._on(counts)[1])


def tally(keys: torch.Tensor, weight: torch.Tensor | None, size: int) -> torch.Tensor:
    """Weighted histogram of integer `keys` in `[0, size)`, float64, without a device sync.

    (`torch.bincount` reads the maximum key on the host, so on accelerators a scatter-add is used.)
    """
    keys = keys.reshape(-1)
    if weight is None:
        if keys.device.type == "cpu":
            return torch.bincount(keys, minlength=size).to(COUNT_DTYPE)
        ones = torch.ones((), dtype=torch.int64, device=keys.device).expand_as(keys)
        return torch.zeros(size, dtype=torch.int64, device=keys.device).scatter_add_(0, keys, ones).to(COUNT_DTYPE)
    return torch.zeros(size, dtype=COUNT_DTYPE, device=keys.device).index_add_(
        0, keys, weight.reshape(-1).to(COUNT_DTYPE))


def count_above(buckets: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor | None, num_thresholds: int,
                min_bucket: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weighted TP, FP, TN, FN at every threshold for every column, from one histogram.

    Args:
        buckets: (M, L) int or integer-valued float in [0, T]: thresholds strictly below each prediction.
        labels: (M, L) bool, the positive cells.
        weight: (M, L) weights, or None for 1 each.
        num_thresholds: T.
        min_bucket: buckets below it count as `min_bucket` (see `ThresholdGrid.min_bucket`).

    Returns:
        `(tp, fp, tn, fn)`, each float64 of shape (T, L).
    """
    m, width = buckets.shape
    size = (num_thresholds + 1) * 2 * width
    if buckets.is_floating_point() and size >= 2 ** 24:
        buckets = buckets.long()  # float keys are exact only below 2**24
    # key = (bucket * L + column) * 2 + label, built in the buckets' dtype, cast to int64 once
    keys = torch.add(labels, buckets, alpha=2 * width)
    if width > 1:
        keys = keys.add_(2 * torch.arange(width, device=keys.device, dtype=keys.dtype))
    hist = tally(keys.long() if keys.is_floating_point() else keys, weight, size).view(num_thresholds + 1, width, 2)
    if min_bucket:
        hist[min_bucket] += hist[:min_bucket].sum(dim=0)
        hist[:min_bucket] = 0
    at_or_above = hist.flip(0).cumsum(0).flip(0)  # [b] = weight with bucket >= b
    pos_total, neg_total = at_or_above[0, :, 1], at_or_above[0, :, 0]
    tp, fp = at_or_above[1:, :, 1], at_or_above[1:, :, 0]
    return tp, fp, neg_total - fp, pos_total - tp


def column_sums(mask: torch.Tensor) -> torch.Tensor:
    """Per-column counts of an (M, L) bool mask, as a matrix product (BLAS is far faster than a column
    reduction); float32 sums of 0/1 are exact below 2**24 rows, float64 beyond."""
    dtype = torch.float32 if mask.shape[0] < 2 ** 24 else torch.float64
    ones = torch.ones(1, mask.shape[0], dtype=dtype, device=mask.device)
    with torch.autocast(mask.device.type, enabled=False):  # a half-precision product would round counts
        return (ones @ mask.to(dtype)).squeeze(0)


def count_decisions(decisions: torch.Tensor, labels: torch.Tensor,
                    weight: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """TP, FP, TN, FN of (M, L) boolean decisions per column, each float64 of shape (1, L).

    Unweighted counts are `count_nonzero`s of boolean masks (no histogram, no int64 keys): the fast path
    of Precision, Recall and F1 at one threshold.
    """
    m, width = decisions.shape
    if weight is None:
        hits = decisions & labels
        if width == 1:  # a full reduction is several times faster than one along an axis
            counts = [torch.count_nonzero(x).reshape(1) for x in (hits, decisions, labels)]
        else:
            counts = [column_sums(x) for x in (hits, decisions, labels)]
        tp, predicted, positive = (c.to(COUNT_DTYPE) for c in counts)
        total: Any = m
    else:
        w = weight.to(COUNT_DTYPE)
        zero = torch.zeros((), dtype=COUNT_DTYPE, device=w.device)
        tp = torch.where(decisions & labels, w, zero).sum(dim=0)
        predicted = torch.where(decisions, w, zero).sum(dim=0)
        positive = torch.where(labels, w, zero).sum(dim=0)
        total = w.sum(dim=0)
    return _complete(tp, predicted, positive, total)


def count_ids(predicted_ids: torch.Tensor, ids: torch.Tensor, weight: torch.Tensor | None,
              num_classes: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-class TP, FP, TN, FN (each (1, k)) of predicted class ids against label ids (k = no class):
    three histograms of M ids instead of passes over (M, k) masks."""
    k = num_classes
    tp = tally(torch.where(predicted_ids == ids, ids, k), weight, k + 1)[:k]
    predicted = tally(predicted_ids, weight, k + 1)[:k]
    positive = tally(ids, weight, k + 1)[:k]
    total = ids.shape[0] if weight is None else weight.to(COUNT_DTYPE).sum()
    return _complete(tp, predicted, positive, total)


def count_decisions_for_ids(decisions: torch.Tensor, ids: torch.Tensor, weight: torch.Tensor | None,
                            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-class TP, FP, TN, FN (each (1, k)) of (M, k) bool decisions against label ids (k = no class)."""
    m, k = decisions.shape
    hit = decisions.gather(1, ids.clamp(max=k - 1).unsqueeze(1)).squeeze(1) & (ids < k)
    tp = tally(torch.where(hit, ids, k), weight, k + 1)[:k]
    positive = tally(ids, weight, k + 1)[:k]
    if weight is None:
        predicted, total = column_sums(decisions).to(COUNT_DTYPE), m
    else:
        w = weight.to(COUNT_DTYPE)
        with torch.autocast(w.device.type, enabled=False):
            predicted = (w.unsqueeze(0) @ decisions.to(COUNT_DTYPE)).squeeze(0)
        total = w.sum()
    return _complete(tp, predicted, positive, total)


def _complete(tp: torch.Tensor, predicted: torch.Tensor, positive: torch.Tensor,
              total: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    fp, fn = predicted - tp, positive - tp
    tn = total - predicted - fn
    return tp.unsqueeze(0), fp.unsqueeze(0), tn.unsqueeze(0), fn.unsqueeze(0)


def divide_no_nan(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """`num / den`, and 0 where `den == 0` (Keras's divide_no_nan; scikit-learn's zero_division=0)."""
    safe = torch.where(den == 0, torch.ones_like(den), den)
    return torch.where(den == 0, torch.zeros_like(num), num / safe)


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
    valid = (labels >= 0) & (labels < num_classes)
    if labels.is_floating_point():
        valid &= labels == labels.trunc()
    return torch.where(valid, labels.long(), num_classes)


def sample_weight_shape(sample_weight: Any) -> tuple[int, ...]:
    return tuple(sample_weight.shape) if hasattr(sample_weight, "shape") else np.shape(sample_weight)


def is_sparse_for(y_true: torch.Tensor, y_pred: torch.Tensor) -> bool:
    """Integer class ids for a k > 1 column prediction: y_true lacks the class axis or has it as 1."""
    if y_pred.dim() < 2 or y_pred.shape[-1] == 1:
        return False
    return y_true.dim() == y_pred.dim() - 1 or (y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1)


def prepare(metric: Any, y_true: Any, y_pred: Any, sample_weight: Any, *, from_logits: bool = False,
            what: str = "metric") -> Prepared:
    """Tensors on the metric's device, labels aligned to y_pred (sparse ids one-hot), weights broadcast.

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
        y_true, y_pred = align_ranks(y_true, y_pred)
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


def average_scores(num: torch.Tensor, den: torch.Tensor, support: torch.Tensor, average: str | None) -> torch.Tensor:
    """Averages `num / den` over the last (label) axis of (T, L) counts.

    'micro' pools the counts, 'macro' averages the per-label scores, 'weighted' weights them by
    `support` (the true count of each label), None keeps the per-label scores. 0/0 counts as 0.
    """
    if average == "micro":
        return divide_no_nan(num.sum(-1), den.sum(-1))
    per_label = divide_no_nan(num, den)
    if average is None:
        return per_label
    if average == "macro":
        return per_label.sum(-1) / max(per_label.shape[-1], 1)
    return divide_no_nan((per_label * support).sum(-1), support.sum(-1))
