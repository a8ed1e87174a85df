"""Rendering: text, self-contained HTML, PNG figures of the right size, headless Chromium, `plait report`."""
import base64
import os
import re
import shutil
import struct
import subprocess
import sys
import warnings

import numpy as np
import pytest

import plait
from plait.evaluation import classification_report, regression_report
from plait.evaluation.plots import has_matplotlib
from plait.plotting import plot_history

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
needs_matplotlib = pytest.mark.skipif(not has_matplotlib(), reason="figures need matplotlib (pip install matplotlib)")


def _png_size(data):
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _report(n=300, seed=0, history=True):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    p = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1)
    logs = {"loss": [0.7, 0.5, 0.4, 0.35], "val_loss": [0.72, 0.55, 0.5, 0.52], "accuracy": [0.6, 0.7, 0.8, 0.85],
            "val_accuracy": [0.58, 0.68, 0.75, 0.74]} if history else None
    return classification_report(y, p, history=logs, n_bootstrap=50, class_names=["legit", "fraud"])


def test_text_report_lists_every_number():
    report = _report()
    text = str(report)
    for name in ("legit", "fraud", "macro avg", "weighted avg", "accuracy", "ROC-AUC", "PR-AUC", "baseline",
                 "95% BCa CI", "95% BCa bootstrap intervals (50 resamples)", "Confusion matrix"):
        assert name in text
    assert f"{report.per_class['fraud']['recall']:.3f}" in text
    regression = regression_report(np.arange(10.0), np.arange(10.0) + 0.5, n_bootstrap=20)
    assert "MSE 0.25" in str(regression) and "R2" in str(regression)


@needs_matplotlib
def test_png_figures_are_real_images_of_the_requested_size(tmp_path):
    report = _report()
    path = tmp_path / "cm.png"
    data = report.plot_confusion_matrix(path)
    assert path.read_bytes() == data and _png_size(data) == (640, 560)
    assert _png_size(report.plot_confusion_matrix(figsize=(4, 3), dpi=50)) == (200, 150)
    assert _png_size(report.plot_roc_curve()) == (640, 480)
    assert _png_size(report.plot_pr_curve(dpi=80)) == (512, 384)
    history_path = tmp_path / "history.png"
    plot_history(report.history, history_path)
    assert _png_size(history_path.read_bytes()) == (960, 400)  # two panels (loss, accuracy) of 4.8 x 4 in
    residuals = regression_report(np.arange(20.0), np.arange(20.0) * 1.1, n_bootstrap=0).plot_residuals(dpi=50)
    assert _png_size(residuals) == (500, 210)
    # The heat map is drawn from the matrix: more mass on the diagonal means more dark pixels there.
    from matplotlib import image

    pixels = image.imread(path)
    assert pixels.shape == (560, 640, 4) and pixels[..., :3].std() > 0.1


@needs_matplotlib
def test_html_is_self_contained_with_embedded_figures(tmp_path):
    report = _report()
    path = report.save_html(tmp_path / "report.html")
    text = open(path, encoding="utf-8").read()
    assert text.startswith("<!DOCTYPE html>") and "<script" not in text
    assert not re.search(r'(src|href)="(?!data:)', text)  # nothing loaded from elsewhere
    images = re.findall(r'alt="([^"]+)" width="(\d+)" height="(\d+)" src="data:image/png;base64,([^"]+)"', text)
    assert [alt for alt, *_ in images] == ["Confusion matrix", "ROC curve", "Precision-recall curve", "Learning curves"]
    for _, width, height, payload in images:
        assert _png_size(base64.b64decode(payload)) == (int(width), int(height))
    assert "Thresholds" in text and "fraud" in text
    fragment = report._repr_html_()
    assert fragment.startswith('<div class="plait-report">') and "data:image/png;base64" in fragment


def test_without_matplotlib_plots_say_how_to_install_it_and_html_still_works(tmp_path, monkeypatch):
    report = _report(history=False)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=re.escape("pip install matplotlib")):
        report.plot_confusion_matrix()
    text = open(report.save_html(tmp_path / "plain.html"), encoding="utf-8").read()
    assert "data:image/png" not in text and "pip install matplotlib" in text and "Per class" in text


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@needs_matplotlib
@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium (apt-get install chromium) for the "
                                                 "headless rendering check")
def test_html_report_renders_in_headless_chromium_with_heat_map_and_curves(tmp_path):
    from matplotlib import image

    page = _report(n=400).save_html(tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,2000"]
    subprocess.run([_chromium(), *flags, f"file://{os.path.abspath(page)}"], capture_output=True, timeout=120,
                   check=False)
    assert shot.exists(), "chromium wrote no screenshot"
    rgb = (image.imread(shot)[..., :3] * 255).astype(int)
    assert rgb.shape[:2] == (2000, 1200)

    def near(color, tolerance=40):
        return int((np.abs(rgb - np.array(color)).sum(axis=2) < tolerance).sum())

    assert near((8, 48, 107), 60) + near((8, 81, 156), 60) > 5000  # dark cells of the Blues heat map
    assert near((31, 119, 180)) > 300  # the ROC / PR / training curves (matplotlib's first colour)
    assert near((255, 127, 14)) > 100  # the validation learning curve (second colour)


@needs_matplotlib
def test_plait_report_command_writes_html_for_a_saved_model(tmp_path, capsys):
    if not hasattr(plait, "load_model"):
        pytest.skip("plait.load_model (issue 5) is not available yet")
    plait.set_random_seed(0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 4)).astype("float32")
    y = (x[:, 0] - x[:, 1] > 0).astype("int64")
    model = plait.Sequential([plait.layers.Dense(8, activation="relu", input_shape=(4,)),
                              plait.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x[:200], y[:200], validation_split=0.2, epochs=3, verbose=0)
    model.save(tmp_path / "model.plait")
    np.savez(tmp_path / "test.npz", x=x[200:], y=y[200:])
    with open(tmp_path / "test.csv", "w") as handle:
        handle.write("a,b,label,c,d\n")
        for row, label in zip(x[200:], y[200:]):
            handle.write(f"{row[0]},{row[1]},{label},{row[2]},{row[3]}\n")
    from plait.cli import main

    expected = model.report(x[200:], y[200:], n_bootstrap=0, diagnostics=False).to_dict()
    out = tmp_path / "from_npz.html"
    assert main(["report", str(tmp_path / "model.plait"), str(tmp_path / "test.npz"), "-o", str(out),
                 "--n-bootstrap", "20"]) == 0
    assert "data:image/png;base64" in out.read_text() and "Wrote the HTML report" in capsys.readouterr().out
    x_csv = np.c_[x[200:, :2], x[200:, 2:]]
    assert model.report(x_csv, y[200:], n_bootstrap=0, diagnostics=False).to_dict() == expected
    out = tmp_path / "from_csv.html"
    assert main(["report", str(tmp_path / "model.plait"), str(tmp_path / "test.csv"), "-o", str(out),
                 "--target", "label", "--n-bootstrap", "0"]) == 0
    assert f"{expected['accuracy']:.3f}" in capsys.readouterr().out and out.exists()
    # A usage error: exit code 2 and one line on stderr (tests/test_cli_hostile.py covers the hostile cases).
    assert main(["report", str(tmp_path / "model.plait"), str(tmp_path / "test.csv"), "--target", "nope"]) == 2
    assert "No target column 'nope'" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "model.plait"), str(tmp_path / "missing.csv")]) == 2
    assert "no data file" in capsys.readouterr().err


def test_render_imports_no_report_and_each_report_renders_itself():
    """render.py is below the reports (no import of report*, lazy or not); a report picks its own HTML body."""
    import ast
    from pathlib import Path

    from plait.evaluation import render
    from plait.evaluation.reports_base import Report

    source = Path(render.__file__).read_text()
    imported = {n.module for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Import) for a in n.names}
    assert not [m for m in imported if m and m.startswith("plait.evaluation.report")], imported

    class Minimal(Report):
        def _html_body(self):
            return "<h1>Minimal</h1>"

    minimal = Minimal(history=None, n_bootstrap=0, confidence=0.95, seed=0)
    fragment = minimal.to_html(full_page=False)
    assert fragment == render.page("<h1>Minimal</h1>", full_page=False) == minimal._repr_html_()
    assert fragment.startswith('<div class="plait-report"><style>') and fragment.endswith("<h1>Minimal</h1></div>")
    page = minimal.to_html()
    assert page.startswith("<!DOCTYPE html>") and fragment in page and page.endswith("</body></html>")
    report = _report(history=False)
    assert report.to_html(full_page=False) == render.page(render.classification_html(report), full_page=False)
