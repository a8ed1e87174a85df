"""What the image preprocessing and augmentation layers share: rank checks, layouts and the float cast.

Images are `(batch, height, width, channels)` (channels-last, Keras's default) or, with
`data_format='channels_first'`, `(batch, channels, height, width)`; a single unbatched image (rank 3) is
accepted too and comes back unbatched.

Example:
    >>> x, single = as_batch(torch.zeros(5, 6, 3), "ImageLayer")
    >>> tuple(x.shape), single
    ((1, 5, 6, 3), True)
    >>> spatial_axes("channels_last"), spatial_axes("channels_first")
    ((1, 2), (2, 3))
"""
from __future__ import annotations

from typing import Any, Callable

import torch


def as_batch(images: torch.Tensor, owner: str) -> tuple[torch.Tensor, bool]:
    """`images` as a batch (rank 4), and whether it was a single image (rank 3) to squeeze back."""
    if images.dim() == 4:
        return images, False
    if images.dim() == 3:
        return images.unsqueeze(0), True
    raise ValueError(f"{owner} expects images of rank 4 (batch, height, width, channels) or a single image of "
                     f"rank 3, got shape {tuple(images.shape)}.")


def spatial_axes(data_format: str) -> tuple[int, int]:
    """The (height, width) axes of a batch of images in `data_format`."""
    return (2, 3) if data_format == "channels_first" else (1, 2)


def float_images(images: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Images in the layer's float dtype (Keras's image layers output floats whatever the input dtype)."""
    return images if images.dtype == dtype else images.to(dtype)


def with_size(input_shape: Any, height: int, width: int, data_format: str) -> tuple:
    """`input_shape` (rank 3 or 4) with its height and width replaced by `height` and `width`."""
    shape = list(input_shape)
    h_axis, w_axis = spatial_axes(data_format)
    offset = 4 - len(shape)  # a rank-3 shape has no batch axis
    shape[h_axis - offset], shape[w_axis - offset] = height, width
    return tuple(shape)


def apply_channels_last(fn: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, data_format: str
                        ) -> torch.Tensor:
    """`fn` of the batch seen channels-last, the result given back in `data_format`."""
    if data_format == "channels_last":
        return fn(images)
    return fn(images.movedim(1, -1)).movedim(-1, 1)
