"""The initializer base classes, Keras's fan computation, the registry and get/serialize/deserialize (through it)."""
from __future__ import annotations

import math
import operator
from typing import Any, Callable, Sequence

import numpy as np
import torch

from plait import config
from plait.registry import Registry, instance_or_function

# Std of a standard normal truncated to [-2, 2]; dividing by it gives the untruncated
# stddev that yields the wanted std after truncation (Keras's constant).
_TRUNCATION_STD = 0.87962566103423978

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
    if isinstance(dtype, str):
        return config.dtype_from_name(dtype)  # an allow-list: no string reaches getattr(torch, ...)
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


INITIALIZERS: Registry[type] = Registry(
    "initializer", base=Initializer, wrap=instance_or_function, error=ValueError,
    hint="Pass a string id such as 'glorot_uniform', an Initializer, or a config dict.")


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
    return INITIALIZERS.get(identifier)


def serialize(initializer: Initializer) -> dict[str, Any]:
    """Returns a Keras-style config dict: `{"module", "class_name", "config", "registered_name"}`."""
    return INITIALIZERS.serialize(initializer)


def deserialize(config: str | dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Initializer:
    """Rebuilds an initializer from a string id or a config dict written by `serialize` (or Keras)."""
    return INITIALIZERS.deserialize(config, custom_objects)
