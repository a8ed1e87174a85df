"""Image ops (`keras.ops.image`): `resize`, on batches `(batch, height, width, channels)` or single images.

Sampling uses half-pixel centres (torch's `align_corners=False`), as TensorFlow 2 and Keras do; 'nearest' is
torch's 'nearest-exact', which rounds the same way.

Example:
    >>> import torch
    >>> from plait import ops
    >>> ops.image.resize(torch.zeros(2, 8, 8, 3), (4, 6)).shape
    torch.Size([2, 4, 6, 3])
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F

from plait.ops.core import float_tensor

_MODES = {"bilinear": "bilinear", "nearest": "nearest-exact", "bicubic": "bicubic", "area": "area"}

__all__ = ["resize"]


def _aspect_box(height: int, width: int, target_h: int, target_w: int, grow: bool) -> tuple[int, int, int, int]:
    """Keras's box of the target aspect ratio: `(top, left, box_h, box_w)` of the centred crop inside the image,
    or, when `grow`, the image's offset and the size of the padded canvas around it."""
    box_h = int(float(width * target_h) / target_w)
    box_w = int(float(height * target_w) / target_h)
    if grow:
        box_h, box_w = max(height, box_h), max(width, box_w)
        return (box_h - height) // 2, (box_w - width) // 2, box_h, box_w
    box_h, box_w = max(min(height, box_h), 1), max(min(width, box_w), 1)
    return (height - box_h) // 2, (width - box_w) // 2, box_h, box_w


def resize(images: Any, size: Sequence[int], interpolation: str = "bilinear", antialias: bool = False,
           crop_to_aspect_ratio: bool = False, pad_to_aspect_ratio: bool = False, fill_mode: str = "constant",
           fill_value: float = 0.0, data_format: str | None = None) -> torch.Tensor:
    """Resizes images to `size = (height, width)`.

    Args:
        images: `(batch, height, width, channels)` or `(height, width, channels)`; channels first with
            `data_format='channels_first'`.
        size: The output `(height, width)`.
        interpolation: 'bilinear', 'nearest', 'bicubic' or 'area'.
        antialias: Low-pass filter when downsampling ('bilinear' and 'bicubic').
        crop_to_aspect_ratio: First crop the largest centred box of the target aspect ratio (no distortion).
        pad_to_aspect_ratio: First pad (with `fill_value`) to the target aspect ratio, centred.
        fill_mode: Only 'constant'.
        fill_value: The padding value.
        data_format: 'channels_last' (default) or 'channels_first'.

    Returns:
        The resized images, of the input's layout and float dtype (integers compute in `floatx`).
    """
    if interpolation not in _MODES:
        raise ValueError(f"interpolation must be one of {list(_MODES)}, got {interpolation!r}.")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("Pass only one of crop_to_aspect_ratio and pad_to_aspect_ratio.")
    if fill_mode != "constant":
        raise ValueError(f"fill_mode must be 'constant', got {fill_mode!r}.")
    if data_format not in (None, "channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}.")
    target_h, target_w = (int(s) for s in size)
    x = float_tensor(images)
    if x.ndim not in (3, 4):
        raise ValueError(f"resize needs images of rank 3 or 4, got shape {tuple(x.shape)}.")
    single = x.ndim == 3
    if single:
        x = x.unsqueeze(0)
    if data_format != "channels_first":
        x = x.movedim(-1, 1)
    height, width = x.shape[2], x.shape[3]
    if crop_to_aspect_ratio:
        top, left, box_h, box_w = _aspect_box(height, width, target_h, target_w, grow=False)
        x = x[:, :, top:top + box_h, left:left + box_w]
    elif pad_to_aspect_ratio:
        top, left, box_h, box_w = _aspect_box(height, width, target_h, target_w, grow=True)
        x = F.pad(x, (left, box_w - width - left, top, box_h - height - top), value=fill_value)
    mode = _MODES[interpolation]
    smooth = {"align_corners": False, "antialias": antialias} if mode in ("bilinear", "bicubic") else {}
    out = F.interpolate(x, size=(target_h, target_w), mode=mode, **smooth)
    if data_format != "channels_first":
        out = out.movedim(1, -1)
    return out.squeeze(0) if single else out
