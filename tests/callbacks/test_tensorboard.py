"""TensorBoard: what is written where (through a recording writer), the missing-package error, a real run if present."""
from __future__ import annotations

import importlib.util
import os
import sys

import pytest
from callback_helpers import regression_data, small_model

from plait.callbacks import TensorBoard
from plait.callbacks import tensorboard as tensorboard_module


class RecordingWriter:
    """Stands in for torch.utils.tensorboard.SummaryWriter and records every call."""

    instances: list["RecordingWriter"] = []

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.scalars: list[tuple[str, float, int]] = []
        self.histograms: list[tuple[str, int]] = []
        self.closed = False
        RecordingWriter.instances.append(self)

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))

    def add_histogram(self, tag, values, step):
        self.histograms.append((tag, step))

    def flush(self):
        pass

    def close(self):
        self.closed = True


@pytest.fixture()
def writers(monkeypatch):
    RecordingWriter.instances = []
    monkeypatch.setattr(tensorboard_module, "_summary_writer_class", lambda: RecordingWriter)
    return RecordingWriter.instances


def _by_dir(writers):
    return {os.path.basename(w.log_dir): w for w in writers}


def test_epoch_scalars_go_to_train_and_validation(tmp_path, writers):
    model = small_model(metrics=["mae"])
    x, y = regression_data()
    history = model.fit(x, y, epochs=3, verbose=0, validation_split=0.25,
                        callbacks=[TensorBoard(log_dir=tmp_path, histogram_freq=2)])
    found = _by_dir(writers)
    assert set(found) == {"train", "validation"} and all(w.closed for w in writers)
    train = {(tag, step): value for tag, value, step in found["train"].scalars}
    validation = {(tag, step): value for tag, value, step in found["validation"].scalars}
    for epoch in range(3):
        assert train[("epoch_loss", epoch)] == history.history["loss"][epoch]
        assert train[("epoch_mae", epoch)] == history.history["mae"][epoch]
        assert validation[("epoch_loss", epoch)] == history.history["val_loss"][epoch]
    assert sorted({step for _, step in found["train"].histograms}) == [0, 2]
    assert {tag for tag, _ in found["train"].histograms} == {w.path for w in model.weights}


def test_batch_scalars_every_n_batches(tmp_path, writers):
    model = small_model()
    x, y = regression_data()
    model.fit(x, y, batch_size=10, epochs=2, verbose=0, callbacks=[TensorBoard(tmp_path, update_freq=3)])
    train = _by_dir(writers)["train"]
    assert [step for tag, _, step in train.scalars if tag == "batch_loss"] == [3, 6]  # 8 batches in all
    assert not TensorBoard(tmp_path).implements_batch_hooks("train")
    assert TensorBoard(tmp_path, update_freq="batch").update_freq == 1


def test_unsupported_options_warn_and_bad_ones_raise(tmp_path, writers):
    with pytest.warns(UserWarning, match="profile_batch"):
        TensorBoard(tmp_path, profile_batch=2)
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard(tmp_path, update_freq="sometimes")


def test_a_missing_tensorboard_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ImportError, match="pip install tensorboard"):
        TensorBoard()


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard is not installed")
def test_real_event_files(tmp_path):
    model = small_model()
    x, y = regression_data()
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.25, callbacks=[TensorBoard(log_dir=tmp_path)])
    for which in ("train", "validation"):
        assert any(name.startswith("events.out.tfevents") for name in os.listdir(tmp_path / which))
