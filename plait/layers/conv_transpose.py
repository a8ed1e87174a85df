"""Transposed convolutions (`Conv1DTranspose`, `Conv2DTranspose`, `Conv3DTranspose`), Keras's layout and sizes.

The kernel is Keras's `(*kernel_size, filters, in_channels)`, which permutes into torch's `conv_transpose`
weight `(in_channels, filters, *kernel_size)` with the same permutation as a plain convolution's. Output sizes
follow Keras's `padding`/`output_padding` rules, which torch's symmetric `padding` cannot always express: the
kernel runs with the symmetric part and the rest is cropped (or zero-filled) afterwards, before the bias.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

from plait.layers.conv import ConvBase
from plait.layers.conv_utils import normalize_tuple, positive_int, transpose_output_length, transpose_pads
from plait.layers.layer import LAYERS

CONV_TRANSPOSE_FNS: dict[int, Callable[..., torch.Tensor]] = {
    1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


class BaseConvTranspose(ConvBase):
    """N-D transposed convolution; see `Conv2DTranspose` for the arguments."""

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 output_padding: Any = None, data_format: str | None = None, dilation_rate: Any = 1,
                 activation: Any = None, use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         bias_initializer, bias_regularizer, bias_constraint, **kwargs)
        self.filters = positive_int(filters, "filters", type(self).__name__)
        self.output_padding = None if output_padding is None else normalize_tuple(
            output_padding, self.rank, "output_padding", allow_zero=True)
        if self.output_padding is not None and any(p >= s for p, s in zip(self.output_padding, self.strides)):
            raise ValueError(f"output_padding must be smaller than strides on every axis, got "
                             f"output_padding={self.output_padding} and strides={self.strides}.")
        self._weight_args("kernel", kernel_initializer, kernel_regularizer, kernel_constraint)

    def _output_channels(self, in_channels: int | None) -> int:
        return self.filters

    def _pads(self) -> list[tuple[int, int]]:
        out_pad = self.output_padding or (None,) * self.rank
        return [transpose_pads(k, s, d, self.padding, p) for k, s, d, p in
                zip(self.kernel_size, self.strides, self.dilation_rate, out_pad)]

    def _output_lengths(self, spatial: tuple) -> tuple:
        out_pad = self.output_padding or (None,) * self.rank
        return tuple(transpose_output_length(n, k, s, d, self.padding, p) for n, k, s, d, p in
                     zip(spatial, self.kernel_size, self.strides, self.dilation_rate, out_pad))

    def build(self, input_shape: Any) -> None:
        channels = self._input_channels(input_shape)
        self.kernel = self._add("kernel", self.kernel_size + (self.filters, channels), "kernel")
        self._add_bias(self.filters)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        # Keras (*k, filters, in) -> torch (in, filters, *k)
        weight = self.kernel.permute(self.rank + 1, self.rank, *range(self.rank))
        x = self._to_torch(inputs, weight)
        # Crop of the full output on each side: the kernel's reach minus the pad Keras selects (negative: zeros).
        crops = [((k - 1) * d - left, (k - 1) * d - right) for (left, right), k, d in
                 zip(self._pads(), self.kernel_size, self.dilation_rate)]
        common = tuple(max(min(c), 0) for c in crops)  # the symmetric part torch's padding does
        rest = [(a - c, b - c) for (a, b), c in zip(crops, common)]
        fn = CONV_TRANSPOSE_FNS[self.rank]
        if not any(a or b for a, b in rest):
            return self._finish(fn(x, weight, self.bias, self.strides, common, 0, 1, self.dilation_rate))
        out = fn(x, weight, None, self.strides, common, 0, 1, self.dilation_rate)
        # F.pad takes the last axis first; a negative pad crops.
        out = F.pad(out, [-p for a, b in reversed(rest) for p in (a, b)])
        if self.bias is not None:
            out = out + self.bias.view(-1, *(1,) * self.rank)
        return self._finish(out)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters,
                "output_padding": None if self.output_padding is None else list(self.output_padding)}


@LAYERS.register("Convolution1DTranspose")
class Conv1DTranspose(BaseConvTranspose):
    """1-D transposed convolution over `(batch, steps, channels)`: the steps grow about `strides` times.

    Args: as `Conv2DTranspose`, with ints.

    Example:
        >>> Conv1DTranspose(4, 3, strides=2, padding="same")(torch.ones(2, 5, 3)).shape
        torch.Size([2, 10, 4])
    """

    rank = 1


@LAYERS.register("Convolution2DTranspose")
class Conv2DTranspose(BaseConvTranspose):
    """2-D transposed convolution ("deconvolution"): upsamples images `(batch, height, width, channels)`.

    Output size per axis, `k` the dilated kernel size and `s` the stride: 'valid' gives
    `(size - 1) * s + max(k, s)`, 'same' gives `size * s`; with `output_padding=p`, 'valid' gives
    `(size - 1) * s + k + p` and 'same' `(size - 1) * s + k % 2 + p`, as in Keras.

    Args:
        filters: Number of output channels.
        kernel_size: An int or (height, width).
        strides: An int or (height, width); default 1.
        padding: 'valid' or 'same'.
        output_padding: None (the default sizes above) or an int / pair, each smaller than its stride.
        data_format: 'channels_last' (default) or 'channels_first'.
        dilation_rate: An int or (height, width).
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
            kernel_constraint, bias_constraint: as in `Dense`. The kernel is `(*kernel_size, filters, in)`.

    Example:
        >>> Conv2DTranspose(8, 3, strides=2)(torch.ones(2, 7, 7, 16)).shape
        torch.Size([2, 15, 15, 8])
    """

    rank = 2


@LAYERS.register("Convolution3DTranspose")
class Conv3DTranspose(BaseConvTranspose):
    """3-D transposed convolution over volumes `(batch, depth, height, width, channels)`.

    Args: as `Conv2DTranspose`, with triples.

    Example:
        >>> Conv3DTranspose(2, 2, strides=2)(torch.ones(1, 2, 3, 4, 5)).shape
        torch.Size([1, 4, 6, 8, 2])
    """

    rank = 3
