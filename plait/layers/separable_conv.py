"""Depthwise and separable convolutions: `DepthwiseConv1D/2D` and `SeparableConv1D/2D`, Keras's weights.

A depthwise convolution filters each input channel on its own with `depth_multiplier` filters (torch's grouped
convolution with `groups = in_channels`); a separable one follows it with a 1x1 convolution that mixes the
channels. Keras's depthwise kernel `(*kernel_size, in_channels, depth_multiplier)` puts output channel
`c * depth_multiplier + m` where torch's grouped weight `(in_channels * depth_multiplier, 1, *kernel_size)`
does, so a reshape converts it.
"""
from __future__ import annotations

from typing import Any

import torch

from plait.layers.conv import CONV_FNS, ConvBase
from plait.layers.conv_utils import positive_int
from plait.layers.layer import LAYERS


def depthwise_weight(kernel: torch.Tensor, rank: int) -> torch.Tensor:
    """Keras `(*k, in, multiplier)` -> torch grouped `(in * multiplier, 1, *k)`."""
    return kernel.reshape(*kernel.shape[:rank], -1).movedim(-1, 0).unsqueeze(1)


class BaseDepthwiseConv(ConvBase):
    """N-D depthwise convolution; see `DepthwiseConv2D` for the arguments."""

    def __init__(self, kernel_size: Any, strides: Any = 1, padding: str = "valid", depth_multiplier: int = 1,
                 data_format: str | None = None, dilation_rate: Any = 1, activation: Any = None,
                 use_bias: bool = True, depthwise_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", depthwise_regularizer: Any = None, bias_regularizer: Any = None,
                 depthwise_constraint: Any = None, bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         bias_initializer, bias_regularizer, bias_constraint, **kwargs)
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier", type(self).__name__)
        self._weight_args("depthwise", depthwise_initializer, depthwise_regularizer, depthwise_constraint)

    def _output_channels(self, in_channels: int | None) -> int | None:
        return None if in_channels is None else in_channels * self.depth_multiplier

    def build(self, input_shape: Any) -> None:
        channels = self._input_channels(input_shape)
        self.kernel = self._add("depthwise", self.kernel_size + (channels, self.depth_multiplier), "kernel")
        self._add_bias(channels * self.depth_multiplier)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        weight = depthwise_weight(self.kernel, self.rank)
        x = self._to_torch(inputs, weight)
        return self._finish(self._conv(x, weight, self.bias, groups=self.kernel.shape[-2]))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier}


@LAYERS.register()
class DepthwiseConv1D(BaseDepthwiseConv):
    """1-D depthwise convolution over `(batch, steps, channels)`: each channel filtered on its own.

    Args: as `DepthwiseConv2D`, with ints.

    Example:
        >>> DepthwiseConv1D(3, depth_multiplier=2)(torch.ones(2, 10, 4)).shape
        torch.Size([2, 8, 8])
    """

    rank = 1


@LAYERS.register()
class DepthwiseConv2D(BaseDepthwiseConv):
    """2-D depthwise convolution: each input channel filtered by its own `depth_multiplier` kernels.

    Output channels are `in_channels * depth_multiplier`, channel `c * depth_multiplier + m` coming from input
    channel `c`, as in Keras.

    Args:
        kernel_size: An int or (height, width).
        strides: An int or (height, width); default 1.
        padding: 'valid' or 'same'.
        depth_multiplier: Filters per input channel.
        data_format: 'channels_last' (default) or 'channels_first'.
        dilation_rate: An int or (height, width).
        activation, use_bias, bias_initializer, bias_regularizer, bias_constraint: as in `Dense`.
        depthwise_initializer, depthwise_regularizer, depthwise_constraint: for the kernel
            `(*kernel_size, in_channels, depth_multiplier)`.

    Example:
        >>> DepthwiseConv2D(3, padding="same")(torch.ones(2, 8, 8, 3)).shape
        torch.Size([2, 8, 8, 3])
    """

    rank = 2


class BaseSeparableConv(BaseDepthwiseConv):
    """A depthwise convolution followed by a pointwise (1x1) one; see `SeparableConv2D` for the arguments."""

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: str | None = None, dilation_rate: Any = 1, depth_multiplier: int = 1,
                 activation: Any = None, use_bias: bool = True, depthwise_initializer: Any = "glorot_uniform",
                 pointwise_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 depthwise_regularizer: Any = None, pointwise_regularizer: Any = None, bias_regularizer: Any = None,
                 depthwise_constraint: Any = None, pointwise_constraint: Any = None, bias_constraint: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer,
                         depthwise_constraint, bias_constraint, **kwargs)
        self.filters = positive_int(filters, "filters", type(self).__name__)
        self._weight_args("pointwise", pointwise_initializer, pointwise_regularizer, pointwise_constraint)

    def _output_channels(self, in_channels: int | None) -> int:
        return self.filters

    def build(self, input_shape: Any) -> None:
        channels = self._input_channels(input_shape)
        self.depthwise_kernel = self._add("depthwise", self.kernel_size + (channels, self.depth_multiplier),
                                          "depthwise_kernel")
        self.pointwise_kernel = self._add("pointwise", (1,) * self.rank + (channels * self.depth_multiplier,
                                                                           self.filters), "pointwise_kernel")
        self._add_bias(self.filters)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        depthwise = depthwise_weight(self.depthwise_kernel, self.rank)
        x = self._to_torch(inputs, depthwise)
        x = self._conv(x, depthwise, None, groups=self.depthwise_kernel.shape[-2])
        # Keras (1..., in * multiplier, filters) -> torch (filters, in * multiplier, 1...)
        pointwise = self.pointwise_kernel.permute(self.rank + 1, self.rank, *range(self.rank))
        return self._finish(CONV_FNS[self.rank](x, pointwise, self.bias))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters}


@LAYERS.register("SeparableConvolution1D")
class SeparableConv1D(BaseSeparableConv):
    """1-D separable convolution over `(batch, steps, channels)`.

    Args: as `SeparableConv2D`, with ints.

    Example:
        >>> SeparableConv1D(6, 3, padding="same")(torch.ones(2, 10, 4)).shape
        torch.Size([2, 10, 6])
    """

    rank = 1


@LAYERS.register("SeparableConvolution2D")
class SeparableConv2D(BaseSeparableConv):
    """2-D separable convolution: a depthwise convolution, then a 1x1 convolution to `filters` channels.

    Weights as Keras: `depthwise_kernel` `(*kernel_size, in_channels, depth_multiplier)`, `pointwise_kernel`
    `(1, 1, in_channels * depth_multiplier, filters)`, `bias` `(filters,)`.

    Args:
        filters: Number of output channels.
        kernel_size: An int or (height, width) of the depthwise window.
        strides, padding, data_format, dilation_rate: of the depthwise step, as in `Conv2D`.
        depth_multiplier: Depthwise filters per input channel.
        activation, use_bias, bias_initializer, bias_regularizer, bias_constraint: as in `Dense`.
        depthwise_initializer, pointwise_initializer, depthwise_regularizer, pointwise_regularizer,
            depthwise_constraint, pointwise_constraint: for the two kernels.

    Example:
        >>> SeparableConv2D(8, 3)(torch.ones(2, 10, 10, 4)).shape
        torch.Size([2, 8, 8, 8])
    """

    rank = 2
