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
from plait.data.arrays import check_finite_rows
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
        check_finite: Refuse a batch holding NaN or inf before it reaches the model, as arrays are refused
            (fit and evaluate; predict passes False). A batch's host tensors are checked on the host, before
            they move to the device, so the check costs no device synchronization.
        require_y: Refuse a batch without targets (the model has a loss to compute).

    Attributes:
        num_samples: None: the number of rows is not known before iterating.
    """

    num_samples: int | None = None

    def __init__(self, source: Any, device: torch.device, *, check_finite: bool = True,
                 require_y: bool = False) -> None:
        self.source, self.device = source, device
        self.check_finite, self.require_y = check_finite, require_y
        self.kind = type(source).__name__

    def num_batches(self, batch_size: int) -> int | None:
        """`len(source)` (batch_size does not apply), or None for a source without a length (a generator)."""
        try:
            return len(self.source)
        except TypeError:
            return None

    def batches(self, batch_size: int, shuffle: bool | str) -> Iterator[Batch]:
        """One pass over the source, each batch on the device (`batch_size` and `shuffle` do not apply).

        Raises:
            ValueError: For a batch that is not `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)` of arrays or
                tensors, or (with `check_finite`) that holds NaN or inf; the message names the batch's index.
        """
        for index, item in enumerate(self.source):
            x, y, sample_weight = self._parts(item, index)
            where = f"batch {index} of the {self.kind}"
            convert = partial(self._leaf, where=where)
            yield Batch(tree.map_structure(partial(convert, name="x"), x),
                        None if y is None else tree.map_structure(partial(convert, name="y"), y),
                        None if sample_weight is None else convert(sample_weight, name="sample_weight"))

    def _parts(self, item: Any, index: int) -> tuple[Any, Any, Any]:
        try:
            parts = unpack_x_y_sample_weight(item)
        except ValueError as err:
            raise ValueError(f"Batch {index} of the {self.kind}: {err}") from None
        if parts[0] is None or any(leaf is None for leaf in tree.flatten(parts[0])):
            raise ValueError(f"Batch {index} of the {self.kind} has no x (got {_describe(item)}). It must yield x, "
                             "(x, y) or (x, y, sample_weight), each an array or tensor with one row per sample.")
        if self.require_y and parts[1] is None:
            raise ValueError(f"Batch {index} of the {self.kind} has no targets (got {_describe(item)}), but the "
                             "model's loss needs them: yield (x, y) or (x, y, sample_weight) batches.")
        return parts

    def _leaf(self, value: Any, *, name: str, where: str) -> torch.Tensor:
        if value is None:
            raise ValueError(f"{where.capitalize()} holds None in its {name}; expected an array or tensor with one "
                             "row per sample.")
        host = value.device if isinstance(value, torch.Tensor) else torch.device("cpu")
        try:
            t = to_rows(value, name=f"{name} in {where}", device=host)
        except (TypeError, ValueError) as err:
            raise type(err)(f"{err} Each batch must be x, (x, y) or (x, y, sample_weight) of arrays or tensors.") \
                from None
        if self.check_finite and t.device.type == "cpu":
            check_finite_rows(t, f"The {name} of {where}")
        t = t if t.device == self.device else t.to(self.device)
        if self.check_finite and host.type != "cpu":  # a batch already on an accelerator: checked there
            check_finite_rows(t, f"The {name} of {where}")
        return t


def _describe(item: Any) -> str:
    if isinstance(item, (tuple, list)):
        return f"a {type(item).__name__} of {len(item)} ({', '.join(type(v).__name__ for v in item)})"
    return f"a {type(item).__name__}"
