"""Weighted confusion counts at thresholds: the input handling and kernels every thresholded metric shares.

A prediction is positive at threshold `t` when `y_pred > t` (strictly), as in Keras. Instead of
comparing every prediction with every threshold (an N x T matrix), each prediction is mapped to its
bucket, the number of thresholds strictly below it, and one weighted histogram of
`(bucket, label, class)` keys gives every count: `TP(t_j) = sum of positive weight in buckets > j`.
For Keras's evenly spaced thresholds the bucket is arithmetic (`ceil(p * (T - 1))`, Keras's own
optimized formula); for other lists it is a comparison or a binary search. Counts accumulate in
float64, so they stay exact far past float32's 2**24.

Nothing here reads a tensor value on the host, so metrics built on it never synchronize a device.
How the inputs get into shape is `plait.metrics.inputs`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from plait import config

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
    """Weighted histogram (float64) of integer `keys` in `[0, size)`, without a device sync.

    A float64 scatter-add: exact for counts up to 2**53, several times faster than `torch.bincount` on
    CPU (which makes two extra passes for the min and max), and unlike it free of host reads on
    accelerators; the 1-D scatter-add also has a deterministic CUDA kernel.
    """
    keys = keys.reshape(-1)
    if weight is None:
        src = torch.ones((), dtype=COUNT_DTYPE, device=keys.device).expand_as(keys)
    else:
        src = weight.reshape(-1).to(COUNT_DTYPE)
    return torch.zeros(size, dtype=COUNT_DTYPE, device=keys.device).scatter_add_(0, keys, src)


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


def count_hits_for_ids(predicted: torch.Tensor, hit: torch.Tensor, ids: torch.Tensor,
                       weight: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
    """Per-class TP, FP, TN, FN (each (1, k)) from label ids (k = no class).

    Args:
        predicted: (k,) weighted number of predicted cells per class.
        hit: (M,) bool, whether the labelled cell of each row is predicted (rows with id k may hold anything).
        ids: (M,) int64 label ids, k for none.
        weight: (M,) row weights or None.
    """
    k = predicted.shape[0]
    tp = tally(torch.where(hit, ids, k), weight, k + 1)[:k]  # id k (no class) lands in the dropped bin
    positive = tally(ids, weight, k + 1)[:k]
    total = ids.shape[0] if weight is None else weight.to(COUNT_DTYPE).sum()
    return _complete(tp, predicted.to(COUNT_DTYPE), positive, total)


def blockwise(count: Callable[[slice], tuple[torch.Tensor, ...]], rows: int, step: int) -> list[torch.Tensor]:
    """Sums the tensors `count(row_slice)` returns over consecutive blocks of `step` rows (one call for an
    empty batch)."""
    totals: list[torch.Tensor] | None = None
    for start in range(0, max(rows, 1), step):
        part = count(slice(start, start + step))
        totals = list(part) if totals is None else [t.add_(p) for t, p in zip(totals, part)]
    return totals


def row_blocks(rows: int, columns: int, device: torch.device) -> int:
    """Rows per block for (rows, columns) elementwise work done block by block: on CPU 2**15 elements.

    Blocks that small reuse cache-resident temporaries (a fresh 10M-element temporary costs more in
    page faults than its arithmetic), and each op stays below torch's parallel grain, so no op waits
    for a thread-pool hand-off (which on a busy machine costs milliseconds per op). Accelerators take
    everything at once.
    """
    return max(1, 2 ** 15 // max(columns, 1)) if device.type == "cpu" else max(rows, 1)


def _complete(tp: torch.Tensor, predicted: torch.Tensor, positive: torch.Tensor,
              total: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    fp, fn = predicted - tp, positive - tp
    tn = total - predicted - fn
    return tp.unsqueeze(0), fp.unsqueeze(0), tn.unsqueeze(0), fn.unsqueeze(0)


def divide_no_nan(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """`num / den`, and 0 where `den == 0` (Keras's divide_no_nan; scikit-learn's zero_division=0)."""
    safe = torch.where(den == 0, torch.ones_like(den), den)
    return torch.where(den == 0, torch.zeros_like(num), num / safe)


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
