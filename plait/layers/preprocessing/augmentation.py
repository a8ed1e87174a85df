"""RandomFlip, RandomCrop, RandomContrast and RandomBrightness: random image augmentation in training only.

Vectorized over the batch: one draw per image, applied with `torch.where` or one gather, no Python loop over
images. See `augmentation_base.py` for the training/inference rule and the random generators, and
`geometric.py` for the layers that resample images (rotation, zoom, translation).
"""
from __future__ import annotations

from typing import Any

import torch

from plait.layers.conv_utils import positive_int
from plait.layers.layer import LAYERS
from plait.layers.preprocessing.augmentation_base import (ImageAugmentation, check_value_range, factor_range,
                                                         serializable)
from plait.layers.preprocessing.image_utils import apply_channels_last, spatial_axes, with_size
from plait.ops.image import resize

_FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


def _per_image(mask: torch.Tensor) -> torch.Tensor:
    return mask.reshape(-1, 1, 1, 1)


@LAYERS.register()
class RandomFlip(ImageAugmentation):
    """Flips each image left-right and/or upside down with probability 1/2, in training only.

    With 'horizontal_and_vertical' the two flips are drawn independently for each image (as Keras 2 and
    TensorFlow did; Keras 3 draws one coin for both, flipping both ways or neither).

    Args:
        mode: 'horizontal' (left-right), 'vertical' (upside down) or 'horizontal_and_vertical'.
        seed: An int for the layer's own generator (repeatable draws); None draws from torch's global one.
        data_format: 'channels_last' (default) or 'channels_first'.

    Example:
        >>> x = torch.arange(4.0).reshape(1, 2, 2, 1)
        >>> torch.equal(RandomFlip()(x), x)  # inference: unchanged
        True
        >>> out = RandomFlip("horizontal", seed=3)(x.repeat(64, 1, 1, 1), training=True)
        >>> sorted({tuple(img.flatten().tolist()) for img in out})
        [(0.0, 1.0, 2.0, 3.0), (1.0, 0.0, 3.0, 2.0)]
    """

    def __init__(self, mode: str = "horizontal_and_vertical", seed: int | None = None,
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if mode not in _FLIP_MODES:
            raise ValueError(f"RandomFlip mode must be one of {', '.join(map(repr, _FLIP_MODES))}, got {mode!r}.")
        self.mode = mode

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        h_axis, w_axis = spatial_axes(self.data_format)
        n = images.shape[0]
        if self.mode != "vertical":
            images = torch.where(_per_image(self.draw(n, 0, 1, images.device) < 0.5), images.flip(w_axis), images)
        if self.mode != "horizontal":
            images = torch.where(_per_image(self.draw(n, 0, 1, images.device) < 0.5), images.flip(h_axis), images)
        return images

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mode": self.mode}


@LAYERS.register()
class RandomCrop(ImageAugmentation):
    """Crops a random `(height, width)` window of each image in training; a deterministic one in inference.

    In training each image gets its own window (Keras 3 uses one window for the whole batch). In inference,
    and in training for images smaller than the target, the images are resized from their largest centred
    window of the target aspect ratio, as Keras does (so images already of the target size pass unchanged).

    Args:
        height: Output height in pixels.
        width: Output width in pixels.
        seed: An int for the layer's own generator; None draws from torch's global one.
        data_format: 'channels_last' (default) or 'channels_first'.

    Example:
        >>> x = torch.rand(8, 6, 6, 3)
        >>> RandomCrop(4, 4, seed=0)(x, training=True).shape, RandomCrop(4, 4)(x).shape
        (torch.Size([8, 4, 4, 3]), torch.Size([8, 4, 4, 3]))
    """

    def __init__(self, height: int, width: int, seed: int | None = None, data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height = positive_int(height, "height", "RandomCrop")
        self.width = positive_int(width, "width", "RandomCrop")

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        h_axis, w_axis = spatial_axes(self.data_format)
        height, width = images.shape[h_axis], images.shape[w_axis]
        if height < self.height or width < self.width:
            return self.infer(images)
        n, device = images.shape[0], images.device
        top = (self.draw(n, 0, 1, device) * (height - self.height + 1)).long().clamp_(max=height - self.height)
        left = (self.draw(n, 0, 1, device) * (width - self.width + 1)).long().clamp_(max=width - self.width)
        rows = top[:, None] + torch.arange(self.height, device=device)  # (n, height)
        cols = left[:, None] + torch.arange(self.width, device=device)  # (n, width)
        batch = torch.arange(n, device=device)[:, None, None]
        return apply_channels_last(lambda x: x[batch, rows[:, :, None], cols[:, None, :]], images, self.data_format)

    def infer(self, images: torch.Tensor) -> torch.Tensor:
        return resize(images, (self.height, self.width), crop_to_aspect_ratio=True, data_format=self.data_format)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return with_size(input_shape, self.height, self.width, self.data_format)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "height": self.height, "width": self.width}


@LAYERS.register()
class RandomContrast(ImageAugmentation):
    """Scales each image's deviation from its per-channel mean by a random factor, in training only.

    `out = clip((x - mean) * c + mean, *value_range)`, with `c` uniform in `[1 - lower, 1 + upper]` per image
    and the mean over height and width for each channel of each image.

    Args:
        factor: A number `f` in [0, 1] (`c` in `[1 - f, 1 + f]`), or a pair `(lower, upper)`. Keras documents this
            range; Keras 3's code draws a single number's `c` from `[1, 1 + f]` only.
        value_range: The `[low, high]` range of the pixel values; outputs are clipped to it.
        seed: An int for the layer's own generator; None draws from torch's global one.
        data_format: 'channels_last' (default) or 'channels_first'.

    Example:
        >>> x = torch.rand(4, 8, 8, 3) * 255
        >>> out = RandomContrast(0.5, seed=0)(x, training=True)
        >>> out.shape, bool(out.min() >= 0), bool(out.max() <= 255)
        (torch.Size([4, 8, 8, 3]), True, True)
    """

    def __init__(self, factor: float | tuple[float, float], value_range: tuple[float, float] = (0, 255),
                 seed: int | None = None, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if isinstance(factor, (int, float)) and not isinstance(factor, bool):
            self._lower = self._upper = factor_range(factor, "factor", "RandomContrast", (0.0, 1.0))[1]
        else:
            self._lower, self._upper = factor_range(factor, "factor", "RandomContrast", (0.0, 1.0))
        self.factor = serializable(factor)
        self.value_range = check_value_range(value_range, "RandomContrast")

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        c = self.draw(images.shape[0], 1.0 - self._lower, 1.0 + self._upper, images.device).to(images.dtype)
        mean = images.mean(dim=spatial_axes(self.data_format), keepdim=True)
        return ((images - mean) * _per_image(c) + mean).clamp(*self.value_range)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


@LAYERS.register()
class RandomBrightness(ImageAugmentation):
    """Adds a random brightness offset to each image, in training only (Keras's formula).

    `out = clip(x + d * (high - low), low, high)` with `d` uniform in the factor's range per image and
    `(low, high) = value_range`: `d = 1` turns an image white, `d = -1` black.

    Args:
        factor: A number `f` in [0, 1] (`d` in `[-f, f]`) or a pair `(lower, upper)` in [-1, 1].
        value_range: The `[low, high]` range of the pixel values; the offset is scaled to it and outputs clipped.
        seed: An int for the layer's own generator; None draws from torch's global one.
        data_format: 'channels_last' (default) or 'channels_first'.

    Example:
        >>> x = torch.full((2, 4, 4, 3), 0.5)
        >>> out = RandomBrightness(0.2, value_range=(0, 1), seed=0)(x, training=True)
        >>> bool(((out - 0.5).abs() <= 0.2 + 1e-6).all()), torch.equal(RandomBrightness(0.2)(x), x)
        (True, True)
    """

    def __init__(self, factor: float | tuple[float, float], value_range: tuple[float, float] = (0, 255),
                 seed: int | None = None, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self._lower, self._upper = factor_range(factor, "factor", "RandomBrightness")
        self.factor = serializable(factor)
        self.value_range = check_value_range(value_range, "RandomBrightness")

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        low, high = self.value_range
        delta = self.draw(images.shape[0], self._lower, self._upper, images.device).to(images.dtype) * (high - low)
        return (images + _per_image(delta)).clamp(low, high)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}
