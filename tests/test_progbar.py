"""Progbar: Keras 3 line format, rate limiting, lazy reads, non-terminal and ASCII-only consoles."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from plait.callbacks.logs import LazyLogs
from plait.utils.progbar import Progbar, format_eta, format_step_time, format_value

BAR = "━"
REST = "─"


class FakeTTY(io.StringIO):
    """A text stream that says it is a terminal, with a chosen encoding."""

    def __init__(self, encoding: str = "utf-8") -> None:
        super().__init__()
        self._encoding = encoding

    @property
    def encoding(self) -> str:
        return self._encoding

    def isatty(self) -> bool:
        return True


class AsciiTTY(io.TextIOWrapper):
    """A real ASCII text stream (raises UnicodeEncodeError on '━') that says it is a terminal."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding="ascii", write_through=True)

    def isatty(self) -> bool:
        return True

    def text(self) -> str:
        return self.buffer.getvalue().decode("ascii")


@pytest.fixture(autouse=True)
def no_colour(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("TERM", raising=False)


def counting_logs(counter: list, values: dict) -> LazyLogs:
    def compute():
        counter.append(1)
        return values

    return LazyLogs(compute)


def drive_to_step(bar: Progbar, clock, step: int, values, step_time: float = 0.008) -> None:
    """Step 1 at t=0.5, then one step every `step_time` seconds up to `step`."""
    clock.now = 0.5
    bar.update(1, values)
    for current in range(2, step + 1):
        clock.now = 0.5 + (current - 1) * step_time
        bar.update(current, values)


# -- verbose=1 on a terminal ------------------------------------------------------------------------


def test_verbose1_running_line_matches_keras_format(clock):
    out = FakeTTY()
    bar = Progbar(469, file=out, interval=0.0)
    values = {"accuracy": 0.5, "loss": 1.2345}
    drive_to_step(bar, clock, 235, values)
    last = out.getvalue().split("\r")[-1]
    # 10 of 20 cells done; ETA = 8 ms * 234 remaining steps = 1.872 s, truncated as Keras does.
    assert last == f"235/469 {BAR * 10}{REST * 10} 1s 8ms/step - accuracy: 0.5000 - loss: 1.2345"
    assert "\n" not in out.getvalue()


def test_verbose1_count_is_right_aligned(clock):
    out = FakeTTY()
    bar = Progbar(469, file=out)
    clock.now = 0.5
    bar.update(1, {"loss": 1.0})
    clock.now = 0.5 + 11 * 0.008
    bar.update(12, {"loss": 1.0})
    assert out.getvalue().split("\r")[-1].startswith(f" 12/469 {REST * 20} 3s 8ms/step")


def test_verbose1_finalize_shows_elapsed_time_and_ends_line(clock):
    out = FakeTTY()
    bar = Progbar(469, file=out)
    drive_to_step(bar, clock, 469, {"accuracy": 0.91, "loss": 0.3012})
    last = out.getvalue().split("\r")[-1]
    elapsed = 0.5 + 468 * 0.008  # since construction at t=0
    assert last == f"469/469 {BAR * 20} {elapsed:.0f}s 8ms/step - accuracy: 0.9100 - loss: 0.3012\n"


def test_colour_on_terminal_marks_done_and_remaining_cells(clock, monkeypatch):
    monkeypatch.delenv("NO_COLOR")
    out = FakeTTY()
    bar = Progbar(469, file=out, interval=0.0)
    drive_to_step(bar, clock, 235, {"loss": 1.0})
    last = out.getvalue().split("\r")[-1]
    assert f"\x1b[32m{BAR * 10}\x1b[0m\x1b[37m{BAR * 10}\x1b[0m" in last
    assert last.startswith("\x1b[1m235/469\x1b[0m ")


def test_no_colour_when_not_a_terminal(clock, monkeypatch):
    monkeypatch.delenv("NO_COLOR")
    out = io.StringIO()
    bar = Progbar(3, file=out)
    drive_to_step(bar, clock, 3, {"loss": 1.0})
    assert "\x1b" not in out.getvalue()


def test_shorter_line_is_padded_to_erase_previous(clock):
    out = FakeTTY()
    bar = Progbar(10, file=out, interval=0.0)
    clock.now = 1.0
    bar.update(1, {"loss": 1.0, "long_metric_name": 2.0})
    first = out.getvalue().split("\r")[-1]
    clock.now = 2.0
    bar.update(2, [("loss", 1.0)])  # pairs are accepted too; earlier values persist
    second = out.getvalue().split("\r")[-1]
    assert len(second) >= len(first)
    assert "long_metric_name" in second


# -- non-terminal output ----------------------------------------------------------------------------


def test_non_tty_writes_exactly_one_line_and_no_carriage_return(clock):
    out = io.StringIO()
    bar = Progbar(1000, file=out)
    clock.now = 0.0
    for step in range(1, 1001):
        clock.now += 0.01  # 10 s in all: many redraw intervals pass
        bar.update(step, {"loss": 0.25})
    text = out.getvalue()
    assert "\r" not in text
    assert text.count("\n") == 1 and text.endswith("\n")
    assert text == f"1000/1000 {BAR * 20} 10s 10ms/step - loss: 0.2500\n"


# -- verbose=2 --------------------------------------------------------------------------------------


def test_verbose2_prints_one_compact_line_at_the_end(clock):
    out = FakeTTY()
    bar = Progbar(469, verbose=2, file=out)
    drive_to_step(bar, clock, 468, {"accuracy": 0.5})
    assert out.getvalue() == ""
    clock.now = 0.5 + 468 * 0.008
    bar.update(469, {"accuracy": 0.91, "loss": 0.3012, "val_loss": 0.35})
    assert out.getvalue() == "469/469 - 4s - 8ms/step - accuracy: 0.9100 - loss: 0.3012 - val_loss: 0.3500\n"


def test_verbose0_is_silent(clock):
    out = FakeTTY()
    bar = Progbar(3, verbose=0, file=out)
    drive_to_step(bar, clock, 3, {"loss": 1.0})
    assert out.getvalue() == ""


# -- ASCII-only consoles ----------------------------------------------------------------------------


def test_ascii_terminal_gets_ascii_bar_without_encode_error(clock):
    out = AsciiTTY()
    bar = Progbar(469, file=out, interval=0.0)
    drive_to_step(bar, clock, 235, {"loss": 1.0})
    running = out.text().split("\r")[-1]
    assert running.startswith("235/469 [" + "=" * 9 + ">" + "." * 10 + "] 1s 8ms/step")
    drive_to_step(bar, clock, 469, {"loss": 1.0})
    assert out.text().split("\r")[-1].startswith("469/469 [" + "=" * 20 + "] ")


def test_ascii_stream_replaces_unencodable_metric_names(clock):
    out = AsciiTTY()
    bar = Progbar(2, verbose=2, file=out)
    drive_to_step(bar, clock, 2, {"précision": 0.5})
    assert out.text().endswith("pr?cision: 0.5000\n")


def test_ascii_non_tty_file(clock):
    out = io.TextIOWrapper(io.BytesIO(), encoding="ascii", write_through=True)
    bar = Progbar(4, file=out)
    drive_to_step(bar, clock, 4, {"loss": 1.0})
    assert out.buffer.getvalue().decode("ascii").startswith("4/4 [" + "=" * 20 + "] ")


# -- value and time formatting ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.5, "0.5000"),
        (0.0011, "0.0011"),
        (0.001, "1.0000e-03"),  # the threshold is strict: |v| > 1e-3
        (0.0005, "5.0000e-04"),
        (-0.5, "-0.5000"),
        (-0.0005, "-5.0000e-04"),
        (0.0, "0.0000e+00"),
        (12345.678, "12345.6780"),
        (float("nan"), "nan"),
        ("text", "text"),
    ],
)
def test_format_value_thresholds(value, expected):
    assert format_value(value) == expected


def test_format_value_random_against_reference():
    rng = np.random.default_rng(0)
    values = rng.choice([-1, 1], 200) * 10.0 ** rng.uniform(-7, 4, 200)
    for value in values:
        reference = "%.4f" % value if abs(value) > 1e-3 else "%.4e" % value
        assert format_value(float(value)) == reference
        assert format_value(np.float32(value)) == ("%.4f" % np.float32(value) if abs(np.float32(value)) > 1e-3
                                                   else "%.4e" % np.float32(value))


def test_format_value_tensors_and_arrays():
    assert format_value(torch.tensor(0.25)) == "0.2500"
    assert format_value(np.array([0.1, 0.3])) == "0.2000"
    assert format_value(torch.tensor([0.1, 0.3], dtype=torch.float64)) == "0.2000"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0, "0s/step"), (2.4, "2s/step"), (1.0, "1s/step"), (0.008, "8ms/step"), (0.001, "1ms/step"),
     (9.5e-5, "95us/step")],
)
def test_format_step_time(seconds, expected):
    assert format_step_time(seconds) == expected


def test_format_step_time_unit_name():
    assert format_step_time(0.002, "sample") == "2ms/sample"


@pytest.mark.parametrize(("seconds", "expected"), [(42.9, "42s"), (60, "60s"), (187, "3:07"), (3723, "1:02:03")])
def test_format_eta(seconds, expected):
    assert format_eta(seconds) == expected


def test_first_step_excluded_from_step_time(clock):
    out = FakeTTY()
    bar = Progbar(11, verbose=2, file=out)
    clock.now = 10.0  # a slow first step (warm-up)
    bar.update(1)
    for step in range(2, 12):
        clock.now = 10.0 + (step - 1) * 0.01
        bar.update(step, {"loss": 1.0})
    assert out.getvalue() == "11/11 - 10s - 10ms/step - loss: 1.0000\n"


# -- unknown target ---------------------------------------------------------------------------------


def test_unknown_target_shows_unknown(clock):
    out = FakeTTY()
    bar = Progbar(None, file=out, interval=0.0)
    drive_to_step(bar, clock, 12, {"loss": 1.0})
    assert out.getvalue().split("\r")[-1] == "     12/Unknown 1s 8ms/step - loss: 1.0000"
    bar.update(12, {"loss": 0.5}, finalize=True)
    assert out.getvalue().endswith("     12/Unknown 1s 8ms/step - loss: 0.5000\n")


def test_unknown_target_verbose2(clock):
    out = FakeTTY()
    bar = Progbar(None, verbose=2, file=out)
    drive_to_step(bar, clock, 5, {"loss": 1.0})
    assert out.getvalue() == ""
    bar.update(5, finalize=True)
    assert out.getvalue() == "5/Unknown - 1s - 8ms/step - loss: 1.0000\n"


# -- rate limiting and lazy reads -------------------------------------------------------------------


def test_fast_updates_read_lazy_logs_rarely(clock):
    out = FakeTTY()
    bar = Progbar(1000, file=out)
    reads: list = []
    for step in range(1, 1001):
        clock.now = step * 0.001  # 1 s in all, 0.05 s redraw interval
        bar.update(step, counting_logs(reads, {"loss": 1.0 / step}))
    assert 1 < len(reads) <= 21  # first draw + one per 50 steps, including the final one
    assert out.getvalue().endswith("loss: 1.0000e-03\n")  # the final update was read


def test_fast_updates_with_real_clock_read_logs_rarely():
    out = FakeTTY()
    bar = Progbar(1000, file=out)
    reads: list = []
    for step in range(1, 1001):
        bar.update(step, counting_logs(reads, {"loss": 0.5}))
    assert 1 <= len(reads) < 100
    text = out.getvalue()
    assert text.endswith("\n") and text.rstrip().endswith("loss: 0.5000")


@pytest.mark.parametrize(("stream", "verbose"), [(io.StringIO, 1), (FakeTTY, 2)])
def test_only_the_final_update_is_read_when_nothing_is_drawn_before(clock, stream, verbose):
    out = stream()
    bar = Progbar(1000, verbose=verbose, file=out)
    reads: list = []
    for step in range(1, 1001):
        clock.now = step * 0.01
        bar.update(step, counting_logs(reads, {"loss": 0.5}))
    assert len(reads) == 1
    assert out.getvalue().count("\n") == 1


def test_redraw_waits_for_interval(clock):
    out = FakeTTY()
    bar = Progbar(100, interval=0.5, file=out)
    clock.now = 1.0
    bar.update(1)
    clock.now = 1.4
    bar.update(2)
    assert out.getvalue().count("\r") == 1
    clock.now = 1.5
    bar.update(3)
    assert out.getvalue().count("\r") == 2


def test_add_advances(clock):
    out = FakeTTY()
    bar = Progbar(4, verbose=2, file=out)
    bar.add(2, {"loss": 1.0})
    bar.add(2)
    assert out.getvalue().startswith("4/4 - ")


# -- stream resolution and validation ---------------------------------------------------------------


def test_default_stream_is_resolved_at_write_time(clock, monkeypatch):
    bar = Progbar(2, verbose=2)
    later = io.StringIO()
    monkeypatch.setattr("sys.stdout", later)
    bar.update(2, {"loss": 1.0})
    assert later.getvalue().startswith("2/2 - ")


def test_writes_to_captured_stdout(clock, capsys):
    bar = Progbar(2, verbose=2)
    bar.update(2, {"loss": 1.0})
    assert capsys.readouterr().out.startswith("2/2 - ")


@pytest.mark.parametrize(
    "kwargs",
    [{"target": -1}, {"target": 2.5}, {"target": 3, "verbose": 3}, {"target": 3, "width": 0},
     {"target": 3, "interval": -1}],
)
def test_invalid_arguments_raise(kwargs):
    with pytest.raises(ValueError, match=f"must be .*got {list(kwargs.values())[-1]!r}"):
        Progbar(**kwargs)


def test_numpy_integer_target(clock):
    out = io.StringIO()
    bar = Progbar(np.int64(2), width=np.int32(10), verbose=2, file=out)
    bar.update(2)
    assert bar.target == 2 and type(bar.target) is int and out.getvalue().startswith("2/2 - ")
