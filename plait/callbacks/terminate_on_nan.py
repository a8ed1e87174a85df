"""TerminateOnNaN: stop training at the first NaN or infinite loss, keeping the weights from before it."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from plait.callbacks.callback import Callback


class TerminateOnNaN(Callback):
    """Stops training when a batch's loss is NaN or infinite.

    Its presence makes `fit` check every step's loss and skip a non-finite step, so the weights are
    those from before the bad batch (plait's addition; Keras applies the bad step). The check costs one
    device-to-host read per step. With `steps_per_execution=N` training stops at the end of the group
    of N steps; every bad step in it is skipped.

    Args:
        raise_error: Raise a `RuntimeError` instead of stopping quietly.

    Example:
        >>> callback = TerminateOnNaN()
        >>> callback.requires_finite_loss
        True
    """

    requires_finite_loss = True  # read by fit: skip (do not apply) a step whose loss is not finite

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = bool(raise_error)

    def on_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        run = getattr(self.model, "fit_run", None)
        guarded = run is not None and run.nan_guard
        bad = run.nonfinite_loss if guarded else None
        if not guarded:
            # Not under fit's guard (e.g. called by hand): read the logged loss instead.
            loss = None if logs is None else logs.get("loss")
            bad = loss if loss is not None and not math.isfinite(float(loss)) else None
        if bad is None:
            return
        if self.raise_error:
            raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {bad}. Terminating "
                               "training immediately; the weights are those from before the bad batch.")
        print(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True
