"""Merging layers: combine a list of tensors (the functional API's joins), and their lower-case function twins
(`add([a, b])` is `Add()([a, b])`), on KerasTensors and real tensors alike."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from plait import config
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


def input_list(layer: Layer, inputs: Any, exactly: int | None = None) -> list:
    """`inputs` (tensors or shapes) as a list of at least 2, or of `exactly` that many, else a ValueError."""
    # A single shape (a tuple of sizes) or tensor is one input, not a list of them.
    single = isinstance(inputs, tuple) and all(d is None or isinstance(d, int) for d in inputs)
    n = 1 if single or not isinstance(inputs, (list, tuple)) else len(inputs)
    if n < 2 or (exactly is not None and n != exactly):
        got = "a single input" if n == 1 else f"{n} inputs"
        wanted = f"exactly {exactly}" if exactly is not None else "at least 2"
        raise ValueError(f"{type(layer).__name__} needs a list of {wanted} inputs, got {got}.")
    return list(inputs)


class Merge(Layer):
    """Base of the element-wise merges: inputs are a list of at least two tensors that broadcast."""

    exact_inputs: int | None = None

    def _check(self, inputs: Any) -> list:
        return input_list(self, inputs, self.exact_inputs)

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
    """Sum of the inputs (at least two, broadcasting).

    Example:
        >>> Add()([torch.ones(2, 3), torch.ones(2, 3)]).shape
        torch.Size([2, 3])
    """

    def _merge(self, a, b):
        return a + b


@LAYERS.register()
class Subtract(Merge):
    """`inputs[0] - inputs[1]` (exactly two inputs).

    Example:
        >>> Subtract()([torch.tensor([[3.0]]), torch.tensor([[1.0]])])
        tensor([[2.]])
    """

    exact_inputs = 2

    def _merge(self, a, b):
        return a - b


@LAYERS.register()
class Multiply(Merge):
    """Element-wise product of the inputs.

    Example:
        >>> Multiply()([torch.tensor([[2.0]]), torch.tensor([[3.0]])])
        tensor([[6.]])
    """

    def _merge(self, a, b):
        return a * b


@LAYERS.register()
class Average(Merge):
    """Element-wise mean of the inputs.

    Example:
        >>> Average()([torch.tensor([[2.0]]), torch.tensor([[4.0]])])
        tensor([[3.]])
    """

    def _merge(self, a, b):
        return a + b

    def _finish(self, out, n):
        return out / n


@LAYERS.register()
class Maximum(Merge):
    """Element-wise maximum of the inputs.

    Example:
        >>> Maximum()([torch.tensor([[2.0, 5.0]]), torch.tensor([[4.0, 1.0]])])
        tensor([[4., 5.]])
    """

    def _merge(self, a, b):
        return torch.maximum(a, b)


@LAYERS.register()
class Minimum(Merge):
    """Element-wise minimum of the inputs.

    Example:
        >>> Minimum()([torch.tensor([[2.0, 5.0]]), torch.tensor([[4.0, 1.0]])])
        tensor([[2., 1.]])
    """

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


def _dot_axes(axes: Any, rank_a: int, rank_b: int) -> tuple[int, int]:
    """Keras's `axes` (an int for both inputs, or one per input; negative counts from the end) -> two axes."""
    pair = (axes, axes) if isinstance(axes, int) else tuple(axes)
    out = (pair[0] % rank_a, pair[1] % rank_b)
    if 0 in out:
        raise ValueError(f"Dot cannot take the product over the batch axis 0, got axes={axes!r} for inputs of rank "
                         f"{rank_a} and {rank_b}.")
    return out


def batch_dot(x: torch.Tensor, y: torch.Tensor, axes: tuple[int, int]) -> torch.Tensor:
    """Per-sample dot product over `x`'s axis `axes[0]` and `y`'s `axes[1]`: the output has `x`'s other axes
    then `y`'s (without its batch axis), and at least rank 2, as Keras's `batch_dot`."""
    a = x.movedim(axes[0], -1)
    b = y.movedim(axes[1], 1)
    n, k = a.shape[0], a.shape[-1]
    out = torch.bmm(a.reshape(n, -1, k), b.reshape(n, k, -1)).reshape(n, *a.shape[1:-1], *b.shape[2:])
    return out.unsqueeze(1) if out.dim() == 1 else out


@LAYERS.register()
class Dot(Layer):
    """Dot product of two inputs per sample, over one axis of each (cosine similarity with `normalize=True`).

    Args:
        axes: An int (the same axis of both inputs) or a pair `(axis_of_first, axis_of_second)`; never 0.
        normalize: L2-normalize both inputs along their axis first.

    Example:
        >>> Dot(axes=1)([torch.ones(2, 3), torch.ones(2, 3)])
        tensor([[3.],
                [3.]])
        >>> Dot(axes=(1, 2))([torch.ones(2, 4, 5), torch.ones(2, 6, 4)]).shape
        torch.Size([2, 5, 6])
    """

    def __init__(self, axes: Any, normalize: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2 or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
                raise ValueError(f"Dot axes must be an int or a pair of ints, got axes={axes!r}.")
            axes = [int(a) for a in axes]
        elif isinstance(axes, bool) or not isinstance(axes, int):
            raise TypeError(f"Dot axes must be an int or a pair of ints, got {type(axes).__name__} {axes!r}.")
        self.axes = axes
        self.normalize = bool(normalize)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        a, b = (list(s) for s in input_list(self, input_shape, 2))
        i, j = _dot_axes(self.axes, len(a), len(b))
        if a[i] is not None and b[j] is not None and a[i] != b[j]:
            raise ValueError(f"Dot axes={self.axes!r} pairs axis {i} of size {a[i]} with axis {j} of size {b[j]}: "
                             f"the sizes must match. Input shapes: {tuple(a)}, {tuple(b)}.")
        out = a[:i] + a[i + 1:] + (b[1:j] + b[j + 1:])
        return tuple(out + [1] if len(out) == 1 else out)

    def build(self, input_shape: Any) -> None:
        self.compute_output_shape(input_shape)

    def call(self, inputs: Any) -> torch.Tensor:
        x, y = input_list(self, inputs, 2)
        i, j = _dot_axes(self.axes, x.dim(), y.dim())
        if self.normalize:
            x, y = F.normalize(x, dim=i, eps=config.epsilon()), F.normalize(y, dim=j, eps=config.epsilon())
        return batch_dot(x, y, (i, j))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def add(inputs: list, **kwargs: Any) -> Any:
    """Sum of the inputs: `Add(**kwargs)(inputs)`.

    Example:
        >>> add([torch.ones(1, 2), torch.ones(1, 2)])
        tensor([[2., 2.]])
    """
    return Add(**kwargs)(inputs)


def subtract(inputs: list, **kwargs: Any) -> Any:
    """`inputs[0] - inputs[1]`: `Subtract(**kwargs)(inputs)`."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs: list, **kwargs: Any) -> Any:
    """Element-wise product: `Multiply(**kwargs)(inputs)`."""
    return Multiply(**kwargs)(inputs)


def average(inputs: list, **kwargs: Any) -> Any:
    """Element-wise mean: `Average(**kwargs)(inputs)`."""
    return Average(**kwargs)(inputs)


def maximum(inputs: list, **kwargs: Any) -> Any:
    """Element-wise maximum: `Maximum(**kwargs)(inputs)`."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs: list, **kwargs: Any) -> Any:
    """Element-wise minimum: `Minimum(**kwargs)(inputs)`."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs: list, axis: int = -1, **kwargs: Any) -> Any:
    """Joins the inputs along `axis`: `Concatenate(axis=axis, **kwargs)(inputs)`.

    Example:
        >>> import plait
        >>> concatenate([plait.Input(shape=(3,)), plait.Input(shape=(2,))]).shape
        (None, 5)
    """
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs: list, axes: Any = -1, **kwargs: Any) -> Any:
    """Per-sample dot product of two inputs: `Dot(axes=axes, **kwargs)(inputs)` (`normalize=` passes through)."""
    return Dot(axes=axes, **kwargs)(inputs)
