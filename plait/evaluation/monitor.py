"""Diagnostics wired into `fit` and `evaluate`: checks before training, a monitor during it, checks after.

Cost model: the data checks run once, before the first step (a few host reads; hashing the rows is a
float64 matrix product over the data). Nothing is added to the train step. In each validation/evaluation
pass `Model.test_step` hands its outputs to a tracker that turns them into predicted class ids on the
device (one op per batch); the confusion matrix is counted and read once, when training or evaluation ends.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from plait.callbacks.callback import Callback
from plait.data.adapter import ArrayData
from plait.evaluation import data_checks
from plait.evaluation.diagnostics import Finding, check_accuracy_paradox, check_overfitting, emit, no_validation_notice
from plait.evaluation.fingerprint import Fingerprint
from plait.evaluation.labels import Task, model_task, predicted_ids, target_labels, true_ids
from plait.metrics.confusion_matrix import confusion_counts


class _SinkHandle:
    def __init__(self, model: Any) -> None:
        self.model = model

    def remove(self) -> None:
        self.model._output_sink = None


class ConfusionTracker:
    """The confusion matrix of one evaluation pass, gathered on the device.

    `attach(model)` installs a forward hook that keeps the model's latest output; `update(batch)` turns it
    into predicted class ids (one op per batch) and keeps them with the batch's targets. The matrix is
    counted once, in `matrix()`, which is the only host read.
    """

    def __init__(self, task: Task) -> None:
        self.task = task
        self.reset()

    def reset(self) -> None:
        self._pred: list[torch.Tensor] = []
        self._true: list[Any] = []
        self.num_classes = 0
        self.valid = True
        self._output: Any = None

    def _capture(self, module: Any, inputs: Any, output: Any) -> None:
        self._output = output

    def _receive(self, output: Any) -> None:
        self._output = output

    def attach(self, model: Any) -> Any:
        """Starts a pass: clears the counts and captures the model's outputs; returns a handle with `remove()`.

        `Model.test_step` hands its outputs to `model._output_sink` (no cost to the forward pass); a custom
        test_step may not, so then a forward hook on the model captures them instead.
        """
        from plait.models.model import Model

        self.reset()
        if type(model).test_step is Model.test_step:
            model._output_sink = self._receive
            return _SinkHandle(model)
        return model.register_forward_hook(self._capture)

    def update(self, batch: Any) -> None:
        y_pred, self._output = self._output, None
        y_true = batch[1] if isinstance(batch, (tuple, list)) and len(batch) > 1 else None
        if not self.valid:
            return
        found = None if y_true is None else predicted_ids(y_pred, self.task)
        if found is None or (self.num_classes and found[1] != self.num_classes):
            self.valid = False
            return
        self.num_classes = found[1]
        self._pred.append(found[0])
        self._true.append(y_true)

    def matrix(self) -> np.ndarray | None:
        """The k x k confusion matrix (rows: true class) as numpy, or None if nothing could be counted."""
        if not self.valid or not self._pred:
            return None
        parts = [true_ids(t, self.num_classes, self.task) for t in self._true]
        if any(p is None for p in parts):
            return None
        k = self.num_classes
        counts = confusion_counts(torch.cat(parts), torch.cat(self._pred), None, k)
        self._pred, self._true = [], []
        return counts.cpu().numpy()


def _restores_best(callbacks: list[Any]) -> bool:
    return any(getattr(cb, "restore_best_weights", False) for cb in callbacks)


class DiagnosticsMonitor(Callback):
    """The callback `fit` adds when `diagnostics=True`: collects the epoch losses, and when training
    ends checks overfitting and (on the last validation pass) the accuracy paradox.

    Args:
        findings: The list shared with `history.diagnostics`; the pre-training findings are already in it.
        tracker: The validation pass's confusion tracker (None for regression or without validation).
        callbacks: The run's other callbacks (an EarlyStopping that restores the best weights already
            undoes overfitting, so it is then not reported).
    """

    def __init__(self, findings: list[Finding], tracker: ConfusionTracker | None, callbacks: list[Any]) -> None:
        super().__init__()
        self.findings = findings
        self.tracker = tracker
        self.others = callbacks
        self.epochs: list[int] = []
        self.loss: list[float] = []
        self.val_loss: list[float] = []

    def on_train_begin(self, logs: Any = None) -> None:
        history = getattr(self.model, "history", None)
        if history is not None:
            history.diagnostics = self.findings

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        logs = logs or {}
        if "loss" in logs and "val_loss" in logs:
            self.epochs.append(int(epoch))
            self.loss.append(float(logs["loss"]))
            self.val_loss.append(float(logs["val_loss"]))

    def on_train_end(self, logs: Any = None) -> None:
        found: list[Finding] = []
        if not _restores_best(self.others):
            found += check_overfitting(self.epochs, self.loss, self.val_loss, total_epochs=self.params.get("epochs"))
        cm = None if self.tracker is None else self.tracker.matrix()
        if cm is not None:
            found += check_accuracy_paradox(cm, stage="fit", where="the validation data (last epoch)")
        self.findings.extend(found)
        emit(found)


def start_fit(model: Any, train: Any, val: Any, *, full: Any, split_at: int | None, validation_split: float,
              class_weight: Any, sample_weight: Any) -> tuple[list[Finding], ConfusionTracker | None]:
    """The checks before the first step; emits the findings and returns them with the validation tracker.

    Args:
        train, val: The adapted training and validation data (ArrayData or iterables; val may be None).
        full: The data before `validation_split` (for the sorted-labels check), or None.
        split_at: Where `validation_split` cut `full`, or None.
    """
    findings: list[Finding] = []
    task = model_task(model)
    labels = None
    if isinstance(train, ArrayData):
        model._diagnostics_fingerprint = Fingerprint.of(train.x)
        labels = target_labels(train.y, task)
        if val is None:
            findings += no_validation_notice()
        if split_at is not None and full is not None:
            full_labels = target_labels(full.y, task)
            if full_labels is not None:
                findings += data_checks.check_sorted_split(full_labels, split_at, validation_split)
        if isinstance(val, ArrayData):
            findings += data_checks.check_leakage(model._diagnostics_fingerprint, val.x, where="validation")
        if labels is not None:
            findings += data_checks.check_perfect_feature(train.x, labels)
            if class_weight is None and sample_weight is None:
                findings += data_checks.check_class_imbalance(labels)
    elif val is None:
        findings += no_validation_notice()
    emit(findings)
    tracker = ConfusionTracker(task) if task is not None and val is not None else None
    return findings, tracker


def evaluation_tracker(model: Any) -> ConfusionTracker | None:
    task = model_task(model)
    return None if task is None else ConfusionTracker(task)


def after_evaluate(model: Any, data: Any, tracker: ConfusionTracker | None) -> list[Finding]:
    """The checks after `evaluate`: test rows seen in training, and the accuracy paradox."""
    findings: list[Finding] = []
    fingerprint = getattr(model, "_diagnostics_fingerprint", None)
    if fingerprint is not None and isinstance(data, ArrayData):
        findings += data_checks.check_leakage(fingerprint, data.x, where="evaluation", stage="evaluate")
    cm = None if tracker is None else tracker.matrix()
    if cm is not None:
        findings += check_accuracy_paradox(cm, stage="evaluate", where="the evaluation data")
    emit(findings)
    return findings
