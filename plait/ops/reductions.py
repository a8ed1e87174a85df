"""Reductions with NumPy's (and Keras's) semantics: `sum`, `mean`, `max`, `min`, `prod`, `std`, `var`, `all`,
`any`, `logsumexp`, and the running `cumsum`/`cumprod`.

Where torch differs from NumPy, these follow NumPy: `axis=None` reduces every axis (`keepdims` then keeps each
as size 1), `axis` may be a tuple, `axis=()` reduces nothing, `std`/`var` are the population statistics
(no Bessel correction). A list of tensors is stacked first. Dtypes as Keras: `mean`, `std` and `var` of
integers are `floatx`; `sum` and `prod` of bools and small integers are int64.

Example:
    >>> from plait import ops
    >>> x = ops.convert_to_tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> ops.sum(x), ops.mean(x, axis=0), ops.max(x, axis=(0, 1), keepdims=True)
    (tensor(10.), tensor([2., 3.]), tensor([[4.]]))
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

from plait.ops.core import canonical_axes, float_tensor, standardize_dtype, to_tensor

Axis = int | Sequence[int] | None
_SMALL_INTS = (torch.bool, torch.uint8, torch.int8, torch.int16)


def _axes(x: torch.Tensor, axis: Axis, keepdims: bool) -> tuple[int, ...] | None:
    """torch's `dim` for a NumPy `axis`: None means every axis (given explicitly where `keepdims` needs it)."""
    if axis is None:
        return tuple(range(x.ndim)) if keepdims and x.ndim else None
    return canonical_axes(axis, x.ndim)


def _no_axes(axis: Axis) -> bool:
    # torch reads dim=() as "every axis"; NumPy reads it as "no axis".
    return axis is not None and not isinstance(axis, int) and len(axis) == 0


def _reduce(fn: Any, x: torch.Tensor, axis: Axis, keepdims: bool, **kwargs: Any) -> torch.Tensor:
    """`fn` (a torch reduction) over NumPy's `axis` of `x`; `x` itself for `axis=()`."""
    if _no_axes(axis):
        return x
    dim = _axes(x, axis, keepdims)
    return fn(x, **kwargs) if dim is None else fn(x, dim=dim, keepdim=keepdims, **kwargs)


def _accumulator(x: torch.Tensor, dtype: Any) -> torch.dtype:
    """The dtype a sum or product accumulates in: `dtype` if given, int64 for bools and small integers."""
    return standardize_dtype(dtype) or (torch.int64 if x.dtype in _SMALL_INTS else x.dtype)


def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001 - Keras's name
    """Sum over `axis` (all axes by default).

    Example:
        >>> sum([[1, 2], [3, 4]], axis=1)
        tensor([3, 7])
    """
    x = to_tensor(x)
    return _reduce(torch.sum, x, axis, keepdims, dtype=_accumulator(x, None))


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    """Arithmetic mean over `axis`; integer inputs give `floatx`."""
    return _reduce(torch.mean, float_tensor(x), axis, keepdims)


def _extreme(x: Any, axis: Axis, keepdims: bool, initial: Any, largest: bool) -> torch.Tensor:
    x = to_tensor(x)
    name = "max" if largest else "min"
    if x.numel() == 0:
        if initial is None:
            raise ValueError(f"Cannot compute the {name} of an empty tensor (shape {tuple(x.shape)}); pass "
                             f"`initial=` to give the result for an empty input.")
        shape = (1,) * x.ndim if keepdims else ()
        return torch.full(shape, initial, dtype=x.dtype, device=x.device)
    out = _reduce(torch.amax if largest else torch.amin, x, axis, keepdims)
    if initial is not None:
        bound = torch.as_tensor(initial, dtype=out.dtype, device=out.device)
        out = torch.maximum(out, bound) if largest else torch.minimum(out, bound)
    return out


def max(x: Any, axis: Axis = None, keepdims: bool = False, initial: Any = None) -> torch.Tensor:  # noqa: A001
    """Largest value over `axis` (NaN if any is NaN), at least `initial` if given.

    The gradient is shared equally among tied maxima, as in JAX.
    """
    return _extreme(x, axis, keepdims, initial, largest=True)


def min(x: Any, axis: Axis = None, keepdims: bool = False, initial: Any = None) -> torch.Tensor:  # noqa: A001
    """Smallest value over `axis`, at most `initial` if given."""
    return _extreme(x, axis, keepdims, initial, largest=False)


amax = max
amin = min


def prod(x: Any, axis: Axis = None, keepdims: bool = False, dtype: Any = None) -> torch.Tensor:
    """Product over `axis`; bools and small integers give int64 unless `dtype` is given."""
    x = to_tensor(x)
    out_dtype = _accumulator(x, dtype)
    x = x.to(out_dtype)
    if _no_axes(axis):
        return x
    if axis is None and not keepdims:
        return torch.prod(x)
    # torch.prod reduces one axis at a time; the highest first, so the lower axes keep their numbers.
    for a in sorted(_axes(x, axis, keepdims) or (), reverse=True):
        x = torch.prod(x, dim=a, keepdim=keepdims)
    return x


def var(x: Any, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    """Population variance over `axis` (mean squared deviation, NumPy's `ddof=0`)."""
    x = float_tensor(x)
    return torch.zeros_like(x) if _no_axes(axis) else _reduce(torch.var, x, axis, keepdims, correction=0)


def std(x: Any, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    """Population standard deviation over `axis` (NumPy's `ddof=0`)."""
    x = float_tensor(x)
    return torch.zeros_like(x) if _no_axes(axis) else _reduce(torch.std, x, axis, keepdims, correction=0)


def all(x: Any, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001 - Keras's name
    """Whether every element over `axis` is true (non-zero)."""
    return _reduce(torch.all, to_tensor(x), axis, keepdims).bool()


def any(x: Any, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001 - Keras's name
    """Whether some element over `axis` is true (non-zero)."""
    return _reduce(torch.any, to_tensor(x), axis, keepdims).bool()


def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    """`log(sum(exp(x)))` over `axis`, computed without overflow."""
    x = float_tensor(x)
    if _no_axes(axis) or x.ndim == 0:
        return x
    dim = tuple(range(x.ndim)) if axis is None else canonical_axes(axis, x.ndim)
    return torch.logsumexp(x, dim=dim, keepdim=keepdims)


def _running(fn: Any, x: Any, axis: int | None, dtype: Any) -> torch.Tensor:
    x = to_tensor(x)
    if axis is None:  # NumPy: over the flattened input
        x, axis = x.reshape(-1), 0
    out_dtype = _accumulator(x, dtype)
    return fn(x, dim=axis, dtype=out_dtype)


def cumsum(x: Any, axis: int | None = None, dtype: Any = None) -> torch.Tensor:
    """Running sum along `axis` (of the flattened input when `axis` is None).

    Example:
        >>> cumsum([[1, 2], [3, 4]])
        tensor([ 1,  3,  6, 10])
    """
    return _running(torch.cumsum, x, axis, dtype)


def cumprod(x: Any, axis: int | None = None, dtype: Any = None) -> torch.Tensor:
    """Running product along `axis` (of the flattened input when `axis` is None)."""
    return _running(torch.cumprod, x, axis, dtype)
