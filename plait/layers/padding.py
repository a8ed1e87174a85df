"""ZeroPadding1D/2D/3D and Cropping1D/2D/3D: add zeros at, or cut rows from, the edges of the spatial axes.

Both take, per spatial axis, an amount before and after, given as Keras accepts it: an int (the same on
every side), one int per axis (the same before and after), or one `(before, after)` pair per axis; in 1-D a
pair is `(before, after)`.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from plait.layers.conv_utils import check_rank, normalize_data_format, spatial_axes
from plait.layers.layer import LAYERS, Layer


def normalize_edges(value: Any, rank: int, name: str) -> tuple[tuple[int, int], ...]:
    """Keras's forms of a padding/cropping argument -> one `(before, after)` pair of non-negative ints per axis."""
    def pair(v: Any) -> tuple[int, int]:
        if isinstance(v, int) and not isinstance(v, bool):
            return v, v
        if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(i, int) for i in v):
            return int(v[0]), int(v[1])
        raise ValueError
    try:
        if rank == 1:
            out: tuple = (pair(value),)
        elif isinstance(value, int) and not isinstance(value, bool):
            out = (pair(value),) * rank
        elif isinstance(value, (list, tuple)) and len(value) == rank:
            out = tuple(pair(v) for v in value)
        else:
            raise ValueError
    except ValueError:
        forms = "an int or (before, after)" if rank == 1 else \
            f"an int, a tuple of {rank} ints, or a tuple of {rank} (before, after) pairs"
        raise ValueError(f"{name} must be {forms}, got {value!r}.") from None
    if any(v < 0 for p in out for v in p):
        raise ValueError(f"{name} must not be negative, got {value!r}.")
    return out


class SpatialEdges(Layer):
    """Base of ZeroPadding and Cropping: `edges` (before, after) per spatial axis; `sign` +1 pads, -1 crops."""

    rank = 1
    sign = 1
    argument = "padding"

    def __init__(self, edges: Any, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.edges = normalize_edges(edges, self.rank, self.argument)
        self.data_format = normalize_data_format(data_format)

    def _spatial_axes(self) -> range:
        return spatial_axes(self.data_format, self.rank)

    def build(self, input_shape: Any) -> None:
        check_rank(self, input_shape, self.rank)
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        out = list(input_shape)
        for axis, (before, after) in zip(self._spatial_axes(), self.edges):
            if out[axis] is not None:
                out[axis] += self.sign * (before + after)
                if out[axis] <= 0:
                    raise ValueError(f"{type(self).__name__} {self.argument}={self._config_value()} removes all of "
                                     f"axis {axis} (size {input_shape[axis]}) of inputs of shape "
                                     f"{tuple(input_shape)}: crop less than the axis holds.")
        return tuple(out)

    def _config_value(self) -> list:
        return list(self.edges[0]) if self.rank == 1 else [list(p) for p in self.edges]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), self.argument: self._config_value(), "data_format": self.data_format}


class BaseZeroPadding(SpatialEdges):
    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        pads = [0, 0] * inputs.dim()
        for axis, (before, after) in zip(self._spatial_axes(), self.edges):
            at = 2 * (inputs.dim() - 1 - axis)  # F.pad lists the last axis first
            pads[at:at + 2] = [before, after]
        return F.pad(inputs, pads)


class BaseCropping(SpatialEdges):
    sign, argument = -1, "cropping"

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        index: list[slice] = [slice(None)] * inputs.dim()
        for axis, (before, after) in zip(self._spatial_axes(), self.edges):
            index[axis] = slice(before, inputs.shape[axis] - after)
        return inputs[tuple(index)]


@LAYERS.register()
class ZeroPadding1D(BaseZeroPadding):
    """Adds zeros at the start and end of the steps of `(batch, steps, features)`.

    Args:
        padding: An int (both ends) or `(before, after)`.
        data_format: 'channels_last' (default) or 'channels_first' (`(batch, features, steps)`).

    Example:
        >>> ZeroPadding1D(2)(torch.ones(1, 3, 4)).shape
        torch.Size([1, 7, 4])
    """

    rank = 1

    def __init__(self, padding: Any = 1, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(padding, data_format, **kwargs)


@LAYERS.register()
class ZeroPadding2D(BaseZeroPadding):
    """Adds rows and columns of zeros around images `(batch, height, width, channels)`.

    Args:
        padding: An int, `(rows, cols)` (each on both sides) or `((top, bottom), (left, right))`.
        data_format: 'channels_last' (default) or 'channels_first'.

    Example:
        >>> ZeroPadding2D(((1, 0), (2, 2)))(torch.ones(1, 4, 4, 3)).shape
        torch.Size([1, 5, 8, 3])
    """

    rank = 2

    def __init__(self, padding: Any = (1, 1), data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(padding, data_format, **kwargs)


@LAYERS.register()
class ZeroPadding3D(BaseZeroPadding):
    """Adds zeros around volumes `(batch, depth, height, width, channels)`.

    Args:
        padding: An int, three ints, or three `(before, after)` pairs.
        data_format: 'channels_last' (default) or 'channels_first'.

    Example:
        >>> ZeroPadding3D()(torch.ones(1, 2, 2, 2, 1)).shape
        torch.Size([1, 4, 4, 4, 1])
    """

    rank = 3

    def __init__(self, padding: Any = ((1, 1), (1, 1), (1, 1)), data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(padding, data_format, **kwargs)


@LAYERS.register()
class Cropping1D(BaseCropping):
    """Cuts steps from the start and end of `(batch, steps, features)`.

    Args:
        cropping: An int (both ends) or `(before, after)`.

    Example:
        >>> Cropping1D((1, 2))(torch.ones(1, 6, 4)).shape
        torch.Size([1, 3, 4])
    """

    rank = 1

    def __init__(self, cropping: Any = (1, 1), **kwargs: Any) -> None:
        super().__init__(cropping, **kwargs)

    def get_config(self) -> dict[str, Any]:
        config_ = super().get_config()
        del config_["data_format"]  # Keras's Cropping1D is channels-last only
        return config_


@LAYERS.register()
class Cropping2D(BaseCropping):
    """Cuts rows and columns from the edges of images `(batch, height, width, channels)`.

    Args:
        cropping: An int, `(rows, cols)` (each on both sides) or `((top, bottom), (left, right))`.
        data_format: 'channels_last' (default) or 'channels_first'.

    Example:
        >>> Cropping2D(((2, 2), (4, 4)))(torch.ones(2, 28, 28, 3)).shape
        torch.Size([2, 24, 20, 3])
    """

    rank = 2

    def __init__(self, cropping: Any = ((0, 0), (0, 0)), data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(cropping, data_format, **kwargs)


@LAYERS.register()
class Cropping3D(BaseCropping):
    """Cuts from the edges of volumes `(batch, depth, height, width, channels)`.

    Args:
        cropping: An int, three ints, or three `(before, after)` pairs.
        data_format: 'channels_last' (default) or 'channels_first'.

    Example:
        >>> Cropping3D()(torch.ones(1, 4, 4, 4, 2)).shape
        torch.Size([1, 2, 2, 2, 2])
    """

    rank = 3

    def __init__(self, cropping: Any = ((1, 1), (1, 1), (1, 1)), data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(cropping, data_format, **kwargs)
