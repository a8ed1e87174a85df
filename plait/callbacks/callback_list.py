"""CallbackList: one object the loop calls, which forwards each hook to every callback in order."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from plait.callbacks.callback import Callback
from plait.callbacks.history import History
from plait.callbacks.progbar_logger import ProgbarLogger


def _flatten(callbacks: Any) -> list[Callback]:
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    if not isinstance(callbacks, Iterable) or isinstance(callbacks, (str, bytes, Mapping)):
        raise TypeError(
            f"callbacks must be a list of plait.callbacks.Callback instances, got {type(callbacks).__name__}. "
            "Pass e.g. callbacks=[EarlyStopping()]."
        )
    flat: list[Callback] = []
    for item in callbacks:
        if isinstance(item, (list, tuple)):
            flat.extend(_flatten(item))
        elif isinstance(item, Callback):
            flat.append(item)
        else:
            hint = " (did you pass the class instead of an instance?)" if isinstance(item, type) else ""
            raise TypeError(
                f"Every callback must be an instance of plait.callbacks.Callback, got {item!r}{hint}. "
                "Subclass plait.callbacks.Callback, or wrap plain functions in LambdaCallback."
            )
    return flat


class CallbackList(Callback):
    """Holds the callbacks of one `fit`/`evaluate`/`predict` run and calls each hook on all of them.

    Callbacks run in the order given; a `History` and a `ProgbarLogger` that this list adds go last,
    so they see any value an earlier callback wrote into the epoch logs (e.g. `learning_rate`).
    Batch logs are passed through untouched: a lazily computed mapping stays lazy until a callback
    reads it.

    Args:
        callbacks: Callback instances (a list, possibly nested, or a single one).
        add_history: Add a `History` unless one is already in `callbacks`.
        add_progbar: Add a `ProgbarLogger` unless one is already in `callbacks`.
        model: The model the callbacks act on; passed to each through `set_model`.
        **params: The loop's parameters (`verbose`, `epochs`, `steps`), passed to `set_params`.

    Example:
        >>> callbacks = CallbackList([], add_history=True, verbose=0, epochs=2, steps=10)
        >>> callbacks.on_train_begin()
        >>> callbacks.on_epoch_end(0, {"loss": 0.25})
        >>> callbacks.history.history
        {'loss': [0.25]}
        >>> callbacks.needs_batch_hooks("train")
        False
    """

    def __init__(
        self,
        callbacks: Iterable[Callback] | Callback | None = None,
        *,
        add_history: bool = False,
        add_progbar: bool = False,
        model: Any = None,
        **params: Any,
    ) -> None:
        super().__init__()
        self.callbacks: list[Callback] = _flatten(callbacks)
        self._history: History | None = next((c for c in self.callbacks if isinstance(c, History)), None)
        self._progbar: ProgbarLogger | None = next(
            (c for c in self.callbacks if isinstance(c, ProgbarLogger)), None
        )
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        # A callback that saves the training state (BackupAndRestore) or judges the run (fit's diagnostics) runs
        # after all others, History included, so it sees the epoch just logged; it also sees the others.
        last = [c for c in self.callbacks if c.runs_last]
        if last:
            self.callbacks = [c for c in self.callbacks if not c.runs_last] + last
            for callback in last:
                callback.set_callbacks(self.callbacks)
        self.set_model(model)
        self.set_params(params)

    @property
    def history(self) -> History | None:
        """The `History` among the callbacks (None if there is none)."""
        return self._history

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def set_model(self, model: Any) -> None:
        # `is None`, not truthiness: an empty Sequential defines __len__ and would read as False.
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    def needs_batch_hooks(self, kind: str | None = None) -> bool:
        """Whether any callback listens to batch hooks of `kind` ('train', 'test', 'predict' or None).

        Ask once per run, after `set_params`: when False the loop may skip the batch hooks of that
        kind and never build batch logs.
        """
        return any(callback.implements_batch_hooks(kind) for callback in self.callbacks)

    def implements_batch_hooks(self, kind: str | None = None) -> bool:
        return self.needs_batch_hooks(kind)

    # -- forwarding; positional/keyword use of `logs` matches Keras so plain functions work alike ----

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_train_begin(logs)

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_train_end(logs)

    def on_test_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_test_begin(logs)

    def on_test_end(self, logs: Mapping[str, Any] | None = None) -> None:
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_test_end(logs)

    def on_predict_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_predict_begin(logs)

    def on_predict_end(self, logs: Mapping[str, Any] | None = None) -> None:
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_predict_end(logs)

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        # One shared dict, so a value written by one callback is seen by the later ones.
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)

    # Batch hooks: `logs` is never tested for truthiness, which would force a lazy mapping to compute.

    def on_train_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_train_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_train_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_test_batch_begin(batch, logs=logs)

    def on_test_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_test_batch_end(batch, logs=logs)

    def on_predict_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_predict_batch_begin(batch, logs=logs)

    def on_predict_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_predict_batch_end(batch, logs=logs)

    def on_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_batch_begin(batch, logs=logs)

    def on_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_batch_end(batch, logs=logs)
