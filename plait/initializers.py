"""Weight initializers under Keras 3's names and defaults; each returns a torch tensor on the CPU.

Shapes follow Keras's layout (a Dense kernel is `(in, out)`, a conv kernel `(*kernel_size, in, out)`),
because fan-in and fan-out are read from it exactly as Keras's `compute_fans` does. A layer that
stores its weight in torch's layout draws in Keras's layout and then permutes.

Seeds: an initializer built with an integer `seed` returns the same values on every call (as in
Keras 3). An unseeded one draws from torch's global generator, so every call gives new values and
`plait.set_random_seed` makes a whole run repeatable. (Deliberate difference: an unseeded Keras 3
initializer fixes a hidden seed at construction and repeats its values on every call.)
"""
from __future__ import annotations

import math
import numbers
import operator
from typing import Any, Callable, Sequence

import numpy as np
import torch

from plait import config
from plait.registry import Registry

INITIALIZERS: Registry[type] = Registry("initializer")

# Std of a standard normal truncated to [-2, 2]; dividing by it gives the untruncated
# stddev that yields the wanted std after truncation (Keras's constant).
_TRUNCATION_STD = 0.87962566103423978

__all__ = [
    "INITIALIZERS", "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity",
    "Initializer", "LecunNormal", "LecunUniform", "Ones", "Orthogonal", "RandomNormal", "RandomUniform",
    "TruncatedNormal", "VarianceScaling", "Zeros", "compute_fans", "deserialize", "get", "serialize",
]


def compute_fans(shape: Sequence[int]) -> tuple[int, int]:
    """Returns `(fan_in, fan_out)` for a weight shape, exactly as Keras computes them.

    Rank 0: `(1, 1)`; rank 1: `(n, n)`; rank 2 `(in, out)`: `(in, out)`; rank > 2 (conv kernels,
    `(*kernel_size, in, out)`): both multiplied by the receptive field `prod(shape[:-2])`.

    Example:
        >>> compute_fans((3, 3, 16, 32))
        (144, 288)
    """
    shape = tuple(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    receptive_field = math.prod(shape[:-2])
    return int(shape[-2] * receptive_field), int(shape[-1] * receptive_field)


def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise ValueError(f"Initializer shape must be a tuple of non-negative integers, got {shape!r}; "
                         "pass a fully defined shape such as (784, 128).") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"Initializer shape must have non-negative dimensions, got {shape!r}.")
    return dims


def _dtype(dtype: Any) -> torch.dtype:
    if dtype is None:
        return config.float_dtype()
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str) and isinstance(getattr(torch, dtype, None), torch.dtype):
        return getattr(torch, dtype)
    try:
        return torch.from_numpy(np.empty(0, dtype=np.dtype(dtype))).dtype
    except (TypeError, ValueError):
        raise ValueError(f"Unknown dtype {dtype!r}; pass a torch dtype or a name such as 'float32'.") from None


def _check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"`seed` must be an integer or None, got {seed!r} of type {type(seed).__name__}.")
    return int(seed)


class Initializer:
    """Base class: `initializer(shape, dtype=None)` returns a new tensor of that shape.

    Subclasses implement `__call__` and, when they take arguments, `get_config`.

    Example:
        >>> class Twos(Initializer):
        ...     def __call__(self, shape, dtype=None):
        ...         return torch.full(shape, 2.0)
        >>> Twos()((2,)).tolist()
        [2.0, 2.0]
    """

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(shape, dtype=None).")

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-friendly (`from_config` rebuilds the initializer)."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Initializer":
        return cls(**config)

    def clone(self) -> "Initializer":
        return self.__class__.from_config(self.get_config())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _RandomInitializer(Initializer):
    def __init__(self, seed: int | None = None) -> None:
        self.seed = _check_seed(seed)

    def _generator(self) -> torch.Generator | None:
        # A fresh generator per call is what makes a seeded initializer repeat itself.
        if self.seed is None:
            return None
        return torch.Generator(device="cpu").manual_seed(self.seed)

    @staticmethod
    def _empty(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        if not dtype.is_floating_point:
            raise ValueError(f"Random initializers need a floating dtype, got {dtype}; pass e.g. dtype='float32'.")
        # Half-precision sampling is coarse (and partly unsupported on CPU): draw in float32, cast after.
        return torch.empty(shape, dtype=torch.float64 if dtype == torch.float64 else torch.float32)

    def _normal(self, shape, dtype, mean: float, stddev: float) -> torch.Tensor:
        t = self._empty(shape, dtype)
        return t.normal_(mean, stddev, generator=self._generator()).to(dtype)

    def _truncated_normal(self, shape, dtype, mean: float, stddev: float) -> torch.Tensor:
        t = self._empty(shape, dtype)
        torch.nn.init.trunc_normal_(t, mean, stddev, mean - 2 * stddev, mean + 2 * stddev,
                                    generator=self._generator())
        return t.to(dtype)

    def _uniform(self, shape, dtype, minval: float, maxval: float) -> torch.Tensor:
        t = self._empty(shape, dtype)
        return t.uniform_(minval, maxval, generator=self._generator()).to(dtype)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


class _MeanStddev(_RandomInitializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


@INITIALIZERS.register("zero")
class Zeros(Initializer):
    """Fills with 0. Example: `Zeros()((2, 2))` is a 2x2 tensor of zeros."""

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> torch.Tensor:
        return torch.zeros(_shape(shape), dtype=_dtype(dtype))


@INITIALIZERS.register("one")
class Ones(Initializer):
    """Fills with 1. Example: `Ones()((2,))` is `tensor([1., 1.])`."""

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> torch.Tensor:
        return torch.ones(_shape(shape), dtype=_dtype(dtype))


@INITIALIZERS.register()
class Constant(Initializer):
    """Fills with `value` (a scalar, or an array that broadcasts to the requested shape).

    Args:
        value: The fill value.

    Example:
        >>> Constant(3.0)((2,)).tolist()
        [3.0, 3.0]
    """

    def __init__(self, value: Any = 0.0) -> None:
        if isinstance(value, (torch.Tensor, np.ndarray, np.generic)):
            value = value.tolist()  # keeps the config JSON-friendly
        self.value = value

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> torch.Tensor:
        shape, dtype = _shape(shape), _dtype(dtype)
        value = torch.as_tensor(self.value, dtype=dtype)
        try:
            return torch.broadcast_to(value, shape).clone()
        except RuntimeError:
            raise ValueError(f"Constant value of shape {tuple(value.shape)} cannot fill a tensor of shape {shape}; "
                             "pass a scalar or an array that broadcasts to that shape.") from None

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


@INITIALIZERS.register("IdentityInitializer")
class Identity(Initializer):
    """`gain` times the identity matrix; 2-D shapes only (non-square gives a rectangular eye).

    Args:
        gain: Multiplicative factor.

    Example:
        >>> Identity(gain=2.0)((2, 2)).tolist()
        [[2.0, 0.0], [0.0, 2.0]]
    """

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> torch.Tensor:
        shape, dtype = _shape(shape), _dtype(dtype)
        if len(shape) != 2:
            raise ValueError("Identity matrix initializer can only be used for 2D matrices. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        return (self.gain * torch.eye(*shape, dtype=torch.float64)).to(dtype)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


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


def get(identifier: Any) -> Initializer | Callable[..., Any] | None:
    """Resolves an initializer identifier.

    Args:
        identifier: `None`, a string id (`"glorot_uniform"`, `"GlorotUniform"`, `"zeros"`,
            `"uniform"`, ...), a config dict, an `Initializer` class (instantiated with defaults),
            an instance, or any callable `(shape, dtype=None) -> tensor`.

    Returns:
        An initializer (or `None` for `None`).

    Example:
        >>> get("he_normal")
        HeNormal(seed=None)
    """
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if isinstance(identifier, type):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r} (of type "
                     f"{type(identifier).__name__}). Pass a string id such as 'glorot_uniform', an Initializer, "
                     "or a config dict.")


def serialize(initializer: Initializer) -> dict[str, Any]:
    """Returns a Keras-style config dict: `{"module", "class_name", "config", "registered_name"}`."""
    if not isinstance(initializer, Initializer):
        raise ValueError(f"Cannot serialize initializer {initializer!r}: only Initializer instances carry a "
                         "config. Subclass plait.initializers.Initializer and implement get_config().")
    cls = type(initializer)
    registered = cls.__name__ in INITIALIZERS and INITIALIZERS.lookup(cls.__name__) is cls
    return {"module": cls.__module__, "class_name": cls.__name__, "config": initializer.get_config(),
            "registered_name": None if registered else cls.__name__}


def deserialize(config: str | dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Initializer:
    """Rebuilds an initializer from a string id or a config dict written by `serialize` (or Keras)."""
    custom_objects = custom_objects or {}
    if isinstance(config, str):
        name, kwargs = config, {}
    elif isinstance(config, dict) and "class_name" in config:
        name, kwargs = config["class_name"], dict(config.get("config") or {})
    else:
        raise ValueError(f"Cannot deserialize initializer config {config!r}: expected a string id or a dict "
                         "with 'class_name' and 'config' keys.")
    cls = custom_objects.get(name) or INITIALIZERS.lookup(name)
    if isinstance(cls, type):
        return cls.from_config(kwargs) if hasattr(cls, "from_config") else cls(**kwargs)
    return cls
