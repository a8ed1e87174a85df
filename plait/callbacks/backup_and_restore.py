"""BackupAndRestore: resume an interrupted `fit` exactly where its last backup left it."""
from __future__ import annotations

import copy
import json
import os
import warnings
from collections.abc import Mapping
from typing import Any

import torch

from plait.callbacks import training_state as ts
from plait.callbacks.backup_file import FORMAT, FORMAT_VERSION, METADATA_KEY, Backup, read_backup
from plait.callbacks.callback import Callback
from plait.errors import FormatError
from plait.saving import safetensors_format as st
from plait.saving.weights import assign_weights, weight_tensors

BACKUP_FILE = "latest.backup.safetensors"


class Undo:
    """The model's weights, optimizer, History and callback states before a restore, to put back if the
    backup's last part (the running metrics, checked once the replay has built them) is refused."""

    def __init__(self, model: Any, history: Any, callbacks: list[tuple[Callback, Any]]) -> None:
        self.weights = {k: v.to("cpu", copy=True) for k, v in weight_tensors(model).items()}
        optimizer = model.optimizer
        self.optimizer_state = None
        self.optimizer_attributes = None
        if optimizer.built:
            self.optimizer_state = {k: v.to("cpu", copy=True) for k, v in optimizer.state_dict().items()}
        else:  # building adds slots and variables: keep the unbuilt optimizer's attributes (containers copied)
            self.optimizer_attributes = {k: copy.copy(v) if isinstance(v, (dict, list, set)) else v
                                         for k, v in vars(optimizer).items()}
        self.history = history
        self.history_values = None if history is None else (copy.deepcopy(history.history), list(history.epoch))
        self.callbacks = callbacks

    def restore(self, model: Any) -> None:
        assign_weights(model, self.weights, source="the weights from before the restore")
        optimizer = model.optimizer
        if self.optimizer_state is not None:
            optimizer.load_state_dict(self.optimizer_state)
        elif self.optimizer_attributes is not None:
            vars(optimizer).clear()
            vars(optimizer).update(self.optimizer_attributes)
        if self.history is not None and self.history_values is not None:
            self.history.history, self.history.epoch = self.history_values
        ts.rollback_callback_states(self.callbacks)


class BackupAndRestore(Callback):
    """Backs up the whole training state so that a `fit` killed at any moment resumes from the last backup.

    A backup is one file, `backup_dir/latest.backup.safetensors`, written atomically (so a kill while
    writing leaves the previous backup intact). It holds the weights, the optimizer state, the random
    number generator states (torch, CUDA, NumPy, Python), the History so far, the state of the other
    plait callbacks (EarlyStopping's counters and best weights, ReduceLROnPlateau's, CSVLogger's rows,
    ...) and, for a backup taken mid-epoch, the running metric values. On the next `fit` with the same
    `backup_dir`, training resumes from it: after an end-of-epoch backup at the next epoch; after a
    mid-epoch backup (integer `save_freq`) at the next batch of that epoch, the batches already trained
    being drawn again (same shuffle) but not trained on. On CPU with a fixed seed the resumed run ends
    with exactly the weights, optimizer state and History of an uninterrupted run.

    The backup is read as untrusted input (`backup_file.py`): all of it is checked against the model and
    this `fit` before any of it is applied. A damaged, truncated, hostile or mismatched backup (another
    model, optimizer or metrics; an epoch past `epochs`) is one `FormatError` naming the file, with the
    model's weights and optimizer left exactly as they were; training never silently starts afresh. Delete
    `backup_dir` to start afresh.

    Differences from Keras: Keras restarts an interrupted epoch from its first batch and restores only
    weights and the epoch; it writes `latest.weights.h5` + `training_metadata.json` and deletes the whole
    `backup_dir` at the end, where plait deletes only its own files (and the directory if then empty).

    The model must be built (have its weights) before `fit`. The backup is deleted when `fit` finishes
    normally (unless `delete_checkpoint=False`) and kept when it is interrupted.

    Args:
        backup_dir: Directory for the backup file (created if needed).
        save_freq: 'epoch' to back up at each epoch end, or an integer number of batches.
        double_checkpoint: Keep the previous backup as `latest.backup.safetensors.bkp` and fall back to it
            if the latest one cannot be read.
        delete_checkpoint: Delete the backup when training completes.

    Example:
        >>> callback = BackupAndRestore(backup_dir="/tmp/backup")
        >>> # model.fit(x, y, epochs=10, callbacks=[callback])  # killed? run the same line again
    """

    runs_last = True  # CallbackList runs it after History, so a backup includes the epoch just logged

    def __init__(self, backup_dir: str | os.PathLike, save_freq: str | int = "epoch", double_checkpoint: bool = False,
                 delete_checkpoint: bool = True) -> None:
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed; give a directory for the backup, e.g. 'backup'.")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(f"Invalid value for save_freq: {save_freq!r}. Expected 'epoch' or a positive integer.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._backup_path = os.path.join(self.backup_dir, BACKUP_FILE)
        self._prev_backup_path = self._backup_path + ".bkp"
        self._callbacks: list[Callback] = []
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0
        self._epoch_rng: tuple[dict[str, torch.Tensor], dict[str, Any]] | None = None
        self._saved_once = False

    def set_callbacks(self, callbacks: list[Callback]) -> None:
        """Receives the other callbacks of the run (from CallbackList), whose state goes into each backup."""
        self._callbacks = [c for c in callbacks if c is not self]

    def implements_batch_hooks(self, kind: str | None = None) -> bool:
        return self.save_freq != "epoch" and kind in (None, "train")

    # ------------------------------------------------------------------------------------------- restoring
    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        model = self.model
        if not model.built or any(not getattr(layer, "built", True) for layer in model.layers):
            raise ValueError("To use the BackupAndRestore callback, the model must be built before you call fit(). "
                             "Give the first layer input_shape=..., start with plait.Input(shape), or call "
                             "model.build(input_shape).")
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = -1
        self._saved_once = False
        backup = self._read_backup()
        if backup is not None:
            self._restore(backup)

    def _read_backup(self) -> Backup | None:
        """The first backup that passes every check (see `backup_file.py`), None if there is none at all."""
        candidates = [self._backup_path] + ([self._prev_backup_path] if self.double_checkpoint else [])
        run = self.model.fit_run
        epochs = run.epochs if run is not None else int(self.params.get("epochs") or 1)
        steps = self.params.get("steps")
        errors = []
        for path in candidates:
            if not os.path.lexists(path):  # lexists: a dangling link is a damaged backup, not a missing one
                continue
            try:
                return read_backup(path, self.model, epochs=epochs,
                                   steps=steps if isinstance(steps, int) and steps > 0 else None)
            except FormatError as err:
                errors.append(str(err))
                if path != candidates[-1]:
                    warnings.warn(f"Could not use the backup {err}; trying the previous one.", RuntimeWarning,
                                  stacklevel=3)
        if errors:
            raise FormatError(self._refusal(errors[-1]))
        return None

    def _refusal(self, problem: str) -> str:
        return (f"Could not resume from the backup: {problem.rstrip('.')}. Nothing was restored: the model's "
                f"weights and optimizer are as they were. Delete the directory {self.backup_dir!r} to start training "
                "afresh.")

    def _restore(self, backup: Backup) -> None:
        model = self.model
        try:
            previous = ts.restore_callback_states(self._callbacks, backup.callbacks)
        except FormatError as err:
            raise FormatError(self._refusal(f"{backup.path}: {err}")) from None
        history = getattr(model, "history", None)
        if not hasattr(history, "history"):
            history = None
        # A mid-epoch backup's metric states can only be checked once the replay has built the metrics: until
        # then keep what it replaces, to put back if they are refused.
        undo = None if backup.metrics_checked else Undo(model, history, previous)
        assign_weights(model, backup.weights, source=f"the backup {backup.path}", error=FormatError)
        if backup.optimizer is not None:
            model.optimizer.build(model.trainable_variables)
            model.optimizer.load_state_dict(backup.optimizer)
        if history is not None:
            history.history = copy.deepcopy(backup.history)
            history.epoch = list(backup.history_epochs)
        self._current_epoch = backup.epoch
        if backup.step is None or backup.rng_epoch is None:
            ts.set_rng_state(*backup.rng)
            model.fit_run.resume_at(backup.epoch)
            return
        ts.set_rng_state(*backup.rng_epoch)
        self._last_batch_seen = backup.step
        self._batches_seen_since_last_saving = 0

        def finish_replay() -> None:
            try:
                ts.set_metric_states(model, backup.tensors, backup.metrics)
            except FormatError as err:
                if undo is not None:
                    undo.restore(model)
                raise FormatError(self._refusal(f"{backup.path}: {err}")) from None
            ts.set_rng_state(*backup.rng)

        model.fit_run.resume_at(backup.epoch, replay_steps=backup.step + 1, after_replay=finish_replay)

    # --------------------------------------------------------------------------------------------- saving
    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._current_epoch = epoch
        if self.save_freq != "epoch":
            self._epoch_rng = ts.get_rng_state()

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self.save_freq == "epoch":
            return
        if batch <= self._last_batch_seen:  # a new epoch
            self._batches_seen_since_last_saving += batch + 1
        else:
            self._batches_seen_since_last_saving += batch - self._last_batch_seen
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save(epoch=self._current_epoch, step=batch)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._last_batch_seen = -1
        if self.save_freq == "epoch":
            self._save(epoch=epoch + 1, step=None)

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if not self.delete_checkpoint:
            return
        for path in (self._backup_path, self._prev_backup_path):
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
        try:
            os.rmdir(self.backup_dir)  # only if empty: the directory may hold other files
        except OSError:
            pass

    def _save(self, epoch: int, step: int | None) -> None:
        model = self.model
        tensors = {f"model/{k}": v for k, v in weight_tensors(model).items()}
        optimizer = getattr(model, "optimizer", None)
        optimizer_built = optimizer is not None and bool(getattr(optimizer, "built", False))
        if optimizer_built:
            tensors.update({f"optimizer/{k}": v for k, v in optimizer.state_dict().items()})
        rng_tensors, rng_meta = ts.get_rng_state()
        tensors.update({f"rng/{k}": v for k, v in rng_tensors.items()})
        history = getattr(model, "history", None)
        meta: dict[str, Any] = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "epoch": epoch, "step": step,
            "optimizer_built": optimizer_built, "rng": rng_meta, "history": getattr(history, "history", {}),
            "history_epochs": getattr(history, "epoch", []),
            "callbacks": ts.callback_states(self._callbacks, tensors)}
        if step is not None:
            epoch_tensors, meta["rng_epoch"] = self._epoch_rng or ts.get_rng_state()
            tensors.update({f"rng_epoch/{k}": v for k, v in epoch_tensors.items()})
            meta["metrics"] = ts.metric_states(model, tensors)
        try:
            os.makedirs(self.backup_dir, exist_ok=True)
            if self.double_checkpoint and os.path.exists(self._backup_path):
                os.replace(self._backup_path, self._prev_backup_path)
            st.save_file(tensors, self._backup_path, {METADATA_KEY: json.dumps(meta)})
        except OSError as err:
            if not self._saved_once:
                raise
            warnings.warn(f"BackupAndRestore could not write {self._backup_path} ({err}); the previous backup is "
                          "kept and training continues.", RuntimeWarning, stacklevel=3)
            return
        self._saved_once = True
