"""Deterministic initializers: Zeros, Ones, Constant, Identity."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from plait.initializers.base import INITIALIZERS, Initializer, _dtype, _shape


@INITIALIZERS.register("zero")
class Zeros(Initializer):
    """Fills with 0. Example: `Zeros()((2, 2))` is a 2x2 tensor of zeros."""

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> torch.Tensor:
        return torch.zeros(_shape(shape), dtype=_dtype(dtype))


@INITIALIZERS.register("one")
class Ones(Initializer):
    """Fills with 1. Example: `Ones()((2,))` is `tensor([1., 1.])`."""

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> torch.Tensor:
        return torch.ones(_shape(shape), dtype=_dtype(dtype))


@INITIALIZERS.register()
class Constant(Initializer):
    """Fills with `value` (a scalar, or an array that broadcasts to the requested shape).

    Args:
        value: The fill value.

    Example:
        >>> Constant(3.0)((2,)).tolist()
        [3.0, 3.0]
    """

    def __init__(self, value: Any = 0.0) -> None:
        if isinstance(value, (torch.Tensor, np.ndarray, np.generic)):
            value = value.tolist()  # keeps the config JSON-friendly
        self.value = value

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> torch.Tensor:
        shape, dtype = _shape(shape), _dtype(dtype)
        value = torch.as_tensor(self.value, dtype=dtype)
        try:
            return torch.broadcast_to(value, shape).clone()
        except RuntimeError:
            raise ValueError(f"Constant value of shape {tuple(value.shape)} cannot fill a tensor of shape {shape}; "
                             "pass a scalar or an array that broadcasts to that shape.") from None

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


@INITIALIZERS.register("IdentityInitializer")
class Identity(Initializer):
    """`gain` times the identity matrix; 2-D shapes only (non-square gives a rectangular eye).

    Args:
        gain: Multiplicative factor.

    Example:
        >>> Identity(gain=2.0)((2, 2)).tolist()
        [[2.0, 0.0], [0.0, 2.0]]
    """

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> torch.Tensor:
        shape, dtype = _shape(shape), _dtype(dtype)
        if len(shape) != 2:
            raise ValueError("Identity matrix initializer can only be used for 2D matrices. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        return (self.gain * torch.eye(*shape, dtype=torch.float64)).to(dtype)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}
