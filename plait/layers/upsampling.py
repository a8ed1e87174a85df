"""UpSampling1D/2D/3D: repeat each step, pixel or voxel `size` times along the spatial axes (2-D: or bilinear)."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from plait.layers.conv_utils import (check_rank, from_channels_first, normalize_data_format, normalize_tuple,
                                     spatial_axes, to_channels_first)
from plait.layers.layer import LAYERS, Layer


class BaseUpSampling(Layer):
    """Nearest-neighbour upsampling by integer factors `size` over `rank` spatial axes."""

    rank = 1

    def __init__(self, size: Any, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.factors = normalize_tuple(size, self.rank, "size")
        self.size: Any = self.factors
        self.data_format = normalize_data_format(data_format)

    def _spatial_axes(self) -> range:
        return spatial_axes(self.data_format, self.rank)

    def build(self, input_shape: Any) -> None:
        check_rank(self, input_shape, self.rank)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        # repeat_interleave is nearest-neighbour upsampling exactly, in either layout, with no interpolation.
        for axis, factor in zip(self._spatial_axes(), self.factors):
            if factor != 1:
                inputs = inputs.repeat_interleave(factor, dim=axis)
        return inputs

    def compute_output_shape(self, input_shape: Any) -> tuple:
        out = list(input_shape)
        for axis, factor in zip(self._spatial_axes(), self.factors):
            out[axis] = None if out[axis] is None else out[axis] * factor
        return tuple(out)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": list(self.factors), "data_format": self.data_format}


@LAYERS.register()
class UpSampling1D(BaseUpSampling):
    """Repeats each step `size` times: `(batch, steps, features)` -> `(batch, steps * size, features)`.

    Args:
        size: The upsampling factor.

    Example:
        >>> UpSampling1D(2)(torch.tensor([[[1.0], [2.0]]])).squeeze(-1)
        tensor([[1., 1., 2., 2.]])
    """

    rank = 1

    def __init__(self, size: int = 2, **kwargs: Any) -> None:
        super().__init__(size, **kwargs)
        self.size = self.factors[0]  # an int, as Keras's

    def get_config(self) -> dict[str, Any]:
        config_ = super().get_config()
        config_["size"] = self.size  # Keras's UpSampling1D has an int size and no data_format
        del config_["data_format"]
        return config_


@LAYERS.register()
class UpSampling2D(BaseUpSampling):
    """Upsamples images `(batch, height, width, channels)` by `size`, nearest-neighbour or bilinear.

    Args:
        size: An int or (rows, cols) factor.
        data_format: 'channels_last' (default) or 'channels_first'.
        interpolation: 'nearest' (repeats pixels) or 'bilinear' (half-pixel centres, no corner alignment,
            as Keras's image resize).

    Example:
        >>> UpSampling2D((2, 3))(torch.ones(1, 4, 4, 3)).shape
        torch.Size([1, 8, 12, 3])
    """

    rank = 2
    interpolations = ("nearest", "bilinear")

    def __init__(self, size: Any = (2, 2), data_format: str | None = None, interpolation: str = "nearest",
                 **kwargs: Any) -> None:
        super().__init__(size, data_format, **kwargs)
        if interpolation not in self.interpolations:
            raise ValueError(f"UpSampling2D interpolation must be one of {self.interpolations}, got "
                             f"{interpolation!r}.")
        self.interpolation = interpolation

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.interpolation == "nearest":
            return super().call(inputs)
        x = to_channels_first(inputs, self.data_format)
        out = F.interpolate(x, scale_factor=self.factors, mode="bilinear", align_corners=False)
        return from_channels_first(out, self.data_format)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "interpolation": self.interpolation}


@LAYERS.register()
class UpSampling3D(BaseUpSampling):
    """Repeats each voxel of `(batch, depth, height, width, channels)` by `size` along the three axes.

    Args:
        size: An int or three factors.
        data_format: 'channels_last' (default) or 'channels_first'.

    Example:
        >>> UpSampling3D()(torch.ones(1, 2, 3, 4, 1)).shape
        torch.Size([1, 4, 6, 8, 1])
    """

    rank = 3

    def __init__(self, size: Any = (2, 2, 2), data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(size, data_format, **kwargs)
