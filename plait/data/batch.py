"""One batch as `train_step`, `test_step` and `predict_step` receive it, and the conversion of its parts.

A `Batch` is a tuple in Keras's layout: `(x,)` without targets or weights, `(x, y)` without weights,
`(x, y, sample_weight)` otherwise. A Keras-style `train_step` that writes `x, y = data` therefore works
unchanged, while plait's own steps read `batch.x`, `batch.y` and `batch.sample_weight` (None where absent).

Example:
    >>> import torch
    >>> batch = Batch(torch.zeros(4, 2), torch.ones(4))
    >>> x, y = batch
    >>> len(batch), batch.sample_weight, batch.size
    (2, None, 4)
    >>> unpack_x_y_sample_weight((torch.zeros(3, 1),))[1:]
    (None, None)
"""
from __future__ import annotations

from typing import Any, Self

import torch

from plait import tree
from plait.tensors import convert_to_tensor


class Batch(tuple):
    """One batch: `(x,)`, `(x, y)` or `(x, y, sample_weight)`, as Keras hands it to `train_step`.

    Built once per step, so it holds nothing beyond its items: the attributes read them.

    Args:
        x: The inputs (a tensor, or a list/tuple/dict of tensors for a multi-input model).
        y: The targets, or None.
        sample_weight: A per-sample weight tensor, or None. Given without `y` the batch is
            `(x, None, sample_weight)`, so the weights are not lost (Keras would drop them).

    Example:
        >>> import torch
        >>> batch = Batch(torch.zeros(3, 2), None, torch.ones(3))
        >>> len(batch), batch.y is None, batch.size
        (3, True, 3)
    """

    __slots__ = ()
    # As a namedtuple's, so `plait.tree.map_structure` rebuilds a batch as `Batch(*items)`, not `Batch(items)`.
    _fields = ("x", "y", "sample_weight")

    def __new__(cls, x: Any, y: Any = None, sample_weight: Any = None) -> Self:
        if sample_weight is not None:
            return tuple.__new__(cls, (x, y, sample_weight))
        return tuple.__new__(cls, (x,) if y is None else (x, y))

    def __getnewargs__(self) -> tuple:
        # copy and pickle call `Batch.__new__(Batch, *this)`; tuple's default would pass the items as one tuple.
        return tuple(self)

    def __repr__(self) -> str:
        return f"Batch{tuple.__repr__(self)}"

    @property
    def x(self) -> Any:
        """The inputs."""
        return self[0]

    @property
    def y(self) -> Any:
        """The targets, or None."""
        return self[1] if len(self) > 1 else None

    @property
    def sample_weight(self) -> Any:
        """The per-sample weights, or None."""
        return self[2] if len(self) > 2 else None

    @property
    def size(self) -> int:
        """The number of rows (samples), read from the first leaf of `x`."""
        x = self[0]
        first = x if isinstance(x, torch.Tensor) else tree.flatten(x)[0]
        return int(first.shape[0])


def unpack_x_y_sample_weight(data: Any) -> tuple[Any, Any, Any]:
    """`(x,)`, `(x, y)` or `(x, y, sample_weight)` -> a triple with Nones for what is missing, as Keras.

    Anything that is not a list or tuple is `x` alone.

    Raises:
        ValueError: If `data` is a list or tuple of more than 3 items (or none).
    """
    if type(data) is Batch:  # the loop's own batches: no length checks to run
        return data.x, data.y, data.sample_weight
    if isinstance(data, (list, tuple)):
        if len(data) == 1:
            return data[0], None, None
        if len(data) == 2:
            return data[0], data[1], None
        if len(data) == 3:
            return data[0], data[1], data[2]
        raise ValueError(f"Expected a batch of (x,), (x, y) or (x, y, sample_weight), got a sequence of {len(data)}.")
    return data, None, None


def pack_x_y_sample_weight(x: Any, y: Any = None, sample_weight: Any = None) -> Batch:
    """The inverse of `unpack_x_y_sample_weight`: `(x,)`, `(x, y)` or `(x, y, sample_weight)` as a `Batch`."""
    return Batch(x, y, sample_weight)


def to_rows(value: Any, name: str, device: torch.device) -> torch.Tensor:
    """`value` (numpy, torch, pandas, a list of numbers) as a tensor on `device` with one row per sample.

    Raises:
        TypeError: If `value` holds no numbers (strings, objects, pandas categories); the message names `name`.
        ValueError: If `value` is a scalar.
    """
    t = convert_to_tensor(value, device=device, name=name)
    if t.dim() == 0:
        raise ValueError(f"{name} is a scalar; expected an array with one row per sample.")
    return t
