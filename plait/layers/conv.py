"""Convolution layers (1-D and 2-D), channels-last by default as in Keras."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from plait import activations, initializers
from plait.layers.conv_utils import (check_output_size, from_channels_first, normalize_data_format, normalize_padding,
                                     normalize_tuple, output_length, pad_same, to_channels_first)
from plait.layers.layer import LAYERS, Layer

_CONV_FNS = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


class BaseConv(Layer):
    """N-D convolution with Keras's arguments; the kernel is stored as `(*kernel_size, in/groups, filters)`."""

    rank = 2

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: str | None = None, dilation_rate: Any = 1, groups: int = 1, activation: Any = None,
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"{type(self).__name__} filters must be a positive integer, got {filters!r}.")
        if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0 or filters % groups:
            raise ValueError(f"groups must be a positive integer dividing filters={filters}, got {groups!r}.")
        self.filters, self.groups = filters, groups
        self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size")
        self.strides = normalize_tuple(strides, self.rank, "strides")
        self.dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def _channels(self, shape: Any) -> int:
        return shape[-1] if self.data_format == "channels_last" else shape[1]

    def build(self, input_shape: Any) -> None:
        if len(input_shape) != self.rank + 2:
            layout = "spatial..., channels" if self.data_format == "channels_last" else "channels, spatial..."
            raise ValueError(f"{type(self).__name__} expects inputs of rank {self.rank + 2} (batch, {layout}), "
                             f"got shape {tuple(input_shape)}.")
        check_output_size(self, input_shape, self.kernel_size)
        channels = self._channels(input_shape)
        if channels is None or channels % self.groups:
            raise ValueError(f"The input channels ({channels}) must be known and divisible by groups={self.groups}.")
        shape = self.kernel_size + (channels // self.groups, self.filters)
        self.kernel = self.add_weight(shape, self.kernel_initializer, name="kernel")
        self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias") if self.use_bias else None

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        x = to_channels_first(inputs.to(self.kernel.dtype), self.data_format)
        # Keras (*k, in, out) -> torch (out, in, *k)
        weight = self.kernel.permute(self.rank + 1, self.rank, *range(self.rank))
        padding: Any = 0
        if self.padding == "same":
            if all(s == 1 for s in self.strides):
                padding = "same"
            else:
                x = pad_same(x, self.kernel_size, self.strides, self.dilation_rate)
        out = _CONV_FNS[self.rank](x, weight, self.bias, self.strides, padding, self.dilation_rate, self.groups)
        return self.activation(from_channels_first(out, self.data_format))

    def compute_output_shape(self, input_shape: Any) -> tuple:
        spatial = input_shape[1:-1] if self.data_format == "channels_last" else input_shape[2:]
        out = tuple(output_length(s, k, st, self.padding, d) for s, k, st, d in
                    zip(spatial, self.kernel_size, self.strides, self.dilation_rate))
        if self.data_format == "channels_last":
            return (input_shape[0],) + out + (self.filters,)
        return (input_shape[0], self.filters) + out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate), "groups": self.groups,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


@LAYERS.register("Convolution1D")
class Conv1D(BaseConv):
    """1-D convolution over `(batch, steps, channels)`.

    Example:
        >>> Conv1D(4, 3)(torch.ones(2, 10, 3)).shape
        torch.Size([2, 8, 4])
    """

    rank = 1

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid", **kwargs: Any):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, **kwargs)


@LAYERS.register("Convolution2D")
class Conv2D(BaseConv):
    """2-D convolution over images `(batch, height, width, channels)`.

    Args:
        filters: Number of output channels.
        kernel_size: An int or (height, width).
        strides, padding ('valid' or 'same'), dilation_rate, groups: as in Keras.
        activation, use_bias, kernel_initializer, bias_initializer: as in `Dense`.

    Example:
        >>> Conv2D(8, 3, padding="same")(torch.ones(2, 28, 28, 1)).shape
        torch.Size([2, 28, 28, 8])
    """

    rank = 2

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1), padding: str = "valid",
                 **kwargs: Any):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, **kwargs)
