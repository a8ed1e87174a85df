"""plait in a Jupyter notebook, run by a real kernel (nbclient + ipykernel; skipped when they are not installed)."""
import importlib.util
import sys

import pytest

from plait.training.loop import resolve_verbose
from plait.utils import progbar


class _Pipe:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class _KernelStream(_Pipe):
    """Stands in for ipykernel's OutStream: what sys.stdout is in a Jupyter notebook (not a tty either)."""


_KernelStream.__module__ = "ipykernel.iostream"


def test_auto_verbose_is_the_live_bar_in_a_notebook_and_one_line_per_epoch_in_a_pipe(monkeypatch):
    monkeypatch.setattr(sys, "stdout", _Pipe())
    monkeypatch.setitem(sys.modules, "ipykernel", object())  # imported, but output goes to a file or pipe
    assert not progbar.is_interactive() and resolve_verbose("auto") == 2  # no carriage returns in logs
    monkeypatch.setattr(sys, "stdout", _KernelStream())
    assert progbar.is_interactive() and resolve_verbose("auto") == 1
    assert resolve_verbose(2) == 2 and resolve_verbose(0) == 0


_CELLS = [
    """
import numpy as np, plait
from plait.layers import Dense
rng = np.random.default_rng(0)
x = rng.normal(size=(400, 8)).astype("float32")
y = (x[:, 0] + x[:, 1] > 0).astype("int64")
model = plait.Sequential([plait.Input(shape=(8,)), Dense(16, activation="relu"), Dense(2, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
""",
    # Small batches and a slow step (0.8 s an epoch) keep the bar redrawing during the epoch, as a long epoch would:
    # it redraws at most every 0.05 s, so about 16 times an epoch.
    """
import time
slow = plait.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: time.sleep(0.01))
history = model.fit(x, y, epochs=2, batch_size=4, validation_split=0.2, callbacks=[slow], diagnostics=False)
""",
    "plait.plot_history(history)",
    "report = model.report(x, y, n_bootstrap=0, diagnostics=False)\nreport",
]


def test_notebook_shows_a_live_bar_a_figure_and_a_readable_report():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    if importlib.util.find_spec("ipykernel") is None:  # not imported here: the kernel runs in its own process
        pytest.skip("ipykernel is not installed")
    pytest.importorskip("matplotlib")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in _CELLS])
    # The kernel runs this interpreter (ipykernel's native kernel spec), so it imports the plait under test.
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=False)
    client.execute()
    fit_out = "".join(o.get("text", "") for o in notebook.cells[1].outputs if o["output_type"] == "stream"
                      and o["name"] == "stdout")
    assert "Epoch 2/2" in fit_out
    # Live: the bar is redrawn in place (carriage returns) many times within each epoch, not printed once at its end.
    assert fit_out.count("\r") > 10, fit_out[:500]
    plot = [o for o in notebook.cells[2].outputs if o["output_type"] in ("execute_result", "display_data")]
    assert plot and "image/png" in plot[0]["data"], plot
    assert len(plot[0]["data"]["text/plain"]) < 200  # not a 175,000-character bytes literal
    shown = [o for o in notebook.cells[3].outputs if o["output_type"] == "execute_result"][0]["data"]
    assert "text/html" in shown
    assert "precision" in shown["text/plain"] and " at 0x" not in shown["text/plain"]
