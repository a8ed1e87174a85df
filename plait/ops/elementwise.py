"""Element-wise arithmetic and math: `add` ... `power`, `exp`, `log`, `sqrt`, `clip`, `round`, `sin`, ...

Binary ops broadcast as NumPy does and promote dtypes as torch does: a Python scalar or a 0-d value does not
widen a tensor's dtype (`float16_tensor * 2.0` stays float16), as in Keras. Math that needs floats (`exp`,
`log`, `sqrt`, `floor`, ...) computes integer and bool inputs in `floatx`, as Keras does; `divide` of two
integer tensors gives `floatx` too.

Example:
    >>> from plait import ops
    >>> ops.add([1, 2], 0.5)
    tensor([1.5000, 2.5000])
    >>> ops.sqrt([4, 9])
    tensor([2., 3.])
"""
from __future__ import annotations

from typing import Any

import torch

from plait import config
from plait.ops.core import float_tensor, operands, to_tensor

_Number = (int, float)


def _pair(x1: Any, x2: Any) -> tuple[Any, Any]:
    """Operands for torch functions that take a Python number as their second argument (no conversion kernel)."""
    if isinstance(x1, torch.Tensor) and isinstance(x2, _Number):
        return x1, x2
    return tuple(operands(x1, x2))


def add(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 + x2`, broadcast."""
    return torch.add(*_pair(x1, x2))


def subtract(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 - x2`, broadcast (bools are subtracted as integers)."""
    x1, x2 = _pair(x1, x2)
    if isinstance(x1, torch.Tensor) and x1.dtype == torch.bool:
        x1 = x1.long()
    if isinstance(x2, torch.Tensor) and x2.dtype == torch.bool:
        x2 = x2.long()
    return torch.subtract(x1, x2)


def multiply(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 * x2`, broadcast."""
    return torch.multiply(*_pair(x1, x2))


def divide(x1: Any, x2: Any) -> torch.Tensor:
    """True division `x1 / x2`; two integer operands give `floatx`."""
    x1, x2 = operands(x1, x2)
    if not (x1.is_floating_point() or x2.is_floating_point()):
        x1 = x1.to(config.float_dtype())
    return torch.divide(x1, x2)


true_divide = divide


def floor_divide(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 // x2`, rounding toward minus infinity as NumPy does."""
    return torch.floor_divide(*operands(x1, x2))


def mod(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 % x2` with the sign of `x2`, as NumPy's `mod`."""
    return torch.remainder(*_pair(x1, x2))


def power(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 ** x2`, broadcast."""
    return torch.pow(*_pair(x1, x2))


def negative(x: Any) -> torch.Tensor:
    """`-x`."""
    return torch.negative(to_tensor(x))


def abs(x: Any) -> torch.Tensor:  # noqa: A001 - Keras's name
    """Absolute value, element-wise (bools are returned unchanged)."""
    x = to_tensor(x)
    return x if x.dtype == torch.bool else torch.abs(x)


absolute = abs


def sign(x: Any) -> torch.Tensor:
    """-1, 0 or 1 by the sign of each element."""
    return torch.sign(to_tensor(x))


def square(x: Any) -> torch.Tensor:
    """`x * x` (bools count as integers)."""
    x = to_tensor(x)
    return torch.square(x.long() if x.dtype == torch.bool else x)


def sqrt(x: Any) -> torch.Tensor:
    """Square root."""
    return torch.sqrt(float_tensor(x))


def rsqrt(x: Any) -> torch.Tensor:
    """`1 / sqrt(x)`, in one kernel."""
    return torch.rsqrt(float_tensor(x))


def reciprocal(x: Any) -> torch.Tensor:
    """`1 / x`."""
    return torch.reciprocal(float_tensor(x))


def exp(x: Any) -> torch.Tensor:
    """`e ** x`."""
    return torch.exp(float_tensor(x))


def expm1(x: Any) -> torch.Tensor:
    """`exp(x) - 1`, accurate near 0."""
    return torch.expm1(float_tensor(x))


def log(x: Any) -> torch.Tensor:
    """Natural logarithm."""
    return torch.log(float_tensor(x))


def log1p(x: Any) -> torch.Tensor:
    """`log(1 + x)`, accurate near 0."""
    return torch.log1p(float_tensor(x))


def log2(x: Any) -> torch.Tensor:
    """Base-2 logarithm."""
    return torch.log2(float_tensor(x))


def log10(x: Any) -> torch.Tensor:
    """Base-10 logarithm."""
    return torch.log10(float_tensor(x))


def sin(x: Any) -> torch.Tensor:
    """Sine (radians)."""
    return torch.sin(float_tensor(x))


def cos(x: Any) -> torch.Tensor:
    """Cosine (radians)."""
    return torch.cos(float_tensor(x))


def tan(x: Any) -> torch.Tensor:
    """Tangent (radians)."""
    return torch.tan(float_tensor(x))


def arctan(x: Any) -> torch.Tensor:
    """Inverse tangent."""
    return torch.arctan(float_tensor(x))


def sinh(x: Any) -> torch.Tensor:
    """Hyperbolic sine."""
    return torch.sinh(float_tensor(x))


def cosh(x: Any) -> torch.Tensor:
    """Hyperbolic cosine."""
    return torch.cosh(float_tensor(x))


def tanh(x: Any) -> torch.Tensor:
    """Hyperbolic tangent."""
    return torch.tanh(float_tensor(x))


def erf(x: Any) -> torch.Tensor:
    """The error function."""
    return torch.erf(float_tensor(x))


def maximum(x1: Any, x2: Any) -> torch.Tensor:
    """Element-wise maximum, broadcast (at ties the gradient is split between the two, as in JAX)."""
    return torch.maximum(*_promoted(x1, x2))


def minimum(x1: Any, x2: Any) -> torch.Tensor:
    """Element-wise minimum, broadcast."""
    return torch.minimum(*_promoted(x1, x2))


def _promoted(x1: Any, x2: Any) -> list[torch.Tensor]:
    # torch.maximum/minimum want one dtype; the result type follows torch's (and Keras's) promotion.
    x1, x2 = operands(x1, x2)
    common = torch.result_type(x1, x2)
    return [x1.to(common), x2.to(common)]


def clip(x: Any, x_min: Any, x_max: Any) -> torch.Tensor:
    """`x` with values below `x_min` set to `x_min` and above `x_max` to `x_max` (bounds broadcast).

    Example:
        >>> clip([-2.0, 0.5, 3.0], 0.0, 1.0)
        tensor([0.0000, 0.5000, 1.0000])
    """
    x = to_tensor(x)
    if x.dtype == torch.bool:
        x = x.long()
    bounds = [b if b is None or isinstance(b, _Number) else to_tensor(b, device=x.device) for b in (x_min, x_max)]
    return torch.clamp(x, *bounds)


def round(x: Any, decimals: int = 0) -> torch.Tensor:  # noqa: A001 - Keras's name
    """Rounds to `decimals` places, halves to even as NumPy does; integer inputs keep their dtype."""
    x = to_tensor(x)
    if x.is_floating_point():
        return torch.round(x, decimals=decimals)
    return torch.round(x.to(config.float_dtype()), decimals=decimals).to(x.dtype)


def floor(x: Any) -> torch.Tensor:
    """The largest integer <= x, as a float tensor (`floatx` for integer inputs)."""
    return torch.floor(float_tensor(x))


def ceil(x: Any) -> torch.Tensor:
    """The smallest integer >= x, as a float tensor (`floatx` for integer inputs)."""
    return torch.ceil(float_tensor(x))


def trunc(x: Any) -> torch.Tensor:
    """Rounds toward zero."""
    x = to_tensor(x)
    return torch.trunc(x) if x.is_floating_point() else x
