"""The `.plait` container: a zip archive of a few known members, written atomically and read defensively.

Reading refuses, with a `FormatError`, anything but the expected members: absolute or `..` member
names (path traversal), duplicate or unknown names, encrypted members, compression other than
stored/deflate, members over their size limit or compression ratio (zip bombs, refused from the
directory without inflating anything), truncated members and bad CRCs. Only a regular file is opened.
Members are read as streams that stop at their declared size and are never extracted to disk.
"""
from __future__ import annotations

import contextlib
import os
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import IO

from plait.saving.atomic import atomic_write
from plait.saving.errors import FormatError
from plait.saving.limits import MAX_COMPRESSION_RATIO, RATIO_FREE_BYTES
from plait.saving.untrusted import open_regular, read_exactly

MAX_MEMBERS = 64
_ALLOWED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
Writer = Callable[[IO[bytes]], None]


def _unsafe_name_reason(name: str) -> str | None:
    if not name or "\x00" in name:
        return "an empty or NUL-containing name"
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        return "an absolute path"
    if any(part == ".." for part in normalized.split("/")):
        return "a '..' component (path traversal)"
    return None


def write_archive(path: str | os.PathLike, members: list[tuple[str, bytes | Writer, bool]], *,
                  overwrite: bool = True) -> None:
    """Writes a zip of `members` atomically.

    Args:
        path: Destination file.
        members: `(name, content, compress)`; content is bytes or a function writing to a binary stream
            (so large weights stream into the archive without a second copy in memory).
        overwrite: If False, refuse to replace an existing file.
    """
    stamp = time.localtime(time.time())[:6]
    with atomic_write(path, "wb", overwrite=overwrite) as handle:
        with zipfile.ZipFile(handle, "w", allowZip64=True) as archive:
            for name, content, compress in members:
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
                if isinstance(content, (bytes, bytearray)):
                    archive.writestr(info, bytes(content))
                else:
                    with archive.open(info, "w", force_zip64=True) as stream:
                        content(stream)


def _open(path: str) -> tuple[zipfile.ZipFile, IO[bytes], int]:
    handle, size = open_regular(path, "a single .plait file")
    try:
        return zipfile.ZipFile(handle, "r"), handle, size
    except Exception as err:  # zipfile raises many kinds on malformed input; all mean "not a valid archive"
        handle.close()
        raise FormatError(f"{path}: not a valid .plait file (not a readable zip archive: {err}).") from None


@contextlib.contextmanager
def _reading(path: str, what: str) -> Iterator[None]:
    """Turns what zipfile and zlib raise on a damaged stream (bad CRC, truncated or corrupt deflate data) into a
    `FormatError`."""
    try:
        yield
    except FormatError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError,
            RuntimeError) as err:
        raise FormatError(f"{path}: the archive is damaged ({what}: {type(err).__name__}: {err}).") from None


class _Guarded:
    """A member's stream whose reads turn zipfile's and zlib's errors into `FormatError`s (and nothing else: an
    error in the code that consumes the stream keeps its own type)."""

    def __init__(self, stream: IO[bytes], path: str, what: str) -> None:
        self._stream, self._path, self._what = stream, path, what

    def read(self, size: int = -1) -> bytes:
        with _reading(self._path, self._what):
            return self._stream.read(size)

    def readinto(self, buffer: memoryview) -> int:
        with _reading(self._path, self._what):
            return self._stream.readinto(buffer)  # type: ignore[attr-defined]

    def seekable(self) -> bool:
        return self._stream.seekable()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        with _reading(self._path, self._what):
            return self._stream.seek(offset, whence)


class Archive:
    """An open `.plait` zip whose directory has been checked entry by entry before any member is read.

    Checked from the central directory alone: names (no absolute or `..` paths, no duplicates, only the names
    in `limits`), no encryption, stored or deflate compression only, each declared size within its limit, a
    compressed size that fits in the file, and at most `MAX_COMPRESSION_RATIO` inflation for members over
    `RATIO_FREE_BYTES`. Members are then read as streams that stop at the declared size, with their CRC
    checked, and never extracted to disk.

    Args:
        path: The archive (a regular file; a FIFO, device or directory is refused).
        limits: Allowed member name -> largest declared uncompressed size. Any other member is refused.
        required: Members that must be present.

    Raises:
        FormatError: for any malformed, unexpected, oversize or hostile entry.
    """

    def __init__(self, path: str | os.PathLike, limits: Mapping[str, int], required: tuple[str, ...]) -> None:
        self.path = os.fspath(path)
        self._zip, self._handle, self._file_size = _open(self.path)
        try:
            with _reading(self.path, "its directory"):
                infos = self._zip.infolist()
                if len(infos) > MAX_MEMBERS:
                    raise FormatError(f"{self.path}: {len(infos)} archive members, over the limit of {MAX_MEMBERS}.")
                self._infos: dict[str, zipfile.ZipInfo] = {}
                for info in infos:
                    self._check_info(info, limits)
                    self._infos[info.filename] = info
            missing = [name for name in required if name not in self._infos]
            if missing:
                raise FormatError(f"{self.path}: the archive lacks {missing}; it is not a complete .plait model file.")
        except BaseException:
            self.close()
            raise

    def _check_info(self, info: zipfile.ZipInfo, limits: Mapping[str, int]) -> None:
        path, name = self.path, info.filename
        shown = name[:200]
        reason = _unsafe_name_reason(name)
        if reason is not None:
            raise FormatError(f"{path}: refusing archive member {shown!r}: {reason}.")
        if name in self._infos:
            raise FormatError(f"{path}: archive member {shown!r} appears twice.")
        if name not in limits:
            raise FormatError(f"{path}: unexpected archive member {shown!r}; a .plait file holds only "
                              f"{sorted(limits)}.")
        if info.flag_bits & 0x1:
            raise FormatError(f"{path}: archive member {shown!r} is encrypted.")
        if info.compress_type not in _ALLOWED_COMPRESSION:
            raise FormatError(f"{path}: archive member {shown!r} uses compression method {info.compress_type}; "
                              "only stored and deflate are read.")
        if info.file_size > limits[name]:
            raise FormatError(f"{path}: archive member {shown!r} declares {info.file_size} bytes, over its limit of "
                              f"{limits[name]}.")
        if info.compress_size > self._file_size or (info.compress_type == zipfile.ZIP_STORED
                                                    and info.compress_size != info.file_size):
            raise FormatError(f"{path}: archive member {shown!r} declares {info.compress_size} stored bytes for "
                              f"{info.file_size} bytes of content in a file of {self._file_size} bytes; the "
                              "directory is damaged or lies.")
        if info.file_size > RATIO_FREE_BYTES and info.file_size > MAX_COMPRESSION_RATIO * info.compress_size:
            raise FormatError(f"{path}: archive member {shown!r} would inflate {info.compress_size} bytes to "
                              f"{info.file_size} ({info.file_size // max(info.compress_size, 1)}:1, over the "
                              f"{MAX_COMPRESSION_RATIO}:1 limit); refusing a likely zip bomb without inflating it.")

    def size(self, name: str) -> int:
        """The declared uncompressed size of member `name` (checked against its limit and the ratio bound)."""
        return self._infos[name].file_size

    def __contains__(self, name: object) -> bool:
        return name in self._infos

    @contextlib.contextmanager
    def member(self, name: str) -> Iterator[IO[bytes]]:
        """A stream of member `name` that ends at its declared size; damage while reading is a `FormatError`."""
        what = f"member {name!r}"
        with _reading(self.path, what):
            stream = self._zip.open(self._infos[name], "r")
        with stream:
            yield _Guarded(stream, self.path, what)  # type: ignore[misc]

    def read(self, name: str) -> bytes:
        """All of member `name`: exactly its declared size, its CRC checked."""
        with self.member(name) as stream:
            data = read_exactly(stream, self.size(name), f"{self.path}: archive member {name!r}")
            if stream.read(1):  # never true for zipfile's stream, which stops at the declared size; belt and braces
                raise FormatError(f"{self.path}: archive member {name!r} holds more than its declared size.")
        return data

    def close(self) -> None:
        self._zip.close()
        self._handle.close()  # zipfile leaves a file object it was given open

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def member_names(path: str | os.PathLike) -> list[str]:
    """The member names of a zip (for diagnostics and tests); a `FormatError` if it is not one."""
    archive, handle, _ = _open(os.fspath(path))
    with handle, archive:
        return archive.namelist()


__all__ = ["Archive", "MAX_MEMBERS", "member_names", "write_archive"]
