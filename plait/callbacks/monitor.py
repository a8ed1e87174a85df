"""MonitorCallback: the shared "is this an improvement?" of EarlyStopping, ReduceLROnPlateau and ModelCheckpoint."""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

from plait.callbacks.callback import Callback

MODES = ("auto", "min", "max")


def _direction_from_model(model: Any, name: str) -> bool | None:
    """The compiled metric's `higher_is_better` for log name `name` (without `val_`), or None if unknown."""
    metrics = getattr(model, "metrics", None) or []
    for log_name, metric in zip(getattr(model, "metrics_names", None) or [], metrics):
        if name in (log_name, getattr(metric, "name", None)):
            direction = getattr(metric, "higher_is_better", None)
            if direction is not None:
                return bool(direction)
    return None


class MonitorCallback(Callback):
    """Base class of callbacks that watch one logged value and ask whether it improved.

    Improvement means `current - min_delta > best` in 'max' mode and `current + min_delta < best` in
    'min' mode (Keras's rule). `mode='auto'` picks 'min' for names ending in `loss`, and otherwise reads
    `higher_is_better` from the model's compiled metric of that name (`val_` prefix removed); when that
    is unknown it raises a ValueError asking for an explicit mode.

    Args:
        monitor: The log key to watch, e.g. 'val_loss' or 'val_accuracy'.
        mode: 'auto', 'min' or 'max'.
        baseline: A value to beat; the initial `best`.
        min_delta: The smallest change that counts as an improvement (its sign is ignored).

    Example:
        >>> monitor = MonitorCallback(monitor="val_accuracy", mode="max", min_delta=0.01)
        >>> monitor._is_improvement(0.90, 0.85), monitor._is_improvement(0.855, 0.85)
        (True, False)
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", baseline: float | None = None,
                 min_delta: float = 0.0) -> None:
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"monitor must be a log name such as 'val_loss', got {monitor!r}.")
        if mode not in MODES:
            # Keras warns and falls back to 'auto'; a typo here would silently watch the wrong direction.
            raise ValueError(f"{type(self).__name__} mode must be one of {MODES}, got {mode!r}.")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or not math.isfinite(min_delta):
            raise ValueError(f"min_delta must be a finite number, got {min_delta!r}.")
        self.monitor = monitor
        self.mode = mode
        self.baseline = baseline
        self.best: float | None = baseline
        self.min_delta = abs(float(min_delta))
        self._higher_is_better: bool | None = {"min": False, "max": True}.get(mode)

    @property
    def monitor_op(self) -> Any:
        """The comparison in use (`operator.gt` for 'max', `operator.lt` for 'min'), None until resolved."""
        import operator

        if self._higher_is_better is None:
            return None
        return operator.gt if self._higher_is_better else operator.lt

    def _set_monitor_op(self) -> None:
        """Resolves `mode='auto'`: 'min' for losses, else the compiled metric's `higher_is_better`."""
        if self._higher_is_better is not None:
            return
        name = self.monitor[4:] if self.monitor.startswith("val_") else self.monitor
        direction = False if name.endswith("loss") else _direction_from_model(self.model, name)
        if direction is None:
            raise ValueError(
                f"{type(self).__name__} callback received monitor={self.monitor!r}, but plait cannot tell whether "
                "that value should be maximized or minimized (it is not a loss, nor a compiled metric that says). "
                "Pass mode='max' to keep the highest value, or mode='min' to keep the lowest.")
        self._higher_is_better = direction

    def _is_improvement(self, current: float, reference: float | None) -> bool:
        if reference is None:
            return True
        self._set_monitor_op()
        if self._higher_is_better:
            return current - self.min_delta > reference
        return current + self.min_delta < reference

    def get_monitor_value(self, logs: Mapping[str, Any] | None) -> float | None:
        """`logs[monitor]` as a float, or None (with a warning naming the available keys) if absent."""
        logs = logs if logs is not None else {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"{type(self).__name__} is conditioned on metric `{self.monitor}`, which is not available. "
                          f"Available metrics are: {','.join(logs)}.", UserWarning, stacklevel=3)
            return None
        return float(value)

    # State that BackupAndRestore saves, so a resumed run continues with the same counters.
    def get_state(self) -> dict[str, Any]:
        return {"best": self.best, "higher_is_better": self._higher_is_better}

    def set_state(self, state: Mapping[str, Any]) -> None:
        best, higher = state.get("best"), state.get("higher_is_better")
        if best is not None and (isinstance(best, bool) or not isinstance(best, (int, float))):
            raise ValueError(f"{type(self).__name__} state 'best' must be a number or None, got {best!r:.80}.")
        if higher is not None and not isinstance(higher, bool):
            raise ValueError(f"{type(self).__name__} state 'higher_is_better' must be a bool or None, got "
                             f"{higher!r:.80}.")
        self.best = best
        if higher is not None:
            self._higher_is_better = higher
