"""Pooling layers: max and average pooling (1-D, 2-D, 3-D) and global pooling, channels-last by default."""
from __future__ import annotations

from typing import Any

import torch

from plait.layers.conv_utils import (check_output_size, normalize_data_format, normalize_padding, normalize_tuple,
                                     output_length, spatial_axes)
from plait.layers.layer import LAYERS, Layer
from plait.ops.conv import average_pool, max_pool


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
        pool = max_pool if self.mode == "max" else average_pool  # plait.ops: one definition of both windows
        return pool(inputs, self.pool_size, self.strides, self.padding, self.data_format)

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
    """Max over windows of `pool_size` steps of `(batch, steps, channels)` (default 2, strides = pool_size).

    Args:
        pool_size, strides, padding ('valid' or 'same'), data_format: as `MaxPooling2D`, with ints.

    Example:
        >>> MaxPooling1D(2)(torch.ones(1, 10, 3)).shape
        torch.Size([1, 5, 3])
    """

    rank, mode = 1, "max"


@LAYERS.register("MaxPool2D")
class MaxPooling2D(BasePooling):
    """Max over `pool_size` windows of an image (default 2x2, strides = pool_size).

    Args:
        pool_size: An int or (rows, cols) window.
        strides: An int or (rows, cols); default `pool_size`.
        padding: 'valid' or 'same' (padded values never win).
        data_format: 'channels_last' (default) or 'channels_first'.

    Example:
        >>> MaxPooling2D()(torch.ones(1, 28, 28, 8)).shape
        torch.Size([1, 14, 14, 8])
    """

    rank, mode = 2, "max"


@LAYERS.register("MaxPool3D")
class MaxPooling3D(BasePooling):
    """Max over `pool_size` windows of a volume `(batch, depth, height, width, channels)` (default 2x2x2).

    Args: as `MaxPooling2D`, with triples.

    Example:
        >>> MaxPooling3D()(torch.ones(1, 4, 6, 8, 2)).shape
        torch.Size([1, 2, 3, 4, 2])
    """

    rank, mode = 3, "max"


@LAYERS.register("AvgPool1D")
class AveragePooling1D(BasePooling):
    """Mean over windows of `pool_size` steps; 'same' padding averages real steps only.

    Args:
        pool_size, strides, padding, data_format: as `MaxPooling1D`.

    Example:
        >>> AveragePooling1D(3, strides=1, padding="same")(torch.ones(1, 5, 2)).shape
        torch.Size([1, 5, 2])
    """

    rank, mode = 1, "avg"


@LAYERS.register("AvgPool2D")
class AveragePooling2D(BasePooling):
    """Mean over `pool_size` windows of an image; 'same' padding averages real pixels only.

    Args:
        pool_size, strides, padding, data_format: as `MaxPooling2D`.

    Example:
        >>> AveragePooling2D()(torch.ones(1, 6, 6, 3)).shape
        torch.Size([1, 3, 3, 3])
    """

    rank, mode = 2, "avg"


@LAYERS.register("AvgPool3D")
class AveragePooling3D(BasePooling):
    """Mean over `pool_size` windows of a volume; 'same' padding averages real voxels only.

    Args: as `MaxPooling2D`, with triples.

    Example:
        >>> AveragePooling3D(pool_size=(1, 2, 2))(torch.ones(1, 3, 4, 4, 2)).shape
        torch.Size([1, 3, 2, 2, 2])
    """

    rank, mode = 3, "avg"


class BaseGlobalPooling(Layer):
    rank = 2
    mode = "avg"

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.keepdims = bool(keepdims)

    def _axes(self) -> tuple[int, ...]:
        return tuple(spatial_axes(self.data_format, self.rank))

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
    """Mean over the steps: `(batch, steps, channels)` -> `(batch, channels)`.

    Args:
        data_format: 'channels_last' (default) or 'channels_first'.
        keepdims: Keep the pooled axes as size 1.

    With a mask (from `Embedding(mask_zero=True)` or `Masking`), the mean runs over the unmasked steps only, as in
    Keras.

    Example:
        >>> GlobalAveragePooling1D()(torch.ones(2, 5, 3)).shape
        torch.Size([2, 3])
    """

    rank, mode = 1, "avg"

    def call(self, inputs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            return super().call(inputs)
        steps = 1 if self.data_format == "channels_last" else 2
        weights = mask.to(inputs.dtype).unsqueeze(3 - steps)  # (batch, steps, 1) or (batch, 1, steps)
        total = (inputs * weights).sum(dim=steps, keepdim=self.keepdims)
        return total / weights.sum(dim=steps, keepdim=self.keepdims)


@LAYERS.register("GlobalAvgPool2D")
class GlobalAveragePooling2D(BaseGlobalPooling):
    """Mean over height and width: `(batch, h, w, channels)` -> `(batch, channels)`.

    Args: as `GlobalAveragePooling1D`.

    Example:
        >>> GlobalAveragePooling2D(keepdims=True)(torch.ones(2, 4, 4, 3)).shape
        torch.Size([2, 1, 1, 3])
    """

    rank, mode = 2, "avg"


@LAYERS.register("GlobalMaxPool1D")
class GlobalMaxPooling1D(BaseGlobalPooling):
    """Max over the steps: `(batch, steps, channels)` -> `(batch, channels)`.

    Args: as `GlobalAveragePooling1D`.

    Example:
        >>> GlobalMaxPooling1D()(torch.tensor([[[1.0], [3.0], [2.0]]]))
        tensor([[3.]])
    """

    rank, mode = 1, "max"


@LAYERS.register("GlobalMaxPool2D")
class GlobalMaxPooling2D(BaseGlobalPooling):
    """Max over height and width: `(batch, h, w, channels)` -> `(batch, channels)`.

    Args: as `GlobalAveragePooling1D`.

    Example:
        >>> GlobalMaxPooling2D()(torch.ones(2, 4, 4, 3)).shape
        torch.Size([2, 3])
    """

    rank, mode = 2, "max"


@LAYERS.register("GlobalAvgPool3D")
class GlobalAveragePooling3D(BaseGlobalPooling):
    """Mean over depth, height and width: `(batch, d, h, w, channels)` -> `(batch, channels)`.

    Args: as `GlobalAveragePooling1D`.

    Example:
        >>> GlobalAveragePooling3D()(torch.ones(2, 3, 4, 5, 6)).shape
        torch.Size([2, 6])
    """

    rank, mode = 3, "avg"


@LAYERS.register("GlobalMaxPool3D")
class GlobalMaxPooling3D(BaseGlobalPooling):
    """Max over depth, height and width: `(batch, d, h, w, channels)` -> `(batch, channels)`.

    Args: as `GlobalAveragePooling1D`.

    Example:
        >>> GlobalMaxPooling3D(keepdims=True)(torch.ones(2, 3, 4, 5, 6)).shape
        torch.Size([2, 1, 1, 1, 6])
    """

    rank, mode = 3, "max"
