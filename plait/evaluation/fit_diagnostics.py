"""Diagnostics as callbacks: `Model.fit(diagnostics=True)` adds `FitDiagnostics`, `Model.evaluate` adds
`EvaluateDiagnostics`.

Cost model: the data checks run once, when training begins (a few host reads; hashing the rows is a float64
matrix product over the data). Nothing is added to the train step. In each validation or evaluation pass a
`ConfusionObserver` metric, one of the run's observers (`FitRun.observers`), turns each batch's outputs into
predicted class ids on the device (one op per batch); the confusion matrix is counted and read once, when
training or evaluation ends.

The fingerprint of the rows a model was trained on stays with the model (in a weak table here, not on the
model) so that `evaluate` and `model.report` can tell when test rows were seen in training.
"""
from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import torch

from plait.callbacks.callback import Callback
from plait.data import ArrayAdapter
from plait.evaluation import data_checks
from plait.evaluation.diagnostics import Finding, check_accuracy_paradox, check_overfitting, emit, no_validation_notice
from plait.evaluation.fingerprint import Fingerprint
from plait.evaluation.labels import Task, model_task, predicted_ids, target_labels, true_ids
from plait.metrics import Metric
from plait.metrics.confusion_matrix import confusion_counts

_TRAINING_ROWS: "weakref.WeakKeyDictionary[Any, Fingerprint]" = weakref.WeakKeyDictionary()


def training_fingerprint(model: Any) -> Fingerprint | None:
    """The fingerprint of the rows of `model`'s last fit on arrays with diagnostics on, or None."""
    return _TRAINING_ROWS.get(model)


class ConfusionObserver(Metric):
    """The confusion matrix of one evaluation pass, gathered on the device.

    `update_state(y_true, y_pred)` keeps each batch's predicted class ids (one op per batch) with its targets;
    `result()` counts the k x k matrix once (rows: true class). Outputs that do not describe single-label
    classification (multi-label sigmoid columns, a changing number of classes) make the result None.

    Args:
        task: What the model's loss says about its outputs (`labels.model_task`).
    """

    def __init__(self, task: Task, name: str = "confusion_observer") -> None:
        super().__init__(name=name)
        self.task = task
        self.add_state("pred", [], "cat")
        self.add_state("true", [], "cat")
        self.num_classes = 0
        self.valid = True

    def reset_state(self) -> None:
        super().reset_state()
        self.num_classes = 0
        self.valid = True

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        if not self.valid:
            return
        found = predicted_ids(y_pred, self.task)
        if found is None or (self.num_classes and found[1] != self.num_classes):
            self.valid = False
            return
        self.num_classes = found[1]
        self.pred.append(found[0])
        self.true.append(y_true)

    def result(self) -> np.ndarray | None:
        """The k x k confusion matrix as numpy (the only host read), or None if nothing could be counted."""
        if not self.valid or not self.pred:
            return None
        parts = [true_ids(t, self.num_classes, self.task) for t in self.true]
        if any(p is None for p in parts):
            return None
        counts = confusion_counts(torch.cat(parts), torch.cat(self.pred), None, self.num_classes)
        return counts.cpu().numpy()


def _restores_best(callbacks: list[Any]) -> bool:
    return any(getattr(cb, "restore_best_weights", False) for cb in callbacks)


class FitDiagnostics(Callback):
    """The callback `fit` adds when `diagnostics=True`.

    When training begins it checks the data (`model.fit_run`'s data: rows shared by training and validation,
    a label-sorted `validation_split`, class imbalance, a feature that gives the label away) and keeps the
    training rows' fingerprint; it collects the epoch losses, and when training ends checks overfitting and
    (on the last validation pass's confusion matrix) the accuracy paradox. Each finding is emitted as a
    `PitfallWarning` and kept in `history.diagnostics`.

    It runs after every other callback (`runs_last`), so it sees whether an `EarlyStopping` restored the best
    weights (overfitting is then not reported) and speaks after the progress bar.
    """

    runs_last = True

    def __init__(self) -> None:
        super().__init__()
        self.findings: list[Finding] = []
        self.others: list[Any] = []
        self.observer: ConfusionObserver | None = None
        self.epochs: list[int] = []
        self.loss: list[float] = []
        self.val_loss: list[float] = []

    def set_callbacks(self, callbacks: list[Any]) -> None:
        self.others = [c for c in callbacks if c is not self]

    def on_train_begin(self, logs: Any = None) -> None:
        model, run = self.model, self.model.fit_run
        task = model_task(model)
        self.findings = _data_findings(model, run, task)
        emit(self.findings)
        history = getattr(model, "history", None)
        if history is not None:
            history.diagnostics = self.findings
        if task is not None and run.validation_data is not None:
            self.observer = ConfusionObserver(task)
            run.observers.append(self.observer)

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
        cm = None if self.observer is None else self.observer.result()
        if cm is not None:
            found += check_accuracy_paradox(cm, stage="fit", where="the validation data (last epoch)")
        self.findings.extend(found)
        emit(found)


def _data_findings(model: Any, run: Any, task: Task | None) -> list[Finding]:
    """The checks before the first step, on the run's adapted data."""
    train, val, full = run.data, run.validation_data, run.full_data
    findings: list[Finding] = []
    if not isinstance(train, ArrayAdapter):
        return no_validation_notice() if val is None else []
    fingerprint = _TRAINING_ROWS[model] = Fingerprint.of(train.x)
    if val is None:
        findings += no_validation_notice()
    if run.split_at is not None and full is not None:
        full_labels = target_labels(full.y, task)
        if full_labels is not None:
            findings += data_checks.check_sorted_split(full_labels, run.split_at, run.validation_split)
    if isinstance(val, ArrayAdapter):
        findings += data_checks.check_leakage(fingerprint, val.x, where="validation")
    labels = target_labels(train.y, task)
    if labels is not None:
        findings += data_checks.check_perfect_feature(train.x, labels)
        if run.class_weight is None and run.sample_weight is None:
            findings += data_checks.check_class_imbalance(labels)
    return findings


class EvaluateDiagnostics(Callback):
    """The callback `evaluate` adds when `diagnostics=True`: when the pass ends, it checks for evaluation rows
    seen in training and for the accuracy paradox, and emits what it finds."""

    def __init__(self) -> None:
        super().__init__()
        self.observer: ConfusionObserver | None = None
        self.findings: list[Finding] = []

    def on_test_begin(self, logs: Any = None) -> None:
        task = model_task(self.model)
        self.observer = None if task is None else ConfusionObserver(task)
        if self.observer is not None:
            self.model.fit_run.observers.append(self.observer)

    def on_test_end(self, logs: Any = None) -> None:
        run = self.model.fit_run
        findings: list[Finding] = []
        fingerprint = training_fingerprint(self.model)
        if fingerprint is not None and isinstance(run.data, ArrayAdapter):
            findings += data_checks.check_leakage(fingerprint, run.data.x, where="evaluation", stage="evaluate")
        cm = None if self.observer is None else self.observer.result()
        if cm is not None:
            findings += check_accuracy_paradox(cm, stage="evaluate", where="the evaluation data")
        self.findings = findings
        emit(findings)
