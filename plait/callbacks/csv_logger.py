"""CSVLogger: one CSV row of results per epoch, rewritten atomically so the file is always complete."""
from __future__ import annotations

import csv
import io
import os
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from plait.callbacks.callback import Callback
from plait.saving.atomic import write_text


def _handle_value(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, Iterable) and not (isinstance(value, np.ndarray) and value.ndim == 0):
        return f"\"[{', '.join(map(str, value))}]\""
    return value


class CSVLogger(Callback):
    """Writes the results of every epoch to a CSV file: an `epoch` column, then the log keys sorted.

    Keras's layout: the columns are fixed by the first epoch's logs; when that epoch has no `val_`
    values (e.g. `validation_freq > 1`) a `val_<key>` column is added for every key and filled with
    `NA` until validation runs. Unlike Keras, which appends to an open file, plait rewrites the whole
    file atomically after each epoch (`append=True` included: the rows read at the start are written again
    with the new ones), so a crash or a full disk never leaves a half-written row or a truncated log: the
    file is the previous version or the new one. If a write fails (say, a full disk) after an earlier one
    succeeded, plait warns and trains on, the row kept to be written with the next; a failure on the
    first write (usually a bad path) raises.

    Args:
        filename: The CSV file.
        separator: The column separator.
        append: Keep the rows already in the file (no second header) instead of starting afresh.

    Example:
        >>> logger = CSVLogger("training.log", append=True)
    """

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename = os.fspath(filename)
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"separator must be a single character, got {separator!r}.")
        self.sep = separator
        self.append = bool(append)
        self.keys: list[str] | None = None
        self.append_header = True
        self._text = ""
        self._written_once = False

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._text = ""
        self.append_header = True
        self._written_once = False
        if self.append and os.path.exists(self.filename):
            try:
                with open(self.filename, encoding="utf-8", newline="") as handle:
                    self._text = handle.read()
            except UnicodeDecodeError:
                raise ValueError(f"CSVLogger(append=True) cannot append to {self.filename!r}: it is not UTF-8 text "
                                 "(is it a CSV log?). Pass another filename, or append=False to replace it.") from None
            self.append_header = not self._text
        self.keys = None

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        logs = logs if logs is not None else {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys.extend(["val_" + key for key in self.keys])
        fieldnames = ["epoch"] + self.keys

        class Dialect(csv.excel):
            delimiter = self.sep

        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=fieldnames, dialect=Dialect)
        if self.append_header:
            writer.writeheader()
            self.append_header = False
        row = {"epoch": epoch}
        row.update((key, _handle_value(logs.get(key, "NA"))) for key in self.keys)
        writer.writerow(row)
        self._text += out.getvalue()
        try:
            directory = os.path.dirname(self.filename)
            if directory:
                os.makedirs(directory, exist_ok=True)
            write_text(self.filename, self._text)
        except OSError as err:
            if not self._written_once:
                raise
            warnings.warn(f"CSVLogger could not write {self.filename} ({err}); the file keeps the rows written "
                          "before and training continues (the row is written with the next one).", RuntimeWarning,
                          stacklevel=3)
            return
        self._written_once = True

    def get_state(self) -> dict[str, Any]:
        return {"keys": self.keys, "append_header": self.append_header, "text": self._text}

    def set_state(self, state: Mapping[str, Any]) -> None:
        keys, append_header, text = state.get("keys"), state.get("append_header", True), state.get("text", "")
        if keys is not None and not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
            raise TypeError(f"CSVLogger state 'keys' must be a list of column names or None, got {keys!r:.80}.")
        if not isinstance(append_header, bool) or not isinstance(text, str):
            raise TypeError("CSVLogger state 'append_header' must be a bool and 'text' a str, got "
                            f"{type(append_header).__name__} and {type(text).__name__}.")
        self.keys, self.append_header, self._text = keys, append_header, text
