"""Notebook display: plots are `PNGImage`s (bytes that Jupyter shows as figures), learning curves have whole
epochs on the axis, and a report's plain-text repr is its text."""
import io
import pickle

import numpy as np
import pytest

import plait
from plait.evaluation import classification_report, regression_report
from plait.evaluation.plots import has_matplotlib, history_figure
from plait.plotting import PNGImage, plot_history

pytestmark = pytest.mark.skipif(not has_matplotlib(), reason="figures need matplotlib (pip install matplotlib)")
IPython = pytest.importorskip("IPython")
LOGS = {"loss": [0.9, 0.6, 0.5, 0.45], "val_loss": [0.95, 0.7, 0.62, 0.66], "accuracy": [0.5, 0.7, 0.8, 0.85],
        "val_accuracy": [0.5, 0.66, 0.72, 0.7]}


def _format(obj):
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(obj)
    return data


def test_plot_history_is_png_bytes_that_display_as_an_image(tmp_path):
    png = plait.plot_history(LOGS, dpi=50)
    assert isinstance(png, PNGImage) and isinstance(png, bytes)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and bytes(png) == png and png.size == (480, 200)
    assert pickle.loads(pickle.dumps(png)) == png
    from matplotlib import image

    pixels = image.imread(io.BytesIO(png._repr_png_()), format="png")  # a PNG matplotlib itself decodes
    assert pixels.shape[:2] == (200, 480)
    data = _format(png)
    assert data["image/png"] == bytes(png)
    assert data["text/plain"] == repr(png) == f"<PNG image 480x200, {round(len(png) / 1024)} KB>"
    assert str(png) == repr(png)
    path = png.save(tmp_path / "h.png")
    assert open(path, "rb").read() == png
    # Bit-equal: the same figure drawn twice by the same matplotlib in one process (Agg is deterministic).
    assert plot_history(LOGS, tmp_path / "again.png", dpi=50) == png
    with pytest.raises(ValueError, match="bytes of a PNG file"):
        PNGImage(b"GIF89a")


def test_report_figures_are_png_images():
    rng = np.random.default_rng(0)
    y = (rng.random(120) < 0.4).astype(int)
    report = classification_report(y, np.clip(0.4 * y + 0.6 * rng.random(120), 0, 1), history=LOGS, n_bootstrap=0)
    for image in (report.plot_confusion_matrix(dpi=40), report.plot_roc_curve(dpi=40), report.plot_pr_curve(dpi=40),
                  report.plot_history(dpi=40), *report.figures().values()):
        assert isinstance(image, PNGImage) and "image/png" in _format(image)
    residuals = regression_report(np.arange(10.0), np.arange(10.0) * 0.9, n_bootstrap=0).plot_residuals(dpi=30)
    assert isinstance(residuals, PNGImage)


@pytest.mark.parametrize("epochs", [2, 4, 7, 30])
def test_learning_curve_epoch_ticks_are_whole_numbers(epochs):
    logs = {"loss": list(np.linspace(1.0, 0.2, epochs)), "val_loss": list(np.linspace(1.1, 0.4, epochs))}
    fig = history_figure(logs, dpi=40)
    fig.canvas.draw()
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks


def test_report_repr_is_its_text_and_html_stays():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 90)
    p = rng.dirichlet(np.ones(3), 90)
    report = classification_report(y, p, n_bootstrap=0)
    assert repr(report) == str(report) and repr(report).startswith("Classification report (90 samples, 3 classes)")
    data = _format(report)
    assert data["text/plain"] == str(report)
    assert data["text/html"].startswith('<div class="plait-report">')
    regression = regression_report([1.0, 2.0, 3.0], [1.0, 2.5, 2.5], n_bootstrap=0)
    assert _format(regression)["text/plain"].startswith("Regression report (3 samples")
