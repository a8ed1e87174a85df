"""Dropout: randomly zeroes inputs while training, scaling the rest by 1/(1-rate)."""
from __future__ import annotations

from typing import Any

import torch

from plait.layers.layer import LAYERS, Layer


@LAYERS.register()
class Dropout(Layer):
    """Sets a fraction `rate` of inputs to 0 during training only (inverted dropout, as Keras).

    Args:
        rate: Fraction of inputs to drop, in [0, 1).
        noise_shape: Shape of the binary mask (broadcast to the input), e.g. `(None, 1, features)`.
        seed: Optional seed for a private generator, so the masks repeat.

    Example:
        >>> Dropout(0.5)(torch.ones(2, 4), training=False)
        tensor([[1., 1., 1., 1.],
                [1., 1., 1., 1.]])
    """

    def __init__(self, rate: float, noise_shape: Any = None, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"Dropout rate must be a number in [0, 1), got {rate!r}.")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._generator: torch.Generator | None = None

    def call(self, inputs: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        if not training or self.rate == 0:
            return inputs
        if self.noise_shape is None and self.seed is None:
            return torch.nn.functional.dropout(inputs, self.rate, True)
        shape = inputs.shape if self.noise_shape is None else [
            inputs.shape[i] if d is None else d for i, d in enumerate(self.noise_shape)]
        if self.seed is not None and self._generator is None:
            self._generator = torch.Generator(device=inputs.device).manual_seed(self.seed)
        keep = torch.rand(shape, device=inputs.device, generator=self._generator) >= self.rate
        return inputs * keep.to(inputs.dtype) / (1.0 - self.rate)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape), "seed": self.seed}
