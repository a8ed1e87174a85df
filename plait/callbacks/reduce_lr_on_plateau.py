"""ReduceLROnPlateau: lower the learning rate when a monitored value stops improving."""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from plait.callbacks.monitor import MonitorCallback


class ReduceLROnPlateau(MonitorCallback):
    """Multiplies the learning rate by `factor` after `patience` epochs without improvement.

    Keras's rules: an improvement resets the wait; otherwise, outside a cooldown, the wait grows and on
    reaching `patience` the rate becomes `max(lr * factor, min_lr)` (only while `lr > min_lr`), the
    wait resets and a `cooldown` of that many epochs begins, during which the wait stays 0. Every epoch
    writes the current rate to `logs['learning_rate']`, so the History records it.

    Args:
        monitor: The log key to watch ('val_loss' by default).
        factor: Multiplier of the rate, in [0, 1).
        patience: Epochs without improvement before the rate drops.
        verbose: 1 prints a message at each drop.
        mode: 'auto', 'min' or 'max' (see `MonitorCallback`).
        min_delta: The smallest change that counts as an improvement.
        cooldown: Epochs to wait after a drop before counting again.
        min_lr: The rate never goes below this.

    Example:
        >>> reduce = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3, min_lr=1e-5)
        >>> reduce.factor
        0.5
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0,
                 **kwargs: Any) -> None:
        if "epsilon" in kwargs:  # Keras 2's name for min_delta
            warnings.warn("`epsilon` is deprecated; use `min_delta`.", DeprecationWarning, stacklevel=2)
            min_delta = kwargs.pop("epsilon")
        if kwargs:
            raise ValueError(f"Unrecognized arguments to ReduceLROnPlateau: {sorted(kwargs)}.")
        super().__init__(monitor, mode, min_delta=min_delta)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor >= 1.0 or factor < 0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0 (or negative). Received "
                             f"factor={factor!r}; use e.g. factor=0.1.")
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
        if isinstance(min_lr, bool) or not isinstance(min_lr, (int, float)) or min_lr < 0:
            raise ValueError(f"min_lr must be a non-negative number, got {min_lr!r}.")
        self.factor = float(factor)
        self.min_lr = float(min_lr)
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self) -> None:
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._reset()

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._set_monitor_op()
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        if isinstance(logs, dict):
            logs["learning_rate"] = float(optimizer.learning_rate)
        current = self.get_monitor_value(logs)
        if current is None:
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(optimizer.learning_rate)
                if old_lr > self.min_lr:
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "wait": self.wait, "cooldown_counter": self.cooldown_counter}

    def set_state(self, state: Mapping[str, Any]) -> None:
        super().set_state(state)
        self.wait = int(state.get("wait", 0))
        self.cooldown_counter = int(state.get("cooldown_counter", 0))
