"""Ordering and search: `argmax`, `argmin`, `sort`, `argsort`, `top_k`, `in_top_k`.

Ties resolve as in NumPy and Keras: `argmax`/`argmin` give the first index of the extreme value, `argsort` is
stable, and `top_k` lists tied values by index. Indices are int32, Keras's index dtype for these ops.

Example:
    >>> from plait import ops
    >>> ops.argmax([[1, 3, 3], [2, 2, 1]], axis=1)
    tensor([1, 0], dtype=torch.int32)
    >>> ops.top_k([1.0, 4.0, 4.0, 2.0], k=2)
    (tensor([4., 4.]), tensor([1, 2], dtype=torch.int32))
"""
from __future__ import annotations

from typing import Any

import torch

from plait.ops.core import operands, to_tensor


def _comparable(x: Any) -> torch.Tensor:
    x = to_tensor(x)
    return x.to(torch.uint8) if x.dtype == torch.bool else x  # torch does not order bools


def _arg_extreme(fn: Any, x: Any, axis: int | None, keepdims: bool) -> torch.Tensor:
    x = _comparable(x)
    if axis is None:
        out = fn(x.reshape(-1))  # the index into the flattened input, as NumPy
        return (out.reshape((1,) * x.ndim) if keepdims else out).to(torch.int32)
    return fn(x, dim=axis, keepdim=keepdims).to(torch.int32)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> torch.Tensor:
    """The index of the largest value along `axis` (of the flattened input when None); the first on ties."""
    return _arg_extreme(torch.argmax, x, axis, keepdims)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> torch.Tensor:
    """The index of the smallest value along `axis` (of the flattened input when None); the first on ties."""
    return _arg_extreme(torch.argmin, x, axis, keepdims)


def sort(x: Any, axis: int = -1) -> torch.Tensor:
    """`x` sorted in ascending order along `axis` (of the flattened input when None)."""
    x = to_tensor(x)
    if axis is None:
        x, axis = x.reshape(-1), -1
    return torch.sort(_comparable(x), dim=axis, stable=True).values.to(x.dtype)


def argsort(x: Any, axis: int | None = -1) -> torch.Tensor:
    """The indices that sort `x` along `axis` (stable: equal values keep their order)."""
    x = _comparable(x)
    if axis is None:
        x, axis = x.reshape(-1), -1
    return torch.argsort(x, dim=axis, stable=True).to(torch.int32)


def top_k(x: Any, k: int, sorted: bool = True) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: A002 - Keras
    """The `k` largest values along the last axis and their indices (int32), largest first.

    Tied values come by increasing index (as TensorFlow's `top_k`, which Keras documents). `sorted` is
    accepted for Keras compatibility; the values are always returned in descending order.
    """
    x = to_tensor(x)
    if not 0 <= k <= (x.shape[-1] if x.ndim else 1):
        raise ValueError(f"top_k needs 0 <= k <= {x.shape[-1] if x.ndim else 1} (the last axis' size), got k={k}.")
    # A stable descending sort, unlike torch.topk, orders ties by index on every device.
    indices = torch.sort(_comparable(x), dim=-1, descending=True, stable=True).indices[..., :k]
    return torch.gather(x, -1, indices), indices.to(torch.int32)


def in_top_k(targets: Any, predictions: Any, k: int) -> torch.Tensor:
    """Whether each target class is among the `k` largest `predictions` of its row (ties count in its favour)."""
    predictions, targets = operands(predictions, targets)
    target_scores = torch.gather(predictions, -1, targets.long().unsqueeze(-1))
    return (predictions > target_scores).sum(dim=-1) < k
