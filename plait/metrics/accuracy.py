"""Accuracy metrics: exact, binary, categorical, sparse categorical and top-k, each with its function twin.

The function twins return one value per sample (1.0 for a hit, 0.0 for a miss; per element where the
labels have extra axes) and keep the device of `y_pred`. In the top-k functions a target whose score
ties the k-th largest score counts as a hit (TensorFlow's `in_top_k` rule, which Keras uses), so ties
can only raise top-k accuracy; `k` larger than the number of classes means every target is a hit.
"""
from __future__ import annotations

from typing import Any

import torch

from plait import config
from plait.metrics.metric import METRIC_FUNCTIONS, METRICS, input_tensor as _tensor
from plait.metrics.reduction import MeanMetricWrapper
from plait.tensors import align_ranks


def _hits(matches: torch.Tensor) -> torch.Tensor:
    return matches.to(config.float_dtype())


def _mark(higher_is_better: bool):
    def decorator(fn):
        fn.higher_is_better = higher_is_better
        return METRIC_FUNCTIONS.register()(fn)
    return decorator


@_mark(True)
def accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """1.0 where `y_pred == y_true` exactly (after rank alignment), else 0.0."""
    y_pred = _tensor(y_pred)
    y_true = _tensor(y_true, dtype=y_pred.dtype, device=y_pred.device)
    # Squeeze, not expand: (N,) labels against a (N, 1) output give one hit per sample, shape (N,).
    y_true, y_pred = align_ranks(y_true, y_pred, expand_rank_1=False)
    return _hits(y_true == y_pred)


@_mark(True)
def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5, *, from_logits: bool = False) -> torch.Tensor:
    """1.0 where `(y_pred > threshold)` equals the 0/1 label `y_true`, else 0.0.

    Args:
        y_true: 0/1 labels.
        y_pred: probabilities, or logits with `from_logits=True` (a sigmoid is applied first).
        threshold: a prediction is positive when strictly above it.
        from_logits: whether `y_pred` holds logits (plait addition; Keras has no such option).

    Returns:
        Per-element hits, same shape as the aligned `y_pred`.
    """
    y_pred = _tensor(y_pred)
    if from_logits:
        y_pred = torch.sigmoid(y_pred if y_pred.is_floating_point() else y_pred.to(config.float_dtype()))
    y_true = _tensor(y_true, dtype=y_pred.dtype, device=y_pred.device)
    # Squeeze, not expand: (N,) labels against a (N, 1) output give one hit per sample, shape (N,).
    y_true, y_pred = align_ranks(y_true, y_pred, expand_rank_1=False)
    return _hits(y_true == (y_pred > threshold).to(y_true.dtype))


@_mark(True)
def categorical_accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """1.0 where `argmax(y_pred) == argmax(y_true)` over the last axis (first maximum wins ties)."""
    y_pred = _tensor(y_pred)
    y_true = _tensor(y_true, device=y_pred.device)
    return _hits(y_true.argmax(dim=-1) == y_pred.argmax(dim=-1))


def _sparse_labels(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    # Integer labels come as (N,) or (N, 1): drop the unit axis so labels line up with y_pred's rows.
    if y_true.dim() == y_pred.dim() and y_true.dim() > 0 and y_true.shape[-1] == 1:
        return y_true.squeeze(-1)
    return y_true


def _same_ids(labels: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    # Compare in the labels' float type as Keras does, so a label 1.5 never counts as class 1.
    if labels.is_floating_point():
        return ids.to(labels.dtype) == labels
    return ids == labels.long()


@_mark(True)
def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """1.0 where `argmax(y_pred)` equals the integer label `y_true` ((N,) or (N, 1)), else 0.0."""
    y_pred = _tensor(y_pred)
    y_true = _sparse_labels(_tensor(y_true, device=y_pred.device), y_pred)
    return _hits(_same_ids(y_true, y_pred.argmax(dim=-1)))


def in_top_k(targets: torch.Tensor, predictions: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean, per target: is its score among the `k` largest of its row (ties with the k-th count)?

    Targets outside `[0, num_classes)` are misses, as in TensorFlow.
    """
    num_classes = predictions.shape[-1]
    k = max(1, min(int(k), num_classes))
    rows = predictions.reshape(-1, num_classes)
    flat = targets.reshape(-1).long()
    valid = (flat >= 0) & (flat < num_classes)
    kth = rows.topk(k, dim=-1).values[:, -1]
    score = rows.gather(1, flat.clamp(0, num_classes - 1).unsqueeze(1)).squeeze(1)
    return ((score >= kth) & valid).reshape(targets.shape)


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    return k


@_mark(True)
def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> torch.Tensor:
    """1.0 where the class of the one-hot `y_true` is among the `k` highest scores of `y_pred`."""
    y_pred = _tensor(y_pred)
    y_true = _tensor(y_true, device=y_pred.device)
    return _hits(in_top_k(y_true.argmax(dim=-1), y_pred, _check_k(k)))


@_mark(True)
def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5,
                                      from_sorted_ids: bool = False) -> torch.Tensor:
    """1.0 where the integer label `y_true` is among the `k` highest scores of `y_pred`.

    Args:
        y_true: integer labels, (N,) or (N, 1).
        y_pred: scores (N, num_classes); or, with `from_sorted_ids=True`, class ids (N, M) already
            sorted by decreasing score, of which the first `k` are used.
        k: how many top classes count as a hit.
        from_sorted_ids: whether `y_pred` holds sorted class ids instead of scores.

    Returns:
        Per-sample hits, shape (N,).
    """
    y_pred = _tensor(y_pred)
    y_true = _sparse_labels(_tensor(y_true, device=y_pred.device), y_pred)
    k = _check_k(k)
    if from_sorted_ids:
        top = y_pred[..., :k]
        return _hits((top == y_true.to(top.dtype).unsqueeze(-1)).any(dim=-1))
    return _hits(in_top_k(y_true, y_pred, k))


@METRICS.register()
class Accuracy(MeanMetricWrapper):
    """How often `y_pred` equals `y_true` exactly (for class ids, not probabilities).

    Args:
        name: name of the metric.
        dtype: dtype of the states and the result.

    Example:
        >>> m = Accuracy()
        >>> float(m([[1], [2], [3], [4]], [[0], [2], [3], [4]]))
        0.75
    """

    higher_is_better = True

    def __init__(self, name: str = "accuracy", dtype: str | torch.dtype | None = None) -> None:
        super().__init__(accuracy, name=name, dtype=dtype)


@METRICS.register()
class BinaryAccuracy(MeanMetricWrapper):
    """How often thresholded predictions match 0/1 labels: `(y_pred > threshold) == y_true`.

    Args:
        name: name of the metric.
        dtype: dtype of the states and the result.
        threshold: probability above which (strictly) a prediction is positive, in (0, 1).
        from_logits: apply a sigmoid to `y_pred` before thresholding (plait addition).

    Example:
        >>> m = BinaryAccuracy()
        >>> float(m([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]]))
        0.75
    """

    higher_is_better = True

    def __init__(self, name: str = "binary_accuracy", dtype: str | torch.dtype | None = None,
                 threshold: float = 0.5, *, from_logits: bool = False) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
            raise ValueError(f"threshold must be a number in the open interval (0, 1), got {threshold!r}; "
                             "with logits keep a probability threshold and pass from_logits=True.")
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold,
                         from_logits=bool(from_logits))
        self.threshold = threshold
        self.from_logits = bool(from_logits)


class _ArgmaxAccuracy(MeanMetricWrapper):
    """Shared by the categorical accuracies: `from_logits` is accepted and ignored (argmax and top-k
    are the same on logits and on probabilities)."""

    higher_is_better = True

    def __init__(self, fn: Any, name: str, dtype: str | torch.dtype | None, from_logits: bool,
                 **fn_kwargs: Any) -> None:
        super().__init__(fn, name=name, dtype=dtype, **fn_kwargs)
        self.from_logits = bool(from_logits)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits}


@METRICS.register()
class CategoricalAccuracy(_ArgmaxAccuracy):
    """How often `argmax(y_pred)` matches the one-hot `y_true` (first maximum wins ties).

    Args:
        name: name of the metric.
        dtype: dtype of the states and the result.
        from_logits: accepted for API uniformity; argmax is the same on logits.

    Example:
        >>> m = CategoricalAccuracy()
        >>> float(m([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]))
        0.5
    """

    def __init__(self, name: str = "categorical_accuracy", dtype: str | torch.dtype | None = None, *,
                 from_logits: bool = False) -> None:
        super().__init__(categorical_accuracy, name, dtype, from_logits)


@METRICS.register()
class SparseCategoricalAccuracy(_ArgmaxAccuracy):
    """How often `argmax(y_pred)` matches the integer label `y_true` ((N,) or (N, 1)).

    Args:
        name: name of the metric.
        dtype: dtype of the states and the result.
        from_logits: accepted for API uniformity; argmax is the same on logits.

    Example:
        >>> m = SparseCategoricalAccuracy()
        >>> float(m([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]))
        0.5
    """

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: str | torch.dtype | None = None, *,
                 from_logits: bool = False) -> None:
        super().__init__(sparse_categorical_accuracy, name, dtype, from_logits)


@METRICS.register()
class TopKCategoricalAccuracy(_ArgmaxAccuracy):
    """How often the one-hot target is among the `k` highest scores (ties with the k-th count as hits).

    Args:
        k: how many top classes count.
        name: name of the metric.
        dtype: dtype of the states and the result.
        from_logits: accepted for API uniformity; the ranking is the same on logits.

    Example:
        >>> m = TopKCategoricalAccuracy(k=1)
        >>> float(m([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]))
        0.5
    """

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy",
                 dtype: str | torch.dtype | None = None, *, from_logits: bool = False) -> None:
        super().__init__(top_k_categorical_accuracy, name, dtype, from_logits, k=_check_k(k))
        self.k = k


@METRICS.register()
class SparseTopKCategoricalAccuracy(_ArgmaxAccuracy):
    """How often the integer target is among the `k` highest scores (ties with the k-th count as hits).

    Args:
        k: how many top classes count.
        name: name of the metric.
        dtype: dtype of the states and the result.
        from_sorted_ids: `y_pred` holds class ids sorted by decreasing score instead of scores.
        from_logits: accepted for API uniformity; the ranking is the same on logits.

    Example:
        >>> m = SparseTopKCategoricalAccuracy(k=1)
        >>> float(m([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]))
        0.5
    """

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy",
                 dtype: str | torch.dtype | None = None, from_sorted_ids: bool = False, *,
                 from_logits: bool = False) -> None:
        super().__init__(sparse_top_k_categorical_accuracy, name, dtype, from_logits, k=_check_k(k),
                         from_sorted_ids=bool(from_sorted_ids))
        self.k = k
        self.from_sorted_ids = bool(from_sorted_ids)
