"""Label and array helpers Keras users reach for: `to_categorical` and `normalize`."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from plait import config


def to_categorical(x: Any, num_classes: int | None = None) -> np.ndarray | torch.Tensor:
    """Converts integer class labels to one-hot vectors (for `categorical_crossentropy`).

    A trailing axis of size 1 is dropped first, so labels shaped `(N,)` and `(N, 1)` both give
    `(N, num_classes)`. As in Keras, array-like input gives a float64 NumPy array; a torch tensor
    gives a `floatx` tensor on its device.

    Args:
        x: Class labels, integers in `[0, num_classes)` (integral floats are accepted).
        num_classes: Number of classes; `None` infers `max(x) + 1`.

    Returns:
        The one-hot encoding, class axis last.

    Raises:
        ValueError: for negative, non-integral or too-large labels (Keras would silently wrap
            negative labels and truncate fractional ones; plait refuses them).

    Example:
        >>> to_categorical([0, 2, 1], num_classes=3)
        array([[1., 0., 0.],
               [0., 0., 1.],
               [0., 1., 0.]])
    """
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer))
                                    or num_classes <= 0):
        raise ValueError(f"num_classes must be a positive integer or None, got {num_classes!r}.")
    if isinstance(x, torch.Tensor):
        labels = x.squeeze(-1) if x.dim() > 1 and x.shape[-1] == 1 else x
        k = _check_labels(labels.detach().cpu().numpy(), num_classes)
        return F.one_hot(labels.long(), k).to(config.float_dtype())
    if hasattr(x, "to_numpy"):  # pandas
        x = x.to_numpy()
    arr = np.asarray(x)
    shape = arr.shape[:-1] if arr.ndim > 1 and arr.shape[-1] == 1 else arr.shape
    flat = arr.reshape(-1)
    k = _check_labels(flat, num_classes)
    categorical = np.zeros((flat.shape[0], k))
    categorical[np.arange(flat.shape[0]), flat.astype(np.int64)] = 1
    return categorical.reshape(shape + (k,))


def _check_labels(labels: np.ndarray, num_classes: int | None) -> int:
    if labels.dtype == bool:
        labels = labels.astype(np.int64)
    numeric = np.issubdtype(labels.dtype, np.integer) or np.issubdtype(labels.dtype, np.floating)
    if not numeric:
        raise ValueError(f"to_categorical expects integer class labels, got an array of dtype {labels.dtype}; "
                         "convert string labels to integers first (e.g. with np.unique(..., return_inverse=True)).")
    if labels.size == 0:
        if num_classes is None:
            raise ValueError("Cannot infer num_classes from empty labels; pass num_classes.")
        return int(num_classes)
    if np.issubdtype(labels.dtype, np.floating) and not np.all(np.mod(labels, 1) == 0):
        bad = labels[np.mod(labels, 1) != 0].flat[0]
        raise ValueError(f"to_categorical expects integer class labels, got the non-integer value {bad!r}; "
                         "pass class indices, not probabilities or scores.")
    low, high = labels.min(), labels.max()
    if low < 0:
        raise ValueError(f"to_categorical got the negative label {low!r}; labels must be in [0, num_classes).")
    if num_classes is None:
        return int(high) + 1
    if high >= num_classes:
        raise ValueError(f"to_categorical got label {high!r} but num_classes={num_classes}; labels must be in "
                         f"[0, num_classes). Pass num_classes={int(high) + 1} or None to infer it.")
    return int(num_classes)


def normalize(x: Any, axis: int | None = -1, order: int | float = 2) -> np.ndarray | torch.Tensor:
    """Scales `x` to unit `order`-norm along `axis`.

    A NumPy array (or array-like) gives a NumPy array, where all-zero slices stay zero; a torch
    tensor gives a tensor computed as `x / max(norm, epsilon)` (Keras's backend formula).

    Args:
        x: Array to normalize.
        axis: Axis along which to normalize; `None` normalizes the flattened array.
        order: Norm order (2 for L2, 1 for L1, `np.inf`, ...).

    Returns:
        A normalized copy of `x`.

    Differences from Keras: `axis=0` on NumPy input normalizes along axis 0 (Keras turns it into
    -1), and `axis=None` uses the norm of the flattened array (Keras uses a matrix norm).

    Example:
        >>> normalize(np.array([[3.0, 4.0]]))
        array([[0.6, 0.8]])
    """
    if isinstance(x, torch.Tensor):
        if isinstance(order, bool) or not (isinstance(order, int) and order >= 1 or order == float("inf")):
            raise ValueError(f"Argument `order` must be an int >= 1 (or inf) for tensors. Received: order={order!r}.")
        if not x.is_floating_point():
            x = x.to(config.float_dtype())
        if x.dim() == 0:
            x = x.unsqueeze(0)
        if axis is None:
            return F.normalize(x.reshape(-1), p=order, dim=0, eps=config.epsilon()).reshape(x.shape)
        return F.normalize(x, p=order, dim=axis, eps=config.epsilon())
    if hasattr(x, "to_numpy"):  # pandas
        x = x.to_numpy()
    x = np.asarray(x)
    if axis is None:
        norm = np.asarray(np.linalg.norm(x.reshape(-1), order))
    else:
        norm = np.linalg.norm(x, order, axis=axis, keepdims=True)
    norm = np.where(norm == 0, 1, norm)
    return x / norm
