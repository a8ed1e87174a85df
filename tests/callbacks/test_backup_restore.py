"""BackupAndRestore in-process: an interrupted fit, resumed, ends exactly as an uninterrupted one."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from callback_helpers import CrashAt, regression_data, same_weights, small_model

import plait
from plait import optimizers
from plait.callbacks import BackupAndRestore, Callback, CallbackList, CSVLogger, EarlyStopping, History, \
    ReduceLROnPlateau
from plait.callbacks import training_state as ts
from plait.saving import FormatError, safetensors_format


Crash = CrashAt.Crash


def _run(workdir, save_freq="epoch", crash=None, epochs=6, extra=()):
    model = small_model(optimizer=optimizers.Adam(0.08), metrics=["mae"], dropout=0.3)
    x, y = regression_data(48)
    callbacks = [*extra, CSVLogger(os.path.join(workdir, "log.csv")),
                 EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
                 ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_delta=0.0),
                 BackupAndRestore(os.path.join(workdir, "backup"), save_freq=save_freq)]
    if crash is not None:
        callbacks.append(CrashAt(*crash))
    history = model.fit(x, y, batch_size=8, epochs=epochs, validation_split=0.25, verbose=0, callbacks=callbacks)
    return model, history


def _assert_identical(a, b, dir_a, dir_b):
    (model_a, history_a), (model_b, history_b) = a, b
    assert same_weights(model_a.get_weights(), model_b.get_weights())
    state_a, state_b = model_a.optimizer.state_dict(), model_b.optimizer.state_dict()
    assert state_a.keys() == state_b.keys() and all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert history_a.history == history_b.history and history_a.epoch == history_b.epoch
    with open(os.path.join(dir_a, "log.csv")) as fa, open(os.path.join(dir_b, "log.csv")) as fb:
        assert fa.read() == fb.read()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("reference")
    return _run(str(workdir)), str(workdir)


@pytest.mark.parametrize("save_freq, crash", [("epoch", (2, 3)), ("epoch", (0, 2)), (1, (3, 0)), (2, (2, 3)),
                                              (5, (4, 4))])
def test_resumed_run_matches_the_uninterrupted_one(tmp_path, uninterrupted, save_freq, crash):
    reference, reference_dir = uninterrupted
    with pytest.raises(Crash):
        _run(str(tmp_path), save_freq, crash)
    if save_freq == "epoch" and crash[0] == 0:
        assert not (tmp_path / "backup").exists()  # killed before the first backup: it starts over
    else:
        assert os.listdir(tmp_path / "backup") == ["latest.backup.safetensors"]
    resumed = _run(str(tmp_path), save_freq)
    _assert_identical(reference, resumed, reference_dir, str(tmp_path))
    assert not (tmp_path / "backup").exists()  # deleted once training completed


def test_resuming_twice_in_a_row(tmp_path, uninterrupted):
    reference, reference_dir = uninterrupted
    for crash in ((1, 2), (3, 1)):
        with pytest.raises(Crash):
            _run(str(tmp_path), 3, crash)
    _assert_identical(reference, _run(str(tmp_path), 3), reference_dir, str(tmp_path))


class BackupProbe(Callback):
    def __init__(self, path):
        super().__init__()
        self.path, self.seen = path, []

    def on_epoch_begin(self, epoch, logs=None):
        if os.path.exists(self.path):
            _, metadata = safetensors_format.load_file(self.path)
            meta = json.loads(metadata["plait.backup"])
            self.seen.append((epoch, meta["epoch"], meta["step"], len(meta["history"]["loss"])))
        else:
            self.seen.append((epoch, None))


def test_which_backup_exists_when(tmp_path):
    path = str(tmp_path / "backup" / "latest.backup.safetensors")
    probe = BackupProbe(path)
    model = small_model()
    x, y = regression_data()
    model.fit(x, y, epochs=3, verbose=0,
              callbacks=[probe, BackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)])
    # At the start of epoch e the backup holds the state after epoch e-1, History included.
    assert probe.seen == [(0, None), (1, 1, None, 1), (2, 2, None, 2)]
    assert os.path.exists(path)
    history = model.fit(x, y, epochs=3, verbose=0,
                        callbacks=[BackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)])
    assert history.epoch == [0, 1, 2] and len(history.history["loss"]) == 3  # nothing left to train


def test_it_runs_after_history_and_sees_the_other_callbacks(tmp_path):
    backup = BackupAndRestore(str(tmp_path))
    stop = EarlyStopping()
    callbacks = CallbackList([backup, stop], add_history=True)
    assert callbacks.callbacks[-1] is backup and isinstance(callbacks.callbacks[-2], History)
    assert stop in backup._callbacks and backup not in backup._callbacks


def test_double_checkpoint_falls_back_to_the_previous_backup(tmp_path):
    with pytest.raises(Crash):
        model = small_model()
        x, y = regression_data()
        model.fit(x, y, epochs=4, verbose=0, callbacks=[
            BackupAndRestore(str(tmp_path), double_checkpoint=True), CrashAt(3, 0)])
    assert sorted(os.listdir(tmp_path)) == ["latest.backup.safetensors", "latest.backup.safetensors.bkp"]
    (tmp_path / "latest.backup.safetensors").write_bytes(b"\0" * 100)  # a damaged latest backup
    model = small_model()
    with pytest.warns(RuntimeWarning, match="trying the previous one"):
        history = model.fit(x, y, epochs=4, verbose=0,
                            callbacks=[BackupAndRestore(str(tmp_path), double_checkpoint=True)])
    assert history.epoch == [0, 1, 2, 3]
    assert not tmp_path.exists()


def test_damaged_backup_or_other_model_are_clear_errors(tmp_path):
    x, y = regression_data()
    with pytest.raises(Crash):
        small_model().fit(x, y, epochs=3, verbose=0, callbacks=[BackupAndRestore(str(tmp_path)), CrashAt(1, 0)])
    wider = plait.Sequential([plait.layers.Dense(9, input_shape=(4,)), plait.layers.Dense(1)])
    wider.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="different model"):
        wider.fit(x, y, epochs=3, verbose=0, callbacks=[BackupAndRestore(str(tmp_path))])
    (tmp_path / "latest.backup.safetensors").write_bytes(b"garbage")
    with pytest.raises(FormatError, match="Delete the directory"):
        small_model().fit(x, y, epochs=3, verbose=0, callbacks=[BackupAndRestore(str(tmp_path))])


def test_the_model_must_be_built_and_arguments_are_checked(tmp_path):
    model = plait.Sequential([plait.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = regression_data()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                         batch_size=8)
    with pytest.raises(ValueError, match="must be built"):
        model.fit(loader, verbose=0, callbacks=[BackupAndRestore(str(tmp_path))])
    # With arrays, fit builds the model from their first rows before any callback runs (to check the targets
    # against its outputs), so a backup can be restored into it.
    model.fit(x, y, verbose=0, callbacks=[BackupAndRestore(str(tmp_path))])
    assert model.built
    with pytest.raises(ValueError, match="Empty"):
        BackupAndRestore("")
    with pytest.raises(ValueError, match="save_freq"):
        BackupAndRestore(str(tmp_path), save_freq=0)


def test_rng_state_is_part_of_the_backup(tmp_path):
    np.random.seed(5)
    _ = np.random.rand(3)
    tensors, meta = ts.get_rng_state()
    expected = (np.random.rand(4), torch.rand(3))
    np.random.seed(0)
    torch.manual_seed(0)
    ts.set_rng_state(tensors, json.loads(json.dumps(meta)))
    got = (np.random.rand(4), torch.rand(3))
    np.testing.assert_array_equal(got[0], expected[0])
    assert torch.equal(got[1], expected[1])
