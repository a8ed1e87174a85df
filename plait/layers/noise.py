"""Noise layers, active in training only: GaussianNoise, GaussianDropout and AlphaDropout (Keras's formulas)."""
from __future__ import annotations

import math
from typing import Any

import torch

from plait.layers.dropout import RandomLayer, check_rate, resolve_noise_shape
from plait.layers.layer import LAYERS

# SELU's constants: AlphaDropout keeps a SELU network's mean and variance.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@LAYERS.register()
class GaussianNoise(RandomLayer):
    """Adds zero-centred Gaussian noise of standard deviation `stddev`, in training only (a regularizer).

    Args:
        stddev: Standard deviation of the noise (non-negative).
        seed: Optional seed for a private generator.

    Example:
        >>> x = torch.zeros(1000, 10)
        >>> round(GaussianNoise(0.5, seed=0)(x, training=True).std().item(), 1)
        0.5
        >>> bool((GaussianNoise(0.5)(x) == 0).all())  # a direct call is inference
        True
    """

    def __init__(self, stddev: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, (int, float)) or stddev < 0:
            raise ValueError(f"GaussianNoise stddev must be a non-negative number, got {stddev!r}.")
        self.stddev = float(stddev)

    def call(self, inputs: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        if not training or self.stddev == 0:
            return inputs
        return inputs + self.stddev * self._normal(inputs.shape, inputs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "stddev": self.stddev}


@LAYERS.register()
class GaussianDropout(RandomLayer):
    """Multiplies inputs by Gaussian noise of mean 1 and standard deviation `sqrt(rate / (1 - rate))`, in training.

    Args:
        rate: Drop probability it mimics, in [0, 1).
        seed: Optional seed for a private generator.

    Example:
        >>> out = GaussianDropout(0.2, seed=0)(torch.ones(4000, 10), training=True)
        >>> round(out.mean().item(), 1), round(out.std().item(), 1)  # sqrt(0.2 / 0.8) = 0.5
        (1.0, 0.5)
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.rate = check_rate("GaussianDropout", rate)

    def call(self, inputs: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        if not training or self.rate == 0:
            return inputs
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        return inputs * (1.0 + stddev * self._normal(inputs.shape, inputs))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate}


@LAYERS.register()
class AlphaDropout(RandomLayer):
    """Dropout for SELU networks: dropped values go to SELU's negative saturation and an affine map keeps the
    mean and variance of the inputs, in training only.

    Args:
        rate: Fraction of inputs to drop, in [0, 1).
        noise_shape: Shape of the mask (broadcast to the input; None entries take the input's size).
        seed: Optional seed for a private generator.

    Example:
        >>> out = AlphaDropout(0.1, seed=0)(torch.randn(4000, 50, generator=torch.Generator().manual_seed(0)),
        ...                                 training=True)
        >>> abs(out.mean().item()) < 0.05, round(out.std().item(), 1)  # mean and variance kept
        (True, 1.0)
    """

    def __init__(self, rate: float, noise_shape: Any = None, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.rate = check_rate("AlphaDropout", rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def call(self, inputs: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        if not training or self.rate == 0:
            return inputs
        shape = resolve_noise_shape(self.noise_shape, inputs) or inputs.shape
        kept = (self._uniform(shape, inputs) >= self.rate).to(inputs.dtype)
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        return a * (inputs * kept + alpha_p * (1 - kept)) + b

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape)}
