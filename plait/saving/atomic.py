"""Atomic file writes: write a temporary file beside the target, fsync it, then rename it into place.

A kill, a crash or a full disk at any moment leaves either the previous file or the new one, complete;
never a half-written file. Every file plait writes (models, weights, checkpoints, backups, CSV logs)
goes through here.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import IO, Any

_UMASK: int | None = None


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


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", *, overwrite: bool = True,
                 encoding: str | None = None, newline: str | None = None) -> Iterator[IO[Any]]:
    """Opens a temporary file in `path`'s directory; on success it replaces `path` in one rename.

    If the block raises (or the process dies), `path` is left as it was and the temporary file is
    removed (or, after a kill, left as a hidden `.name.*.tmp` file that nothing reads).

    Args:
        path: The file to write.
        mode: 'wb' (default) or 'w' for text.
        overwrite: If False and `path` exists, raise `FileExistsError` instead of replacing it.
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
    if os.path.isdir(path):
        raise IsADirectoryError(f"Cannot write {path!r}: it is a directory. Pass a file path.")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path!r} already exists. Pass overwrite=True to replace it.")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Cannot write {path!r}: the directory {directory!r} does not exist. Create it first "
                                "(os.makedirs).")
    try:
        file_mode = os.stat(path).st_mode & 0o7777
    except OSError:
        file_mode = _default_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, file_mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = True) -> None:
    """Writes `data` to `path` atomically (see `atomic_write`)."""
    with atomic_write(path, "wb", overwrite=overwrite) as handle:
        handle.write(data)


def write_text(path: str | os.PathLike, text: str, *, overwrite: bool = True, encoding: str = "utf-8") -> None:
    """Writes `text` to `path` atomically, newlines untranslated (see `atomic_write`)."""
    with atomic_write(path, "w", overwrite=overwrite, encoding=encoding, newline="") as handle:
        handle.write(text)
