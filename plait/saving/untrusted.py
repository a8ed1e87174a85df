"""Reading files plait did not write itself: regular files only, opened without blocking, read with hard caps.

A path may name anything: a directory, a FIFO (opening one for reading blocks until a writer appears), a
character device such as `/dev/zero` (endless) or `/dev/random`, a socket, or a symlink to any of them.
`open_regular` follows symlinks, refuses everything but a regular file, and opens with `O_NONBLOCK`, so
even a FIFO swapped in between the check and the open cannot block; the open file is checked again.
Sizes then come from `fstat` of that file, which cannot disagree with the bytes it holds.

`read_exactly` and `read_into` read a known number of bytes from any stream (a file, a zip member) and
refuse a stream that ends early; neither ever reads past the count it was given.
"""
from __future__ import annotations

import os
import stat
from typing import BinaryIO

from plait.errors import FormatError

CHUNK_BYTES = 16 << 20
"""Largest single read: a member of a zip is inflated into a temporary buffer of at most this size."""

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(path: str, what: str) -> tuple[BinaryIO, int]:
    """Opens `path` for reading if it is (or links to) a regular file; returns the file and its size.

    Args:
        path: The path (a symlink is followed).
        what: What the file should be, for messages ('a .plait model file').

    Raises:
        FileNotFoundError: if nothing is there.
        FormatError: for a directory, FIFO, device, socket or anything else that is not a regular file.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"No such file: {path!r}.") from None
    if not stat.S_ISREG(info.st_mode):
        raise FormatError(f"{path!r} is {_kind(info.st_mode)}; expected {what}. plait reads regular files only: "
                          "pass the path of the file itself.")
    # O_NONBLOCK: if a FIFO replaced the file since the stat, open returns at once instead of waiting for a
    # writer; the fstat below then refuses it. It changes nothing for a regular file.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
                 | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FormatError(f"{path!r} is {_kind(info.st_mode)}; expected {what}. plait reads regular files "
                              "only.")
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return handle, info.st_size


def read_into(stream: BinaryIO, buffer: memoryview, source: str) -> None:
    """Fills `buffer` from `stream` in chunks of at most `CHUNK_BYTES`; a `FormatError` if the stream ends
    first."""
    buffer = buffer.cast("B")
    filled, total = 0, len(buffer)
    while filled < total:
        part = buffer[filled:min(total, filled + CHUNK_BYTES)]
        count = stream.readinto(part)
        if not count:
            raise FormatError(f"{source} is truncated: it ends after {filled} of the {total} bytes it declares.")
        filled += count


def read_exactly(stream: BinaryIO, count: int, source: str) -> bytes:
    """`count` bytes from `stream` (a `FormatError` if it ends first); never reads more."""
    data = bytearray(count)
    read_into(stream, memoryview(data), source)
    return bytes(data)


def skip(stream: BinaryIO, count: int, source: str) -> None:
    """Moves `count` bytes forward: a seek where the stream can, else reads and drops them chunk by chunk."""
    if count and stream.seekable():
        stream.seek(count, os.SEEK_CUR)
        return
    scratch = memoryview(bytearray(min(count, CHUNK_BYTES)))
    while count:
        part = min(count, len(scratch))
        read_into(stream, scratch[:part], source)
        count -= part


__all__ = ["CHUNK_BYTES", "open_regular", "read_exactly", "read_into", "skip"]
