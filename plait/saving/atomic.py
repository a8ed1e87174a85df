"""Atomic file writes: write a temporary file beside the target, fsync it, then rename (or link) it into place.

A kill, a crash or a full disk at any moment leaves either the previous file or the new one, complete;
never a half-written file. Every file plait writes (models, weights, checkpoints, backups, CSV logs,
HTML reports, PNG figures) goes through here; TensorBoard's event files, appended by TensorBoard's own
writer, are the one exception.

The temporary file is named `.<name>.<pid>.<random>.plait-tmp`. A process killed while writing leaves
one behind; the next write into that directory removes it (`sweep_stale_temps`) once it is
`STALE_AFTER_S` seconds old and its writer is gone. Nothing but that exact pattern is ever removed.

With `overwrite=False` the file is created exclusively: the complete temporary file is hard-linked to the
target name, which fails if the name exists, so of two racing writers exactly one succeeds and neither
replaces a file that appeared while it was writing.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import IO, Any

TEMP_SUFFIX = ".plait-tmp"
STALE_AFTER_S = 60.0
"""A temporary file untouched this long whose writing process is gone is swept by the next write beside it."""
ABANDONED_AFTER_S = 24 * 3600.0
"""A temporary file untouched this long is swept whatever its process id says (the id may have been reused)."""

_TEMP_NAME = re.compile(r"\A\..+\.(?P<pid>[0-9]{1,10})\.[A-Za-z0-9_]{8}" + re.escape(TEMP_SUFFIX) + r"\Z", re.S)
_NAME_CHARS = 96  # of the target's name kept in the temporary file's name, which must stay under NAME_MAX
_NO_HARD_LINKS = {errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOSYS, errno.EOPNOTSUPP,
                  getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)}
_HINTS = {errno.ENOSPC: "Free some disk space (or choose another directory) and write it again.",
          errno.EDQUOT: "Free some of your disk quota (or choose another directory) and write it again.",
          errno.EFBIG: "The file is over the size limit of this process or file system; choose another place.",
          errno.EACCES: "Check that the directory is writable by you, or choose another path.",
          errno.EPERM: "Check that the directory is writable by you, or choose another path.",
          errno.EROFS: "The file system is read-only; choose another path.",
          errno.EIO: "The device reported an I/O error; check it, or choose another path."}

_UMASK: int | None = None
_in_flight: set[str] = set()  # this process's temporary files still being written (never swept)
_in_flight_lock = threading.Lock()


def _default_mode() -> int:
    # mkstemp creates files readable by the owner only; a saved model should get the usual 0o666 & ~umask.
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0o022)
        os.umask(_UMASK)
    return 0o666 & ~_UMASK


def _fsync_directory(directory: str) -> None:
    # Makes the rename itself durable; not possible (nor needed) on every platform.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _process_gone(pid: int) -> bool:
    """Whether no process `pid` runs on this machine (False when that cannot be told)."""
    if os.name != "posix" or not 0 < pid < 2**31:
        return False  # os.kill on Windows would terminate the process, not probe it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive under another user (EPERM), or unknown
    return False


def _is_stale(path: str, pid: int, age: float) -> bool:
    if age > ABANDONED_AFTER_S:
        return True
    if age <= STALE_AFTER_S:
        return False
    if pid == os.getpid():
        with _in_flight_lock:
            return path not in _in_flight  # left behind by this process, e.g. a thread that was interrupted
    return _process_gone(pid)


def sweep_stale_temps(directory: str | os.PathLike) -> list[str]:
    """Removes the temporary files that killed plait writers left in `directory`; returns their paths.

    Only regular files named as `atomic_write` names them (`.<name>.<pid>.<random>.plait-tmp`) are
    candidates, and only once untouched for `STALE_AFTER_S` seconds with their writing process gone (or
    untouched for `ABANDONED_AFTER_S`). A user's file is never removed. Every write calls this first; errors
    are ignored (a sweep never makes a write fail).

    Args:
        directory: The directory to clean.

    Returns:
        The paths removed.

    Example:
        >>> import tempfile
        >>> sweep_stale_temps(tempfile.mkdtemp())
        []
    """
    removed: list[str] = []
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not entry.is_file(follow_symlinks=False) or not _is_stale(entry.path, int(match["pid"]),
                                                                         now - info.st_mtime):
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(entry.path)
    return removed


def _failure(err: OSError, path: str, doing: str) -> OSError:
    """`err` (same errno, so the same OSError subclass) with a message naming the target and the fix."""
    hint = _HINTS.get(err.errno or 0, "")
    return OSError(err.errno, f"Could not write {path!r} ({doing}: {err.strerror or err}). Nothing was written: "
                              f"the previous file, if any, is unchanged and no temporary file is left. {hint}".rstrip())


def _link_exclusive(tmp: str, path: str) -> None:
    """Puts the finished `tmp` at `path` only if no file has that name (one atomic step where links exist)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError as err:
        if err.errno not in _NO_HARD_LINKS:
            raise
        # No hard links here (FAT, some network file systems): reserve the name with O_EXCL, then rename over
        # the reservation. A reader may glimpse an empty file, but two writers still cannot both succeed.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(path)  # our own empty reservation: the name stays free, as if nothing happened
            raise
        return
    with contextlib.suppress(OSError):  # the file is in place; a leftover link to it is swept later
        os.unlink(tmp)


def _exists_message(path: str, racing: bool) -> str:
    when = " (another writer created it while this one was writing)" if racing else ""
    return (f"{path!r} already exists{when}; overwrite=False never replaces a file. Pass overwrite=True to "
            "replace it, or choose another path.")


def _check_target(path: str, overwrite: bool) -> str:
    """The directory to write in, after the checks that need no temporary file."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"Cannot write {path!r}: it is a directory. Pass a file path.")
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(_exists_message(path, racing=False))
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Cannot write {path!r}: the directory {directory!r} does not exist. Create it first "
                                "(os.makedirs).")
    return directory


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", *, overwrite: bool = True,
                 encoding: str | None = None, newline: str | None = None) -> Iterator[IO[Any]]:
    """Opens a temporary file in `path`'s directory; on success it replaces `path` in one rename.

    If the block raises (or the process dies), `path` is left as it was and the temporary file is
    removed (or, after a kill, left as a hidden `.name.<pid>.<random>.plait-tmp` file that nothing reads and
    a later write sweeps away). A full disk or a directory without write permission is an `OSError` with
    the same errno, naming `path` and the fix.

    Args:
        path: The file to write.
        mode: 'wb' (default) or 'w' for text.
        overwrite: If False, create `path` exclusively: raise `FileExistsError` if it exists, before writing
            or, when another writer created it meanwhile, after (nothing is replaced either way).
        encoding, newline: As for `open`, in text mode.

    Returns:
        A context manager yielding the open temporary file.

    Example:
        >>> import os, tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "notes.txt")
        >>> with atomic_write(target, "w") as f:
        ...     _ = f.write("all or nothing")
        >>> open(target).read()
        'all or nothing'
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write supports mode 'wb' or 'w', got {mode!r}.")
    path = os.fspath(path)
    directory = _check_target(path, overwrite)
    sweep_stale_temps(directory)
    try:
        file_mode = os.stat(path).st_mode & 0o7777
    except OSError:
        file_mode = _default_mode()
    prefix = f".{os.path.basename(path)[:_NAME_CHARS]}.{os.getpid()}."
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=TEMP_SUFFIX, dir=directory)
    except OSError as err:
        raise _failure(err, path, f"creating a temporary file in {directory!r}") from err
    with _in_flight_lock:
        _in_flight.add(tmp)
    try:
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, file_mode)
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_exclusive(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, FileExistsError) and not overwrite:
            raise FileExistsError(errno.EEXIST, _exists_message(path, racing=True)) from None
        if isinstance(err, OSError) and err.errno in _HINTS:
            raise _failure(err, path, "writing") from err
        raise
    finally:
        with _in_flight_lock:
            _in_flight.discard(tmp)
    _fsync_directory(directory)


def write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = True) -> None:
    """Writes `data` to `path` atomically (see `atomic_write`; `overwrite=False` creates it exclusively)."""
    with atomic_write(path, "wb", overwrite=overwrite) as handle:
        handle.write(data)


def write_text(path: str | os.PathLike, text: str, *, overwrite: bool = True, encoding: str = "utf-8") -> None:
    """Writes `text` to `path` atomically, newlines untranslated (see `atomic_write`)."""
    with atomic_write(path, "w", overwrite=overwrite, encoding=encoding, newline="") as handle:
        handle.write(text)
