"""Atomic writes: a failure at any point leaves the previous file intact and no temporary file behind."""
from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import threading
import time

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


# ------------------------------------------------------------------------------------------ stale temp sweep
def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _temp(directory, name: str, age_s: float) -> str:
    path = os.path.join(directory, name)
    with open(path, "wb") as handle:
        handle.write(b"half a file")
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def test_stale_temps_of_killed_writers_are_swept_and_nothing_else(tmp_path):
    dead, alive = _dead_pid(), os.getppid()
    old = atomic.STALE_AFTER_S + 60
    swept = [_temp(tmp_path, f".f.bin.{dead}.abcdefgh.plait-tmp", old),
             _temp(tmp_path, f".other.plait.{dead}.k2j4_9zq.plait-tmp", old),  # any target in the directory
             _temp(tmp_path, f".f.bin.{os.getpid()}.qwertyui.plait-tmp", old),  # this process, not being written
             _temp(tmp_path, f".f.bin.{alive}.zxcvbnma.plait-tmp", atomic.ABANDONED_AFTER_S + 60)]
    kept = [_temp(tmp_path, f".f.bin.{dead}.recent00.plait-tmp", 1.0),  # maybe another machine still writing
            _temp(tmp_path, f".f.bin.{alive}.livepid0.plait-tmp", old),  # its writer still runs
            _temp(tmp_path, ".f.bin.abcdefgh.tmp", old),  # not plait's pattern: a user's file
            _temp(tmp_path, "notes.plait-tmp", old),
            _temp(tmp_path, f"f.bin.{dead}.abcdefgh.plait-tmp", old),  # not hidden
            _temp(tmp_path, f".f.bin.{dead}.short.plait-tmp", old)]
    os.mkdir(tmp_path / f".d.{dead}.abcdefgh.plait-tmp")  # a directory is never touched
    write_bytes(tmp_path / "f.bin", b"new")
    remaining = set(_listing(tmp_path))
    assert not remaining & {os.path.basename(p) for p in swept}
    assert {os.path.basename(p) for p in kept} | {"f.bin", f".d.{dead}.abcdefgh.plait-tmp"} == remaining


def test_a_writer_killed_mid_write_leaves_a_temp_that_the_next_write_sweeps(tmp_path):
    target = tmp_path / "model.bin"
    write_bytes(target, b"previous")
    child = subprocess.Popen([sys.executable, "-c", CHILD_WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    leftovers = [n for n in _listing(tmp_path) if n != "model.bin"]
    assert len(leftovers) == 1 and leftovers[0].endswith(atomic.TEMP_SUFFIX)
    assert target.read_bytes() == b"previous"  # the killed write never reached the file
    write_bytes(target, b"next")  # too recent: another machine's writer could still be at work
    assert leftovers[0] in _listing(tmp_path)
    then = time.time() - atomic.STALE_AFTER_S - 1
    os.utime(tmp_path / leftovers[0], (then, then))
    write_bytes(target, b"after")
    assert _listing(tmp_path) == ["model.bin"] and target.read_bytes() == b"after"


# A writer that stops half-way through its block: loads atomic.py alone (no torch import), so it starts fast.
CHILD_WRITER = f"""
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("atomic", {atomic.__file__!r})
atomic = importlib.util.module_from_spec(spec)
spec.loader.exec_module(atomic)
with atomic.atomic_write(sys.argv[1]) as handle:
    handle.write(b"half of it")
    handle.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def test_a_write_of_a_thread_in_flight_is_never_swept(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "STALE_AFTER_S", -1.0)  # everything counts as old
    with atomic_write(tmp_path / "a.bin") as handle:
        handle.write(b"a")
        write_bytes(tmp_path / "b.bin", b"b")  # sweeps the directory while a.bin's temp is open
        handle.write(b"a")
    assert (tmp_path / "a.bin").read_bytes() == b"aa"


# ------------------------------------------------------------------------------------------ failures
def test_a_real_file_size_limit_mid_write(tmp_path):
    # RLIMIT_FSIZE makes the kernel refuse the write past the limit (EFBIG), as a full disk would.
    if not hasattr(os, "fork"):
        pytest.skip("needs POSIX")
    target = tmp_path / "f.bin"
    write_bytes(target, b"good")
    code = CHILD_WRITER.split("with atomic")[0] + (
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))\n"
        "try:\n"
        "    atomic.write_bytes(sys.argv[1], b'x' * 100_000)\n"
        "except OSError as err:\n"
        "    print(err.errno, err)\n")
    out = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, timeout=60)
    assert out.stdout.startswith(f"{errno.EFBIG} "), out.stdout + out.stderr
    assert target.read_bytes() == b"good" and _listing(tmp_path) == ["f.bin"]


def test_no_permission_to_create_the_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"
    write_bytes(target, b"good")

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / ".f.bin.1.abcdefgh.plait-tmp"))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", denied)
    with pytest.raises(PermissionError, match="writable") as info:
        write_bytes(target, b"new")
    assert repr(str(target)) in str(info.value)
    monkeypatch.undo()
    assert target.read_bytes() == b"good" and _listing(tmp_path) == ["f.bin"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores directory permissions")
def test_a_read_only_directory(tmp_path):
    target = tmp_path / "f.bin"
    write_bytes(target, b"good")
    os.chmod(tmp_path, 0o500)
    try:
        with pytest.raises(PermissionError, match="writable"):
            write_bytes(target, b"new")
    finally:
        os.chmod(tmp_path, 0o700)
    assert target.read_bytes() == b"good" and _listing(tmp_path) == ["f.bin"]


# ------------------------------------------------------------------------------------------ exclusive create
def test_a_file_that_appears_while_writing_is_never_replaced(tmp_path):
    target = tmp_path / "f.bin"
    with pytest.raises(FileExistsError, match="another writer"):
        with atomic_write(target, overwrite=False) as handle:
            handle.write(b"mine")
            target.write_bytes(b"theirs")  # another process got there first
    assert target.read_bytes() == b"theirs" and _listing(tmp_path) == ["f.bin"]
    os.symlink(tmp_path / "nowhere", tmp_path / "link")  # a dangling link is a name taken, too
    with pytest.raises(FileExistsError):
        write_bytes(tmp_path / "link", b"x", overwrite=False)


def _race(n: int, write) -> list[BaseException | None]:
    barrier = threading.Barrier(n)
    results: list[BaseException | None] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            write(i)
        except BaseException as err:  # noqa: BLE001 - the result is inspected
            results[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.parametrize("links", [True, False])
def test_racing_threads_exactly_one_exclusive_writer_wins(tmp_path, monkeypatch, links):
    if not links:  # a file system without hard links: the O_EXCL reservation takes over
        def no_link(src, dst):
            raise OSError(errno.EPERM, "Operation not permitted")
        monkeypatch.setattr(atomic.os, "link", no_link)
    for round_ in range(5):
        target = tmp_path / f"f{round_}.bin"
        payloads = [bytes([i]) * 50_000 for i in range(8)]
        all_writing = threading.Barrier(8)

        def write(i, target=target, payloads=payloads, all_writing=all_writing):
            with atomic_write(target, overwrite=False) as handle:
                handle.write(payloads[i][:25_000])
                all_writing.wait()  # every writer is past the up-front check: only the final link decides
                handle.write(payloads[i][25_000:])

        results = _race(8, write)
        winners = [i for i, err in enumerate(results) if err is None]
        assert len(winners) == 1, results
        assert all(isinstance(err, FileExistsError) and "another writer" in str(err)
                   for err in results if err is not None)
        assert target.read_bytes() == payloads[winners[0]]
    assert not [n for n in _listing(tmp_path) if n.endswith(atomic.TEMP_SUFFIX)]


def test_racing_processes_exactly_one_exclusive_writer_wins(tmp_path):
    target = tmp_path / "f.bin"
    start = time.time() + 1.0
    code = CHILD_WRITER.split("with atomic")[0] + (
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "try:\n"
        "    atomic.write_bytes(sys.argv[1], sys.argv[3].encode() * 100_000, overwrite=False)\n"
        "    print('won')\n"
        "except FileExistsError:\n"
        "    print('lost')\n")
    children = [subprocess.Popen([sys.executable, "-c", code, str(target), str(start), str(i)],
                                 stdout=subprocess.PIPE, text=True) for i in range(4)]
    outcomes = [child.communicate(timeout=60)[0].strip() for child in children]
    assert sorted(outcomes) == ["lost", "lost", "lost", "won"]
    assert target.read_bytes() == str(outcomes.index("won")).encode() * 100_000
    assert _listing(tmp_path) == ["f.bin"]


def test_model_save_overwrite_false_races(tmp_path):
    model = plait.Sequential([plait.layers.Dense(2, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    path = tmp_path / "m.plait"
    results = _race(4, lambda i: model.save(path, overwrite=False))
    assert sum(err is None for err in results) == 1
    assert all(isinstance(err, FileExistsError) for err in results if err is not None)
    weights = tmp_path / "m.weights.safetensors"
    results = _race(4, lambda i: model.save_weights(weights, overwrite=False))
    assert sum(err is None for err in results) == 1
    assert _listing(tmp_path) == ["m.plait", "m.weights.safetensors"]
    plait.load_model(path)
