"""Conversions between user data (numpy, lists, torch) and tensors both ways, the rank alignment losses and
metrics share, and the guard that keeps a user's `torch.autocast` region from reusing stale weight casts."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from plait import config


def _non_numeric_columns(frame: Any) -> str:
    """For a pandas DataFrame or Series that NumPy made an object array of: which columns, and why."""
    columns = frame.items() if hasattr(frame, "columns") else [(frame.name or "the series", frame)]
    text, missing, nullable = [], [], []
    for name, column in columns:
        dtype = column.dtype
        if str(dtype) in ("category", "string", "str", "object") or getattr(dtype, "kind", "O") in "OSU":
            text.append(f"{name!r} ({dtype})")
        elif int(column.isna().sum()):
            missing.append(f"{name!r} ({int(column.isna().sum())} missing)")
        elif not isinstance(dtype, np.dtype):  # pandas' nullable Int64/Float32/boolean, no value missing
            nullable.append(f"{name!r} ({dtype})")
    parts = []
    if text:
        parts.append(f"strings or categories in column(s) {', '.join(text)}: encode them as numbers first "
                     "(e.g. pd.get_dummies, or .cat.codes for labels)")
    if missing:
        parts.append(f"missing values (pd.NA) in column(s) {', '.join(missing)}: fill or drop them "
                     "(df.fillna(...), df.dropna())")
    if nullable:
        parts.append(f"nullable dtypes in column(s) {', '.join(nullable)}: convert with .astype('float32')")
    return "; ".join(parts) or "convert it with .astype('float32') first"


def numpy_to_tensor(x: Any, what: str = "data") -> torch.Tensor:
    """NumPy-like data (arrays, lists, pandas) as a CPU tensor sharing its memory where it can.

    A read-only array (pandas 3's `to_numpy`, `np.broadcast_to`, a read-only memory map) is copied once, in
    `floatx` for floats (the conversion training makes anyway), since torch cannot share read-only memory.
    Data NumPy can only hold as objects (strings, ragged rows, pandas' nullable or categorical columns) is
    refused with the columns and the fix named.
    """
    arr = np.asarray(x.to_numpy() if hasattr(x, "to_numpy") else x)
    if arr.dtype == object:
        if hasattr(x, "dtypes") or hasattr(x, "dtype") and hasattr(x, "to_numpy"):
            raise TypeError(f"{what} is a pandas {type(x).__name__} that NumPy reads as objects, not numbers: "
                            f"{_non_numeric_columns(x)}.")
        raise TypeError(f"{what} has dtype object (ragged or mixed data?); expected a numeric array. "
                        "Convert it with np.asarray(..., dtype='float32') first.")
    if arr.dtype.kind in "US":
        raise TypeError(f"{what} holds strings ({arr.dtype}); expected numbers. Encode the labels as integers.")
    if not arr.flags.writeable:
        floatx = getattr(np, config.floatx(), None)  # None for bfloat16, which NumPy lacks: convert later
        arr = arr.astype(floatx) if arr.dtype.kind == "f" and floatx is not None else arr.copy()
    return torch.from_numpy(arr if arr.flags.c_contiguous else np.ascontiguousarray(arr))


def convert_to_tensor(x: Any, dtype: torch.dtype | None = None, device: torch.device | None = None, *,
                      name: str = "data") -> torch.Tensor:
    """Returns `x` as a tensor on `device` (default: plait's device); floats become `floatx` unless `dtype` is given.

    This is plait's one conversion of user data (layers' inputs, losses, metrics, `fit`'s data): anything
    not yet a tensor goes through `numpy_to_tensor`, whose errors call it `name` ("x", "y", ...).
    """
    device = device or config.get_device()
    t = x if isinstance(x, torch.Tensor) else numpy_to_tensor(x, name)
    if dtype is None and t.is_floating_point() and t.dtype != config.float_dtype():
        dtype = config.float_dtype()
    if t.device != device or (dtype is not None and t.dtype != dtype):
        t = t.to(device=device, dtype=dtype)
    return t


# Float dtypes NumPy has no type for; float32 holds each of their values exactly.
_NON_NUMPY_FLOATS = (torch.bfloat16, torch.float8_e4m3fn, torch.float8_e5m2)


def to_numpy(x: Any) -> np.ndarray:
    """`x` as a NumPy array on the host; a tensor of a float dtype NumPy lacks (bfloat16, float8) becomes float32."""
    if isinstance(x, torch.Tensor):
        x = x.detach()
        if x.dtype in _NON_NUMPY_FLOATS:
            x = x.float()
        return x.cpu().numpy()
    return np.asarray(x)


def uncache_autocast(device: torch.device) -> bool | None:
    """Inside a user's `torch.autocast` region for `device`, stops autocast from caching weight casts until
    `restore_autocast_cache` is called with the returned value; returns None (and does nothing) elsewhere.

    Autocast caches its low-precision copy of each leaf weight until the outermost autocast region exits, so
    a training loop inside one region would run every forward pass on the weights of the first step while the
    optimizer updates the float32 originals. Without the cache every forward casts the current weights, as
    when autocast wraps each forward pass, with the same numbers where each weight is used once per forward pass
    (a cast is a pure function of the weight); a weight used several times is cast once per use, so its gradient
    parts are summed in float32 rather than in the low precision. Casts cached before this call are dropped too.
    """
    if not torch.is_autocast_enabled(device.type):
        return None
    was_enabled = torch.is_autocast_cache_enabled()
    torch.clear_autocast_cache()
    torch.set_autocast_cache_enabled(False)
    return was_enabled


def restore_autocast_cache(was_enabled: bool | None) -> None:
    """Undoes `uncache_autocast` (a no-op for None)."""
    if was_enabled is not None:
        torch.set_autocast_cache_enabled(was_enabled)


def drop_autocast_casts(device: torch.device) -> None:
    """Inside a user's `torch.autocast` region for `device`, drops the weight casts it cached so far: they may be
    of weights trained since (by `train_on_batch`, or a GradientTape step). A no-op elsewhere."""
    if torch.is_autocast_enabled(device.type):
        torch.clear_autocast_cache()


def align_ranks(y_true: torch.Tensor, y_pred: torch.Tensor, *,
                expand_rank_1: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Makes the ranks of y_true and y_pred equal when they differ by a trailing unit axis, by Keras's rule
    (`squeeze_or_expand_to_same_rank`).

    The higher-rank tensor's trailing unit axis is squeezed, except that a rank-1 partner is expanded instead
    when `expand_rank_1` (the default, as in Keras): (N,) labels against a (N, 1) output become (N, 1), so
    the batch axis never turns into the class or feature axis. Other rank differences are left alone.

    Example:
        >>> [tuple(t.shape) for t in align_ranks(torch.zeros(4), torch.zeros(4, 1))]
        [(4, 1), (4, 1)]
        >>> [tuple(t.shape) for t in align_ranks(torch.zeros(4), torch.zeros(4, 1), expand_rank_1=False)]
        [(4,), (4,)]
        >>> [tuple(t.shape) for t in align_ranks(torch.zeros(2, 5), torch.zeros(2, 5, 1))]
        [(2, 5), (2, 5)]
    """
    dt, dp = y_true.dim(), y_pred.dim()
    if dt == dp + 1 and y_true.shape[-1] == 1:
        if dp == 1 and expand_rank_1:
            return y_true, y_pred.unsqueeze(-1)
        return y_true.squeeze(-1), y_pred
    if dp == dt + 1 and y_pred.shape[-1] == 1:
        if dt == 1 and expand_rank_1:
            return y_true.unsqueeze(-1), y_pred
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
