"""Small models, data and recording callbacks shared by the callback tests."""
from __future__ import annotations

from typing import Any

import numpy as np

import plait
from plait.callbacks import Callback


def regression_data(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype("float32")
    y = (x @ rng.standard_normal((4, 1)) + 0.1 * rng.standard_normal((n, 1))).astype("float32")
    return x, y


def small_model(optimizer: Any = "sgd", metrics: Any = None, dropout: float = 0.0, seed: int = 0,
                loss: Any = "mse") -> Any:
    plait.set_random_seed(seed)
    stack = [plait.layers.Dense(8, activation="relu", input_shape=(4,))]
    if dropout:
        stack.append(plait.layers.Dropout(dropout))
    stack.append(plait.layers.Dense(1))
    model = plait.Sequential(stack)
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model


class Script(Callback):
    """Overwrites logged values with scripted ones at each epoch end (put it before the callback under test)."""

    def __init__(self, **values: list[float]) -> None:
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        for key, series in self.values.items():
            logs[key] = float(series[epoch])


class WeightsAtEpochEnd(Callback):
    """Records the weights (and optimizer learning rate) at every epoch end."""

    def __init__(self) -> None:
        super().__init__()
        self.weights: list[list[np.ndarray]] = []
        self.lr_at_begin: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.lr_at_begin.append(float(self.model.optimizer.learning_rate))

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.weights.append(self.model.get_weights())


class WeightsAtBatchEnd(Callback):
    """Records the weights after every training batch."""

    def __init__(self) -> None:
        super().__init__()
        self.weights: list[list[np.ndarray]] = []

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.weights.append(self.model.get_weights())


def same_weights(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


class CrashAt(Callback):
    """Raises `CrashAt.Crash` (like a kill) after training batch `batch` of epoch `epoch`."""

    class Crash(Exception):
        pass

    def __init__(self, epoch: int, batch: int) -> None:
        super().__init__()
        self.at, self.epoch = (epoch, batch), 0

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if (self.epoch, batch) == self.at:
            raise CrashAt.Crash()
