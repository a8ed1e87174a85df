"""The `plait` command: help without a command, --version, and a report that never overwrites silently (a usage
error: exit code 2 and one line on stderr, as for the hostile inputs in test_cli_hostile.py)."""
import subprocess
import sys

import numpy as np
import torch

import plait
from plait.cli import main


def test_no_command_prints_the_help_and_succeeds(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "usage: plait" in out and "quickstart" in out and "report" in out


def test_python_dash_m_plait_prints_the_help():
    done = subprocess.run([sys.executable, "-m", "plait"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "usage: plait" in done.stdout


def test_version_names_plait_torch_and_python(capsys):
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"plait {plait.__version__} (torch {torch.__version__}, Python ")


def test_report_does_not_overwrite_report_html_unless_named(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    model = plait.Sequential([plait.Input(shape=(3,)), plait.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.save("model.plait")
    np.savez("test.npz", x=x, y=y)
    (tmp_path / "report.html").write_text("my own notes")
    assert main(["report", "model.plait", "test.npz", "--n-bootstrap", "0"]) == 2  # a usage error, as argparse's
    err = capsys.readouterr().err
    assert err.startswith("plait report: report.html already exists") and "-o report.html" in err
    assert err.count("\n") == 1
    assert (tmp_path / "report.html").read_text() == "my own notes"
    assert main(["report", "model.plait", "test.npz", "--n-bootstrap", "0", "-o", "report.html"]) == 0
    assert "<html" in (tmp_path / "report.html").read_text().lower()
    capsys.readouterr()
