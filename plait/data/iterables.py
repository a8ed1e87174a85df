"""Data that batches itself: a DataLoader, an IterableDataset, a Python generator, any iterable of batches.

Each item the source yields is one batch, `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`, of numpy arrays,
tensors or pandas objects (or lists/tuples/dicts of them); each is converted to tensors on the model's
device as it arrives. The source owns batching and shuffling, so `batch_size`, `shuffle` and
`validation_split` do not apply; its length, where it has one, is the number of steps per epoch.

Example:
    >>> import torch
    >>> source = [(torch.zeros(4, 2), torch.ones(4)), (torch.zeros(2, 2), torch.ones(2))]
    >>> data = IterableAdapter(source, torch.device("cpu"))
    >>> data.num_batches(32), [batch.size for batch in data.batches(32, shuffle=True)]
    (2, [4, 2])
"""
from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import numpy as np
import torch

from plait import tree
from plait.data.batch import Batch, to_rows, unpack_x_y_sample_weight


def is_iterable_source(x: Any) -> bool:
    """Whether `x` yields batches (a DataLoader, a Dataset, a generator) rather than being arrays itself."""
    if isinstance(x, (np.ndarray, torch.Tensor, list, tuple, dict)) or hasattr(x, "to_numpy"):
        return False
    return hasattr(x, "__iter__") or hasattr(x, "__next__")


class IterableAdapter:
    """Batches drawn from a DataLoader, an IterableDataset, a generator or any iterable of batches.

    Args:
        source: The iterable. Each pass calls `iter(source)` again, so a DataLoader or a list restarts
            while a generator, which iterates once, yields nothing the second time.
        device: Where each batch's tensors go.

    Attributes:
        num_samples: None: the number of rows is not known before iterating.
    """

    num_samples: int | None = None

    def __init__(self, source: Any, device: torch.device) -> None:
        self.source, self.device = source, device

    def num_batches(self, batch_size: int) -> int | None:
        """`len(source)` (batch_size does not apply), or None for a source without a length (a generator)."""
        try:
            return len(self.source)
        except TypeError:
            return None

    def batches(self, batch_size: int, shuffle: bool | str) -> Iterator[Batch]:
        """One pass over the source, each batch on the device (`batch_size` and `shuffle` do not apply)."""
        convert = partial(to_rows, name="batch", device=self.device)
        for item in self.source:
            x, y, sample_weight = unpack_x_y_sample_weight(item)
            yield Batch(tree.map_structure(convert, x), None if y is None else tree.map_structure(convert, y),
                        None if sample_weight is None else convert(sample_weight))
