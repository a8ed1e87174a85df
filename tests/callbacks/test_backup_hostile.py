"""BackupAndRestore reads its own backup as untrusted: every malformed, truncated, deeply nested or wrongly typed
state is one FormatError naming the file and the fix, and the model is left exactly as it was."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from callback_helpers import CrashAt, regression_data, small_model

from plait import optimizers
from plait.callbacks import BackupAndRestore, CSVLogger, EarlyStopping
from plait.callbacks.backup_and_restore import BACKUP_FILE
from plait.errors import FormatError
from plait.saving import safetensors_format as st

EPOCHS = 4


def _model():
    return small_model(optimizer=optimizers.Adam(0.05), metrics=["mae"])


def _callbacks(workdir, save_freq="epoch", extra=()):
    return [CSVLogger(os.path.join(workdir, "log.csv")), EarlyStopping(monitor="loss", patience=5), *extra,
            BackupAndRestore(os.path.join(workdir, "backup"), save_freq=save_freq)]


def _make_backup(workdir, save_freq, crash):
    x, y = regression_data(40)
    with pytest.raises(CrashAt.Crash):
        _model().fit(x, y, batch_size=8, epochs=EPOCHS, verbose=0,
                     callbacks=_callbacks(str(workdir), save_freq, [CrashAt(*crash)]))
    tensors, metadata = st.load_file(os.path.join(workdir, "backup", BACKUP_FILE))
    return tensors, json.loads(metadata["plait.backup"])


@pytest.fixture(scope="module")
def epoch_backup(tmp_path_factory):
    return _make_backup(tmp_path_factory.mktemp("epoch"), "epoch", (2, 1))


@pytest.fixture(scope="module")
def mid_epoch_backup(tmp_path_factory):
    return _make_backup(tmp_path_factory.mktemp("mid"), 2, (1, 3))


def _write(workdir, tensors, meta) -> str:
    os.makedirs(os.path.join(workdir, "backup"), exist_ok=True)
    path = os.path.join(workdir, "backup", BACKUP_FILE)
    text = meta if isinstance(meta, str) else json.dumps(meta)
    st.save_file(tensors, path, {"plait.backup": text})
    return path


def _state(model):
    optimizer = model.optimizer
    return model.get_weights(), optimizer.built, {k: v.clone() for k, v in optimizer.state_dict().items()}


def _assert_same_state(before, after):
    (weights_a, built_a, opt_a), (weights_b, built_b, opt_b) = before, after
    assert len(weights_a) == len(weights_b) and all(np.array_equal(a, b) for a, b in zip(weights_a, weights_b))
    assert built_a == built_b and opt_a.keys() == opt_b.keys()
    assert all(torch.equal(opt_a[k], opt_b[k]) for k in opt_a)


def _refused(workdir, path, match=None, data=None, **fit_kwargs):
    """Fits a fresh model on the backup at `path`: one FormatError naming it, and the model as it was."""
    model = _model()
    before = _state(model)
    callbacks = _callbacks(str(workdir), fit_kwargs.pop("save_freq", "epoch"))
    x, y = regression_data(40) if data is None else (data, None)
    with pytest.raises(FormatError) as info:
        model.fit(x, y, batch_size=8, epochs=EPOCHS, verbose=0, callbacks=callbacks, **fit_kwargs)
    message = str(info.value)
    assert path in message and "Delete the directory" in message, message
    if match is not None:
        assert match in message, message
    _assert_same_state(before, _state(model))
    assert os.path.lexists(path)  # the refused backup is kept, for the user to inspect or delete
    return message


def _deep(n):
    return "[" * n + "]" * n


# Each case edits a copy of a real backup's (tensors, metadata) and names what the error must say.
def _set(key, value):
    def edit(tensors, meta):
        meta[key] = value
    return edit


def _drop(key):
    def edit(tensors, meta):
        del meta[key]
    return edit


def _drop_tensors(prefix):
    def edit(tensors, meta):
        for key in [k for k in tensors if k.startswith(prefix)]:
            del tensors[key]
    return edit


def _tensor(key, value):
    def edit(tensors, meta):
        target = key if key in tensors else next(k for k in tensors if k.startswith(key))
        tensors[target] = value(tensors[target])
    return edit


def _callback_state(position, value):
    def edit(tensors, meta):
        meta["callbacks"][position]["state"] = value(meta["callbacks"][position]["state"])
    return edit


EPOCH_CASES = {
    "metadata is a list": (lambda t, m: m.clear() or m.update({"format": ["plait.backup"]}), "not a plait"),
    "epoch negative": (_set("epoch", -1), "'epoch'"),
    "epoch a bool": (_set("epoch", True), "'epoch'"),
    "epoch a float": (_set("epoch", 2.0), "'epoch'"),
    "epoch a string": (_set("epoch", "2"), "'epoch'"),
    "epoch past epochs": (_set("epoch", EPOCHS + 1), "epochs=4"),
    "epoch missing": (_drop("epoch"), "'epoch'"),
    "step on an end-of-epoch backup": (_set("step", 0), "lacks the sections"),
    "step a bool": (_set("step", False), "'step'"),
    "format version newer": (_set("format_version", 99), "newer plait"),
    "format version a string": (_set("format_version", "1"), "format_version"),
    "rng missing": (_drop("rng"), "lacks the sections"),
    "rng a list": (_set("rng", []), "'rng'"),
    "numpy rng short": (lambda t, m: m["rng"]["numpy"][1].pop(), "numpy"),
    "numpy rng out of range": (lambda t, m: m["rng"]["numpy"][1].__setitem__(0, -5), "numpy"),
    "python rng a dict": (lambda t, m: m["rng"].__setitem__("python", {"a": 1}), "python"),
    "history a list": (_set("history", [1, 2]), "'history'"),
    "history values a dict": (_set("history", {"loss": {"a": 1}}), "'history'"),
    "history epochs negative": (_set("history_epochs", [-1]), "history_epochs"),
    "history epochs past the backup": (_set("history_epochs", [0, 7]), "history_epochs"),
    "callbacks missing": (_drop("callbacks"), "lacks the sections"),
    "callbacks a dict": (_set("callbacks", {"index": 0}), "'callbacks'"),
    "callback entry without index": (lambda t, m: m["callbacks"][0].pop("index"), "callbacks[0]"),
    "callback state a list": (_callback_state(0, lambda s: [s]), "must be an object"),
    "callback state nested deeply": (_callback_state(1, lambda s: {**s, "wait": json.loads(_deep(40))}),
                                     "nested more than"),
    "callback counter a string": (_callback_state(1, lambda s: {**s, "wait": "three"}), "'wait'"),
    "callback counter negative": (_callback_state(1, lambda s: {**s, "wait": -3}), "'wait'"),
    "csv text a number": (_callback_state(0, lambda s: {**s, "text": 5}), "CSVLogger"),
    "callback tensor reference dangling": (_callback_state(1, lambda s: {**s, "best_weights": [
        {"__ndarray__": "callback/9/nope"}]}), "lacks"),
    "optimizer flag a string": (_set("optimizer_built", "yes"), "optimizer_built"),
    "unknown metadata key": (_set("payload", 1), "unknown keys"),
    "optimizer section missing": (_drop_tensors("optimizer/"), "optimizer's state"),
    "optimizer slot of another dtype": (_tensor("optimizer/m", lambda v: v.double()), "float64"),
    "optimizer slot of another shape": (_tensor("optimizer/m", lambda v: v.reshape(-1)[:1]), "shape"),
    "optimizer iterations a float": (_tensor("optimizer/iterations", lambda v: v.double()), "iterations"),
    "optimizer iterations negative": (_tensor("optimizer/iterations", lambda v: v - 100), "iterations"),
    "torch rng missing": (_drop_tensors("rng/"), "rng/torch"),
    "torch rng too short": (_tensor("rng/torch", lambda v: v[:10]), "torch random"),
    "torch rng a float tensor": (_tensor("rng/torch", lambda v: v.float()), "uint8"),
    "torch rng invalid": (_tensor("rng/torch", lambda v: torch.zeros_like(v)), "torch random"),
    "weight of another shape": (_tensor("model/", lambda v: torch.zeros(3, 3)), "different model"),
    "weight of another dtype": (_tensor("model/", lambda v: v.double()), "different model"),
    "weight missing": (lambda t, m: t.pop(next(k for k in t if k.startswith("model/"))), "different model"),
    "extra weight": (lambda t, m: t.__setitem__("model/evil", torch.zeros(2)), "different model"),
    "tensor outside the sections": (lambda t, m: t.__setitem__("evil/x", torch.zeros(2)), "outside the sections"),
    "stray callback tensor": (lambda t, m: t.__setitem__("callback/7/x", torch.zeros(2)), "no saved state"),
    "stray metric tensor": (lambda t, m: t.__setitem__("metric/0/x", torch.zeros(2)), "no saved state"),
}


def _edited(tmp_path, backup, case) -> tuple[str, str]:
    """Writes a copy of `backup` edited as `case` says; returns its path and what the error must say."""
    tensors, meta = dict(backup[0]), json.loads(json.dumps(backup[1]))
    edit, match = case
    edit(tensors, meta)
    return _write(tmp_path, tensors, meta), match


@pytest.mark.parametrize("case", sorted(EPOCH_CASES))
def test_a_damaged_end_of_epoch_backup_is_refused_and_changes_nothing(tmp_path, epoch_backup, case):
    _refused(tmp_path, *_edited(tmp_path, epoch_backup, EPOCH_CASES[case]))


# States whose current value is None (nothing to compare a saved one with): the callback's own set_state
# must check them. Needs the set_state checks proposed for monitor.py and early_stopping.py (issue 16).
def _best_weights_of_another_shape(tensors, meta):
    tensors["callback/1/best_weights/0"] = torch.zeros(2, 2)
    meta["callbacks"][1]["state"]["best_weights"] = [{"__ndarray__": "callback/1/best_weights/0"}]


SELF_CHECKED_CASES = {
    "monitor best a string": (_callback_state(1, lambda s: {**s, "best": "low"}), "'best'"),
    "best weights of another shape": (_best_weights_of_another_shape, "best_weights"),
}


@pytest.mark.parametrize("case", sorted(SELF_CHECKED_CASES))
def test_states_the_callback_checks_itself(tmp_path, epoch_backup, case):
    _refused(tmp_path, *_edited(tmp_path, epoch_backup, SELF_CHECKED_CASES[case]))


MID_EPOCH_CASES = {
    "step negative": (_set("step", -1), "'step'"),
    "step a float": (_set("step", 1.0), "'step'"),
    "step past the epoch": (_set("step", 99), "5 steps"),
    "epoch of a mid-epoch backup at epochs": (_set("epoch", EPOCHS), "past this fit"),
    "rng_epoch missing": (_drop("rng_epoch"), "lacks the sections"),
    "rng_epoch tensors missing": (_drop_tensors("rng_epoch/"), "rng_epoch/torch"),
    "metrics a dict": (_set("metrics", {"loss": 1}), "'metrics'"),
    "metric count negative": (lambda t, m: m["metrics"][0][1].__setitem__("total", -1), "count"),
    "metric tensor missing": (_drop_tensors("metric/0/"), "lack the tensors"),
    "metric tensor of another shape": (_tensor("metric/0/total", lambda v: torch.zeros(3)), "shape"),
    "metric names differ": (lambda t, m: m["metrics"][0].__setitem__(0, "other"), "compile the model"),
}


@pytest.mark.parametrize("case", sorted(MID_EPOCH_CASES))
def test_a_damaged_mid_epoch_backup_is_refused_and_changes_nothing(tmp_path, mid_epoch_backup, case):
    _refused(tmp_path, *_edited(tmp_path, mid_epoch_backup, MID_EPOCH_CASES[case]), save_freq=2)


def _batches(n=40):
    x, y = regression_data(n)
    while True:
        for i in range(0, n, 8):
            yield x[i:i + 8], y[i:i + 8]


@pytest.mark.parametrize("case", ["metric tensor of another shape", "metric names differ"])
def test_metric_states_checked_after_the_replay_undo_the_restore(tmp_path, mid_epoch_backup, case):
    # With a generator the metrics exist only once the replay has drawn a batch: the refusal comes then, and
    # what the restore had already put into the model is taken out again.
    _refused(tmp_path, *_edited(tmp_path, mid_epoch_backup, MID_EPOCH_CASES[case]), data=_batches(),
             steps_per_epoch=5, save_freq=2)


RAW_CASES = {
    "invalid JSON": ("{", "not valid JSON"),
    "nested 10,000 deep": ('{"format": "plait.backup", "x": ' + _deep(10_000) + "}", "nested more than"),
    "nested 100 deep": ('{"format": "plait.backup", "format_version": 1, "x": ' + _deep(100) + "}",
                        "nested more than"),
    "a JSON string": ('"plait.backup"', "not a plait"),
    "null": ("null", "not a plait"),
}


@pytest.mark.parametrize("case", sorted(RAW_CASES))
def test_metadata_that_is_not_a_backup_object(tmp_path, epoch_backup, case):
    text, match = RAW_CASES[case]
    _refused(tmp_path, _write(tmp_path, dict(epoch_backup[0]), text), match)


def test_no_metadata_entry(tmp_path, epoch_backup):
    path = os.path.join(tmp_path, "backup", BACKUP_FILE)
    os.makedirs(os.path.dirname(path))
    st.save_file(dict(epoch_backup[0]), path, {"other": "x"})
    _refused(tmp_path, path, "not a plait training backup")


@pytest.mark.parametrize("cut", [0, 7, 100, -1])
def test_truncated_files(tmp_path, epoch_backup, cut):
    path = _write(tmp_path, dict(epoch_backup[0]), epoch_backup[1])
    with open(path, "rb") as handle:
        data = handle.read()
    with open(path, "wb") as handle:
        handle.write(data[:cut] if cut >= 0 else data[: len(data) // 2])
    _refused(tmp_path, path)


def test_not_a_regular_file(tmp_path):
    backup_dir = tmp_path / "backup"
    path = backup_dir / BACKUP_FILE
    path.mkdir(parents=True)
    _refused(tmp_path, str(path), "not a regular file")
    path.rmdir()
    if hasattr(os, "mkfifo"):
        os.mkfifo(path)  # opening it would block forever: it is refused from its type
        _refused(tmp_path, str(path), "not a regular file")
        path.unlink()
    os.symlink(tmp_path / "nowhere", path)
    _refused(tmp_path, str(path), "broken symbolic link")


def test_a_refused_callback_state_rolls_back_the_others(tmp_path, epoch_backup):
    tensors, meta = dict(epoch_backup[0]), json.loads(json.dumps(epoch_backup[1]))
    meta["callbacks"][1]["state"]["wait"] = "x"  # EarlyStopping, after CSVLogger (position 0) took its state
    path = _write(tmp_path, tensors, meta)
    model = _model()
    callbacks = _callbacks(str(tmp_path))
    with pytest.raises(FormatError, match="EarlyStopping"):
        model.fit(*regression_data(40), batch_size=8, epochs=EPOCHS, verbose=0, callbacks=callbacks)
    assert callbacks[0].get_state()["text"] == ""  # CSVLogger's restored rows were taken back out
    assert os.path.exists(path)


def test_double_checkpoint_falls_back_past_a_damaged_latest(tmp_path, epoch_backup):
    tensors, meta = dict(epoch_backup[0]), json.loads(json.dumps(epoch_backup[1]))
    path = _write(tmp_path, tensors, meta)
    with open(path, "rb") as handle:
        good = handle.read()
    meta["epoch"] = -1

    def damaged_latest(previous: bytes) -> None:
        _write(tmp_path, tensors, meta)
        with open(path + ".bkp", "wb") as handle:
            handle.write(previous)

    damaged_latest(good)
    callbacks = [CSVLogger(str(tmp_path / "log.csv")), EarlyStopping(monitor="loss", patience=5),
                 BackupAndRestore(str(tmp_path / "backup"), double_checkpoint=True)]
    with pytest.warns(RuntimeWarning, match="trying the previous one"):
        history = _model().fit(*regression_data(40), batch_size=8, epochs=EPOCHS, verbose=0, callbacks=callbacks)
    assert history.epoch == list(range(EPOCHS)) and len(history.history["loss"]) == EPOCHS  # resumed at epoch 2
    damaged_latest(good[:50])  # both damaged: one error, for the last one tried
    with pytest.warns(RuntimeWarning), pytest.raises(FormatError, match="Delete the directory"):
        _model().fit(*regression_data(40), batch_size=8, epochs=EPOCHS, verbose=0,
                     callbacks=[BackupAndRestore(str(tmp_path / "backup"), double_checkpoint=True)])
