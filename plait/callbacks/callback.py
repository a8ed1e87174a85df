"""The Callback base class: hooks the training loop calls at each stage of fit, evaluate and predict."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BATCH_HOOKS: dict[str, tuple[str, ...]] = {
    # The legacy on_batch_* hooks are called from the train batch hooks, so they count as train hooks.
    "train": ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end"),
    "test": ("on_test_batch_begin", "on_test_batch_end"),
    "predict": ("on_predict_batch_begin", "on_predict_batch_end"),
}


class Callback:
    """Base class for objects that react to events of `fit`, `evaluate` and `predict`.

    Subclass it and override the hooks you need. Every hook receives `logs`, a mapping of metric
    name -> Python float:

    - `on_epoch_end` gets the epoch's training results plus `val_`-prefixed validation results.
    - `on_{train,test}_batch_end` get the running results of the current epoch. These are computed
      lazily, when first read: a callback that reads batch logs forces a device-to-host copy on every
      step it reads, so read them only when needed.
    - `on_predict_batch_end` gets `{"outputs": ...}`.

    A callback can stop training by setting `self.model.stop_training = True`; the loop checks it
    after every batch and every epoch. During `fit` and `evaluate`, `self.model.fit_run` (a
    `plait.training.FitRun`) holds the run's state: its data, epochs, the NaN guard, a resume request.

    Attributes:
        params: The loop's parameters (`verbose`, `epochs`, `steps`), set through `set_params`.
        model: The model being trained, set through `set_model`.

    Example:
        >>> class StopAtLoss(Callback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         if logs and logs.get("loss", 1.0) < 0.1:
        ...             self.model.stop_training = True
    """

    # Class-level default so a subclass that forgets `super().__init__()` still works.
    _model: Any = None

    runs_last: bool = False
    """Set True on a callback class that must run after all others, `History` and the progress bar included
    (`BackupAndRestore`, whose backup holds the epoch just logged); it then receives `set_callbacks`."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self._model = None

    def set_params(self, params: dict[str, Any]) -> None:
        """Receive the loop's parameters (`verbose`, `epochs`, `steps`)."""
        self.params = params

    def set_model(self, model: Any) -> None:
        """Receive the model the callback acts on."""
        self._model = model

    def set_callbacks(self, callbacks: list["Callback"]) -> None:
        """Receive every callback of the run, in calling order (only called on a `runs_last` callback)."""

    @property
    def model(self) -> Any:
        """The model being trained, evaluated or used for prediction (None before `set_model`)."""
        return self._model

    @model.setter
    def model(self, model: Any) -> None:
        self.set_model(model)

    def implements_batch_hooks(self, kind: str | None = None) -> bool:
        """Whether this callback overrides a batch hook, so the loop must call it on every step.

        The loop asks this once per run; when no callback answers True it skips batch dispatch and
        never builds batch logs.

        Args:
            kind: 'train', 'test' or 'predict'; None asks about any of them.

        Returns:
            True if a batch hook of that kind is overridden by the class or set on the instance.
        """
        if kind is None:
            names = tuple(name for group in BATCH_HOOKS.values() for name in group)
        elif kind in BATCH_HOOKS:
            names = BATCH_HOOKS[kind]
        else:
            raise ValueError(f"kind must be one of 'train', 'test', 'predict' or None, got {kind!r}.")
        return any(self._overrides(name) for name in names)

    def _overrides(self, name: str) -> bool:
        # Instance attributes count too: LambdaCallback installs its functions on the instance.
        return name in vars(self) or getattr(type(self), name) is not getattr(Callback, name)

    # -- run-level hooks -------------------------------------------------------------------------

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        """Called at the start of `fit`."""

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        """Called at the end of `fit`; `logs` holds the last epoch's results."""

    def on_test_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        """Called at the start of `evaluate`."""

    def on_test_end(self, logs: Mapping[str, Any] | None = None) -> None:
        """Called at the end of `evaluate`; `logs` holds the evaluation results."""

    def on_predict_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        """Called at the start of `predict`."""

    def on_predict_end(self, logs: Mapping[str, Any] | None = None) -> None:
        """Called at the end of `predict`."""

    # -- epoch hooks -----------------------------------------------------------------------------

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Called at the start of epoch `epoch` (0-based) during `fit`."""

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Called at the end of epoch `epoch` with its training and `val_` results."""

    # -- batch hooks -----------------------------------------------------------------------------

    def on_train_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Called before training batch `batch` (0-based within the epoch)."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Called after training batch `batch` with the epoch's running results (read lazily)."""
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Called before evaluation batch `batch`."""

    def on_test_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Called after evaluation batch `batch` with the running results (read lazily)."""

    def on_predict_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Called before prediction batch `batch`."""

    def on_predict_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Called after prediction batch `batch`; `logs` is `{"outputs": ...}`."""

    def on_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Legacy alias of `on_train_batch_begin` (called from it)."""

    def on_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Legacy alias of `on_train_batch_end` (called from it)."""
