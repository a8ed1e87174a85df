"""ModelCheckpoint: which files exist, which weights they hold, and what happens when the disk fills."""
from __future__ import annotations

import errno
import os

import numpy as np
import pytest
from callback_helpers import Script, WeightsAtEpochEnd, regression_data, same_weights, small_model

import plait
from plait.callbacks import Callback, ModelCheckpoint
from plait.saving import atomic


def _fit(callbacks, epochs=4, batch_size=10):
    model = small_model()
    x, y = regression_data()
    recorder = WeightsAtEpochEnd()
    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[*callbacks, recorder])
    return model, recorder


def test_every_epoch_with_a_formatted_name(tmp_path):
    values = [0.5, 0.25, 0.125, 1.0]
    checkpoint = ModelCheckpoint(str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.2f}.plait"))
    _, recorder = _fit([Script(val_loss=values), checkpoint])
    assert sorted(os.listdir(tmp_path)) == ["ckpt-01-0.50.plait", "ckpt-02-0.25.plait", "ckpt-03-0.12.plait",
                                           "ckpt-04-1.00.plait"]
    restored = plait.load_model(tmp_path / "ckpt-02-0.25.plait")
    assert same_weights(restored.get_weights(), recorder.weights[1])


def test_save_best_only_keeps_the_best_epochs(tmp_path):
    values = [0.5, 0.6, 0.4, 0.45, 0.4]
    checkpoint = ModelCheckpoint(tmp_path / "best-{epoch}.plait", monitor="val_loss", save_best_only=True)
    single = ModelCheckpoint(tmp_path / "best.plait", monitor="val_loss", save_best_only=True)
    _, recorder = _fit([Script(val_loss=values), checkpoint, single], epochs=5)
    assert sorted(os.listdir(tmp_path)) == ["best-1.plait", "best-3.plait", "best.plait"]
    assert same_weights(plait.load_model(tmp_path / "best.plait").get_weights(), recorder.weights[2])
    assert checkpoint.best == 0.4


def test_mode_max_and_initial_value_threshold(tmp_path):
    values = [0.5, 0.7, 0.6, 0.9]
    checkpoint = ModelCheckpoint(tmp_path / "acc-{epoch}.weights.safetensors", monitor="score", mode="max",
                                 save_best_only=True, save_weights_only=True, initial_value_threshold=0.6)
    _fit([Script(score=values), checkpoint])
    assert sorted(os.listdir(tmp_path)) == ["acc-2.weights.safetensors", "acc-4.weights.safetensors"]


def test_weights_only_every_n_batches(tmp_path):
    # 4 batches per epoch, save every 3 batches: after global batches 3, 6, 9, 12 -> (epoch, batch) (1,3) (2,2)
    # (3,1) (3,4), batches counted within the epoch from 1.
    checkpoint = ModelCheckpoint(tmp_path / "w-{epoch}-{batch}.weights.safetensors", save_weights_only=True,
                                 save_freq=3)
    model, _ = _fit([checkpoint], epochs=3)
    assert sorted(os.listdir(tmp_path)) == ["w-1-3.weights.safetensors", "w-2-2.weights.safetensors",
                                           "w-3-1.weights.safetensors", "w-3-4.weights.safetensors"]
    other = small_model(seed=5)
    other.load_weights(tmp_path / "w-3-4.weights.safetensors")
    assert same_weights(other.get_weights(), model.get_weights())


def test_per_epoch_checkpoints_leave_the_batch_fast_path_alone(tmp_path):
    assert not ModelCheckpoint(tmp_path / "a.plait").implements_batch_hooks("train")
    assert ModelCheckpoint(tmp_path / "a.plait", save_freq=5).implements_batch_hooks("train")


def test_keras_file_names_write_keras_files(tmp_path):
    pytest.importorskip("h5py")
    _fit([ModelCheckpoint(tmp_path / "best.keras", save_best_only=True),
          ModelCheckpoint(tmp_path / "best.weights.h5", save_weights_only=True)], epochs=2)
    assert plait.load_model(tmp_path / "best.keras").count_params() > 0
    assert (tmp_path / "best.weights.h5").stat().st_size > 0


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"must end in '.plait'.*or '.keras'"):
        ModelCheckpoint(tmp_path / "m.h5")
    with pytest.raises(ValueError, match=r"'.weights.safetensors'"):
        ModelCheckpoint(tmp_path / "m.pt", save_weights_only=True)
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint(tmp_path / "m.plait", save_freq="batch")
    with pytest.raises(KeyError, match="Failed to format"):
        _fit([ModelCheckpoint(tmp_path / "m-{val_acc}.plait")], epochs=1)


class FillDiskAfter(Callback):
    """From epoch `epoch` on, every fsync fails as on a full disk."""

    def __init__(self, epoch, monkeypatch):
        super().__init__()
        self.epoch, self.monkeypatch = epoch, monkeypatch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            def no_space(fd):
                raise OSError(errno.ENOSPC, "No space left on device")

            self.monkeypatch.setattr(atomic.os, "fsync", no_space)


def test_a_full_disk_keeps_the_last_good_checkpoint_and_training_goes_on(tmp_path, monkeypatch):
    path = tmp_path / "last.plait"
    checkpoint = ModelCheckpoint(path)
    with pytest.warns(RuntimeWarning, match="previous checkpoint is intact"):
        model, recorder = _fit([FillDiskAfter(2, monkeypatch), checkpoint], epochs=4)
    monkeypatch.undo()
    assert len(recorder.weights) == 4  # training finished
    assert sorted(os.listdir(tmp_path)) == ["last.plait"]
    assert same_weights(plait.load_model(path).get_weights(), recorder.weights[1])


def test_a_first_save_that_fails_raises(tmp_path, monkeypatch):
    with pytest.raises(OSError, match="No space"):
        _fit([FillDiskAfter(0, monkeypatch), ModelCheckpoint(tmp_path / "m.plait")], epochs=2)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_directories_are_created(tmp_path):
    _fit([ModelCheckpoint(tmp_path / "runs" / "a" / "m-{epoch}.plait")], epochs=1)
    assert os.listdir(tmp_path / "runs" / "a") == ["m-1.plait"]
    np.testing.assert_equal(len(os.listdir(tmp_path)), 1)
