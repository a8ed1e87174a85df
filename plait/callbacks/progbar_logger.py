"""ProgbarLogger: feeds the loop's progress and logs to a `Progbar`, the way Keras prints training."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from plait.callbacks.callback import Callback
from plait.utils.progbar import Progbar, write_message


class _SortedLogs(Mapping):
    """A view that lists a mapping's keys sorted (Keras's display order) without reading it early."""

    __slots__ = ("_logs",)

    def __init__(self, logs: Mapping[str, Any]) -> None:
        self._logs = logs

    def __getitem__(self, key: str) -> Any:
        return self._logs[key]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._logs))

    def __len__(self) -> int:
        return len(self._logs)


class ProgbarLogger(Callback):
    """Prints progress bars and per-epoch results; `fit` adds one when `verbose` is not 0.

    Reads `params['verbose']` (0 silent, 1 progress bar, 2 one line per epoch), `params['epochs']`
    and `params['steps']` (None when unknown: the bar shows `N/Unknown` during the first epoch).
    Prints `Epoch i/N` before each epoch when there is more than one. Inside `fit`, validation is
    silent: its `val_` results appear on the epoch line. Called from `evaluate` or `predict`
    directly, it shows their own bar.

    Batch logs are read only when the bar redraws (at most every 0.05 s on a terminal; only at the
    end of the epoch elsewhere), so a fast loop pays nothing for metrics nobody sees.

    Args:
        file: Stream to print to; None means `sys.stdout` as it is at write time. (Not in Keras.)

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> logger = ProgbarLogger(file=out)
        >>> logger.set_params({"verbose": 2, "epochs": 1, "steps": 2})
        >>> logger.on_train_begin()
        >>> logger.on_epoch_begin(0)
        >>> logger.on_epoch_end(0, {"loss": 0.25})
        >>> out.getvalue().split(" - ")[-1]
        'loss: 0.2500\\n'
    """

    def __init__(self, *, file: TextIO | None = None) -> None:
        super().__init__()
        self.file = file
        self.verbose = 1
        self.epochs = 1
        self.target: int | None = None
        self.seen = 0
        self.progbar: Progbar | None = None
        self._in_fit = False

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        verbose = params.get("verbose", 1)
        if verbose == "auto":
            verbose = 1
        if verbose not in (0, 1, 2):
            raise ValueError(
                f"verbose must be 0 (silent), 1 (progress bar), 2 (one line per epoch) or 'auto', got {verbose!r}."
            )
        self.verbose = int(verbose)
        self.epochs = params.get("epochs") or 1
        self.target = params.get("steps")

    def implements_batch_hooks(self, kind: str | None = None) -> bool:
        if kind is not None:
            super().implements_batch_hooks(kind)  # validates `kind`
        if self.verbose == 0 or (kind == "test" and self._in_fit):
            return False
        # verbose=2 never reads batch logs but must count the steps when their number is unknown.
        return self.verbose == 1 or self.target is None

    # -- fit ----------------------------------------------------------------------------------------

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._in_fit = True

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self._in_fit = False

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._reset_progbar()
        if self.verbose and self.epochs > 1:
            write_message(f"Epoch {epoch + 1}/{self.epochs}\n", self.file)

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._update_progbar(batch, logs)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._finalize_progbar(logs)

    # -- evaluate (silent while fitting) ------------------------------------------------------------

    def on_test_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        if not self._in_fit:
            self._reset_progbar()

    def on_test_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        if not self._in_fit:
            self._update_progbar(batch, logs)

    def on_test_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if not self._in_fit:
            self._finalize_progbar(logs)

    # -- predict ------------------------------------------------------------------------------------

    def on_predict_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._reset_progbar()

    def on_predict_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._update_progbar(batch, None)  # the logs hold model outputs, not values to display

    def on_predict_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self._finalize_progbar(None)

    # -- drawing ------------------------------------------------------------------------------------

    def _reset_progbar(self) -> None:
        self.seen = 0
        self.progbar = Progbar(target=self.target, verbose=self.verbose, unit_name="step", file=self.file)

    def _update_progbar(self, batch: int, logs: Mapping[str, Any] | None) -> None:
        if self.progbar is None:
            self._reset_progbar()
        self.seen = batch + 1
        values = _SortedLogs(logs) if self.verbose == 1 and logs is not None else None
        self.progbar.update(self.seen, values, finalize=False)

    def _finalize_progbar(self, logs: Mapping[str, Any] | None) -> None:
        if self.progbar is None:
            self._reset_progbar()
        if self.target is None and self.seen > 0:
            # The first epoch counted the steps; later epochs show a real bar.
            self.target = self.seen
            self.progbar.target = self.seen
        current = self.target if self.target is not None else self.seen
        values = _SortedLogs(logs) if logs is not None else None
        self.progbar.update(current, values, finalize=True)
