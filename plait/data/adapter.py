"""From what users pass to fit/evaluate/predict to the batches `train_step` receives.

Who owns which `fit` argument (the separation Keras's `trainers/epoch_iterator.py` describes):

- `adapt` (here) owns `x`, `y` and `sample_weight`: it checks that there is data and, when the model
  has a loss, targets, and picks the adapter for the kind of data.
- The adapters, through the `DataAdapter` protocol, own how one pass over the data is made:
  - `ArrayAdapter` (`arrays.py`): numpy, torch, pandas, lists, and lists/tuples/dicts of them. It
    validates them (lengths, NaN/inf, negative weights), moves them to the device once, and owns
    `batch_size`, `shuffle` (True, False or 'batch') and `validation_split` (`train_validation_split`).
  - `IterableAdapter` (`iterables.py`): DataLoaders, IterableDatasets, generators. They batch and
    shuffle themselves, so `batch_size`, `shuffle` and `validation_split` do not apply.
- `EpochIterator` (here) owns `steps_per_epoch` (and evaluate/predict's `steps`, `validation_steps`):
  how many steps make an epoch, the stream continuing across epochs, and the warning when the data runs
  out. It also owns `class_weight`, folded into each batch's sample weight by `apply_class_weight`, the
  one place that does so for every kind of data and for `train_on_batch`.
- The loop (`plait.training`) owns `epochs`, `initial_epoch`, `callbacks` and `validation_data`/`_freq`.

Example:
    >>> import numpy as np, torch
    >>> data = adapt(np.zeros((5, 2)), np.array([0, 1, 1, 0, 1]), device=torch.device("cpu"))
    >>> iterator = EpochIterator(data, 2, class_weight={1: 3.0})
    >>> [(step, batch.sample_weight.tolist()) for step, batch in iterator.epoch()]
    [(0, [1.0, 3.0]), (1, [3.0, 1.0]), (2, [3.0])]
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from plait import config, tree
from plait.data.arrays import ArrayAdapter
from plait.data.batch import Batch, pack_x_y_sample_weight, unpack_x_y_sample_weight
from plait.data.iterables import IterableAdapter, is_iterable_source

__all__ = ["Batch", "ClassWeight", "DataAdapter", "EpochIterator", "adapt", "apply_class_weight",
           "check_class_weight", "pack_x_y_sample_weight", "unpack_x_y_sample_weight"]


@runtime_checkable
class DataAdapter(Protocol):
    """What the training loop needs from data of any kind: its size where known, and passes of batches.

    Attributes:
        num_samples: The number of rows when known before iterating (arrays), else None.
    """

    num_samples: int | None

    def num_batches(self, batch_size: int) -> int | None:
        """The number of batches in one pass, or None when unknown (a generator)."""
        ...

    def batches(self, batch_size: int, shuffle: bool | str) -> Iterator[Batch]:
        """One pass over the data. Data that batches itself ignores `batch_size` and `shuffle`; each call
        starts a new pass over the source (a one-shot generator yields nothing the second time)."""
        ...


def adapt(x: Any, y: Any = None, sample_weight: Any = None, *, device: torch.device | None = None,
          check_finite: bool = True, require_y: bool = False) -> ArrayAdapter | IterableAdapter:
    """Validates user data and returns an ArrayAdapter (arrays) or an IterableAdapter (loaders/generators).

    Args:
        x, y, sample_weight: As passed to `fit`, `evaluate` or `predict`.
        device: Where the batches go (default: plait's device).
        check_finite: Refuse arrays holding NaN or inf (not needed for `predict`).
        require_y: Refuse arrays without targets (the model has a loss to compute).

    Raises:
        ValueError: For missing data or targets, `y` or `sample_weight` next to an iterable, and the array
            checks of `ArrayAdapter.from_arrays`.
    """
    device = device or config.get_device()
    if x is None:
        raise ValueError("No input data: x is None. Pass your features as x (an array, tensor or DataLoader).")
    if is_iterable_source(x):
        if y is not None:
            raise ValueError(f"y must not be given when x is a {type(x).__name__}: it should yield (x, y) batches.")
        if sample_weight is not None:
            raise ValueError(f"sample_weight must not be given when x is a {type(x).__name__}: it should yield "
                             "(x, y, sample_weight) batches.")
        return IterableAdapter(x, device, check_finite=check_finite, require_y=require_y)
    if require_y and y is None:
        raise ValueError("y is missing: fit and evaluate need targets. Pass y=... (or an iterable yielding (x, y)).")
    return ArrayAdapter.from_arrays(x, y, sample_weight, device=device, check_finite=check_finite)


class ClassWeight:
    """A validated `{class_index: weight}` dict and, per device, the lookup table it gives.

    Build it with `check_class_weight`. The table is made on the first batch on a device and reused, so a
    step costs a few device ops and no host-to-device copy.
    """

    __slots__ = ("_tables", "weights")

    def __init__(self, weights: dict[int, float]) -> None:
        self.weights = weights
        self._tables: dict[torch.device, torch.Tensor] = {}

    def _table(self, device: torch.device) -> torch.Tensor:
        table = self._tables.get(device)
        if table is None:
            # One slot per class up to the largest given, then one for every larger class: 1.0, as Keras.
            values = [1.0] * (max(self.weights, default=-1) + 2)
            for k, v in self.weights.items():
                if k >= 0:
                    values[k] = v
            table = self._tables[device] = torch.tensor(values, dtype=torch.float32, device=device)
        return table

    def sample_weights(self, y: Any) -> torch.Tensor:
        """The weight of each row's class: the argmax of one-hot `y`, else its (rounded) value.

        Raises:
            ValueError: If `y` is None, or holds several outputs' targets.
        """
        if y is None:
            raise ValueError("class_weight needs targets, but the batch has no y. Pass y=... (or batches of "
                             "(x, y)), or drop class_weight.")
        if tree.is_nested(y):
            raise ValueError("class_weight is only supported for models with a single output.")
        if y.dim() > 1 and y.shape[-1] > 1:
            labels = y.argmax(dim=-1)
        else:
            labels = y.reshape(y.shape[0], -1)[:, 0] if y.dim() > 1 else y
            labels = torch.round(labels.float()).long() if labels.is_floating_point() else labels.long()
        table = self._table(labels.device)
        # A negative label takes class 0's weight and a label past the table the last slot's 1.0, without
        # reading the labels on the host.
        return table[labels.clamp(min=0, max=table.shape[0] - 1)]


def check_class_weight(class_weight: Any) -> ClassWeight | None:
    """Validates a `{class_index: weight}` dict (None passes through) before any batch is drawn.

    Raises:
        TypeError: If `class_weight` is not a dict.
        ValueError: If a key is not an integer class index or a weight not a number.
    """
    if class_weight is None or isinstance(class_weight, ClassWeight):
        return class_weight
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be a dict {{class_index: weight}}, got {type(class_weight).__name__}.")
    try:
        keys = [int(k) for k in class_weight]
    except (TypeError, ValueError):
        raise ValueError(f"class_weight keys must be integer class indices, got keys {list(class_weight)}.") from None
    try:
        values = [float(v) for v in class_weight.values()]
    except (TypeError, ValueError):
        raise ValueError("class_weight values must be numbers (one weight per class), got "
                         f"{list(class_weight.values())}.") from None
    bad = {k: v for k, v in zip(keys, values) if not math.isfinite(v) or v < 0}
    if bad:
        raise ValueError(f"class_weight values must be finite and non-negative, got {bad}. A weight scales the "
                         "loss of every sample of its class: use e.g. {0: 1.0, 1: 5.0}.")
    return ClassWeight(dict(zip(keys, values)))


def apply_class_weight(batch: Batch, class_weight: ClassWeight | dict | None) -> Batch:
    """`batch` with `class_weight` folded into its sample weight (multiplying any it has); as is for None.

    Missing classes weigh 1.0. Pass a `ClassWeight` (from `check_class_weight`) where it applies to many
    batches: a dict is validated, and its table built, on every call.
    """
    if class_weight is None:
        return batch
    x, y, sample_weight = unpack_x_y_sample_weight(batch)
    weights = check_class_weight(class_weight).sample_weights(y)
    return Batch(x, y, weights if sample_weight is None else sample_weight * weights)


def _check_shuffle(shuffle: Any) -> bool | str:
    if isinstance(shuffle, (bool, np.bool_, int, np.integer)) or (isinstance(shuffle, str) and shuffle == "batch"):
        return shuffle
    raise ValueError(f"shuffle must be True, False or 'batch', got {shuffle!r}.")


class EpochIterator:
    """Yields the batches of one epoch at a time from any `DataAdapter`.

    Without `steps_per_epoch` an epoch is one pass over the data. With it, an epoch is that many steps
    and the stream continues across epochs: the next epoch starts where the last stopped, and a pass
    that ends is restarted, as in Keras. If a fresh pass yields nothing, `exhausted` becomes True.

    Args:
        data: The adapted data.
        batch_size: Rows per batch for data the adapter batches (None: Keras's 32).
        shuffle: True, False or 'batch', for data the adapter shuffles.
        steps_per_epoch: Steps per epoch, or None for one pass.
        class_weight: A `{class_index: weight}` dict folded into each batch's sample weight, or None.

    Example:
        >>> import torch
        >>> data = adapt(torch.arange(3.0)[:, None], device=torch.device("cpu"))
        >>> iterator = EpochIterator(data, 2, steps_per_epoch=2)
        >>> [[b.x.flatten().tolist() for _, b in iterator.epoch()] for _ in range(2)]
        [[[0.0, 1.0], [2.0]], [[0.0, 1.0], [2.0]]]
    """

    def __init__(self, data: DataAdapter, batch_size: int | None, *, shuffle: bool | str = False,
                 steps_per_epoch: int | None = None, class_weight: ClassWeight | dict | None = None) -> None:
        self.data = data
        self.batch_size = 32 if batch_size is None else batch_size
        self.shuffle = _check_shuffle(shuffle)
        self.steps_per_epoch = steps_per_epoch
        self.class_weight = check_class_weight(class_weight)
        self._stream: Iterator[Batch] | None = None
        self.exhausted = False

    @property
    def num_steps(self) -> int | None:
        """Steps per epoch: `steps_per_epoch`, else the batches in one pass (None when unknown)."""
        if self.steps_per_epoch is not None:
            return self.steps_per_epoch
        return self.data.num_batches(self.batch_size)

    def _one_pass(self) -> Iterator[Batch]:
        batches = self.data.batches(self.batch_size, self.shuffle)
        if self.class_weight is None:
            return batches
        return (apply_class_weight(batch, self.class_weight) for batch in batches)

    def epoch(self) -> Iterator[tuple[int, Batch]]:
        """(step, batch) for one epoch."""
        if self.steps_per_epoch is None:
            yield from enumerate(self._one_pass())
            return
        step, fresh = 0, False
        while step < self.steps_per_epoch:
            if self._stream is None:
                self._stream, fresh = self._one_pass(), True
            try:
                batch = next(self._stream)
            except StopIteration:
                self._stream = None
                if fresh:  # a new pass gave nothing: the source is exhausted for good
                    warnings.warn("Your input ran out of data; interrupting training. Make sure the data can "
                                  f"generate at least steps_per_epoch * epochs batches ({self.steps_per_epoch} "
                                  "per epoch).", stacklevel=3)
                    self.exhausted = True
                    return
                continue
            fresh = False
            yield step, batch
            step += 1
