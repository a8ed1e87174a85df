"""Shared pieces of convolution and pooling layers: argument normalization and TensorFlow-style padding."""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F


def normalize_tuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,) * n
    try:
        out = tuple(int(v) for v in value)
    except TypeError:
        raise TypeError(f"{name} must be an int or a tuple of {n} ints, got {value!r}.") from None
    if len(out) != n or any(v <= 0 for v in out):
        raise ValueError(f"{name} must be a positive int or a tuple of {n} positive ints, got {value!r}.")
    return out


def normalize_padding(padding: str) -> str:
    padding = str(padding).lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}.")
    return padding


def normalize_data_format(data_format: str | None) -> str:
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}.")
    return data_format


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's 'same': output = ceil(size / stride), the extra pixel (if odd) padded at the end."""
    effective = (kernel - 1) * dilation + 1
    total = max((math.ceil(size / stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel: tuple, strides: tuple, dilation: tuple, value: float = 0.0) -> torch.Tensor:
    """Pads the spatial dims of a channels-first tensor for 'same' output size."""
    pads: list[int] = []
    for i in reversed(range(len(kernel))):
        before, after = same_padding(x.shape[2 + i], kernel[i], strides[i], dilation[i])
        pads += [before, after]
    return F.pad(x, pads, value=value) if any(pads) else x


def output_length(size: int | None, kernel: int, stride: int, padding: str, dilation: int = 1) -> int | None:
    if size is None:
        return None
    if padding == "same":
        return math.ceil(size / stride)
    return (size - (kernel - 1) * dilation - 1) // stride + 1


def check_output_size(layer: Any, input_shape: Any, window: tuple[int, ...]) -> None:
    """Raises, before any weight is made, when a window does not fit the input (Keras's "Computed output size
    would be zero or negative"), and says so when the input looks channels-first, PyTorch's habit."""
    output_shape = tuple(layer.compute_output_shape(tuple(input_shape)))
    last = layer.data_format == "channels_last"
    if not any(s is not None and s <= 0 for s in (output_shape[1:-1] if last else output_shape[2:])):
        return
    hint = "Use a smaller kernel or pool size, padding='same', or larger inputs."
    as_channels_first = tuple(input_shape[2:])  # the spatial dims if the input were (batch, channels, ...)
    if last and input_shape[1] is not None and None not in as_channels_first and input_shape[1] < input_shape[-1] \
            and all(w <= s for w, s in zip(window, as_channels_first)):
        hint = ("The input looks channels-first (batch, channels, ...), PyTorch's layout, but this layer expects "
                "channels last (batch, ..., channels) as Keras: move the channel axis last (np.moveaxis(x, 1, -1), "
                "or x.movedim(1, -1) for a tensor) or pass data_format='channels_first'.")
    raise ValueError(f"{type(layer).__name__} {layer.name!r}: computed output size would be zero or negative. Received "
                     f"inputs of shape {tuple(input_shape)} and a window of {window}, giving {output_shape}. {hint}")


def to_channels_first(x: torch.Tensor, data_format: str) -> torch.Tensor:
    # A permuted view: for 4-D input it is exactly torch's channels_last memory format, which oneDNN runs natively.
    return x.movedim(-1, 1) if data_format == "channels_last" else x


def from_channels_first(x: torch.Tensor, data_format: str) -> torch.Tensor:
    return x.movedim(1, -1) if data_format == "channels_last" else x
