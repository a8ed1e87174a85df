"""Products and norms: `matmul`, `dot`, `tensordot`, `einsum`, `outer`, `norm`.

Operands of different dtypes are promoted to a common one first (torch's matrix kernels want one dtype):
`matmul(float64_array, float32_tensor)` computes in float64, as NumPy and Keras do. Bool operands compute in
`floatx`.

Example:
    >>> from plait import ops
    >>> ops.matmul([[1.0, 2.0]], [[3.0], [4.0]])
    tensor([[11.]])
    >>> ops.norm([3.0, 4.0])
    tensor(5.)
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

from plait import config
from plait.ops.core import canonical_axes, float_tensor, operands


def _common(*xs: Any) -> list[torch.Tensor]:
    tensors = operands(*xs)
    common = tensors[0].dtype
    for t in tensors[1:]:
        common = torch.promote_types(common, t.dtype)
    if common == torch.bool:
        common = config.float_dtype()
    return [t.to(common) for t in tensors]


def matmul(x1: Any, x2: Any) -> torch.Tensor:
    """Matrix product with NumPy's `matmul` rules (1-D operands, batch broadcasting)."""
    return torch.matmul(*_common(x1, x2))


def dot(x1: Any, x2: Any) -> torch.Tensor:
    """NumPy's `dot`: a product for scalars, `matmul` up to 2-D, and for N-D the sum over the last axis of `x1`
    and the second-to-last axis of `x2`.

    Example:
        >>> dot([1, 2, 3], [4, 5, 6])
        tensor(32)
    """
    x1, x2 = _common(x1, x2)
    if x1.ndim == 0 or x2.ndim == 0:
        return x1 * x2
    if x2.ndim <= 2:
        return torch.matmul(x1, x2)
    return torch.tensordot(x1, x2, dims=([x1.ndim - 1], [x2.ndim - 2]))


def tensordot(x1: Any, x2: Any, axes: int | Sequence[Any] = 2) -> torch.Tensor:
    """The sum of products over `axes`: the last `axes` of `x1` with the first of `x2`, or the two lists given."""
    x1, x2 = _common(x1, x2)
    if not isinstance(axes, int):
        first, second = axes
        axes = ([first] if isinstance(first, int) else list(first), [second] if isinstance(second, int)
                else list(second))
    return torch.tensordot(x1, x2, dims=axes)


def einsum(subscripts: str, *operands_: Any, **kwargs: Any) -> torch.Tensor:
    """Einstein summation over `operands_` as written in `subscripts` (NumPy's notation).

    Example:
        >>> einsum("ij,j->i", [[1.0, 2.0], [3.0, 4.0]], [1.0, 1.0])
        tensor([3., 7.])
    """
    if kwargs:
        raise TypeError(f"einsum takes no keyword arguments here, got {sorted(kwargs)}.")
    return torch.einsum(subscripts, *_common(*operands_))


def outer(x1: Any, x2: Any) -> torch.Tensor:
    """The outer product of `x1` and `x2`, each flattened first."""
    x1, x2 = _common(x1, x2)
    return torch.outer(x1.reshape(-1), x2.reshape(-1))


def norm(x: Any, ord: Any = None, axis: int | Sequence[int] | None = None,  # noqa: A002 - Keras's name
         keepdims: bool = False) -> torch.Tensor:
    """Vector or matrix norm, as NumPy's `linalg.norm`.

    With `axis=None` the whole input is one vector (2-norm) unless `ord` is given for a 1-D or 2-D input; an
    int `axis` takes vector norms along it, a pair of axes matrix norms ('fro', 'nuc', inf, -inf, 1, -1, 2, -2).
    """
    x = float_tensor(x)
    dim = None if axis is None else (axis if isinstance(axis, int) else tuple(axis))
    if dim is not None:
        canonical_axes(dim, x.ndim)  # a clear error for an axis out of range
    if ord is None and dim is None:
        out = torch.linalg.vector_norm(x)
        return out.reshape((1,) * x.ndim) if keepdims else out
    return torch.linalg.norm(x, ord=ord, dim=dim, keepdim=keepdims)
