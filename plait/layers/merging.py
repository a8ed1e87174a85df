"""Merging layers: combine a list of tensors (the functional API's joins)."""
from __future__ import annotations

from typing import Any

import torch

from plait.layers.layer import LAYERS, Layer


def _broadcast_shape(shapes: list[tuple]) -> tuple:
    rank = max(len(s) for s in shapes)
    out = []
    for dims in zip(*[(1,) * (rank - len(s)) + tuple(s) for s in shapes]):
        known = {d for d in dims if d not in (None, 1)}
        if len(known) > 1:
            raise ValueError(f"Cannot merge inputs of shapes {shapes}: sizes {sorted(known)} do not broadcast.")
        out.append(known.pop() if known else (None if None in dims else 1))
    return tuple(out)


class Merge(Layer):
    """Base of the element-wise merges: inputs are a list of at least two tensors that broadcast."""

    def _check(self, inputs: Any) -> list:
        # A single shape (a tuple of sizes) or tensor is one input, not a list of them.
        single = isinstance(inputs, tuple) and all(d is None or isinstance(d, int) for d in inputs)
        if single or not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            got = "a single input" if single or not isinstance(inputs, (list, tuple)) else f"{len(inputs)} input(s)"
            raise ValueError(f"{type(self).__name__} needs a list of at least 2 inputs, got {got}.")
        return list(inputs)

    def build(self, input_shape: Any) -> None:
        _broadcast_shape([tuple(s) for s in self._check(input_shape)])

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return _broadcast_shape([tuple(s) for s in self._check(input_shape)])

    def call(self, inputs: Any) -> torch.Tensor:
        tensors = self._check(inputs)
        out = tensors[0]
        for t in tensors[1:]:
            out = self._merge(out, t)
        return self._finish(out, len(tensors))

    def _merge(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _finish(self, out: torch.Tensor, n: int) -> torch.Tensor:
        return out


@LAYERS.register()
class Add(Merge):
    """Sum of the inputs. Example: `Add()([a, b])`."""

    def _merge(self, a, b):
        return a + b


@LAYERS.register()
class Subtract(Merge):
    """`inputs[0] - inputs[1]` (exactly two inputs)."""

    def _check(self, inputs: Any) -> list:
        tensors = super()._check(inputs)
        if len(tensors) != 2:
            raise ValueError(f"Subtract needs exactly 2 inputs, got {len(tensors)}.")
        return tensors

    def _merge(self, a, b):
        return a - b


@LAYERS.register()
class Multiply(Merge):
    """Element-wise product of the inputs."""

    def _merge(self, a, b):
        return a * b


@LAYERS.register()
class Average(Merge):
    """Element-wise mean of the inputs."""

    def _merge(self, a, b):
        return a + b

    def _finish(self, out, n):
        return out / n


@LAYERS.register()
class Maximum(Merge):
    """Element-wise maximum of the inputs."""

    def _merge(self, a, b):
        return torch.maximum(a, b)


@LAYERS.register()
class Minimum(Merge):
    """Element-wise minimum of the inputs."""

    def _merge(self, a, b):
        return torch.minimum(a, b)


@LAYERS.register()
class Concatenate(Layer):
    """Joins the inputs along `axis` (default the last); the other dimensions must match.

    Example:
        >>> Concatenate()([torch.ones(2, 3), torch.zeros(2, 4)]).shape
        torch.Size([2, 7])
    """

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = int(axis)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shapes = [tuple(s) for s in input_shape]
        if len(shapes) < 2 or len({len(s) for s in shapes}) != 1:
            raise ValueError(f"Concatenate needs at least 2 inputs of the same rank, got shapes {shapes}.")
        axis = self.axis % len(shapes[0])
        out = list(shapes[0])
        for s in shapes[1:]:
            for i, (a, b) in enumerate(zip(out, s)):
                if i != axis and a is not None and b is not None and a != b:
                    raise ValueError(f"Concatenate on axis {self.axis} needs matching other dimensions, got "
                                     f"shapes {shapes}.")
        sizes = [s[axis] for s in shapes]
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def build(self, input_shape: Any) -> None:
        self.compute_output_shape(input_shape)

    def call(self, inputs: Any) -> torch.Tensor:
        return torch.cat(list(inputs), dim=self.axis)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}
