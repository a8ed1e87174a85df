"""Convolution and pooling over 1, 2 or 3 spatial axes with Keras's layouts and TensorFlow's 'same' padding.

Inputs are channels-last (`(batch, *spatial, channels)`) unless `data_format='channels_first'`; kernels are
Keras's `(*spatial, in_channels / groups, out_channels)`. 'same' gives `ceil(size / stride)` outputs with
the odd padded pixel at the end, as TensorFlow and Keras; pooling never counts padded values (max pooling pads
with -inf, average pooling divides by the number of real values in each window).

Example:
    >>> import torch
    >>> from plait import ops
    >>> ops.conv(torch.ones(1, 4, 1), torch.ones(3, 1, 1), padding="same")[0, :, 0]
    tensor([2., 3., 3., 2.])
    >>> ops.max_pool(torch.arange(4.0).reshape(1, 4, 1), 2)[0, :, 0]
    tensor([1., 3.])
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from plait.ops.core import float_tensor, operands

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def _spatial_rank(x: torch.Tensor, what: str) -> int:
    rank = x.ndim - 2
    if rank not in (1, 2, 3):
        raise ValueError(f"{what} needs inputs of rank 3, 4 or 5 (batch, 1 to 3 spatial axes, channels), got "
                         f"shape {tuple(x.shape)}.")
    return rank


def _tuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    values = (value,) * n if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != n or any(int(v) != v or v <= 0 for v in values):
        raise ValueError(f"{name} must be a positive int or {n} positive ints (one per spatial axis), got {value!r}.")
    return tuple(int(v) for v in values)


def _options(padding: str, data_format: str | None) -> tuple[str, bool]:
    padding = str(padding).lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}.")
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}.")
    return padding, data_format == "channels_last"


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's 'same' padding of one axis as `(before, after)`: `ceil(size / stride)` outputs, the odd
    padded pixel at the end.

    Example:
        >>> same_padding(5, 2, 2)
        (0, 1)
    """
    effective = (kernel - 1) * dilation + 1
    total = max((math.ceil(size / stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel: tuple, strides: tuple, dilation: tuple, value: float = 0.0) -> torch.Tensor:
    """`x` (channels first) padded with `value` for 'same' output along its spatial axes."""
    flat: list[int] = []
    for i in reversed(range(len(kernel))):  # F.pad lists the last axis first
        flat += same_padding(x.shape[2 + i], kernel[i], strides[i], dilation[i])
    return F.pad(x, flat, value=value) if any(flat) else x


def conv(inputs: Any, kernel: Any, strides: Any = 1, padding: str = "valid", data_format: str | None = None,
         dilation_rate: Any = 1) -> torch.Tensor:
    """N-D convolution (cross-correlation, as in Keras) of `inputs` with `kernel`.

    Args:
        inputs: `(batch, *spatial, channels)` (channels-last) or `(batch, channels, *spatial)`.
        kernel: `(*window, in_channels / groups, out_channels)`; `groups` follows from the channel counts.
        strides: An int or one per spatial axis.
        padding: 'valid' or 'same'.
        data_format: 'channels_last' (default) or 'channels_first'.
        dilation_rate: An int or one per spatial axis.

    Returns:
        The output in the layout of `inputs`.
    """
    x, w = (float_tensor(t) for t in operands(inputs, kernel))
    common = torch.promote_types(x.dtype, w.dtype)
    x, w = x.to(common), w.to(common)
    rank = _spatial_rank(x, "conv")
    padding, last = _options(padding, data_format)
    if w.ndim != rank + 2:
        raise ValueError(f"conv needs a kernel of rank {rank + 2} (*window, in_channels, out_channels) for inputs "
                         f"of shape {tuple(x.shape)}, got a kernel of shape {tuple(w.shape)}.")
    strides, dilation = _tuple(strides, rank, "strides"), _tuple(dilation_rate, rank, "dilation_rate")
    if last:
        x = x.movedim(-1, 1)
    channels, per_group = x.shape[1], w.shape[-2]
    if channels % per_group:
        raise ValueError(f"conv: the input has {channels} channels, which the kernel's {per_group} input channels "
                         "(per group) do not divide. Give the kernel in_channels / groups input channels.")
    weight = w.permute(rank + 1, rank, *range(rank))  # Keras (*window, in, out) -> torch (out, in, *window)
    if padding == "same":
        x = pad_same(x, tuple(w.shape[:rank]), strides, dilation)
    out = _CONV[rank](x, weight, stride=strides, dilation=dilation, groups=channels // per_group)
    return out.movedim(1, -1) if last else out


def depthwise_conv(inputs: Any, kernel: Any, strides: Any = 1, padding: str = "valid",
                   data_format: str | None = None, dilation_rate: Any = 1) -> torch.Tensor:
    """Depthwise convolution: each input channel convolved with its own `depth_multiplier` filters.

    `kernel` is Keras's `(*window, in_channels, depth_multiplier)`; the output has
    `in_channels * depth_multiplier` channels.
    """
    w = float_tensor(kernel)
    return conv(inputs, w.reshape(*w.shape[:-2], 1, w.shape[-2] * w.shape[-1]), strides, padding, data_format,
                dilation_rate)


def separable_conv(inputs: Any, depthwise_kernel: Any, pointwise_kernel: Any, strides: Any = 1,
                   padding: str = "valid", data_format: str | None = None, dilation_rate: Any = 1) -> torch.Tensor:
    """A depthwise convolution followed by a pointwise (1x1) one, `pointwise_kernel` `(*ones, in, out)`."""
    depthwise = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(depthwise, pointwise_kernel, 1, "valid", data_format, 1)


def _pool(inputs: Any, pool_size: Any, strides: Any, padding: str, data_format: str | None,
          mode: str) -> torch.Tensor:
    x = float_tensor(inputs)
    rank = _spatial_rank(x, f"{mode}_pool")
    padding, last = _options(padding, data_format)
    window = _tuple(pool_size, rank, "pool_size")
    strides = window if strides is None else _tuple(strides, rank, "strides")
    ones = (1,) * rank
    if last:
        x = x.movedim(-1, 1)
    if mode == "max":
        if padding == "same":
            x = pad_same(x, window, strides, ones, value=float("-inf"))
        out = _MAX_POOL[rank](x, window, strides)
    elif padding == "same":
        # The mean of real values only, as TensorFlow: pooled sum over pooled count of real positions.
        avg = _AVG_POOL[rank]
        count = avg(pad_same(torch.ones_like(x[:1, :1]), window, strides, ones), window, strides)
        out = avg(pad_same(x, window, strides, ones), window, strides) / count
    else:
        out = _AVG_POOL[rank](x, window, strides)
    return out.movedim(1, -1) if last else out


def max_pool(inputs: Any, pool_size: Any, strides: Any = None, padding: str = "valid",
             data_format: str | None = None) -> torch.Tensor:
    """The maximum over each `pool_size` window, moved by `strides` (default: `pool_size`)."""
    return _pool(inputs, pool_size, strides, padding, data_format, "max")


def average_pool(inputs: Any, pool_size: Any, strides: Any = None, padding: str = "valid",
                 data_format: str | None = None) -> torch.Tensor:
    """The mean over each `pool_size` window, moved by `strides` (default: `pool_size`)."""
    return _pool(inputs, pool_size, strides, padding, data_format, "average")
