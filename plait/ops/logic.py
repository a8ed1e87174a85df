"""Comparisons, logical ops, NaN/Inf tests and `where`: the ops whose results are bool masks (or pick by one).

Example:
    >>> from plait import ops
    >>> ops.greater([1, 5, 3], 2)
    tensor([False,  True,  True])
    >>> ops.where(ops.isnan([1.0, float("nan")]), 0.0, [1.0, float("nan")])
    tensor([1., 0.])
"""
from __future__ import annotations

from typing import Any

import torch

from plait.ops.core import operands, to_tensor
from plait.ops.elementwise import _pair


def equal(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 == x2`, element-wise."""
    return torch.eq(*_pair(x1, x2))


def not_equal(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 != x2`, element-wise."""
    return torch.ne(*_pair(x1, x2))


def greater(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 > x2`, element-wise."""
    return torch.gt(*_pair(x1, x2))


def greater_equal(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 >= x2`, element-wise."""
    return torch.ge(*_pair(x1, x2))


def less(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 < x2`, element-wise."""
    return torch.lt(*_pair(x1, x2))


def less_equal(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 <= x2`, element-wise."""
    return torch.le(*_pair(x1, x2))


def logical_and(x1: Any, x2: Any) -> torch.Tensor:
    """Truth of `x1 and x2`, element-wise (non-zero is true)."""
    return torch.logical_and(*operands(x1, x2))


def logical_or(x1: Any, x2: Any) -> torch.Tensor:
    """Truth of `x1 or x2`, element-wise."""
    return torch.logical_or(*operands(x1, x2))


def logical_xor(x1: Any, x2: Any) -> torch.Tensor:
    """Truth of `x1 != x2` as booleans, element-wise."""
    return torch.logical_xor(*operands(x1, x2))


def logical_not(x: Any) -> torch.Tensor:
    """Truth of `not x`, element-wise."""
    return torch.logical_not(to_tensor(x))


def isnan(x: Any) -> torch.Tensor:
    """Where `x` is NaN (never for integers)."""
    return torch.isnan(to_tensor(x))


def isinf(x: Any) -> torch.Tensor:
    """Where `x` is +inf or -inf."""
    return torch.isinf(to_tensor(x))


def isfinite(x: Any) -> torch.Tensor:
    """Where `x` is neither NaN nor infinite."""
    return torch.isfinite(to_tensor(x))


def isclose(x1: Any, x2: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> torch.Tensor:
    """Where `|x1 - x2| <= atol + rtol * |x2|`, as NumPy's `isclose`."""
    x1, x2 = operands(x1, x2)
    common = torch.result_type(x1, x2)
    return torch.isclose(x1.to(common), x2.to(common), rtol=rtol, atol=atol, equal_nan=equal_nan)


def where(condition: Any, x1: Any = None, x2: Any = None) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """`x1` where `condition` is true, else `x2` (all three broadcast); with `condition` alone, the indices of
    its true elements, one int64 tensor per axis (NumPy's `nonzero`).

    Example:
        >>> where([True, False], [1, 2], [10, 20])
        tensor([ 1, 20])
    """
    if (x1 is None) != (x2 is None):
        raise ValueError("where takes both x1 and x2 or neither; got only "
                         f"{'x1' if x2 is None else 'x2'}. Pass both values to choose between.")
    if x1 is None:
        return torch.where(to_tensor(condition, "bool"))
    tensors = [v for v in (x1, x2, condition) if isinstance(v, torch.Tensor)]
    device = tensors[0].device if tensors else None
    cond = to_tensor(condition, "bool", device=device)
    x1 = x1 if isinstance(x1, (int, float, torch.Tensor)) else to_tensor(x1, device=cond.device)
    x2 = x2 if isinstance(x2, (int, float, torch.Tensor)) else to_tensor(x2, device=cond.device)
    return torch.where(cond, x1, x2)
