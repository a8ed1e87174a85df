"""The Keras-style progress bar: draws one line per update, rate-limited, on any console."""
from __future__ import annotations

import math
import operator
import os
import re
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

import numpy as np

_GLYPH = "━"
_REST = "─"  # remaining cells when colour cannot tell them apart from done ones
_BOLD, _GREEN, _WHITE, _RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


def _clock() -> float:
    # One indirection so tests can drive time deterministically.
    return time.monotonic()


def _resolve(file: TextIO | None) -> TextIO:
    # Resolved at write time, not at construction, so pytest's capture and redirect_stdout work.
    return sys.stdout if file is None else file


def _is_tty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (ValueError, OSError):  # closed or detached streams
        return False


def is_interactive(stream: Any = None) -> bool:
    """Whether carriage-return redraws render as an updating line: a terminal, or a Jupyter notebook (whose
    stdout is not a tty but ipykernel's stream). `stream` defaults to `sys.stdout`.

    Keras asks whether ipykernel is imported at all; asking for its stream instead keeps a script or test run
    that merely imported ipykernel (while its output goes to a file) free of carriage returns.
    """
    stream = sys.stdout if stream is None else stream
    return _is_tty(stream) or type(stream).__module__.split(".")[0] == "ipykernel"


def _use_colour(stream: Any) -> bool:
    # https://no-color.org: any value of NO_COLOR disables colour.
    return _is_tty(stream) and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _can_encode(text: str, stream: Any) -> bool:
    encoding = getattr(stream, "encoding", None)
    if not encoding:  # e.g. io.StringIO: holds any str
        return True
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _as_int(value: Any) -> int | None:
    """`value` as an int if it is an integer of any kind (Python, numpy), else None."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def write_message(message: str, file: TextIO | None = None) -> None:
    """Write `message` as is to `file` (default: the current `sys.stdout`) and flush.

    Characters the stream cannot encode are replaced rather than raising, so a progress line never
    ends a training run on a legacy console.
    """
    stream = _resolve(file)
    try:
        stream.write(message)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(message.encode(encoding, "replace").decode(encoding))
    flush = getattr(stream, "flush", None)
    if callable(flush):
        flush()


def format_value(value: Any) -> str:
    """Keras's display rule: `:.4f` when `|v| > 1e-3`, else `:.4e`; arrays show their mean."""
    if isinstance(value, str):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        try:
            if hasattr(value, "detach"):  # a multi-element torch tensor
                value = value.detach().cpu().numpy()
            number = float(np.mean(np.asarray(value, dtype=np.float64)))
        except (TypeError, ValueError):
            return str(value)
    return f"{number:.4f}" if abs(number) > 1e-3 else f"{number:.4e}"


def format_step_time(seconds: float, unit_name: str = "step") -> str:
    """Time per unit as Keras shows it: `2s/step`, `8ms/step` or `95us/step`."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


def format_eta(seconds: float) -> str:
    """Remaining time: `42s`, `3:07` (m:ss) or `1:02:03` (h:mm:ss)."""
    seconds = int(seconds)
    if seconds > 3600:
        return f"{seconds // 3600}:{(seconds % 3600) // 60:02d}:{seconds % 60:02d}"
    if seconds > 60:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds}s"


class Progbar:
    """Displays a progress bar in the format of Keras 3.

    Values passed to `update` are displayed as given: plait's metrics are already running means, so
    the bar never averages them (Keras's `stateful_metrics` is accepted for compatibility and has no
    effect). Values are read only when a line is actually drawn, so handing it a lazily computed
    mapping on every step costs nothing between redraws.

    On a terminal, verbose=1 redraws one line in place with `\\r`, at most every `interval` seconds;
    anywhere else (a file, a pipe, a CI log) it writes only the final line. verbose=2 writes only the
    final line, in the compact `469/469 - 4s - 8ms/step - loss: 0.3012` form. Consoles that cannot
    encode `━` get an ASCII `[=====>......]` bar. Colour (done cells green, the rest white, as in
    Keras) is used only on a terminal without NO_COLOR; without colour the remaining cells are `─`.

    Args:
        target: Total number of steps expected, or None if unknown.
        width: Width of the bar in characters.
        verbose: 0 (silent), 1 (progress bar) or 2 (one line at the end).
        interval: Minimum number of seconds between two redraws.
        stateful_metrics: Accepted for Keras compatibility; every value is displayed as given.
        unit_name: Name of one step in the time-per-step display (`"step"`, `"sample"`).
        file: Stream to write to; None means `sys.stdout` as it is at write time.

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> bar = Progbar(3, file=out)
        >>> for step in range(1, 4):
        ...     bar.update(step, {"loss": 0.5})
        >>> out.getvalue().startswith("3/3 ━━━━━━━━━━━━━━━━━━━━ ")
        True
    """

    def __init__(
        self,
        target: int | None,
        width: int = 20,
        verbose: int = 1,
        interval: float = 0.05,
        stateful_metrics: Iterable[str] | None = None,
        unit_name: str = "step",
        *,
        file: TextIO | None = None,
    ) -> None:
        if target is not None:
            checked_target = _as_int(target)
            if checked_target is None or checked_target < 0:
                raise ValueError(f"target must be a non-negative integer or None (unknown), got {target!r}.")
            target = checked_target
        checked_width = _as_int(width)
        if checked_width is None or checked_width < 1:
            raise ValueError(f"width must be a positive integer, got {width!r}.")
        width = checked_width
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0 (silent), 1 (progress bar) or 2 (one line), got {verbose!r}.")
        if not isinstance(interval, (int, float)) or interval < 0:
            raise ValueError(f"interval must be a non-negative number of seconds, got {interval!r}.")
        self.target = target
        self.width = width
        self.verbose = int(verbose)
        self.interval = float(interval)
        self.stateful_metrics = set(stateful_metrics or ())
        self.unit_name = unit_name
        self.file = file
        self._values: dict[str, Any] = {}
        self._pending: Any = None
        self._seen_so_far = 0
        self._start = _clock()
        self._last_update = -math.inf
        self._time_after_first_step: float | None = None
        self._prev_width = 0

    def update(
        self,
        current: int,
        values: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        finalize: bool | None = None,
    ) -> None:
        """Record progress and redraw if it is time to.

        Args:
            current: Number of steps completed so far.
            values: Mapping or `(name, value)` pairs to display; read only if this call draws.
            finalize: Whether this is the last update; defaults to `current >= target`.
        """
        now = _clock()
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if current == 1 and self._time_after_first_step is None:
            self._time_after_first_step = now
        self._seen_so_far = current
        if values is not None:
            self._pending = values
        if self.verbose == 0:
            return
        if not finalize and (self.verbose == 2 or now - self._last_update < self.interval):
            return
        self._last_update = now
        stream = _resolve(self.file)
        interactive = is_interactive(stream)
        if not finalize and not interactive:
            return  # non-interactive output keeps only the final line: no '\r' in logs
        self._read_pending()
        if self.verbose == 1:
            message = self._line(current, now, finalize, stream, interactive)
        else:
            message = self._compact_line(current, now) + "\n"
        write_message(message, stream)

    def add(self, n: int, values: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None) -> None:
        """Advance by `n` steps (see `update`)."""
        self.update(self._seen_so_far + n, values)

    def _read_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        items = pending.items() if isinstance(pending, Mapping) else pending
        for name, value in items:
            self._values[name] = value

    def _known_target(self) -> bool:
        return self.target is not None and self.target > 0

    def _step_time(self, current: int, now: float) -> float:
        if not current:
            return 0.0
        # The first step (graph warm-up, data loader start) is not representative of the rest.
        if self._time_after_first_step is not None and current > 1:
            return (now - self._time_after_first_step) / (current - 1)
        return (now - self._start) / current

    def _values_text(self) -> str:
        return "".join(f" - {name}: {format_value(value)}" for name, value in self._values.items())

    def _count(self, current: int) -> str:
        digits = len(str(self.target))
        return f"{current:>{digits}d}/{self.target}"

    def _bar(self, current: int, stream: Any, colour: bool) -> str:
        done = min(max(int(self.width * current / self.target), 0), self.width)
        if not _can_encode(_GLYPH + _REST, stream):
            arrow = ">" if current < self.target else "="
            body = ("=" * (done - 1) + arrow) if done > 0 else ""
            return "[" + body + "." * (self.width - done) + "]"
        if not colour:
            return _GLYPH * done + _REST * (self.width - done)
        done_part = f"{_GREEN}{_GLYPH * done}{_RESET}" if done > 0 else ""
        return done_part + f"{_WHITE}{_GLYPH * (self.width - done)}{_RESET}"

    def _line(self, current: int, now: float, finalize: bool, stream: Any, interactive: bool) -> str:
        colour = interactive and _use_colour(stream)
        bold = (lambda text: f"{_BOLD}{text}{_RESET}") if colour else (lambda text: text)
        if self._known_target():
            head = f"{bold(self._count(current))} {self._bar(current, stream, colour)}"
        else:
            head = f"{current:7d}/Unknown"
        if self._known_target() and not finalize:
            clock = format_eta(self._step_time(current, now) * (self.target - current))
        else:
            clock = f"{now - self._start:.0f}s"
        line = f"{head} {bold(clock)} {format_step_time(self._step_time(current, now), self.unit_name)}"
        line += self._values_text()
        if not interactive:
            return line + "\n"
        width = len(_ANSI_RE.sub("", line))
        padding = " " * max(self._prev_width - width, 0)  # wipe leftovers of a longer previous line
        self._prev_width = width
        return "\r" + line + padding + ("\n" if finalize else "")

    def _compact_line(self, current: int, now: float) -> str:
        count = self._count(current) if self._known_target() else f"{current}/Unknown"
        step_time = format_step_time(self._step_time(current, now), self.unit_name)
        return f"{count} - {now - self._start:.0f}s - {step_time}" + self._values_text()
