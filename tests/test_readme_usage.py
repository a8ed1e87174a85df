"""Every Python block of the README runs as written, in order, on small made-up data."""
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def _made_up_data() -> dict:
    """Ten classes of 64 features, as the README's digits: Gaussian blobs a small MLP separates well."""
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(10, 64)) * 1.5
    y = rng.integers(0, 10, size=900)
    x = (centers[y] + rng.normal(size=(900, 64))).astype("float32")
    return {"x_train": x[:600], "y_train": y[:600], "x_test": x[600:], "y_test": y[600:], "x_new": x[600:]}


def test_the_readme_has_the_blocks_this_test_runs():
    blocks = _python_blocks()
    assert len(blocks) >= 3
    assert any("threshold_for" in b for b in blocks) and any("load_model" in b for b in blocks)


def test_every_python_block_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the blocks write report.html, model.plait, ... into the working directory
    namespace = _made_up_data()
    for block in _python_blocks():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the pitfall notices the blocks trigger are tested elsewhere
            exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own README
    # What the blocks promise, checked on their results.
    assert namespace["accuracy"] > 0.9
    assert namespace["probabilities"].shape == (300, 10)
    report, choice, labels = namespace["report"], namespace["choice"], namespace["labels"]
    y_test = namespace["y_test"]
    k = choice.class_id
    assert k is not None and choice.recall >= 0.95
    # The threshold chosen on the test data achieves on it exactly what it reports (x_new is x_test here).
    assert ((labels == k) & (y_test == k)).sum() / (y_test == k).sum() == pytest.approx(choice.recall)
    assert ((labels == k) & (y_test == k)).sum() / (labels == k).sum() == pytest.approx(choice.precision)
    assert report.interval_methods and (tmp_path / "report.html").stat().st_size > 10_000
    restored = namespace["model"]  # the Keep block reloads the model it saved
    assert (restored.predict(namespace["x_test"], verbose=0).argmax(1) == y_test).mean() > 0.9
    assert (tmp_path / "model.plait").exists() and (tmp_path / "w.weights.safetensors").exists()
