"""Convolution layers: `ConvBase`, what every convolution shares, and the plain `Conv1D`/`Conv2D`/`Conv3D`.

Channels-last by default as in Keras. Kernels keep Keras's layouts (so weight files port) and are permuted
into torch's at call time; the transposed, depthwise and separable variants build on `ConvBase` in their
own modules.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

from plait import activations, initializers, regularizers
from plait.layers.conv_utils import (check_output_size, from_channels_first, normalize_data_format, normalize_padding,
                                     normalize_tuple, output_length, positive_int, to_channels_first)
from plait.layers.layer import LAYERS, Layer
from plait.ops.conv import pad_same  # TensorFlow's 'same' padding, one definition

CONV_FNS: dict[int, Callable[..., torch.Tensor]] = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


class ConvBase(Layer):
    """The arguments and plumbing every convolution shares: window, strides, padding, layout, bias, activation.

    A subclass declares its weights' arguments with `_weight_args(prefix, ...)` (Keras's `kernel_*`,
    `depthwise_*`, `pointwise_*` families), creates them in `build` after `_input_channels`, says how many
    channels come out (`_output_channels`) and runs its kernel in `call` between `_to_torch` and `_finish`.
    """

    rank = 2
    paddings: tuple[str, ...] = ("valid", "same")

    def __init__(self, kernel_size: Any, strides: Any = 1, padding: str = "valid", data_format: str | None = None,
                 dilation_rate: Any = 1, activation: Any = None, use_bias: bool = True,
                 bias_initializer: Any = "zeros", bias_regularizer: Any = None, bias_constraint: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size")
        self.strides = normalize_tuple(strides, self.rank, "strides")
        self.dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate")
        self.padding = normalize_padding(padding, self.paddings)
        self.data_format = normalize_data_format(data_format)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self._weight_prefixes: list[str] = []
        self._weight_args("bias", bias_initializer, bias_regularizer, bias_constraint)

    def _weight_args(self, prefix: str, initializer: Any, regularizer: Any, constraint: Any) -> None:
        """Keeps `<prefix>_initializer/_regularizer/_constraint` (Keras's attribute names) for `_add`."""
        setattr(self, f"{prefix}_initializer", initializers.get(initializer))
        setattr(self, f"{prefix}_regularizer", regularizers.get(regularizer))
        setattr(self, f"{prefix}_constraint", constraint)  # add_weight checks it is a callable
        self._weight_prefixes.append(prefix)

    def _add(self, prefix: str, shape: tuple, name: str) -> torch.nn.Parameter:
        return self.add_weight(shape, getattr(self, f"{prefix}_initializer"), name=name,
                               regularizer=getattr(self, f"{prefix}_regularizer"),
                               constraint=getattr(self, f"{prefix}_constraint"))

    def _add_bias(self, size: int) -> None:
        self.bias = self._add("bias", (size,), "bias") if self.use_bias else None

    # ------------------------------------------------------------------ shapes
    def _channels(self, shape: Any) -> int | None:
        return shape[-1] if self.data_format == "channels_last" else shape[1]

    def _spatial(self, shape: Any) -> tuple:
        return tuple(shape[1:-1] if self.data_format == "channels_last" else shape[2:])

    def _output_channels(self, in_channels: int | None) -> int | None:
        raise NotImplementedError

    def _output_lengths(self, spatial: tuple) -> tuple:
        return tuple(output_length(s, k, st, self.padding, d) for s, k, st, d in
                     zip(spatial, self.kernel_size, self.strides, self.dilation_rate))

    def compute_output_shape(self, input_shape: Any) -> tuple:
        out = self._output_lengths(self._spatial(input_shape))
        channels = self._output_channels(self._channels(input_shape))
        if self.data_format == "channels_last":
            return (input_shape[0],) + out + (channels,)
        return (input_shape[0], channels) + out

    def _input_channels(self, input_shape: Any) -> int:
        """The input's channel count, after checking the rank and that the window fits (before any weight)."""
        if len(input_shape) != self.rank + 2:
            layout = "spatial..., channels" if self.data_format == "channels_last" else "channels, spatial..."
            raise ValueError(f"{type(self).__name__} expects inputs of rank {self.rank + 2} (batch, {layout}), "
                             f"got shape {tuple(input_shape)}.")
        channels = self._channels(input_shape)
        if channels is None:
            raise ValueError(f"{type(self).__name__} {self.name!r} needs a known number of input channels, got "
                             f"input shape {tuple(input_shape)}.")
        check_output_size(self, input_shape, self.kernel_size)
        return int(channels)

    # ------------------------------------------------------------------ running
    def _to_torch(self, inputs: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return to_channels_first(inputs.to(weight.dtype), self.data_format)

    def _conv(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, groups: int = 1) -> torch.Tensor:
        """`x` (channels-first) convolved with a torch-layout `weight`, with Keras's padding modes."""
        padding: Any = 0
        if self.padding == "causal":
            x = F.pad(x, [(self.kernel_size[0] - 1) * self.dilation_rate[0], 0])
        elif self.padding == "same":
            reach = [(k - 1) * d for k, d in zip(self.kernel_size, self.dilation_rate)]
            if all(s == 1 for s in self.strides) and all(r % 2 == 0 for r in reach):
                padding = "same"  # torch's, symmetric here; an odd reach would make torch copy and warn
            else:
                x = pad_same(x, self.kernel_size, self.strides, self.dilation_rate)
        return CONV_FNS[self.rank](x, weight, bias, self.strides, padding, self.dilation_rate, groups)

    def _finish(self, out: torch.Tensor) -> torch.Tensor:
        return self.activation(from_channels_first(out, self.data_format))

    def get_config(self) -> dict[str, Any]:
        config_ = {**super().get_config(), "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                   "padding": self.padding, "data_format": self.data_format,
                   "dilation_rate": list(self.dilation_rate), "activation": activations.serialize(self.activation),
                   "use_bias": self.use_bias}
        for prefix in self._weight_prefixes:
            config_[f"{prefix}_initializer"] = initializers.serialize(getattr(self, f"{prefix}_initializer"))
            config_[f"{prefix}_regularizer"] = regularizers.serialize(getattr(self, f"{prefix}_regularizer"))
        return config_


class BaseConv(ConvBase):
    """N-D convolution with Keras's arguments; the kernel is stored as `(*kernel_size, in/groups, filters)`."""

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: str | None = None, dilation_rate: Any = 1, groups: int = 1, activation: Any = None,
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         bias_initializer, bias_regularizer, bias_constraint, **kwargs)
        self.filters = positive_int(filters, "filters", type(self).__name__)
        if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0 or filters % groups:
            raise ValueError(f"groups must be a positive integer dividing filters={filters}, got {groups!r}.")
        self.groups = groups
        self._weight_args("kernel", kernel_initializer, kernel_regularizer, kernel_constraint)

    def _output_channels(self, in_channels: int | None) -> int:
        return self.filters

    def build(self, input_shape: Any) -> None:
        channels = self._input_channels(input_shape)
        if channels % self.groups:
            raise ValueError(f"The input channels ({channels}) must be divisible by groups={self.groups}.")
        self.kernel = self._add("kernel", self.kernel_size + (channels // self.groups, self.filters), "kernel")
        self._add_bias(self.filters)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        # Keras (*k, in, out) -> torch (out, in, *k)
        weight = self.kernel.permute(self.rank + 1, self.rank, *range(self.rank))
        return self._finish(self._conv(self._to_torch(inputs, weight), weight, self.bias, self.groups))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, "groups": self.groups}


@LAYERS.register("Convolution1D")
class Conv1D(BaseConv):
    """1-D convolution over `(batch, steps, channels)`; `padding` may also be 'causal' (pads in front only).

    Args: as `Conv2D`, with ints for `kernel_size`, `strides` and `dilation_rate`.

    Example:
        >>> Conv1D(4, 3)(torch.ones(2, 10, 3)).shape
        torch.Size([2, 8, 4])
        >>> Conv1D(4, 3, padding="causal")(torch.ones(2, 10, 3)).shape
        torch.Size([2, 10, 4])
    """

    rank = 1
    paddings = ("valid", "same", "causal")


@LAYERS.register("Convolution2D")
class Conv2D(BaseConv):
    """2-D convolution over images `(batch, height, width, channels)`.

    Args:
        filters: Number of output channels.
        kernel_size: An int or (height, width).
        strides: An int or (height, width); default 1.
        padding: 'valid' (no padding) or 'same' (output size `ceil(size / stride)`, TensorFlow's padding).
        data_format: 'channels_last' (default) or 'channels_first'.
        dilation_rate: An int or (height, width).
        groups: Splits the channels into `groups` independent convolutions.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
            kernel_constraint, bias_constraint: as in `Dense`.

    Example:
        >>> Conv2D(8, 3, padding="same")(torch.ones(2, 28, 28, 1)).shape
        torch.Size([2, 28, 28, 8])
    """

    rank = 2


@LAYERS.register("Convolution3D")
class Conv3D(BaseConv):
    """3-D convolution over volumes `(batch, depth, height, width, channels)`.

    Args: as `Conv2D`, with triples for `kernel_size`, `strides` and `dilation_rate`.

    Example:
        >>> Conv3D(2, 3, strides=(1, 2, 2))(torch.ones(1, 5, 8, 8, 3)).shape
        torch.Size([1, 3, 3, 3, 2])
    """

    rank = 3
