"""Every file plait writes goes through the one atomic writer: a full disk or a read-only directory mid-write
leaves the previous file intact and no temporary file behind, and each write sweeps its directory's stale
temporary files."""
from __future__ import annotations

import errno
import os
import time
import warnings

import numpy as np
import pytest

import plait
from plait.callbacks import BackupAndRestore, Callback, CSVLogger, ModelCheckpoint
from plait.saving import atomic


class FullDisk:
    """A file whose writes fail with ENOSPC once `room` bytes are written (the last write lands half)."""

    def __init__(self, handle, room: int) -> None:
        self._handle, self._room = handle, room

    def write(self, data):
        if len(data) > self._room:
            self._handle.write(data[: self._room])
            self._handle.flush()
            self._room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= len(data)
        return self._handle.write(data)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._handle.__exit__(*exc)


class Disk:
    """Turns the disk full (`fill(room)`) or writable again (`free()`) for the files atomic_write opens."""

    def __init__(self, monkeypatch) -> None:
        self._monkeypatch, self._real = monkeypatch, os.fdopen

    def fill(self, room: int = 64) -> None:
        real = self._real
        self._monkeypatch.setattr(atomic.os, "fdopen", lambda *a, **k: FullDisk(real(*a, **k), room))

    def free(self) -> None:
        self._monkeypatch.setattr(atomic.os, "fdopen", self._real)


@pytest.fixture
def disk(monkeypatch):
    return Disk(monkeypatch)


def _classifier():
    plait.set_random_seed(0)
    model = plait.Sequential([plait.layers.Dense(4, activation="relu", input_shape=(3,)),
                              plait.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _data(n=48):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 3)).astype("float32")
    return x, (x[:, 0] > 0).astype("float32").reshape(-1, 1)


@pytest.fixture(scope="module")
def trained():
    model = _classifier()
    x, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_split=0.25)
        report = model.report(x, y, n_bootstrap=0)
        # Drawn once: what is tested is how the page and the figures are written, many times over.
        figures = report.figures()
        report.figures = lambda: figures
        html = report.to_html(full_page=True)
    report.to_html = lambda full_page=True: html
    return model, history, report


def _fit_writer(callback_factory):
    def write(trained, path):
        model = _classifier()
        # One epoch more than a backup already there holds, so that this fit writes one.
        epochs = 2 if os.path.exists(path) else 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            model.fit(*_data(), epochs=epochs, batch_size=16, verbose=0, validation_split=0.25,
                      callbacks=[callback_factory(path)])
    return write


def _csv(trained, path):
    logger = CSVLogger(path)
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 0.5})


# name -> (file name, write(trained, path)): every kind of file plait writes.
WRITERS = {
    "model": ("m.plait", lambda t, p: t[0].save(p)),
    "weights": ("m.weights.safetensors", lambda t, p: t[0].save_weights(p)),
    "report html": ("report.html", lambda t, p: t[2].save_html(p)),
    "plot_history": ("history.png", lambda t, p: plait.plot_history(t[1], path=p, dpi=30)),
    "report figure": ("figure.png", lambda t, p: next(iter(t[2].figures().values())).save(p)),
    "csv log": ("log.csv", _csv),
    "checkpoint": ("ckpt.plait", _fit_writer(lambda p: ModelCheckpoint(p, monitor="val_loss"))),
    "backup": (os.path.join("backup", "latest.backup.safetensors"),
               _fit_writer(lambda p: BackupAndRestore(os.path.dirname(p), delete_checkpoint=False))),
}
PLOTS = {"plot_history", "report figure"}


def _writer(name):
    if name in PLOTS:
        pytest.importorskip("matplotlib")
    return WRITERS[name]


def _first_write(tmp_path, trained, name):
    filename, write = _writer(name)
    path = str(tmp_path / filename)
    write(trained, path)
    with open(path, "rb") as handle:
        return path, write, handle.read()


def _listing(directory):
    return sorted(os.listdir(directory))


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_a_full_disk_mid_write_keeps_the_previous_file(tmp_path, trained, disk, name):
    path, write, before = _first_write(tmp_path, trained, name)
    listing = _listing(os.path.dirname(path))
    disk.fill(room=8)  # every file is longer: the write fails part-way
    with pytest.raises(OSError) as info:
        write(trained, path)
    disk.free()
    assert info.value.errno == errno.ENOSPC and path in str(info.value)
    with open(path, "rb") as handle:
        assert handle.read() == before  # not a truncated file where the previous one was
    assert _listing(os.path.dirname(path)) == listing  # and no temporary file


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_no_permission_in_the_directory_keeps_the_previous_file(tmp_path, trained, monkeypatch, name):
    path, write, before = _first_write(tmp_path, trained, name)

    def denied(*args, dir=None, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", dir)

    monkeypatch.setattr(atomic.tempfile, "mkstemp", denied)  # as a directory without write permission would
    with pytest.raises(PermissionError, match="writable"):
        write(trained, path)
    monkeypatch.undo()
    with open(path, "rb") as handle:
        assert handle.read() == before


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_writer_sweeps_stale_temporary_files(tmp_path, trained, name):
    filename, write = _writer(name)
    path = str(tmp_path / filename)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    stale = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.abcdefgh{atomic.TEMP_SUFFIX}")
    mine = os.path.join(directory, "user-notes.tmp")
    for leftover in (stale, mine):
        with open(leftover, "wb") as handle:
            handle.write(b"left by a killed writer")
        os.utime(leftover, (time.time() - 3600,) * 2)
    write(trained, path)
    assert not os.path.exists(stale) and os.path.exists(mine)


def test_the_error_names_the_file_and_the_fix(tmp_path, disk):
    target = tmp_path / "f.bin"
    atomic.write_bytes(target, b"good")
    disk.fill(10)
    with pytest.raises(OSError) as info:
        atomic.write_bytes(target, b"x" * 1000)
    assert info.value.errno == errno.ENOSPC
    assert repr(str(target)) in str(info.value) and "previous file" in str(info.value)
    assert "disk space" in str(info.value)
    assert target.read_bytes() == b"good" and _listing(tmp_path) == ["f.bin"]


class FillDiskAt(Callback):
    """Fills the disk after the loop's epoch `at` ends, for the callbacks after it in the list; frees it after."""

    def __init__(self, disk, at: int, path: str) -> None:
        super().__init__()
        self.disk, self.at, self.path, self.seen = disk, at, path, []

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at:
            self.disk.fill()
        elif epoch == self.at + 1:
            self.disk.free()


class ReadAtEpochEnd(Callback):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path, self.seen = path, []

    def on_epoch_end(self, epoch, logs=None):
        with open(self.path, "rb") as handle:
            self.seen.append(handle.read())


@pytest.mark.parametrize("kind", ["csv", "checkpoint"])
def test_a_failed_write_during_fit_warns_keeps_the_file_and_trains_on(tmp_path, disk, kind):
    path = str(tmp_path / ("log.csv" if kind == "csv" else "ckpt.plait"))
    writer = CSVLogger(path) if kind == "csv" else ModelCheckpoint(path, monitor="loss")
    reader = ReadAtEpochEnd(path)
    model = _classifier()
    with pytest.warns(RuntimeWarning, match="could not"):
        history = model.fit(*_data(), epochs=3, batch_size=16, verbose=0,
                            callbacks=[FillDiskAt(disk, 1, path), writer, reader])
    assert history.epoch == [0, 1, 2]
    assert reader.seen[1] == reader.seen[0]  # the failed epoch left the previous file as it was
    assert _listing(tmp_path) == [os.path.basename(path)]
    if kind == "csv":
        rows = reader.seen[2].decode().splitlines()
        assert [r.split(",")[0] for r in rows] == ["epoch", "0", "1", "2"]  # the missed row came with the next
    else:
        plait.load_model(path)


def test_csv_append_to_a_file_that_is_not_text(tmp_path):
    path = tmp_path / "log.csv"
    path.write_bytes(b"\xff\xfe\x00binary")
    logger = CSVLogger(path, append=True)
    with pytest.raises(ValueError, match="not UTF-8"):
        logger.on_train_begin()
    assert path.read_bytes() == b"\xff\xfe\x00binary"
