"""`plait.random`: Keras 3's `keras.random` (random tensors and `SeedGenerator`) on torch's generators.

Every function takes Keras's `seed`:

- an int: stateless, the same numbers on every call with that seed;
- a `SeedGenerator`: new numbers on every call, and the same sequence for a generator built with the same seed;
- `None`: torch's global generator, so `plait.set_random_seed` makes a whole run repeatable.

Seeded draws use a private `torch.Generator` on plait's device and never disturb the global one. The same seed
gives the same numbers on one kind of device; a CPU and a GPU give different (equally valid) numbers.

Example:
    >>> from plait import random
    >>> bool((random.normal((2, 3), seed=7) == random.normal((2, 3), seed=7)).all())
    True
    >>> gen = random.SeedGenerator(42)
    >>> bool((random.uniform((3,), seed=gen) == random.uniform((3,), seed=gen)).all())
    False
"""
from __future__ import annotations

import random as _py_random
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from plait import config
from plait.ops.core import standardize_dtype, to_tensor

__all__ = ["SeedGenerator", "beta", "binomial", "categorical", "dropout", "gamma", "normal", "randint", "shuffle",
           "truncated_normal", "uniform"]

_MAX_SEED = 2**63 - 1


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, a SeedGenerator or None, got {seed!r}.")
    return int(seed)


class SeedGenerator:
    """A seed that advances on every draw, so seeded ops give new numbers on each call yet repeat across runs.

    Args:
        seed: The initial seed (a non-negative int). `None` draws one from Python's `random`, which
            `plait.set_random_seed` seeds, as Keras does.
        name: Optional name.

    `state` is `[seed, counter]` (an int64 tensor that a layer may keep as a buffer, so that saving and loading
    resumes the sequence); each draw uses the pair and increments the counter.

    Example:
        >>> gen = SeedGenerator(1)
        >>> gen.next(), gen.next()
        ((1, 0), (1, 1))
    """

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(f"SeedGenerator got unexpected arguments {sorted(kwargs)}; it takes seed and name.")
        self._initial_seed = seed
        seed = _py_random.randint(1, 2**31 - 1) if seed is None else _check_seed(seed)
        self.name = name or "seed_generator"
        self.state = torch.tensor([seed, 0], dtype=torch.int64)

    def next(self, ordered: bool = True) -> tuple[int, int]:
        """The `(seed, counter)` pair for one draw, and advances the counter. (`ordered`: Keras's, unused.)"""
        seed, counter = (int(v) for v in self.state.tolist())
        self.state[1] = counter + 1
        return seed, counter

    def get_config(self) -> dict[str, Any]:
        """Keras's config: the initial seed."""
        return {"seed": self._initial_seed}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "SeedGenerator":
        return cls(**config)

    def __repr__(self) -> str:
        seed, counter = self.state.tolist()
        return f"<SeedGenerator name={self.name!r} seed={seed} draws={counter}>"


def _generator(seed: Any, device: torch.device) -> torch.Generator | None:
    """The generator for one draw: None (torch's global one) for `seed=None`, else a fresh private one."""
    if seed is None:
        return None
    if isinstance(seed, SeedGenerator):
        words = seed.next()
    else:
        words = (_check_seed(seed), 0)
    # SeedSequence mixes the pair, so (seed, draw) pairs that sum alike (1, 1) and (2, 0) give unrelated streams.
    mixed = int(np.random.SeedSequence(list(words)).generate_state(1, np.uint64)[0]) & _MAX_SEED
    return torch.Generator(device=device).manual_seed(mixed)


def _shape(shape: Any) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


def _float_dtype(dtype: Any, fn: str) -> torch.dtype:
    torch_dtype = standardize_dtype(dtype) or config.float_dtype()
    if not torch_dtype.is_floating_point:
        raise ValueError(f"random.{fn} draws floats; got dtype={dtype!r}. Use random.randint for integers.")
    return torch_dtype


def normal(shape: Sequence[int], mean: float = 0.0, stddev: float = 1.0, dtype: Any = None,
           seed: Any = None) -> torch.Tensor:
    """Samples from a normal distribution `N(mean, stddev**2)` (`floatx` by default)."""
    device = config.get_device()
    out = torch.empty(_shape(shape), dtype=_float_dtype(dtype, "normal"), device=device)
    return out.normal_(mean, stddev, generator=_generator(seed, device))


def uniform(shape: Sequence[int], minval: float = 0.0, maxval: float = 1.0, dtype: Any = None,
            seed: Any = None) -> torch.Tensor:
    """Samples uniformly from `[minval, maxval)` (`floatx` by default)."""
    device = config.get_device()
    out = torch.empty(_shape(shape), dtype=_float_dtype(dtype, "uniform"), device=device)
    return out.uniform_(minval, maxval, generator=_generator(seed, device))


def randint(shape: Sequence[int], minval: int, maxval: int, dtype: Any = "int32", seed: Any = None) -> torch.Tensor:
    """Samples integers uniformly from `[minval, maxval)`."""
    device = config.get_device()
    return torch.randint(int(minval), int(maxval), _shape(shape), generator=_generator(seed, device),
                         dtype=standardize_dtype(dtype), device=device)


def truncated_normal(shape: Sequence[int], mean: float = 0.0, stddev: float = 1.0, dtype: Any = None,
                     seed: Any = None) -> torch.Tensor:
    """Samples from `N(mean, stddev**2)` restricted to within two standard deviations of the mean (exactly that
    distribution, by inverse-CDF sampling: nothing is clipped)."""
    device = config.get_device()
    out = torch.empty(_shape(shape), dtype=_float_dtype(dtype, "truncated_normal"), device=device)
    torch.nn.init.trunc_normal_(out, 0.0, 1.0, -2.0, 2.0, generator=_generator(seed, device))
    return out.mul_(stddev).add_(mean)


def dropout(inputs: Any, rate: float, noise_shape: Sequence[int | None] | None = None,
            seed: Any = None) -> torch.Tensor:
    """Zeroes each element with probability `rate` and scales the rest by `1 / (1 - rate)`.

    `noise_shape` (None entries: the input's size) shares one keep/drop decision across the axes of size 1.
    """
    x = to_tensor(inputs)
    if not 0 <= rate <= 1:
        raise ValueError(f"dropout rate must be in [0, 1], got {rate!r}.")
    if rate == 1:
        return torch.zeros_like(x)
    if rate == 0:
        return x
    if seed is None and noise_shape is None:
        return F.dropout(x, rate, training=True)  # torch's fused kernel, on the global generator
    shape = x.shape if noise_shape is None else [x.shape[i] if d is None else int(d) for i, d in
                                                 enumerate(noise_shape)]
    keep = torch.empty(shape, device=x.device).uniform_(generator=_generator(seed, x.device)) >= rate
    return x * keep.to(x.dtype) / (1.0 - rate)


def shuffle(x: Any, axis: int = 0, seed: Any = None) -> torch.Tensor:
    """`x` with its slices along `axis` in a random order."""
    x = to_tensor(x)
    order = torch.randperm(x.shape[axis], generator=_generator(seed, x.device), device=x.device)
    return torch.index_select(x, axis, order)


def categorical(logits: Any, num_samples: int, dtype: Any = "int32", seed: Any = None) -> torch.Tensor:
    """`num_samples` class ids per row of `logits` `(batch, num_classes)`, drawn with probabilities
    `softmax(logits)` (with replacement)."""
    x = to_tensor(logits)
    if x.ndim != 2:
        raise ValueError(f"categorical needs logits of shape (batch, num_classes), got {tuple(x.shape)}.")
    probs = torch.softmax(x.float(), dim=-1)
    draws = torch.multinomial(probs, num_samples, replacement=True, generator=_generator(seed, x.device))
    return draws.to(standardize_dtype(dtype))


def _broadcast(value: Any, shape: Sequence[int], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.broadcast_to(to_tensor(value, dtype, device=device).to(device), _shape(shape))


def gamma(shape: Sequence[int], alpha: Any, dtype: Any = None, seed: Any = None) -> torch.Tensor:
    """Samples from the gamma distribution of shape `alpha` (scale 1), `alpha` broadcast to `shape`."""
    device = config.get_device()
    concentration = _broadcast(alpha, shape, _float_dtype(dtype, "gamma"), device)
    return torch._standard_gamma(concentration, generator=_generator(seed, device))


def beta(shape: Sequence[int], alpha: Any, beta: Any, dtype: Any = None, seed: Any = None) -> torch.Tensor:
    """Samples from the beta distribution `Beta(alpha, beta)` (both broadcast to `shape`), as `X / (X + Y)` of
    gamma draws `X ~ Gamma(alpha)`, `Y ~ Gamma(beta)`."""
    device, torch_dtype = config.get_device(), _float_dtype(dtype, "beta")
    generator = _generator(seed, device)
    x = torch._standard_gamma(_broadcast(alpha, shape, torch_dtype, device), generator=generator)
    y = torch._standard_gamma(_broadcast(beta, shape, torch_dtype, device), generator=generator)
    return x / (x + y)


def binomial(shape: Sequence[int], counts: Any, probabilities: Any, dtype: Any = None,
             seed: Any = None) -> torch.Tensor:
    """Samples the number of successes in `counts` trials of probability `probabilities` (both broadcast)."""
    device, torch_dtype = config.get_device(), _float_dtype(dtype, "binomial")
    return torch.binomial(_broadcast(counts, shape, torch_dtype, device),
                          _broadcast(probabilities, shape, torch_dtype, device), generator=_generator(seed, device))
