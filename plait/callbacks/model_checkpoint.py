"""ModelCheckpoint: save the model (or its weights) during training, atomically, every epoch or N batches."""
from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

from plait.callbacks.monitor import MonitorCallback


class ModelCheckpoint(MonitorCallback):
    """Saves the model or its weights at the end of every epoch (or every `save_freq` batches).

    `filepath` may hold `str.format` fields filled from the epoch (1-based), the batch (1-based, with
    an integer `save_freq`) and the logs: `'ckpt-{epoch:02d}-{val_loss:.2f}.plait'`. Files are written
    atomically, so a crash mid-save leaves the previous checkpoint intact. If a save fails with an OS
    error (say, a full disk) after an earlier save succeeded, plait warns and trains on instead of
    losing the run; a failure on the very first save (usually a bad path) raises.

    Args:
        filepath: Where to save: a model file ending in `.plait` (plait's format) or `.keras` (Keras 3's, which
            needs h5py), or with `save_weights_only=True` a weights file ending in `.safetensors` (e.g.
            `.weights.safetensors`) or `.weights.h5` (Keras's).
        monitor: The log key compared with `save_best_only`.
        verbose: 1 prints a message at each save.
        save_best_only: Save only when `monitor` improves on the best value so far.
        save_weights_only: Save only the weights (`model.save_weights`) instead of the whole model.
        mode: 'auto', 'min' or 'max' (see `MonitorCallback`).
        save_freq: 'epoch', or an integer number of batches between saves.
        initial_value_threshold: The value `monitor` must first beat (the initial best).

    Example:
        >>> checkpoint = ModelCheckpoint("ckpt-{epoch:02d}-{val_loss:.2f}.plait", save_best_only=True)
    """

    def __init__(self, filepath: str | os.PathLike, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False, mode: str = "auto",
                 save_freq: str | int = "epoch", initial_value_threshold: float | None = None) -> None:
        super().__init__(monitor, mode, baseline=initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(f"Unrecognized save_freq: {save_freq!r}. Expected 'epoch' or a positive integer "
                             "number of batches.")
        self.save_freq = save_freq
        if self.save_weights_only and not self.filepath.endswith((".safetensors", ".weights.h5")):
            raise ValueError("When using save_weights_only=True in ModelCheckpoint, the filepath must end in "
                             f"'.weights.safetensors' (plait's weights format) or '.weights.h5' (Keras's), got "
                             f"{self.filepath!r}.")
        if not self.save_weights_only and not self.filepath.endswith((".plait", ".keras")):
            raise ValueError("The filepath given to ModelCheckpoint must end in '.plait' (plait's model format) or "
                             f"'.keras' (Keras 3's), got {self.filepath!r}. For weights only, pass "
                             "save_weights_only=True and a '.weights.safetensors' path.")
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0
        self._saved_once = False

    def implements_batch_hooks(self, kind: str | None = None) -> bool:
        # Batch hooks only when saving every N batches, so per-epoch checkpoints keep fit's fast path.
        return self.save_freq != "epoch" and kind in (None, "train")

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._saved_once = False

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._current_epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self._should_save_on_batch(batch):
            self._save_model(epoch=self._current_epoch, batch=batch, logs=logs)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch=epoch, batch=None, logs=logs)

    def _should_save_on_batch(self, batch: int) -> bool:
        if self.save_freq == "epoch":
            return False
        if batch <= self._last_batch_seen:  # a new epoch
            add_batches = batch + 1
        else:
            add_batches = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += add_batches
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _get_file_path(self, epoch: int, batch: int | None, logs: Mapping[str, Any] | None) -> str:
        logs = dict(logs) if logs is not None else {}
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except (KeyError, IndexError, ValueError) as err:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". Reason: {err!r}. The '
                           f"available fields are epoch, batch and the log keys {sorted(logs)}.") from None

    def _should_save_model(self, epoch: int, logs: Mapping[str, Any] | None, filepath: str) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = None if logs is None else logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available; saving anyway.", UserWarning,
                          stacklevel=3)
            return True
        current = float(current)
        best_str = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best_str} to {current:.5f}, saving "
                      f"model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best_str}")
        return False

    def _save_model(self, epoch: int, batch: int | None, logs: Mapping[str, Any] | None) -> None:
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save_model(epoch, logs, filepath):
            return
        try:
            directory = os.path.dirname(filepath)
            if directory:
                os.makedirs(directory, exist_ok=True)
            if self.save_weights_only:
                self.model.save_weights(filepath, overwrite=True)
            else:
                self.model.save(filepath, overwrite=True)
        except IsADirectoryError:
            raise IsADirectoryError(f"Please specify a non-directory filepath for ModelCheckpoint. Filepath used "
                                    f"is an existing directory: {filepath}") from None
        except OSError as err:
            if not self._saved_once:
                raise
            warnings.warn(f"ModelCheckpoint could not save {filepath} ({err}); the previous checkpoint is intact "
                          "and training continues.", RuntimeWarning, stacklevel=3)
            return
        self._saved_once = True

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "batches_seen": self._batches_seen_since_last_saving,
                "last_batch_seen": self._last_batch_seen}

    def set_state(self, state: Mapping[str, Any]) -> None:
        counters = {key: state.get(key, 0) for key in ("batches_seen", "last_batch_seen")}
        for key, value in counters.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"ModelCheckpoint state {key!r} must be a non-negative integer, got {value!r:.80}.")
        super().set_state(state)
        self._batches_seen_since_last_saving = counters["batches_seen"]
        self._last_batch_seen = counters["last_batch_seen"]
