"""The data an `adapt` call reads, as a stream of batches: one walker shared by every adaptable layer.

`adapt(data)` takes what Keras's takes: a NumPy array, a tensor, a nested list of numbers, or an iterable of
batches (a `torch.utils.data.DataLoader`, a generator, a list of arrays). A batch that is an `(x, y)` or
`(x, y, sample_weight)` tuple or list contributes its `x`, so a DataLoader of a `TensorDataset(x, y)` adapts
on `x`. A map-style `torch.utils.data.Dataset` yields single samples, not batches, so it is batched first.

This module imports nothing from `plait.data` (layers sit below it); it needs none of its machinery.

Example:
    >>> import numpy as np
    >>> [b.shape for b in iter_batches(np.zeros((5, 2)), batch_size=2)]
    [(2, 2), (2, 2), (1, 2)]
    >>> [tuple(b.shape) for b in iter_batches([(torch.ones(3, 2), torch.zeros(3))])]
    [(3, 2)]
"""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import torch

def _is_array(x: Any) -> bool:
    return isinstance(x, (np.ndarray, torch.Tensor))


def _features(batch: Any) -> Any:
    """The `x` of an `(x, y[, sample_weight])` batch; a batch that is not such a tuple is all `x`."""
    if isinstance(batch, (tuple, list)) and batch and all(_is_array(b) or b is None for b in batch):
        return batch[0]
    if isinstance(batch, dict):
        raise TypeError(f"adapt() got a batch that is a dict (keys {sorted(batch)[:5]}); a preprocessing layer "
                        "adapts on one array. Pass the column it will see, e.g. layer.adapt(data['age']).")
    return batch


def _as_batch(batch: Any) -> "np.ndarray | torch.Tensor":
    batch = _features(batch)
    if _is_array(batch):
        return batch
    try:
        arr = np.asarray(batch)
    except (TypeError, ValueError):
        arr = np.asarray(batch, dtype=object)
    if arr.dtype == object or arr.dtype.kind in "USM":
        raise TypeError(f"adapt() expects batches of numbers (NumPy arrays or tensors), got a batch of "
                        f"{type(batch).__name__} that NumPy reads as {arr.dtype}. String data needs StringLookup "
                        "or TextVectorization; otherwise convert the batch with np.asarray(..., dtype='float32').")
    return arr


def _chunks(arr: "np.ndarray | torch.Tensor", batch_size: int | None) -> Iterator["np.ndarray | torch.Tensor"]:
    if arr.ndim and len(arr) == 0:
        return
    if batch_size is None or arr.ndim == 0:
        yield arr
        return
    for start in range(0, len(arr), batch_size):
        yield arr[start:start + batch_size]


def iter_batches(data: Any, batch_size: int | None = None, steps: int | None = None
                 ) -> Iterator["np.ndarray | torch.Tensor"]:
    """Yields the batches of `data` (NumPy arrays or tensors, each with the batch axis first).

    Args:
        data: A NumPy array, a tensor, a pandas DataFrame or Series, a (nested) list of numbers, a map-style
            `torch.utils.data.Dataset`, or an iterable of batches (DataLoader, generator, list of arrays);
            `(x, y, ...)` batches give their `x`.
        batch_size: Splits an array or tensor into batches of this many rows (None: one batch), and batches a
            map-style Dataset (None: 32). Ignored for an iterable, whose batches are taken as they come.
        steps: Reads at most this many batches (None: until the data is exhausted).

    Raises:
        ValueError: If `batch_size` or `steps` is not a positive integer, or `data` holds no batch.
        TypeError: If `data` is neither numbers nor an iterable of batches of numbers.
    """
    for name, value in (("batch_size", batch_size), ("steps", steps)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            raise ValueError(f"adapt() {name} must be a positive integer or None, got {value!r}.")
    if hasattr(data, "to_numpy") and not _is_array(data):  # a pandas DataFrame or Series iterates its labels
        data = data.to_numpy()
    if isinstance(data, torch.utils.data.Dataset) and not isinstance(data, torch.utils.data.IterableDataset):
        data = torch.utils.data.DataLoader(data, batch_size=batch_size or 32)
    if _is_array(data):
        batches: Any = _chunks(data, batch_size)
    elif isinstance(data, (list, tuple)) and data and all(_is_array(_features(b)) for b in data):
        batches = iter(data)  # a list of batches
    elif isinstance(data, (list, tuple, int, float, np.number)):
        batches = _chunks(_as_batch(data), batch_size)  # numbers as nested lists: one array
    elif hasattr(data, "__iter__") and not isinstance(data, (str, bytes, dict)):
        batches = iter(data)
    else:
        raise TypeError(f"adapt() got {type(data).__name__}; expected a NumPy array, a tensor, a list of numbers, "
                        "or an iterable of batches (a DataLoader, a generator, a list of arrays).")
    seen = 0
    for batch in batches:
        if steps is not None and seen >= steps:
            break
        seen += 1
        yield _as_batch(batch)
    if seen == 0:
        raise ValueError("adapt() got no data (an empty array or an iterable with no batches); pass at least "
                         "one batch, e.g. layer.adapt(x_train).")
