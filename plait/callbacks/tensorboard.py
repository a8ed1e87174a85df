"""TensorBoard: scalars (and optionally weight histograms) for TensorBoard, through `torch.utils.tensorboard`."""
from __future__ import annotations

import os
import time
import warnings
from collections.abc import Mapping
from typing import Any

from plait.callbacks.callback import Callback


def _summary_writer_class() -> Any:
    """`torch.utils.tensorboard.SummaryWriter`, or an ImportError that says how to install it."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:
        raise ImportError("The TensorBoard callback writes through torch.utils.tensorboard, which needs the "
                          "tensorboard package: pip install tensorboard") from err
    return SummaryWriter


class TensorBoard(Callback):
    """Logs training and validation results for TensorBoard (`tensorboard --logdir logs`).

    Like Keras, it writes to `log_dir/train` and `log_dir/validation`, with scalars named `epoch_<key>`
    (validation keys lose their `val_` prefix) at the epoch index, and with `update_freq` set to
    'batch' or an integer N, `batch_<key>` every N batches at the global step. `histogram_freq=N`
    writes a histogram of every weight every N epochs. Needs the optional `tensorboard` package. (Event
    files are append-only logs written by TensorBoard's own writer, the one kind of file plait does not
    write atomically.)

    Not supported (accepted for Keras compatibility): `write_graph`, `write_images`, `profile_batch`,
    `embeddings_freq`, `embeddings_metadata`; a non-default value warns.

    Args:
        log_dir: Directory for the event files.
        histogram_freq: Epochs between weight histograms (0: none).
        write_steps_per_second: Also log `epoch_steps_per_second`.
        update_freq: 'epoch', 'batch', or an integer number of batches between batch-level scalars.

    Example:
        >>> callback = TensorBoard(log_dir="logs", update_freq=100)  # doctest: +SKIP
    """

    def __init__(self, log_dir: str | os.PathLike = "logs", histogram_freq: int = 0, write_graph: bool = True,
                 write_images: bool = False, write_steps_per_second: bool = False, update_freq: str | int = "epoch",
                 profile_batch: int = 0, embeddings_freq: int = 0, embeddings_metadata: Any = None) -> None:
        super().__init__()
        self._writer_class = _summary_writer_class()
        self.log_dir = os.fspath(log_dir)
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError(f"histogram_freq must be a non-negative integer, got {histogram_freq!r}.")
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (isinstance(update_freq, bool) or not isinstance(update_freq, int)
                                       or update_freq < 1):
            raise ValueError(f"update_freq must be 'epoch', 'batch' or a positive integer, got {update_freq!r}.")
        unsupported = {"write_images": (write_images, False), "profile_batch": (profile_batch, 0),
                       "embeddings_freq": (embeddings_freq, 0), "embeddings_metadata": (embeddings_metadata, None)}
        for name, (value, default) in unsupported.items():
            if value != default:
                warnings.warn(f"TensorBoard: {name} is not supported by plait and is ignored.", UserWarning,
                              stacklevel=2)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_steps_per_second = bool(write_steps_per_second)
        self.update_freq = update_freq
        self._writers: dict[str, Any] = {}
        self._global_step = 0
        self._epoch_start = 0.0
        self._epoch_steps = 0

    def implements_batch_hooks(self, kind: str | None = None) -> bool:
        return kind in (None, "train") and (self.update_freq != "epoch" or self.write_steps_per_second)

    def _writer(self, which: str) -> Any:
        if which not in self._writers:
            self._writers[which] = self._writer_class(log_dir=os.path.join(self.log_dir, which))
        return self._writers[which]

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._global_step = 0

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._epoch_start = time.perf_counter()
        self._epoch_steps = 0

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        steps = batch + 1 - self._epoch_steps
        self._global_step += steps
        self._epoch_steps = batch + 1
        # With steps_per_execution several steps end at once: write if any of them is a multiple of update_freq.
        if self.update_freq == "epoch" or logs is None or \
                self._global_step // self.update_freq == (self._global_step - steps) // self.update_freq:
            return
        writer = self._writer("train")
        for key, value in logs.items():
            writer.add_scalar(f"batch_{key}", float(value), self._global_step)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        logs = logs if logs is not None else {}
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        validation = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        if self.write_steps_per_second and self._epoch_steps:
            train["steps_per_second"] = self._epoch_steps / max(time.perf_counter() - self._epoch_start, 1e-9)
        for which, values in (("train", train), ("validation", validation)):
            if not values:
                continue
            writer = self._writer(which)
            for key, value in values.items():
                if isinstance(value, (int, float)) or getattr(value, "ndim", 1) == 0:
                    writer.add_scalar(f"epoch_{key}", float(value), epoch)
            writer.flush()
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            writer = self._writer("train")
            for name, weight in self.model.named_parameters():
                writer.add_histogram(getattr(weight, "path", name), weight.detach().cpu(), epoch)
            writer.flush()

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
