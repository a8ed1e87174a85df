"""Dropout and SpatialDropout1D/2D/3D: randomly zero inputs while training, scaling the rest by 1/(1-rate).

`RandomLayer` is the base of every layer that draws random numbers in training (these and the noise layers):
with a `seed` it draws from a private generator, so its masks repeat from run to run.
"""
from __future__ import annotations

from typing import Any

import torch

from plait.layers.conv_utils import check_rank, normalize_data_format
from plait.layers.layer import LAYERS, Layer


def check_rate(layer: str, rate: Any) -> float:
    """`rate` as a float in [0, 1), else a ValueError naming `layer`."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise ValueError(f"{layer} rate must be a number in [0, 1), got {rate!r}.")
    return float(rate)


def resolve_noise_shape(noise_shape: tuple | None, inputs: torch.Tensor) -> list[int] | None:
    """A mask shape for `inputs` (None: one draw per value); `None` entries take the input's size."""
    if noise_shape is None:
        return None
    return [inputs.shape[i] if d is None else d for i, d in enumerate(noise_shape)]


class RandomLayer(Layer):
    """A layer that is random in training only; the output shape is the input's."""

    supports_masking = True  # elementwise: a mask passes on unchanged

    def __init__(self, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"{type(self).__name__} seed must be an int or None, got {seed!r}.")
        self.seed = seed
        self._generator: torch.Generator | None = None

    def _generator_for(self, device: torch.device) -> torch.Generator | None:
        """The private generator of a seeded layer (on the inputs' device), None to use torch's global one."""
        if self.seed is None:
            return None
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device=device).manual_seed(self.seed)
        return self._generator

    def _uniform(self, shape: Any, like: torch.Tensor) -> torch.Tensor:
        return torch.rand(shape, device=like.device, dtype=like.dtype, generator=self._generator_for(like.device))

    def _normal(self, shape: Any, like: torch.Tensor) -> torch.Tensor:
        return torch.randn(shape, device=like.device, dtype=like.dtype, generator=self._generator_for(like.device))

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "seed": self.seed}


@LAYERS.register()
class Dropout(RandomLayer):
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
        super().__init__(seed=seed, **kwargs)
        self.rate = check_rate(type(self).__name__, rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def _mask_shape(self, inputs: torch.Tensor) -> list[int] | None:
        return resolve_noise_shape(self.noise_shape, inputs)

    def call(self, inputs: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        if not training or self.rate == 0:
            return inputs
        shape = self._mask_shape(inputs)
        if shape is None and self.seed is None:
            return torch.nn.functional.dropout(inputs, self.rate, True)
        keep = self._uniform(inputs.shape if shape is None else shape, inputs) >= self.rate
        return inputs * keep.to(inputs.dtype) / (1.0 - self.rate)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape)}


class BaseSpatialDropout(Dropout):
    """Drops whole channels: one draw per sample and channel, shared over the `rank` spatial axes."""

    rank = 1

    def __init__(self, rate: float, data_format: str | None = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(rate, seed=seed, **kwargs)
        self.data_format = normalize_data_format(data_format)

    def _mask_shape(self, inputs: torch.Tensor) -> list[int]:
        check_rank(self, inputs.shape, self.rank)
        channels = inputs.shape[-1] if self.data_format == "channels_last" else inputs.shape[1]
        ones = [1] * self.rank
        return [inputs.shape[0], *ones, channels] if self.data_format == "channels_last" else \
            [inputs.shape[0], channels, *ones]

    def get_config(self) -> dict[str, Any]:
        config_ = super().get_config()
        del config_["noise_shape"]  # fixed by the layout, not an argument
        return {**config_, "data_format": self.data_format}


@LAYERS.register()
class SpatialDropout1D(BaseSpatialDropout):
    """Dropout of whole feature channels of `(batch, steps, channels)`, in training only.

    Args:
        rate: Fraction of channels to drop, in [0, 1).
        seed: Optional seed for a private generator.

    Example:
        >>> out = SpatialDropout1D(0.5, seed=1)(torch.ones(2, 4, 3), training=True)
        >>> bool(((out == 0).all(dim=1) | (out != 0).all(dim=1)).all())  # a channel is kept or dropped whole
        True
    """

    rank = 1

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(rate, seed=seed, **kwargs)

    def get_config(self) -> dict[str, Any]:
        config_ = super().get_config()
        del config_["data_format"]  # Keras's SpatialDropout1D is channels-last only
        return config_


@LAYERS.register()
class SpatialDropout2D(BaseSpatialDropout):
    """Dropout of whole feature maps of images `(batch, height, width, channels)`, in training only.

    Args:
        rate: Fraction of channels to drop, in [0, 1).
        data_format: 'channels_last' (default) or 'channels_first'.
        seed: Optional seed for a private generator.

    Example:
        >>> SpatialDropout2D(0.5)(torch.ones(2, 4, 4, 3)).shape  # a direct call is inference: unchanged
        torch.Size([2, 4, 4, 3])
    """

    rank = 2


@LAYERS.register()
class SpatialDropout3D(BaseSpatialDropout):
    """Dropout of whole feature volumes of `(batch, depth, height, width, channels)`, in training only.

    Args: as `SpatialDropout2D`.

    Example:
        >>> SpatialDropout3D(0.2)(torch.ones(1, 2, 2, 2, 3)).shape
        torch.Size([1, 2, 2, 2, 3])
    """

    rank = 3
