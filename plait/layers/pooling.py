"""Pooling layers: max and average pooling (1-D, 2-D) and global pooling, channels-last by default."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from plait.layers.conv_utils import (check_output_size, from_channels_first, normalize_data_format,
                                     normalize_padding, normalize_tuple, output_length, pad_same, to_channels_first)
from plait.layers.layer import LAYERS, Layer


class BasePooling(Layer):
    """Max or average pooling over `rank` spatial dims; 'same' padding never counts padded values."""

    rank = 2
    mode = "max"

    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size")
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, self.rank, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format)

    def build(self, input_shape: Any) -> None:
        if len(input_shape) == self.rank + 2:
            check_output_size(self, input_shape, self.pool_size)
        super().build(input_shape)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        x = to_channels_first(inputs, self.data_format)
        ones = (1,) * self.rank
        pool = F.max_pool1d if self.rank == 1 else F.max_pool2d
        avg = F.avg_pool1d if self.rank == 1 else F.avg_pool2d
        if self.mode == "max":
            if self.padding == "same":
                x = pad_same(x, self.pool_size, self.strides, ones, value=float("-inf"))
            out = pool(x, self.pool_size, self.strides)
        elif self.padding == "same":
            # Average only over real values, as TensorFlow does: pooled sum of x over pooled count of ones.
            mask = torch.ones_like(x[:1, :1])
            total = avg(pad_same(x, self.pool_size, self.strides, ones), self.pool_size, self.strides)
            count = avg(pad_same(mask, self.pool_size, self.strides, ones), self.pool_size, self.strides)
            out = total / count
        else:
            out = avg(x, self.pool_size, self.strides)
        return from_channels_first(out, self.data_format)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        last = self.data_format == "channels_last"
        spatial = input_shape[1:-1] if last else input_shape[2:]
        out = tuple(output_length(s, k, st, self.padding) for s, k, st in zip(spatial, self.pool_size, self.strides))
        return (input_shape[0],) + out + (input_shape[-1],) if last else (input_shape[0], input_shape[1]) + out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format}


@LAYERS.register("MaxPool1D")
class MaxPooling1D(BasePooling):
    """Max over windows of `pool_size` steps. Example: `MaxPooling1D(2)` halves the steps."""

    rank, mode = 1, "max"


@LAYERS.register("MaxPool2D")
class MaxPooling2D(BasePooling):
    """Max over `pool_size` windows of an image (default 2x2, strides = pool_size).

    Example:
        >>> MaxPooling2D()(torch.ones(1, 28, 28, 8)).shape
        torch.Size([1, 14, 14, 8])
    """

    rank, mode = 2, "max"


@LAYERS.register("AvgPool1D")
class AveragePooling1D(BasePooling):
    """Mean over windows of `pool_size` steps."""

    rank, mode = 1, "avg"


@LAYERS.register("AvgPool2D")
class AveragePooling2D(BasePooling):
    """Mean over `pool_size` windows of an image; 'same' padding averages real pixels only."""

    rank, mode = 2, "avg"


class BaseGlobalPooling(Layer):
    rank = 2
    mode = "avg"

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.keepdims = bool(keepdims)

    def _axes(self) -> tuple[int, ...]:
        start = 1 if self.data_format == "channels_last" else 2
        return tuple(range(start, start + self.rank))

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        axes = self._axes()
        if self.mode == "avg":
            return inputs.mean(dim=axes, keepdim=self.keepdims)
        return inputs.amax(dim=axes, keepdim=self.keepdims)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        axes = self._axes()
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in axes)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


@LAYERS.register("GlobalAvgPool1D")
class GlobalAveragePooling1D(BaseGlobalPooling):
    """Mean over the steps: `(batch, steps, channels)` -> `(batch, channels)`."""

    rank, mode = 1, "avg"


@LAYERS.register("GlobalAvgPool2D")
class GlobalAveragePooling2D(BaseGlobalPooling):
    """Mean over height and width: `(batch, h, w, channels)` -> `(batch, channels)`."""

    rank, mode = 2, "avg"


@LAYERS.register("GlobalMaxPool1D")
class GlobalMaxPooling1D(BaseGlobalPooling):
    """Max over the steps."""

    rank, mode = 1, "max"


@LAYERS.register("GlobalMaxPool2D")
class GlobalMaxPooling2D(BaseGlobalPooling):
    """Max over height and width."""

    rank, mode = 2, "max"
