"""RandomRotation, RandomZoom and RandomTranslation: random affine resampling of images, in training only.

Each image gets its own 2x3 matrix mapping an output pixel `(x, y, 1)` (column, row) to the point of the input it
samples, built as Keras builds it (rotation and zoom about the image centre `((w - 1) / 2, (h - 1) / 2)`).
`affine_sample` then reads every output pixel of the whole batch in one gather per neighbour: bilinear (four
neighbours) or nearest (rounding half away from zero), and a neighbour outside the image is mapped back in by
`fill_mode` before it is read, as Keras's `map_coordinates`:

- 'reflect' `(d c b a | a b c d | d c b a)`: mirrored about the edge of the last pixel;
- 'wrap' `(a b c d | a b c d | a b c d)`; 'nearest' `(a a a a | a b c d | d d d d)`;
- 'constant' `(k k k k | a b c d | k k k k)` with `k = fill_value`.

Keras's torch backend maps 'reflect' to 'mirror' `(c d c b | a b c d)` and has no 'wrap'; plait does what
Keras documents (and its TensorFlow and JAX backends do).
"""
from __future__ import annotations

import math
from typing import Any

import torch

from plait.layers.layer import LAYERS
from plait.layers.preprocessing.augmentation_base import ImageAugmentation, factor_range, serializable
from plait.layers.preprocessing.image_utils import apply_channels_last

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("nearest", "bilinear")


def _fold(index: torch.Tensor, size: int, fill_mode: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Integer pixel indices mapped into `[0, size)` by `fill_mode`, and for 'constant' which were inside."""
    if fill_mode == "reflect":
        r = torch.remainder(index, 2 * size)
        return torch.where(r >= size, 2 * size - 1 - r, r), None
    if fill_mode == "wrap":
        return torch.remainder(index, size), None
    inside = (index >= 0) & (index < size) if fill_mode == "constant" else None
    return index.clamp(0, size - 1), inside


def _read(flat: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, height: int, width: int, fill_mode: str,
          fill_value: float) -> torch.Tensor:
    """The pixels at integer `(rows, cols)` (each `(batch, n)`) of `flat` images `(batch, height * width, c)`."""
    rows, row_inside = _fold(rows, height, fill_mode)
    cols, col_inside = _fold(cols, width, fill_mode)
    index = (rows * width + cols).unsqueeze(-1).expand(-1, -1, flat.shape[-1])
    values = flat.gather(1, index)
    if fill_mode == "constant":
        values = torch.where((row_inside & col_inside).unsqueeze(-1), values, torch.full_like(values, fill_value))
    return values


def affine_sample(images: torch.Tensor, matrices: torch.Tensor, interpolation: str = "bilinear",
                  fill_mode: str = "reflect", fill_value: float = 0.0) -> torch.Tensor:
    """Resamples channels-last `images` `(batch, h, w, c)`: output pixel `(x, y)` of image `i` reads the input at
    `matrices[i] @ (x, y, 1)` (see the module docstring for the interpolation and fill rules).

    Example:
        >>> img = torch.arange(6.0).reshape(1, 2, 3, 1)
        >>> shift = torch.tensor([[[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]]])  # reads x - 1: moves the image right
        >>> affine_sample(img, shift, fill_mode="constant")[0, :, :, 0]
        tensor([[0., 0., 1.],
                [0., 3., 4.]])
    """
    n, height, width, channels = images.shape
    ys, xs = torch.meshgrid(torch.arange(height, device=images.device, dtype=matrices.dtype),
                            torch.arange(width, device=images.device, dtype=matrices.dtype), indexing="ij")
    grid = torch.stack([xs.reshape(-1), ys.reshape(-1), torch.ones_like(xs).reshape(-1)])  # (3, h * w)
    src = matrices @ grid  # (batch, 2, h * w): the input x and y of every output pixel
    src_x, src_y = src[:, 0], src[:, 1]
    flat = images.reshape(n, height * width, channels)
    if interpolation == "nearest":
        def nearest(v: torch.Tensor) -> torch.Tensor:
            return (torch.sign(v) * torch.floor(v.abs() + 0.5)).long()
        out = _read(flat, nearest(src_y), nearest(src_x), height, width, fill_mode, fill_value)
    else:
        x0, y0 = torch.floor(src_x), torch.floor(src_y)
        wx, wy = (src_x - x0).unsqueeze(-1).to(images.dtype), (src_y - y0).unsqueeze(-1).to(images.dtype)
        x0, y0 = x0.long(), y0.long()
        out = ((1 - wy) * ((1 - wx) * _read(flat, y0, x0, height, width, fill_mode, fill_value)
                           + wx * _read(flat, y0, x0 + 1, height, width, fill_mode, fill_value))
               + wy * ((1 - wx) * _read(flat, y0 + 1, x0, height, width, fill_mode, fill_value)
                       + wx * _read(flat, y0 + 1, x0 + 1, height, width, fill_mode, fill_value)))
    return out.reshape(n, height, width, channels)


def _about_centre(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor, height: int, width: int
                  ) -> torch.Tensor:
    """Matrices applying the per-image linear map `[[a, b], [c, d]]` about the image centre."""
    cx, cy = (width - 1) / 2, (height - 1) / 2
    row0 = torch.stack([a, b, cx - a * cx - b * cy], dim=-1)
    row1 = torch.stack([c, d, cy - c * cx - d * cy], dim=-1)
    return torch.stack([row0, row1], dim=1)


class AffineAugmentation(ImageAugmentation):
    """An augmentation that resamples images through one random affine matrix per image (from `matrices`).

    Args:
        fill_mode: 'reflect', 'wrap', 'constant' or 'nearest' (see the module docstring).
        interpolation: 'bilinear' or 'nearest'.
        seed: An int for the layer's own generator; None draws from torch's global one.
        fill_value: The value outside the image with fill_mode='constant'.
        data_format: 'channels_last' (default) or 'channels_first'.

    Example:
        >>> class RandomShiftRight(AffineAugmentation):
        ...     def matrices(self, n, height, width, device):
        ...         shift = self.draw(n, 0, 3, device).floor()
        ...         one, zero = torch.ones_like(shift), torch.zeros_like(shift)
        ...         return torch.stack([torch.stack([one, zero, -shift], -1), torch.stack([zero, one, zero], -1)], 1)
        >>> RandomShiftRight(seed=0)(torch.rand(2, 4, 4, 1), training=True).shape
        torch.Size([2, 4, 4, 1])
    """

    def __init__(self, fill_mode: str = "reflect", interpolation: str = "bilinear", seed: int | None = None,
                 fill_value: float = 0.0, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        owner = type(self).__name__
        if fill_mode not in FILL_MODES:
            raise ValueError(f"{owner} fill_mode must be one of {', '.join(map(repr, FILL_MODES))}, got {fill_mode!r}.")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"{owner} interpolation must be 'nearest' or 'bilinear', got {interpolation!r}.")
        self.fill_mode, self.interpolation, self.fill_value = fill_mode, interpolation, float(fill_value)

    def matrices(self, n: int, height: int, width: int, device: torch.device) -> torch.Tensor:
        """`(n, 2, 3)` float32 matrices, one per image."""
        raise NotImplementedError

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        def resample(x: torch.Tensor) -> torch.Tensor:
            n, height, width, _ = x.shape
            return affine_sample(x, self.matrices(n, height, width, x.device), self.interpolation, self.fill_mode,
                                 self.fill_value)
        return apply_channels_last(resample, images, self.data_format)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fill_mode": self.fill_mode, "interpolation": self.interpolation,
                "fill_value": self.fill_value}


@LAYERS.register()
class RandomRotation(AffineAugmentation):
    """Rotates each image by a random angle about its centre, in training only; positive is counter-clockwise.

    Args:
        factor: A fraction of a full turn: a number `f` rotates by an angle in `[-f * 360, f * 360]` degrees, a
            pair `(a, b)` in `[a * 360, b * 360]`.
        fill_mode: 'reflect', 'wrap', 'constant' or 'nearest' (see the module docstring).
        interpolation: 'bilinear' or 'nearest'.
        seed: An int for the layer's own generator; None draws from torch's global one.
        fill_value: The value outside the image with fill_mode='constant'.
        data_format: 'channels_last' (default) or 'channels_first'.

    Example:
        >>> x = torch.rand(4, 8, 8, 3)
        >>> RandomRotation(0.1, seed=0)(x, training=True).shape, torch.equal(RandomRotation(0.1)(x), x)
        (torch.Size([4, 8, 8, 3]), True)
    """

    def __init__(self, factor: float | tuple[float, float], fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: int | None = None, fill_value: float = 0.0,
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self._lower, self._upper = factor_range(factor, "factor", "RandomRotation")
        self.factor = serializable(factor)

    def matrices(self, n: int, height: int, width: int, device: torch.device) -> torch.Tensor:
        angle = self.draw(n, self._lower * 2 * math.pi, self._upper * 2 * math.pi, device)
        cos, sin = torch.cos(angle), torch.sin(angle)
        return _about_centre(cos, -sin, sin, cos, height, width)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "factor": self.factor}


@LAYERS.register()
class RandomZoom(AffineAugmentation):
    """Zooms each image in or out about its centre by a random amount, in training only.

    A positive factor zooms out (the image shrinks, `fill_mode` fills the border), a negative one zooms in.

    Args:
        height_factor: A number `f` zooms the height by a random amount in `[-f, f]` (`0.2`: up to 20% out or
            in), a pair `(a, b)` in `[a, b]`; each in [-1, 1].
        width_factor: The same for the width; None zooms the width by the height's amount (keeps the aspect).
        fill_mode: 'reflect', 'wrap', 'constant' or 'nearest'.
        interpolation: 'bilinear' or 'nearest'.
        seed: An int for the layer's own generator; None draws from torch's global one.
        fill_value: The value outside the image with fill_mode='constant'.
        data_format: 'channels_last' (default) or 'channels_first'.

    Example:
        >>> x = torch.rand(4, 8, 8, 3)
        >>> RandomZoom((-0.3, 0.3), seed=0)(x, training=True).shape
        torch.Size([4, 8, 8, 3])
    """

    def __init__(self, height_factor: float | tuple[float, float],
                 width_factor: float | tuple[float, float] | None = None, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: int | None = None, fill_value: float = 0.0,
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self._height = factor_range(height_factor, "height_factor", "RandomZoom")
        self._width = None if width_factor is None else factor_range(width_factor, "width_factor", "RandomZoom")
        self.height_factor, self.width_factor = serializable(height_factor), serializable(width_factor)

    def matrices(self, n: int, height: int, width: int, device: torch.device) -> torch.Tensor:
        zoom_y = 1 + self.draw(n, *self._height, device)
        zoom_x = zoom_y if self._width is None else 1 + self.draw(n, *self._width, device)
        zero = torch.zeros_like(zoom_y)
        return _about_centre(zoom_x, zero, zero, zoom_y, height, width)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor}


@LAYERS.register()
class RandomTranslation(AffineAugmentation):
    """Shifts each image by a random fraction of its height and width, in training only.

    Args:
        height_factor: A number `f` shifts by a random fraction in `[-f, f]` of the height (positive: down), a
            pair `(a, b)` in `[a, b]`; each in [-1, 1].
        width_factor: The same for the width (positive: right).
        fill_mode: 'reflect', 'wrap', 'constant' or 'nearest'.
        interpolation: 'bilinear' or 'nearest'.
        seed: An int for the layer's own generator; None draws from torch's global one.
        fill_value: The value outside the image with fill_mode='constant'.
        data_format: 'channels_last' (default) or 'channels_first'.

    Example:
        >>> x = torch.rand(4, 8, 8, 3)
        >>> RandomTranslation(0.2, 0.2, seed=0)(x, training=True).shape
        torch.Size([4, 8, 8, 3])
    """

    def __init__(self, height_factor: float | tuple[float, float], width_factor: float | tuple[float, float],
                 fill_mode: str = "reflect", interpolation: str = "bilinear", seed: int | None = None,
                 fill_value: float = 0.0, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self._height = factor_range(height_factor, "height_factor", "RandomTranslation")
        self._width = factor_range(width_factor, "width_factor", "RandomTranslation")
        self.height_factor, self.width_factor = serializable(height_factor), serializable(width_factor)

    def matrices(self, n: int, height: int, width: int, device: torch.device) -> torch.Tensor:
        # Keras draws the height shift first, then the width shift.
        dy = self.draw(n, *self._height, device) * height
        dx = self.draw(n, *self._width, device) * width
        one, zero = torch.ones_like(dx), torch.zeros_like(dx)
        return torch.stack([torch.stack([one, zero, -dx], -1), torch.stack([zero, one, -dy], -1)], dim=1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor}
