"""Resizing and CenterCrop: deterministic image preprocessing inside the model (Keras's arguments and defaults).

Resizing runs `plait.ops.image.resize`, i.e. `torch.nn.functional.interpolate` with half-pixel centres
(`align_corners=False`) and `antialias` passed through, as Keras's torch backend does.
"""
from __future__ import annotations

from typing import Any

import torch

from plait.layers.conv_utils import normalize_data_format, positive_int
from plait.layers.layer import LAYERS, Layer
from plait.layers.preprocessing.image_utils import as_batch, float_images, spatial_axes, with_size
from plait.ops.image import resize


class _SizedImageLayer(Layer):
    """An image layer with a target `(height, width)` and a `data_format`."""

    def __init__(self, height: int, width: int, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.height = positive_int(height, "height", type(self).__name__)
        self.width = positive_int(width, "width", type(self).__name__)
        self.data_format = normalize_data_format(data_format)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return with_size(input_shape, self.height, self.width, self.data_format)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "height": self.height, "width": self.width, "data_format": self.data_format}


@LAYERS.register()
class Resizing(_SizedImageLayer):
    """Resizes images to `(height, width)`; the output is float whatever the input dtype.

    Args:
        height: Output height in pixels.
        width: Output width in pixels.
        interpolation: 'bilinear', 'nearest', 'bicubic' or 'area'.
        crop_to_aspect_ratio: Resize the largest centred window of the target aspect ratio (no distortion).
        pad_to_aspect_ratio: Pad the image (with `fill_value`) to the target aspect ratio first, centred.
        fill_mode: How padding is filled; only 'constant'.
        fill_value: The padding value for `pad_to_aspect_ratio`.
        antialias: Low-pass filter when downsampling (bilinear and bicubic), as `F.interpolate(antialias=True)`.
        data_format: 'channels_last' (default) or 'channels_first'.

    Example:
        >>> Resizing(4, 6)(torch.rand(2, 8, 8, 3)).shape
        torch.Size([2, 4, 6, 3])
    """

    def __init__(self, height: int, width: int, interpolation: str = "bilinear", crop_to_aspect_ratio: bool = False,
                 pad_to_aspect_ratio: bool = False, fill_mode: str = "constant", fill_value: float = 0.0,
                 antialias: bool = False, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(height, width, data_format, **kwargs)
        if interpolation not in ("bilinear", "nearest", "bicubic", "area"):
            raise ValueError(f"Resizing interpolation must be 'bilinear', 'nearest', 'bicubic' or 'area', got "
                             f"{interpolation!r}.")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError("Resizing takes only one of crop_to_aspect_ratio and pad_to_aspect_ratio; got both.")
        if fill_mode != "constant":
            raise ValueError(f"Resizing fill_mode must be 'constant', got {fill_mode!r}.")
        self.interpolation = interpolation
        self.crop_to_aspect_ratio, self.pad_to_aspect_ratio = bool(crop_to_aspect_ratio), bool(pad_to_aspect_ratio)
        self.fill_mode, self.fill_value, self.antialias = fill_mode, float(fill_value), bool(antialias)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        as_batch(inputs, "Resizing")  # the rank check, with the layer's name in the message
        images = float_images(inputs, self.dtype)
        return resize(images, (self.height, self.width), interpolation=self.interpolation, antialias=self.antialias,
                      crop_to_aspect_ratio=self.crop_to_aspect_ratio, pad_to_aspect_ratio=self.pad_to_aspect_ratio,
                      fill_mode=self.fill_mode, fill_value=self.fill_value, data_format=self.data_format)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio, "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
                "fill_mode": self.fill_mode, "fill_value": self.fill_value, "antialias": self.antialias}


def center_crop(images: torch.Tensor, height: int, width: int, data_format: str) -> torch.Tensor:
    """The centred `(height, width)` window of a batch of images at least that large (the odd pixel, if any,
    is left on the bottom and right, as Keras)."""
    h_axis, w_axis = spatial_axes(data_format)
    top = (images.shape[h_axis] - height) // 2
    left = (images.shape[w_axis] - width) // 2
    return images.narrow(h_axis, top, height).narrow(w_axis, left, width)


def crop_or_resize(images: torch.Tensor, height: int, width: int, data_format: str, dtype: torch.dtype
                   ) -> torch.Tensor:
    """Keras's deterministic crop: the centred window when the images are large enough, else the largest centred
    window of the target aspect ratio resized to `(height, width)` (CenterCrop, and RandomCrop in inference)."""
    images = float_images(images, dtype)
    h_axis, w_axis = spatial_axes(data_format)
    if images.shape[h_axis] >= height and images.shape[w_axis] >= width:
        return center_crop(images, height, width, data_format)
    return resize(images, (height, width), crop_to_aspect_ratio=True, data_format=data_format)


@LAYERS.register()
class CenterCrop(_SizedImageLayer):
    """Crops the centre `(height, width)` window of each image.

    An image smaller than the target on either side is instead resized (bilinear) from its largest centred
    window of the target aspect ratio, as Keras does. The output is float whatever the input dtype.

    Args:
        height: Output height in pixels.
        width: Output width in pixels.
        data_format: 'channels_last' (default) or 'channels_first'.

    Example:
        >>> x = torch.arange(16.0).reshape(1, 4, 4, 1)
        >>> CenterCrop(2, 2)(x)[0, :, :, 0]
        tensor([[ 5.,  6.],
                [ 9., 10.]])
    """

    def __init__(self, height: int, width: int, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(height, width, data_format, **kwargs)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        images, single = as_batch(inputs, "CenterCrop")
        out = crop_or_resize(images, self.height, self.width, self.data_format, self.dtype)
        return out.squeeze(0) if single else out
