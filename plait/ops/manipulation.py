"""Array manipulation with NumPy's semantics: reshaping, transposing, joining, splitting, repeating, padding
and gathering (`take`, `take_along_axis`).

Where torch differs from NumPy these follow NumPy: `transpose` without `axes` reverses every axis, `squeeze`
of a non-unit axis raises, `split` takes NumPy's sections or split points, `pad` takes NumPy's `pad_width`
and modes, and `axis=None` flattens for `concatenate`, `repeat`, `roll`, `take` and `take_along_axis`.

Example:
    >>> from plait import ops
    >>> x = ops.reshape(ops.arange(6), (2, 3))
    >>> ops.transpose(x).shape, [t.tolist() for t in ops.split(x, [1], axis=1)]
    (torch.Size([3, 2]), [[[0], [3]], [[1, 2], [4, 5]]])
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from plait.ops.core import canonical_axes, operands, to_tensor

_PAD_MODES = ("constant", "reflect", "symmetric", "edge", "wrap")


def reshape(x: Any, newshape: int | Sequence[int]) -> torch.Tensor:
    """`x` with the shape `newshape` (one entry may be -1: inferred)."""
    return torch.reshape(to_tensor(x), (newshape,) if isinstance(newshape, int) else tuple(newshape))


def ravel(x: Any) -> torch.Tensor:
    """`x` flattened to one axis."""
    return torch.ravel(to_tensor(x))


def transpose(x: Any, axes: Sequence[int] | None = None) -> torch.Tensor:
    """`x` with its axes permuted by `axes` (default: reversed, as NumPy's `transpose`)."""
    x = to_tensor(x)
    return torch.permute(x, tuple(reversed(range(x.ndim))) if axes is None else tuple(axes))


def swapaxes(x: Any, axis1: int, axis2: int) -> torch.Tensor:
    """`x` with two axes exchanged."""
    return torch.swapaxes(to_tensor(x), axis1, axis2)


def moveaxis(x: Any, source: int | Sequence[int], destination: int | Sequence[int]) -> torch.Tensor:
    """`x` with the axes `source` moved to `destination`, the others keeping their order."""
    return torch.movedim(to_tensor(x), source, destination)


def expand_dims(x: Any, axis: int | Sequence[int]) -> torch.Tensor:
    """`x` with new unit axes at the positions `axis` (of the result)."""
    x = to_tensor(x)
    count = 1 if isinstance(axis, int) else len(axis)
    for a in canonical_axes(axis, x.ndim + count):
        x = torch.unsqueeze(x, a)
    return x


def squeeze(x: Any, axis: int | Sequence[int] | None = None) -> torch.Tensor:
    """`x` without the unit axes `axis` (default: every unit axis); squeezing a longer axis raises."""
    x = to_tensor(x)
    if axis is None:
        return torch.squeeze(x)
    axes = canonical_axes(axis, x.ndim)
    longer = [a for a in axes if x.shape[a] != 1]
    if longer:
        raise ValueError(f"Cannot squeeze axis {longer[0]} of a tensor of shape {tuple(x.shape)}: its size is "
                         f"{x.shape[longer[0]]}, not 1. Squeeze only unit axes (or pass axis=None).")
    return torch.squeeze(x, axes)


def broadcast_to(x: Any, shape: Sequence[int]) -> torch.Tensor:
    """`x` broadcast to `shape` (a view, no copy)."""
    return torch.broadcast_to(to_tensor(x), tuple(shape))


def concatenate(xs: Sequence[Any], axis: int | None = 0) -> torch.Tensor:
    """The tensors `xs` joined along an existing `axis` (flattened first when `axis` is None)."""
    xs = operands(*xs)
    if axis is None:
        xs, axis = [x.reshape(-1) for x in xs], 0
    return torch.cat(xs, dim=axis)


def stack(x: Sequence[Any], axis: int = 0) -> torch.Tensor:
    """The tensors `x` (all of one shape) joined along a new `axis`."""
    return torch.stack(operands(*x), dim=axis)


def split(x: Any, indices_or_sections: int | Sequence[int], axis: int = 0) -> list[torch.Tensor]:
    """`x` cut along `axis` into `indices_or_sections` equal parts, or at the given indices (NumPy's `split`).

    Example:
        >>> [t.tolist() for t in split([1, 2, 3, 4], 2)]
        [[1, 2], [3, 4]]
    """
    x = to_tensor(x)
    if isinstance(indices_or_sections, (int, np.integer)):
        n, size = int(indices_or_sections), x.shape[axis]
        if n <= 0 or size % n:
            raise ValueError(f"split: axis {axis} of size {size} cannot be cut into {n} equal sections; pass a "
                             "number of sections that divides it, or a list of split indices.")
        return list(torch.tensor_split(x, n, dim=axis))
    indices = [int(i) for i in (indices_or_sections.tolist() if hasattr(indices_or_sections, "tolist")
                                else indices_or_sections)]
    return list(torch.tensor_split(x, indices, dim=axis))


def tile(x: Any, repeats: int | Sequence[int]) -> torch.Tensor:
    """`x` repeated `repeats` times along each axis (NumPy's `tile`)."""
    reps = (int(repeats),) if isinstance(repeats, (int, np.integer)) else tuple(int(r) for r in repeats)
    return torch.tile(to_tensor(x), reps)


def repeat(x: Any, repeats: int | Sequence[int], axis: int | None = None) -> torch.Tensor:
    """Each element of `x` repeated `repeats` times along `axis` (of the flattened input when None).

    Example:
        >>> repeat([[1, 2]], 2, axis=1)
        tensor([[1, 1, 2, 2]])
    """
    x = to_tensor(x)
    if not isinstance(repeats, (int, np.integer)):
        repeats = to_tensor(repeats, "int64", device=x.device)
    return torch.repeat_interleave(x, repeats, dim=axis)


def flip(x: Any, axis: int | Sequence[int] | None = None) -> torch.Tensor:
    """`x` with the order of elements reversed along `axis` (every axis when None)."""
    x = to_tensor(x)
    return torch.flip(x, tuple(range(x.ndim)) if axis is None else canonical_axes(axis, x.ndim))


def roll(x: Any, shift: int | Sequence[int], axis: int | Sequence[int] | None = None) -> torch.Tensor:
    """`x` with elements shifted by `shift` along `axis`, wrapping around (flattened when `axis` is None)."""
    x = to_tensor(x)
    if axis is None:
        return torch.roll(x.reshape(-1), shift).reshape(x.shape)
    return torch.roll(x, shift, dims=axis)


def _pad_widths(pad_width: Any, ndim: int) -> list[tuple[int, int]]:
    """NumPy's `pad_width` forms (`n`, `(before, after)`, or one pair per axis) as one pair per axis."""
    widths = np.asarray(pad_width.tolist() if hasattr(pad_width, "tolist") else pad_width, dtype=np.int64)
    try:
        pairs = np.broadcast_to(widths, (ndim, 2))
    except ValueError:
        raise ValueError(f"pad_width {pad_width!r} does not fit a tensor of rank {ndim}: pass an int, a pair "
                         f"(before, after), or {ndim} pairs, one per axis.") from None
    if (pairs < 0).any():
        raise ValueError(f"pad_width must not be negative, got {pad_width!r}.")
    return [(int(b), int(a)) for b, a in pairs]


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = None) -> torch.Tensor:
    """`x` padded as NumPy's `pad`: `pad_width` is an int, a `(before, after)` pair, or one pair per axis.

    Args:
        x: The tensor.
        pad_width: How much to add before and after each axis.
        mode: 'constant' (`constant_values`, default 0), 'reflect', 'symmetric', 'edge' or 'wrap', as NumPy.
        constant_values: The fill value; only with `mode='constant'`.

    Example:
        >>> pad([1, 2, 3], (1, 2), mode="reflect")
        tensor([2, 1, 2, 3, 2, 1])
    """
    x = to_tensor(x)
    if mode not in _PAD_MODES:
        raise ValueError(f"pad mode must be one of {list(_PAD_MODES)}, got {mode!r}.")
    if constant_values is not None and mode != "constant":
        raise ValueError(f"constant_values is only used with mode='constant', got mode={mode!r}. Drop "
                         "constant_values or use mode='constant'.")
    widths = _pad_widths(pad_width, x.ndim)
    if mode == "constant":
        flat = [w for pair in reversed(widths) for w in pair]  # F.pad lists the last axis first
        return F.pad(x, flat, value=0 if constant_values is None else constant_values)
    for axis, (before, after) in enumerate(widths):
        if before or after:
            # NumPy's pad of the positions gives, for every output position, the input position it copies:
            # one gather per axis, exact for every mode and rank, and differentiable.
            source = np.pad(np.arange(x.shape[axis]), (before, after), mode=mode)
            x = torch.index_select(x, axis, torch.as_tensor(source, device=x.device))
    return x


def _fix_negative(indices: torch.Tensor, size: int) -> torch.Tensor:
    """Negative indices count from the end, as in NumPy (torch's gathers would refuse them)."""
    indices = indices.long()
    return torch.where(indices < 0, indices + size, indices)


def take(x: Any, indices: Any, axis: int | None = None) -> torch.Tensor:
    """The elements of `x` at `indices` along `axis` (of the flattened input when None); the result has
    `indices`' shape in place of that axis.

    Example:
        >>> take([[1, 2], [3, 4]], [1, -1], axis=1)
        tensor([[2, 2],
                [4, 4]])
    """
    x = to_tensor(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    axis = canonical_axes(axis, x.ndim)[0]
    idx = _fix_negative(to_tensor(indices, device=x.device), x.shape[axis])
    out = torch.index_select(x, axis, idx.reshape(-1))
    return out.reshape(x.shape[:axis] + idx.shape + x.shape[axis + 1:])


def take_along_axis(x: Any, indices: Any, axis: int | None = None) -> torch.Tensor:
    """The elements of `x` picked by `indices` along `axis`, `indices` broadcasting against `x` elsewhere
    (NumPy's `take_along_axis`; flattened when `axis` is None)."""
    x = to_tensor(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    idx = _fix_negative(to_tensor(indices, device=x.device), x.shape[axis])
    return torch.take_along_dim(x, idx, dim=axis)
