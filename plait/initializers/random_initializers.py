"""Random initializers: normal, uniform, truncated normal, variance scaling (Glorot/He/LeCun), orthogonal."""
from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import torch

from plait.initializers.base import (INITIALIZERS, _TRUNCATION_STD, _dtype, _MeanStddev, _RandomInitializer, _shape,
                                    compute_fans)


@INITIALIZERS.register("normal")
class RandomNormal(_MeanStddev):
    """Samples from a normal distribution `N(mean, stddev**2)`.

    Args:
        mean: Mean of the values.
        stddev: Standard deviation of the values.
        seed: Integer for repeatable values (the same on every call), or None.

    Example:
        >>> RandomNormal(stddev=1.0, seed=0)((2, 3)).shape
        torch.Size([2, 3])
    """

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> torch.Tensor:
        return self._normal(_shape(shape), _dtype(dtype), self.mean, self.stddev)


@INITIALIZERS.register("uniform")
class RandomUniform(_RandomInitializer):
    """Samples uniformly from `[minval, maxval)`.

    Args:
        minval: Lower bound (inclusive).
        maxval: Upper bound (exclusive).
        seed: Integer for repeatable values (the same on every call), or None.

    Example:
        >>> bool((RandomUniform(0.0, 1.0)((100,)) < 1.0).all())
        True
    """

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> torch.Tensor:
        return self._uniform(_shape(shape), _dtype(dtype), self.minval, self.maxval)

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


@INITIALIZERS.register()
class TruncatedNormal(_MeanStddev):
    """Samples from `N(mean, stddev**2)` truncated to `[mean - 2*stddev, mean + 2*stddev]`.

    Args:
        mean: Mean of the untruncated distribution.
        stddev: Standard deviation of the untruncated distribution.
        seed: Integer for repeatable values (the same on every call), or None.

    Example:
        >>> float(TruncatedNormal(stddev=1.0)((1000,)).abs().max()) <= 2.0
        True
    """

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> torch.Tensor:
        return self._truncated_normal(_shape(shape), _dtype(dtype), self.mean, self.stddev)


@INITIALIZERS.register()
class VarianceScaling(_RandomInitializer):
    """Scales its distribution to the weight's fans so that activations keep their variance.

    With `n` the fan chosen by `mode` (`fan_in`, `fan_out` or their mean `fan_avg`, each at
    least 1): `"truncated_normal"` draws with std `sqrt(scale / n)` after truncation at 2 std,
    `"untruncated_normal"` with std `sqrt(scale / n)`, and `"uniform"` within `[-limit, limit]`
    with `limit = sqrt(3 * scale / n)`. `"normal"` is accepted as `"truncated_normal"` (as in Keras).

    Args:
        scale: Positive scaling factor.
        mode: `"fan_in"`, `"fan_out"` or `"fan_avg"`.
        distribution: `"truncated_normal"`, `"untruncated_normal"` or `"uniform"`.
        seed: Integer for repeatable values (the same on every call), or None.

    Example:
        >>> init = VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform")
        >>> init((64, 32)).shape
        torch.Size([64, 32])
    """

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: int | None = None) -> None:
        if not isinstance(scale, numbers.Real) or isinstance(scale, bool) or scale <= 0.0:
            raise ValueError(f"Argument `scale` must be a positive float. Received: scale={scale!r}.")
        if mode not in self._MODES:
            raise ValueError(f"Invalid `mode` argument: {mode!r}. Use one of {', '.join(map(repr, self._MODES))}.")
        dist = distribution.lower() if isinstance(distribution, str) else distribution
        dist = "truncated_normal" if dist == "normal" else dist
        if dist not in self._DISTRIBUTIONS:
            raise ValueError(f"Invalid `distribution` argument: {distribution!r}. "
                             f"Use one of {', '.join(map(repr, self._DISTRIBUTIONS))}.")
        super().__init__(seed)
        self.scale, self.mode, self.distribution = scale, mode, dist

    def _variance(self, shape: tuple[int, ...]) -> float:
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        return self.scale / max(1.0, n)

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> torch.Tensor:
        shape, dtype = _shape(shape), _dtype(dtype)
        variance = self._variance(shape)
        if self.distribution == "truncated_normal":
            return self._truncated_normal(shape, dtype, 0.0, math.sqrt(variance) / _TRUNCATION_STD)
        if self.distribution == "untruncated_normal":
            return self._normal(shape, dtype, 0.0, math.sqrt(variance))
        limit = math.sqrt(3.0 * variance)
        return self._uniform(shape, dtype, -limit, limit)

    def get_config(self) -> dict[str, Any]:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, **super().get_config()}


class _FixedVarianceScaling(VarianceScaling):
    """A named VarianceScaling preset; only the seed is configurable."""

    _PRESET: tuple[float, str, str] = (1.0, "fan_in", "truncated_normal")

    def __init__(self, seed: int | None = None) -> None:
        scale, mode, distribution = self._PRESET
        super().__init__(scale=scale, mode=mode, distribution=distribution, seed=seed)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


@INITIALIZERS.register()
class GlorotUniform(_FixedVarianceScaling):
    """Glorot (Xavier) uniform: `U(-limit, limit)` with `limit = sqrt(6 / (fan_in + fan_out))`.

    Args: `seed`, an integer for repeatable values, or None. Example: `GlorotUniform(seed=1)((784, 128))`.
    """

    _PRESET = (1.0, "fan_avg", "uniform")


@INITIALIZERS.register()
class GlorotNormal(_FixedVarianceScaling):
    """Glorot (Xavier) normal: truncated normal with std `sqrt(2 / (fan_in + fan_out))`.

    Args: `seed`, an integer for repeatable values, or None. Example: `GlorotNormal(seed=1)((784, 128))`.
    """

    _PRESET = (1.0, "fan_avg", "truncated_normal")


@INITIALIZERS.register()
class HeUniform(_FixedVarianceScaling):
    """He uniform: `U(-limit, limit)` with `limit = sqrt(6 / fan_in)`.

    Args: `seed`, an integer for repeatable values, or None. Example: `HeUniform(seed=1)((784, 128))`.
    """

    _PRESET = (2.0, "fan_in", "uniform")


@INITIALIZERS.register()
class HeNormal(_FixedVarianceScaling):
    """He normal: truncated normal with std `sqrt(2 / fan_in)`.

    Args: `seed`, an integer for repeatable values, or None. Example: `HeNormal(seed=1)((784, 128))`.
    """

    _PRESET = (2.0, "fan_in", "truncated_normal")


@INITIALIZERS.register()
class LecunUniform(_FixedVarianceScaling):
    """LeCun uniform: `U(-limit, limit)` with `limit = sqrt(3 / fan_in)`.

    Args: `seed`, an integer for repeatable values, or None. Example: `LecunUniform(seed=1)((784, 128))`.
    """

    _PRESET = (1.0, "fan_in", "uniform")


@INITIALIZERS.register()
class LecunNormal(_FixedVarianceScaling):
    """LeCun normal: truncated normal with std `sqrt(1 / fan_in)` (pairs with `selu`).

    Args: `seed`, an integer for repeatable values, or None. Example: `LecunNormal(seed=1)((784, 128))`.
    """

    _PRESET = (1.0, "fan_in", "truncated_normal")


@INITIALIZERS.register("OrthogonalInitializer")
class Orthogonal(_RandomInitializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal sample, times `gain`.

    Shapes of rank > 2 are flattened to `(prod(shape[:-1]), shape[-1])`. With fewer rows than
    columns the rows are orthonormal, otherwise the columns are.

    Args:
        gain: Multiplicative factor.
        seed: Integer for repeatable values (the same on every call), or None.

    Example:
        >>> q = Orthogonal(seed=0)((4, 4))
        >>> bool(torch.allclose(q.T @ q, torch.eye(4), atol=1e-5))
        True
    """

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> torch.Tensor:
        shape, dtype = _shape(shape), _dtype(dtype)
        if len(shape) < 2:
            raise ValueError("The tensor to initialize must be at least two-dimensional. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        if not dtype.is_floating_point:
            raise ValueError(f"Orthogonal needs a floating dtype, got {dtype}; pass e.g. dtype='float32'.")
        work = torch.float64 if dtype == torch.float64 else torch.float32  # QR in at least float32
        a = self._normal((max(rows, cols), min(rows, cols)), work, 0.0, 1.0)
        q, r = torch.linalg.qr(a)
        q = q * torch.sign(torch.diagonal(r))  # makes the result uniform over orthogonal matrices
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).to(dtype)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, **super().get_config()}
