"""FitRun: the state of one `fit` (or `evaluate`) in one typed object, and what the loop needs from a model.

The loop creates a `FitRun`, hands it to the model as `model.fit_run` for the duration of the call (None
outside), and reads back from it. Steps and callbacks read it too; nothing else about a run travels through
attributes on the model. What each party may touch:

- the loop writes the data, `epochs` and `nan_guard`, caches `variables`/`regularized` after the first step,
  and reads `nonfinite_loss`, `initial_epoch` and the resume request;
- `Trainer.train_step` reads `variables`, `regularized` and `nan_guard`, and writes `nonfinite_loss`;
- callbacks read everything; in `on_train_begin` a callback may move the start (`resume_at`, as
  `BackupAndRestore` does) and add `observers`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch


@dataclass(eq=False)
class FitRun:
    """One `fit` or `evaluate` call: its data, where it starts, and the per-run caches of the train step.

    Attributes:
        kind: 'fit' or 'evaluate'.
        data: The adapted training data (fit) or evaluation data (evaluate), a `plait.data.DataAdapter`.
        validation_data: The adapted validation data, or None.
        full_data: The data before `validation_split` cut it (fit with a split only), else None.
        split_at: The row where `validation_split` cut `full_data`, or None.
        validation_split: The `validation_split` argument of fit (0.0 when unused).
        class_weight: The `class_weight` argument of fit.
        sample_weight: The `sample_weight` argument of fit (as given, before adapting).
        epochs: The epoch to stop at (fit's `epochs`; 1 for evaluate).
        initial_epoch: The epoch the loop starts at; `resume_at` may move it in `on_train_begin`.
        nan_guard: Whether a step whose loss is not finite is skipped (`nan_policy='raise'`, `TerminateOnNaN`).
        nonfinite_loss: The non-finite loss value of the last skipped step, or None.
        variables: The trainable weights, cached after the first step (the model is built by then).
        regularized: The (weight, regularizer) pairs, cached with `variables`.
        observers: Metrics updated with `(y, y_pred)` by every evaluation step of the run (the validation
            passes of fit, or evaluate) but never logged; reset at the start of each pass. Diagnostics
            count the confusion matrix this way.
    """

    kind: str = "fit"
    data: Any = None
    validation_data: Any = None
    full_data: Any = None
    split_at: int | None = None
    validation_split: float = 0.0
    class_weight: Any = None
    sample_weight: Any = None
    epochs: int = 1
    initial_epoch: int = 0
    nan_guard: bool = False
    nonfinite_loss: float | None = None
    variables: list[torch.nn.Parameter] | None = None
    regularized: list[tuple[torch.Tensor, Any]] | None = None
    observers: list[Any] = field(default_factory=list)
    replay_steps: int = 0
    after_replay: Callable[[], None] | None = None

    def resume_at(self, epoch: int, replay_steps: int = 0, after_replay: Callable[[], None] | None = None) -> None:
        """Starts the run at `epoch`; the first `replay_steps` batches of that epoch are drawn (the same shuffle
        and random numbers as the run that was interrupted) but not trained on, then `after_replay` is called.

        Called by `BackupAndRestore.on_train_begin` to resume from a backup.
        """
        self.initial_epoch = int(epoch)
        self.replay_steps = int(replay_steps)
        self.after_replay = after_replay

    @property
    def replaying(self) -> bool:
        """Whether batches already trained before a resume are being drawn again (their hooks do not fire)."""
        return self.replay_steps > 0

    def replayed_one(self) -> None:
        """Counts one replayed batch; after the last, calls `after_replay`."""
        self.replay_steps -= 1
        if self.replay_steps == 0 and self.after_replay is not None:
            callback, self.after_replay = self.after_replay, None
            callback()

    def update_observers(self, y: Any, y_pred: Any) -> None:
        for metric in self.observers:
            metric.update_state(y, y_pred)


class TrainableModel(Protocol):
    """What the loops in `training/loop.py` use of a model (`plait.Model` provides it through `Trainer`)."""

    stop_training: bool
    steps_per_execution: int
    fit_run: FitRun | None
    trainable_weights: list[torch.nn.Parameter]
    output_names: list[str]

    def train_step(self, data: Any) -> Any: ...
    def test_step(self, data: Any) -> Any: ...
    def predict_step(self, data: Any) -> Any: ...
    def reset_metrics(self) -> None: ...
    def get_metrics_result(self) -> dict[str, torch.Tensor]: ...
    def build_metrics(self, data: Any) -> None: ...
    def check_batch(self, data: Any) -> None: ...
    def train(self, mode: bool = True) -> Any: ...
    def eval(self) -> Any: ...
    def _assert_compiled(self) -> None: ...
    def _device(self) -> torch.device: ...
    def _regularized_weights(self) -> list[tuple[torch.Tensor, Any]]: ...

    @property
    def compiled_loss(self) -> Any: ...
