"""Flatten, Reshape, Permute and RepeatVector: change the shape of each sample, leaving the batch dimension
alone."""
from __future__ import annotations

import math
from typing import Any

import torch

from plait.layers.layer import LAYERS, Layer
from plait.layers.symbolic import normalize_shape


@LAYERS.register()
class Flatten(Layer):
    """Flattens each sample to one dimension: `(batch, 28, 28, 1)` -> `(batch, 784)`.

    Example:
        >>> Flatten()(torch.ones(2, 3, 4)).shape
        torch.Size([2, 12])
    """

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}.")
        self.data_format = data_format or "channels_last"

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.data_format == "channels_first" and inputs.dim() > 2:
            # Keras flattens channels_first input in channels_last order.
            inputs = inputs.movedim(1, -1)
        return inputs.reshape(inputs.shape[0], -1) if inputs.dim() > 1 else inputs.reshape(-1, 1)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], size)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}


@LAYERS.register()
class Reshape(Layer):
    """Reshapes each sample to `target_shape` (without the batch dimension; one entry may be -1).

    Example:
        >>> Reshape((2, 6))(torch.ones(3, 12)).shape
        torch.Size([3, 2, 6])
    """

    def __init__(self, target_shape: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in shape) > 1 or any(d < -1 or d == 0 for d in shape):
            raise ValueError(f"Reshape target_shape may hold positive sizes and at most one -1, got {target_shape!r}.")
        self.target_shape = shape

    def _resolve(self, rest: tuple) -> tuple:
        if -1 not in self.target_shape or any(d is None for d in rest):
            known = self.target_shape
        else:
            total = math.prod(rest)
            fixed = math.prod(d for d in self.target_shape if d != -1)
            if total % fixed:
                raise ValueError(f"Cannot reshape samples of shape {rest} into {self.target_shape}.")
            known = tuple(total // fixed if d == -1 else d for d in self.target_shape)
        if -1 not in known and None not in rest and math.prod(rest) != math.prod(known):
            raise ValueError(f"Reshape to {self.target_shape} needs samples of {math.prod(known)} values, "
                             f"got samples of shape {rest} ({math.prod(rest)} values).")
        return known

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.reshape((inputs.shape[0],) + self._resolve(tuple(inputs.shape[1:])))

    def compute_output_shape(self, input_shape: Any) -> tuple:
        out = self._resolve(tuple(input_shape[1:]))
        return (input_shape[0],) + tuple(None if d == -1 else d for d in out)

    def build(self, input_shape: Any) -> None:
        self._resolve(tuple(normalize_shape(input_shape)[1:]))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


@LAYERS.register()
class Permute(Layer):
    """Reorders the axes of each sample: `dims` is a permutation of `1..rank-1` (the batch axis 0 stays).

    Args:
        dims: The new order, 1-indexed as in Keras, e.g. `(2, 1)` swaps the two axes of `(batch, a, b)`.

    Example:
        >>> Permute((2, 1))(torch.ones(4, 10, 64)).shape
        torch.Size([4, 64, 10])
    """

    def __init__(self, dims: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        try:
            self.dims = tuple(int(d) for d in dims)
        except (TypeError, ValueError):
            raise TypeError(f"Permute dims must be a tuple of ints, got {dims!r}.") from None
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Permute dims must hold each of 1..{len(self.dims)} once (axis 0, the batch, never "
                             f"moves), got dims={dims!r}.")

    def _check(self, rank: int) -> None:
        if rank != len(self.dims) + 1:
            raise ValueError(f"Permute(dims={self.dims}) expects inputs of rank {len(self.dims) + 1}, got rank {rank}.")

    def build(self, input_shape: Any) -> None:
        self._check(len(input_shape))

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        self._check(inputs.dim())
        return inputs.permute(0, *self.dims)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        self._check(len(input_shape))
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dims": list(self.dims)}


@LAYERS.register()
class RepeatVector(Layer):
    """Repeats each sample `n` times along a new axis 1: `(batch, features)` -> `(batch, n, features)`.

    Args:
        n: How many times to repeat.

    Example:
        >>> RepeatVector(3)(torch.ones(2, 5)).shape
        torch.Size([2, 3, 5])
    """

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise ValueError(f"RepeatVector n must be a positive integer, got {n!r}.")
        self.n = n

    def build(self, input_shape: Any) -> None:
        if len(input_shape) != 2:
            raise ValueError(f"RepeatVector expects inputs of rank 2 (batch, features), got shape "
                             f"{tuple(input_shape)}. Flatten them first.")

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.unsqueeze(1).repeat(1, self.n, 1)  # a copy, not an expanded view: safe for in-place ops

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n": self.n}
