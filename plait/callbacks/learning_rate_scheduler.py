"""LearningRateScheduler: set the learning rate at the start of each epoch from a function of the epoch."""
from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from plait.callbacks.callback import Callback


def _takes_two_arguments(fn: Callable[..., Any]) -> bool | None:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(0, 0.0)
        return True
    except TypeError:
        return False


class LearningRateScheduler(Callback):
    """Calls `schedule(epoch, lr)` (or `schedule(epoch)`) before each epoch and uses the result as the rate.

    `epoch` is 0-based and `lr` is the current rate. The rate is also written to `logs['learning_rate']`
    at each epoch end. Unlike Keras, which retries with `schedule(epoch)` after any TypeError, plait
    picks the call from the function's signature, so a TypeError inside your schedule is not hidden;
    and an int result is accepted as well as a float.

    Args:
        schedule: A function `(epoch, lr) -> new lr` or `epoch -> new lr`.
        verbose: 1 prints the rate set at each epoch.

    Example:
        >>> def schedule(epoch, lr):
        ...     return lr if epoch < 10 else lr * 0.9
        >>> callback = LearningRateScheduler(schedule)
    """

    def __init__(self, schedule: Callable[..., Any], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"schedule must be a function (epoch, lr) -> lr, got {type(schedule).__name__}.")
        self.schedule = schedule
        self.verbose = verbose
        self._two_args = _takes_two_arguments(schedule)

    def _call_schedule(self, epoch: int, lr: float) -> Any:
        if self._two_args is None:  # no signature to read: Keras's fallback
            try:
                return self.schedule(epoch, lr)
            except TypeError:
                return self.schedule(epoch)
        return self.schedule(epoch, lr) if self._two_args else self.schedule(epoch)

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "learning_rate"):
            raise ValueError('LearningRateScheduler needs a compiled model whose optimizer has a "learning_rate".')
        value = self._call_schedule(epoch, float(optimizer.learning_rate))
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(value)) or value < 0:
            raise ValueError(f"The schedule must return a finite, non-negative float learning rate; at epoch {epoch} "
                             f"it returned {value!r}.")
        optimizer.learning_rate = float(value)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(value)}.")

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if isinstance(logs, dict):
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)
