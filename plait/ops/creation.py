"""Tensors made from a shape or a range: `zeros`, `ones`, `full`, `eye`, `arange`, `linspace` and the `_like`s.

New tensors go on plait's device. Without a `dtype`, floats are `floatx` and integers int64; `full` and
`arange` take their dtype from their arguments (any float among them gives `floatx`).

Example:
    >>> from plait import ops
    >>> ops.arange(3), ops.arange(0, 1, 0.5), ops.full((2,), 7)
    (tensor([0, 1, 2]), tensor([0.0000, 0.5000]), tensor([7, 7]))
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from plait import config
from plait.ops.core import standardize_dtype, to_tensor

Shape = int | Sequence[int]


def _shape(shape: Shape) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


def _dtype_or_floatx(dtype: Any) -> torch.dtype:
    return standardize_dtype(dtype) or config.float_dtype()


def zeros(shape: Shape, dtype: Any = None) -> torch.Tensor:
    """A tensor of zeros (`floatx` by default)."""
    return torch.zeros(_shape(shape), dtype=_dtype_or_floatx(dtype), device=config.get_device())


def ones(shape: Shape, dtype: Any = None) -> torch.Tensor:
    """A tensor of ones (`floatx` by default)."""
    return torch.ones(_shape(shape), dtype=_dtype_or_floatx(dtype), device=config.get_device())


def full(shape: Shape, fill_value: Any, dtype: Any = None) -> torch.Tensor:
    """A tensor of `shape` filled with `fill_value` (a scalar, or a tensor broadcast to `shape`)."""
    value = to_tensor(fill_value, dtype)
    return torch.broadcast_to(value.to(config.get_device()), _shape(shape)).clone()


def zeros_like(x: Any, dtype: Any = None) -> torch.Tensor:
    """Zeros with the shape (and, by default, the dtype and device) of `x`."""
    return torch.zeros_like(to_tensor(x), dtype=standardize_dtype(dtype))


def ones_like(x: Any, dtype: Any = None) -> torch.Tensor:
    """Ones with the shape (and, by default, the dtype and device) of `x`."""
    return torch.ones_like(to_tensor(x), dtype=standardize_dtype(dtype))


def full_like(x: Any, fill_value: Any, dtype: Any = None) -> torch.Tensor:
    """`fill_value` with the shape (and, by default, the dtype and device) of `x`."""
    x = to_tensor(x)
    value = to_tensor(fill_value, standardize_dtype(dtype) or x.dtype, device=x.device)
    return torch.broadcast_to(value, x.shape).clone()


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> torch.Tensor:  # noqa: N803 - Keras
    """An `N x M` matrix with ones on the `k`-th diagonal (0: main, > 0: above) and zeros elsewhere."""
    M = N if M is None else M
    rows = torch.arange(N, device=config.get_device()).unsqueeze(1)
    cols = torch.arange(M, device=config.get_device()).unsqueeze(0)
    return (cols - rows == k).to(_dtype_or_floatx(dtype))


def identity(n: int, dtype: Any = None) -> torch.Tensor:
    """The `n x n` identity matrix."""
    return eye(n, dtype=dtype)


def _is_float(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.is_floating_point()
    return np.asarray(value).dtype.kind == "f"


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None) -> torch.Tensor:
    """Evenly spaced values in `[start, stop)`; `arange(n)` is `0 .. n-1`.

    Without `dtype`: `floatx` if any argument is a float, else int64.
    """
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    values = [float(v) if _is_float(v) else int(v) for v in (start, stop, step)]
    torch_dtype = standardize_dtype(dtype) or (
        config.float_dtype() if any(isinstance(v, float) for v in values) else torch.int64)
    return torch.arange(*values, dtype=torch_dtype, device=config.get_device())


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, retstep: bool = False,
             dtype: Any = None, axis: int = 0) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """`num` evenly spaced values from `start` to `stop` (included when `endpoint`), as NumPy's `linspace`.

    `start` and `stop` may be arrays: the values then run along a new `axis`. Computed in float64, then cast
    to `dtype` (default `floatx`).

    Example:
        >>> linspace(0, 1, 5)
        tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])
    """
    if num < 0:
        raise ValueError(f"linspace needs num >= 0, got {num}.")
    lo = to_tensor(start, torch.float64)
    hi = to_tensor(stop, torch.float64, device=lo.device)
    lo, hi = torch.broadcast_tensors(lo, hi)
    div = (num - 1) if endpoint else num
    step = (hi - lo) / div if div > 0 else torch.full_like(lo, float("nan"))
    positions = torch.arange(num, dtype=torch.float64, device=lo.device).reshape((num,) + (1,) * lo.ndim)
    values = lo + positions * step if div > 0 else lo + positions * (hi - lo)
    if endpoint and num > 1:
        values[-1] = hi  # exactly `stop`, as NumPy
    values = torch.movedim(values, 0, axis).to(_dtype_or_floatx(dtype))
    return (values, step.to(values.dtype)) if retstep else values
