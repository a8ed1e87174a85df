"""Atomic writes: a failure at any point leaves the previous file intact and no temporary file behind."""
from __future__ import annotations

import errno
import os
import stat

import pytest
import torch

import plait
from plait.saving import atomic
from plait.saving.atomic import atomic_write, write_bytes, write_text


def _listing(directory) -> list[str]:
    return sorted(os.listdir(directory))


def test_write_replaces_the_file_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "f.bin"
    write_bytes(target, b"one")
    write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert _listing(tmp_path) == ["f.bin"]
    write_text(tmp_path / "t.csv", "a,b\r\n1,2\r\n")
    assert (tmp_path / "t.csv").read_bytes() == b"a,b\r\n1,2\r\n"  # newlines untranslated


def test_an_error_inside_the_block_keeps_the_old_file(tmp_path):
    target = tmp_path / "f.bin"
    write_bytes(target, b"good")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write(b"half of the new cont")
            raise RuntimeError("killed")
    assert target.read_bytes() == b"good"
    assert _listing(tmp_path) == ["f.bin"]


def test_a_full_disk_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"
    write_bytes(target, b"good")

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", no_space)
    with pytest.raises(OSError, match="No space"):
        write_bytes(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"good"
    assert _listing(tmp_path) == ["f.bin"]


def test_model_save_on_a_full_disk_keeps_the_previous_model(tmp_path, monkeypatch):
    model = plait.Sequential([plait.layers.Dense(2, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    path = tmp_path / "m.plait"
    model.save(path)
    before = path.read_bytes()
    with torch.no_grad():
        model.layers[0].kernel.add_(1.0)

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", no_space)
    with pytest.raises(OSError):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _listing(tmp_path) == ["m.plait"]
    plait.load_model(path)  # still a complete, loadable model


def test_overwrite_false_and_directories(tmp_path):
    target = tmp_path / "f.bin"
    write_bytes(target, b"x")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_bytes(target, b"y", overwrite=False)
    assert target.read_bytes() == b"x"
    with pytest.raises(IsADirectoryError):
        write_bytes(tmp_path, b"y")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_bytes(tmp_path / "missing" / "f.bin", b"y")
    with pytest.raises(ValueError, match="mode"):
        with atomic_write(target, "a"):
            pass


def test_permissions_follow_umask_or_the_existing_file(tmp_path):
    fresh = tmp_path / "fresh.bin"
    write_bytes(fresh, b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o666 & ~umask
    kept = tmp_path / "kept.bin"
    kept.write_bytes(b"x")
    os.chmod(kept, 0o640)
    write_bytes(kept, b"y")
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o640
