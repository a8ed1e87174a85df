"""History: the per-epoch record of every logged value, returned by `fit`."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from plait.callbacks.callback import Callback
from plait.callbacks.logs import to_float


def _pythonify(value: Any) -> Any:
    value = to_float(value)  # tensors -> float / numpy
    if isinstance(value, np.ndarray) and value.size == 1:
        return float(value.reshape(()))
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return float(value)
    return value


class History(Callback):
    """Records the logs of every epoch; `fit` adds one automatically and returns it.

    Attributes:
        history: Dict of log name (`loss`, `accuracy`, `val_loss`, ...) -> list with one Python float
            per epoch, in the order epochs ran.
        epoch: The indices (0-based) of the epochs recorded by the latest `fit`.
        params: The loop's parameters, e.g. `{'verbose': 1, 'epochs': 10, 'steps': 469}`.

    Example:
        >>> history = History()
        >>> history.on_train_begin()
        >>> history.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.6})
        >>> history.history
        {'loss': [0.5], 'val_loss': [0.6]}
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[Any]] = {}
        self.epoch: list[int] = []
        self.diagnostics: list[Any] = []  # pitfall findings of the fit (plait.diagnostics), filled by the loop

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self.epoch.append(epoch)
        for name, value in (logs if logs is not None else {}).items():
            self.history.setdefault(name, []).append(_pythonify(value))
        # Keras sets it on every epoch end so `model.history` is current even if fit is interrupted.
        if self.model is not None:
            self.model.history = self
