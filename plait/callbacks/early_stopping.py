"""EarlyStopping: stop training when a monitored value has stopped improving."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plait.callbacks.monitor import MonitorCallback


class EarlyStopping(MonitorCallback):
    """Stops training once `monitor` has not improved for `patience` epochs.

    Keras's rules, exactly: each epoch the wait counter grows by one and resets to 0 on an improvement
    (one that also beats `baseline`, if given); training stops when `wait >= patience` at an epoch after
    the first. Epochs before `start_from_epoch` are ignored. With `restore_best_weights=True` the weights
    of the best epoch are put back at the end of training whenever a best epoch was recorded, whether or
    not training stopped early (Keras 3.16's behaviour).

    Args:
        monitor: The log key to watch ('val_loss' by default).
        min_delta: The smallest change that counts as an improvement.
        patience: Epochs without improvement after which training stops.
        verbose: 1 prints a message when stopping and when restoring weights.
        mode: 'auto', 'min' or 'max' (see `MonitorCallback`).
        baseline: A value the monitored quantity must beat; without reaching it, training stops after
            `patience` epochs.
        restore_best_weights: Put back the weights of the best epoch at the end of training.
        start_from_epoch: Epochs to wait before watching (a warm-up).

    Attributes:
        stopped_epoch: The (0-based) epoch at which training stopped, 0 if it did not stop early.
        best_epoch: The (0-based) epoch with the best value.

    Example:
        >>> import numpy as np, plait
        >>> model = plait.Sequential([plait.layers.Dense(1, input_shape=(2,))])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> stop = EarlyStopping(monitor="loss", patience=2)
        >>> history = model.fit(np.zeros((8, 2)), np.zeros(8), epochs=50, callbacks=[stop], verbose=0)
        >>> len(history.history["loss"]) < 50
        True
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: float | None = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0) -> None:
        super().__init__(monitor, mode, min_delta=min_delta)
        for name, value in (("patience", patience), ("start_from_epoch", start_from_epoch)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = start_from_epoch
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best_weights: list[Any] | None = None

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        # Reset, so one instance can serve several fits (as Keras).
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Until something beats them, the current weights are the best seen.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # The wait restarts only when the value beats both the previous best and the baseline.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "wait": self.wait, "stopped_epoch": self.stopped_epoch,
                "best_epoch": self.best_epoch, "best_weights": self.best_weights}

    def set_state(self, state: Mapping[str, Any]) -> None:
        best_weights = state.get("best_weights")
        if best_weights is not None:
            expected = [(w.shape, w.dtype) for w in self.model.get_weights()]
            got = [(getattr(w, "shape", None), getattr(w, "dtype", None)) for w in best_weights] \
                if isinstance(best_weights, list) else None
            if got != expected:
                raise ValueError(f"EarlyStopping state 'best_weights' must be the model's {len(expected)} weight "
                                 f"arrays (shapes {[s for s, _ in expected][:4]}...), got "
                                 f"{type(best_weights).__name__}.")
        super().set_state(state)
        self.wait = int(state.get("wait", 0))
        self.stopped_epoch = int(state.get("stopped_epoch", 0))
        self.best_epoch = int(state.get("best_epoch", 0))
        self.best_weights = state.get("best_weights")
