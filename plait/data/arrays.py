"""In-memory data (numpy, torch, pandas, lists, and lists/tuples/dicts of them) as batches on the device.

The arrays are validated and moved to the model's device once, in `ArrayAdapter.from_arrays`; after that
each batch is a view (a slice) or one `index_select` per tensor (a shuffled batch), computed on the device:
no host work per step. This module owns `batch_size`, `shuffle` and `validation_split` for arrays.

Example:
    >>> import numpy as np, torch
    >>> data = ArrayAdapter.from_arrays(np.zeros((10, 3)), np.ones(10), device=torch.device("cpu"))
    >>> data.num_samples, data.num_batches(4), [b.size for b in data.batches(4, shuffle=False)]
    (10, 3, [4, 4, 2])
    >>> train, val = train_validation_split(data, 0.2)
    >>> train.num_samples, val.num_samples
    (8, 2)
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator
from functools import partial
from operator import itemgetter
from typing import Any

import numpy as np
import torch

from plait import tree
from plait.data.batch import Batch, to_rows


def _is_scalar_list(x: Any) -> bool:
    return isinstance(x, list) and len(x) > 0 and isinstance(x[0], (numbers.Number, list))


def _all_finite(t: torch.Tensor, chunk_elements: int = 1 << 20) -> bool:
    # One summing pass answers almost always (10x faster than isfinite, no temporaries): NaN or inf anywhere makes
    # the sum non-finite. A non-finite sum may also be an overflow of finite data, so that case is checked exactly.
    if t.numel() == 0 or bool(torch.isfinite(t.sum())):
        return True
    # In row chunks: torch.isfinite on the whole array would allocate temporaries the size of the data.
    flat = t.reshape(t.shape[0], -1)
    rows = max(1, chunk_elements // max(1, flat.shape[1]))
    return all(bool(torch.isfinite(flat[i:i + rows]).all()) for i in range(0, flat.shape[0], rows))


def check_finite_rows(t: torch.Tensor, what: str) -> None:
    """Raises a ValueError naming the rows of `t` that hold NaN or inf (`what` names the data)."""
    if t.is_floating_point() and not _all_finite(t):
        bad = (~torch.isfinite(t)).reshape(t.shape[0], -1).any(dim=1)
        rows = torch.nonzero(bad).flatten()[:5].tolist()
        kind = "NaN" if bool(torch.isnan(t).any()) else "inf"
        raise ValueError(f"{what} contains {kind} values ({int(bad.sum())} of {t.shape[0]} rows, first rows "
                         f"{rows}). Clean or impute them (e.g. np.nan_to_num, or drop those rows) before training.")


def _check_cardinality(x: Any, y: Any, sample_weight: torch.Tensor | None) -> None:
    sizes = {"x": [int(t.shape[0]) for t in tree.flatten(x)]}
    if y is not None:
        sizes["y"] = [int(t.shape[0]) for t in tree.flatten(y)]
    if sample_weight is not None:
        sizes["sample_weight"] = [int(sample_weight.shape[0])]
    flat = {n for v in sizes.values() for n in v}
    if len(flat) > 1:
        shown = ", ".join(f"{k}: {v if len(v) > 1 else v[0]}" for k, v in sizes.items())
        raise ValueError(f"Data cardinality is ambiguous: x and y (and sample_weight) must have the same number "
                         f"of samples, got {shown}. Make sure all arrays have the same first dimension.")
    if flat == {0}:
        raise ValueError("The data is empty (0 samples). Pass at least one sample.")


def _map(fn: Callable[[torch.Tensor], torch.Tensor], data: Any) -> Any:
    # A single tensor (the common case) skips the structure walk: this runs once per step.
    return fn(data) if isinstance(data, torch.Tensor) else tree.map_structure(fn, data)


class ArrayAdapter:
    """In-memory data: nested tensors sharing the first (sample) dimension, on one device.

    Args:
        x: The inputs: a tensor or a list/tuple/dict of tensors.
        y: The targets (same kinds as `x`), or None.
        sample_weight: A tensor of per-sample weights, or None.

    Attributes:
        x, y, sample_weight: As given.
        num_samples: The number of rows.

    Example:
        >>> import torch
        >>> data = ArrayAdapter(torch.arange(6.0).reshape(3, 2), torch.tensor([0, 1, 0]))
        >>> data.take(torch.tensor([2, 0])).y.tolist()
        [0, 0]
    """

    def __init__(self, x: Any, y: Any = None, sample_weight: torch.Tensor | None = None) -> None:
        self.x, self.y, self.sample_weight = x, y, sample_weight
        first = tree.flatten(x)[0]
        self.num_samples = int(first.shape[0])
        self._device = first.device

    @classmethod
    def from_arrays(cls, x: Any, y: Any = None, sample_weight: Any = None, *, device: torch.device,
                    check_finite: bool = True) -> ArrayAdapter:
        """Converts and validates user arrays, and moves them to `device` once.

        Raises:
            TypeError: If an array holds no numbers (strings, objects, pandas categories).
            ValueError: For a scalar, arrays of different lengths, no samples, or (with `check_finite`)
                NaN/inf values or negative sample weights.
        """
        # A list of numbers is one array, not a structure of scalars.
        if _is_scalar_list(x):
            x = np.asarray(x)
        if y is not None and _is_scalar_list(y):
            y = np.asarray(y)
        xt = tree.map_structure(lambda a: to_rows(a, "x", device), x)
        yt = None if y is None else tree.map_structure(lambda a: to_rows(a, "y", device), y)
        swt = None if sample_weight is None else to_rows(sample_weight, "sample_weight", device)
        _check_cardinality(xt, yt, swt)
        if check_finite:
            for name, part in (("x", xt), ("y", yt)):
                for t in [] if part is None else tree.flatten(part):
                    check_finite_rows(t, name)
            if swt is not None:
                check_finite_rows(swt, "sample_weight")
                if bool((swt < 0).any()):
                    raise ValueError("sample_weight has negative values; weights must be >= 0.")
        return cls(xt, yt, swt)

    def num_batches(self, batch_size: int) -> int:
        """Batches per pass: the last one may be partial."""
        return math.ceil(self.num_samples / batch_size)

    def take(self, index: torch.Tensor | slice) -> Batch:
        """The rows at `index`: a slice gives views (no copy), a tensor of row numbers an `index_select`."""
        pick = itemgetter(index) if isinstance(index, slice) else partial(torch.index_select, dim=0, index=index)
        return Batch(_map(pick, self.x), None if self.y is None else _map(pick, self.y),
                     None if self.sample_weight is None else pick(self.sample_weight))

    def all(self) -> Batch:
        """Every row as one batch (views, no copy)."""
        return self.take(slice(0, self.num_samples))

    def split(self, at: int) -> tuple[ArrayAdapter, ArrayAdapter]:
        """Rows `[0, at)` and `[at, num_samples)` as two adapters over views of this one's tensors."""
        head, tail = self.take(slice(0, at)), self.take(slice(at, self.num_samples))
        return (ArrayAdapter(head.x, head.y, head.sample_weight),
                ArrayAdapter(tail.x, tail.y, tail.sample_weight))

    def batches(self, batch_size: int, shuffle: bool | str) -> Iterator[Batch]:
        """One pass: rows in order (`shuffle=False`), a fresh permutation of all rows (`True`), or the
        batch-sized chunks in a random order (`'batch'`, for data read best in order, such as an HDF5 file)."""
        n, bs = self.num_samples, batch_size
        if shuffle == "batch":
            order = torch.randperm(math.ceil(n / bs), device="cpu").tolist()
            for b in order:
                yield self.take(slice(b * bs, min(n, (b + 1) * bs)))
        elif shuffle:
            # Drawn on the data's device, so the rows are gathered there without a host round trip.
            perm = torch.randperm(n, device=self._device)
            for start in range(0, n, bs):
                yield self.take(perm[start:start + bs])
        else:
            for start in range(0, n, bs):
                yield self.take(slice(start, start + bs))


def train_validation_split(data: ArrayAdapter, validation_split: float) -> tuple[ArrayAdapter, ArrayAdapter]:
    """Keras's rule: the *last* `validation_split` fraction of rows, taken before any shuffling.

    Raises:
        ValueError: If `validation_split` is not in (0, 1), or leaves either part empty.
    """
    if not isinstance(validation_split, (int, float)) or not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be a float in (0, 1), got {validation_split!r}.")
    n = data.num_samples
    split_at = math.floor(n * (1.0 - validation_split))
    if split_at in (0, n):
        empty = "no training" if split_at == 0 else "no validation"
        raise ValueError(f"validation_split={validation_split} leaves {empty} samples out of {n}. Use more data or a "
                         "different validation_split.")
    return data.split(split_at)
