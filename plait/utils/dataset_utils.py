"""`split_dataset`: splits in-memory arrays (or tuples/lists/dicts of them) into a left and a right part."""
from __future__ import annotations

import numbers
import random
from typing import Any

import numpy as np
import torch


def split_dataset(dataset: Any, left_size: int | float | None = None, right_size: int | float | None = None,
                  shuffle: bool = False, seed: int | None = None) -> tuple[Any, Any]:
    """Splits a dataset into a left half and a right half (e.g. train / test), as Keras does.

    Sizes follow Keras: a float in `(0, 1)` is a fraction of the samples (rounded), an int is a
    count, and `None` is the complement of the other side. When the two sizes add up to less than
    the whole, the left part is taken from the start and the right part from the end. With
    `shuffle=True` the samples are shuffled first, in the same order Keras uses for the same `seed`.

    Args:
        dataset: A NumPy array or torch tensor (samples on axis 0); a tuple, list or dict of them
            (all of one length); a pandas object; or a `torch.utils.data.Dataset`.
        left_size: Size of the left part (fraction or count).
        right_size: Size of the right part (fraction or count).
        shuffle: Whether to shuffle the samples before splitting.
        seed: Seed for the shuffle; `None` draws one from Python's `random` (seeded by
            `plait.utils.set_random_seed`).

    Returns:
        `(left, right)`, each of the same kind as `dataset` (arrays, tuples, lists, dicts; a
        `torch.utils.data.Subset` for a torch Dataset). Keras returns `tf.data.Dataset`s instead.

    Example:
        >>> data = np.random.random(size=(1000, 4))
        >>> left, right = split_dataset(data, left_size=0.8)
        >>> left.shape, right.shape
        ((800, 4), (200, 4))
    """
    if left_size is None and right_size is None:
        raise ValueError("At least one of the `left_size` or `right_size` must be specified. "
                         "Received: left_size=None and right_size=None.")
    total = _length(dataset)
    if total == 0:
        raise ValueError("Received an empty dataset; pass at least two samples.")
    order = list(range(total))
    if shuffle:
        if seed is None:
            seed = random.randint(0, int(1e6))
        random.Random(seed).shuffle(order)
    left, right = _split_sizes(left_size, right_size, total)
    left_idx, right_idx = np.asarray(order[:left], dtype=np.int64), np.asarray(order[total - right:], dtype=np.int64)
    return _take(dataset, left_idx), _take(dataset, right_idx)


def _is_torch_dataset(obj: Any) -> bool:
    return isinstance(obj, torch.utils.data.Dataset) and not isinstance(obj, torch.Tensor)


def _columns(dataset: Any) -> list[Any]:
    if isinstance(dataset, dict):
        return list(dataset.values())
    if isinstance(dataset, (tuple, list)):
        return list(dataset)
    return [dataset]


def _length(dataset: Any) -> int:
    if _is_torch_dataset(dataset):
        return len(dataset)
    columns = _columns(dataset)
    if not columns:
        raise ValueError("Received an empty tuple/list/dict dataset; pass a non-empty collection of arrays.")
    lengths = []
    for i, col in enumerate(columns):
        if not (isinstance(col, (np.ndarray, torch.Tensor)) or hasattr(col, "iloc")) or col.ndim == 0:
            raise TypeError(f"split_dataset expects arrays with samples on axis 0 (or a tuple/list/dict of them); "
                            f"element {i} is {type(col).__name__}. Convert it with np.asarray(...).")
        lengths.append(len(col))
    if len(set(lengths)) > 1:
        raise ValueError(f"All arrays must have the same number of samples, got lengths {lengths}.")
    return lengths[0]


def _take_array(col: Any, idx: np.ndarray) -> Any:
    if isinstance(col, torch.Tensor):
        return col[torch.as_tensor(idx, device=col.device)]
    if hasattr(col, "iloc"):
        return col.iloc[idx]
    return col[idx]


def _take(dataset: Any, idx: np.ndarray) -> Any:
    if _is_torch_dataset(dataset):
        return torch.utils.data.Subset(dataset, idx.tolist())
    if isinstance(dataset, dict):
        return {k: _take_array(v, idx) for k, v in dataset.items()}
    if isinstance(dataset, (tuple, list)):
        return type(dataset)(_take_array(v, idx) for v in dataset)
    return _take_array(dataset, idx)


def _as_size(value: Any, name: str) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"Invalid `{name}` type. Expected: int or float or None, Received: {type(value).__name__}.")


def _split_sizes(left_size: Any, right_size: Any, total: int) -> tuple[int, int]:
    """Keras's `_rescale_dataset_split_sizes`: validates both sizes and returns them as counts."""
    left, right = _as_size(left_size, "left_size"), _as_size(right_size, "right_size")
    if left == 0 and right == 0:
        raise ValueError("Both `left_size` and `right_size` are zero. "
                         "At least one of the split sizes must be non-zero.")
    for value, name in ((left, "left_size"), (right, "right_size")):
        if isinstance(value, int) and not 0 < value < total or isinstance(value, float) and not 0 < value < 1:
            raise ValueError(f"`{name}` should be either a positive integer smaller than {total}, or a float "
                             f"within the range (0, 1). Received: {name}={value}.")
    if isinstance(left, float) and isinstance(right, float) and left + right > 1:
        raise ValueError(f"The sum of `left_size` and `right_size` is {left + right}, greater than 1. "
                         "It must be less than or equal to 1.")
    if isinstance(left, float):
        left = round(left * total)
    if isinstance(right, float):
        right = round(right * total)
    if left is None:
        left = total - right
    elif right is None:
        right = total - left
    if left + right > total:
        raise ValueError(f"The sum of `left_size` and `right_size` should be at most the dataset length {total}. "
                         f"Received: left_size + right_size = {left + right}.")
    for split, side in ((left, "left"), (right, "right")):
        if split == 0:
            raise ValueError(f"With a dataset of length {total}, left_size={left} and right_size={right}, the "
                             f"{side} split would be empty. Adjust left_size or right_size.")
    return int(left), int(right)
