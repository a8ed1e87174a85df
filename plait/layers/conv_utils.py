"""Shared pieces of convolution and pooling layers: argument normalization, TensorFlow-style padding and the
output sizes of (transposed) convolutions as Keras defines them."""
from __future__ import annotations

import math
from typing import Any

import torch


def normalize_tuple(value: Any, n: int, name: str, allow_zero: bool = False) -> tuple[int, ...]:
    """An int or a sequence of `n` ints -> a tuple of `n` ints, positive (or non-negative with `allow_zero`)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,) * n
    try:
        out = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an int or a tuple of {n} ints, got {value!r}.") from None
    kind = "non-negative" if allow_zero else "positive"
    if len(out) != n or any(v < 0 or (v == 0 and not allow_zero) for v in out):
        raise ValueError(f"{name} must be a {kind} int or a tuple of {n} {kind} ints, got {value!r}.")
    return out


def positive_int(value: Any, name: str, owner: str) -> int:
    """`value` if it is a positive int (not a bool), else a ValueError naming `owner`'s argument."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner} {name} must be a positive integer, got {value!r}.")
    return value


def normalize_padding(padding: str, allowed: tuple[str, ...] = ("valid", "same")) -> str:
    padding = str(padding).lower()
    if padding not in allowed:
        raise ValueError(f"padding must be one of {', '.join(map(repr, allowed))}, got {padding!r}.")
    return padding


def normalize_data_format(data_format: str | None) -> str:
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}.")
    return data_format


def output_length(size: int | None, kernel: int, stride: int, padding: str, dilation: int = 1) -> int | None:
    if size is None:
        return None
    if padding in ("same", "causal"):  # 'causal' pads (kernel - 1) * dilation in front: the length of 'same'
        return math.ceil(size / stride)
    return (size - (kernel - 1) * dilation - 1) // stride + 1


def transpose_pads(kernel: int, stride: int, dilation: int, padding: str,
                   output_padding: int | None) -> tuple[int, int]:
    """Keras's transposed convolution on one axis, as the padding `(left, right)` of the stride-dilated input.

    The full transposed convolution (`(size - 1) * stride + effective_kernel` long) corresponds to padding
    `effective_kernel - 1` on each side; Keras's output is the window these pads select (its JAX and torch
    backends compute it this way, and it agrees with TensorFlow's gradient-of-convolution definition).
    """
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(effective, stride) - effective if output_padding is None else output_padding
        return effective - 1, effective - 1 + extra
    total = stride + effective - 2 if output_padding is None else effective + effective % 2 - 2 + output_padding
    left = min(total // 2 + total % 2, effective - 1)
    return left, total - left


def transpose_output_length(size: int | None, kernel: int, stride: int, dilation: int, padding: str,
                            output_padding: int | None) -> int | None:
    """The length of a transposed convolution's output on one axis (Keras's formula)."""
    if size is None:
        return None
    left, right = transpose_pads(kernel, stride, dilation, padding, output_padding)
    return (size - 1) * stride + 1 + left + right - (kernel - 1) * dilation


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


def spatial_axes(data_format: str, rank: int) -> range:
    """The axes of the `rank` spatial dimensions of a batch in `data_format`."""
    start = 1 if data_format == "channels_last" else 2
    return range(start, start + rank)


def check_rank(layer: Any, shape: Any, rank: int) -> None:
    """Raises unless `shape` is a batch with `rank` spatial axes (plus batch and channels)."""
    if len(shape) != rank + 2:
        raise ValueError(f"{type(layer).__name__} expects inputs of rank {rank + 2}, got shape {tuple(shape)}.")


def to_channels_first(x: torch.Tensor, data_format: str) -> torch.Tensor:
    # A permuted view: for 4-D input it is exactly torch's channels_last memory format, which oneDNN runs natively.
    return x.movedim(-1, 1) if data_format == "channels_last" else x


def from_channels_first(x: torch.Tensor, data_format: str) -> torch.Tensor:
    return x.movedim(1, -1) if data_format == "channels_last" else x
