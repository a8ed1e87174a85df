"""Conversions between user data (numpy, lists, torch) and tensors, and the rank alignment losses and metrics share."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from plait import config


def convert_to_tensor(x: Any, dtype: torch.dtype | None = None, device: torch.device | None = None) -> torch.Tensor:
    """Returns `x` as a tensor on `device` (default: plait's device); floats become `floatx` unless `dtype` is given."""
    device = device or config.get_device()
    if isinstance(x, torch.Tensor):
        t = x
    else:
        if hasattr(x, "to_numpy"):  # pandas
            x = x.to_numpy()
        arr = np.asarray(x)
        if arr.dtype == object:
            raise TypeError(f"Cannot convert data of dtype object to a tensor (got {type(x).__name__}); "
                            "pass numeric arrays.")
        t = torch.from_numpy(arr if arr.flags.c_contiguous else np.ascontiguousarray(arr))
    if dtype is None and t.is_floating_point() and t.dtype != config.float_dtype():
        dtype = config.float_dtype()
    if t.device != device or (dtype is not None and t.dtype != dtype):
        t = t.to(device=device, dtype=dtype)
    return t


def to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def align_ranks(y_true: torch.Tensor, y_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Squeezes or expands a trailing unit axis so both have the same rank (Keras's squeeze_or_expand_to_same_rank)."""
    dt, dp = y_true.dim(), y_pred.dim()
    if dt == dp:
        return y_true, y_pred
    if dt == dp + 1 and y_true.shape[-1] == 1:
        return y_true.squeeze(-1), y_pred
    if dp == dt + 1 and y_pred.shape[-1] == 1:
        return y_true, y_pred.squeeze(-1)
    return y_true, y_pred


def align_weight(sample_weight: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Shapes a per-sample weight to broadcast against `values` (per-sample losses or metric values)."""
    w = sample_weight.to(values.dtype)
    while w.dim() > values.dim() and w.shape[-1] == 1:
        w = w.squeeze(-1)
    while w.dim() < values.dim():
        w = w.unsqueeze(-1)
    return w
