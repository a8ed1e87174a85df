"""Argument validation for optimizers, and the host-side number types `iterations` and `learning_rate` return."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch


class HostInt(int):
    """An int that also answers `.numpy()`, so Keras code reading `optimizer.iterations.numpy()` keeps working."""

    def numpy(self) -> np.int64:
        return np.int64(self)


class HostFloat(float):
    """A float that also answers `.numpy()`, as Keras's learning-rate variable does."""

    def numpy(self) -> np.float32:
        return np.float32(self)


def check_number(name: str, value: Any, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False) -> float:
    """Returns `value` as a float, or raises a ValueError/TypeError saying the accepted range."""
    if (isinstance(value, torch.Tensor) and value.numel() == 1) or (isinstance(value, np.ndarray) and value.size == 1):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"`{name}` must be a number, got {type(value).__name__}: {value!r}.")
    v = float(value)
    bad = (v != v or (low is not None and (v < low or (low_open and v == low)))
           or (high is not None and (v > high or (high_open and v == high))))
    if bad:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        span = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
        raise ValueError(f"`{name}` must be in {span}, got {value!r}. Pass a value in that range.")
    return v


def optional_positive(name: str, value: Any) -> float | None:
    return None if value is None else check_number(name, value, 0.0, low_open=True)
