"""The `.plait` container: a zip archive of a few known members, written atomically and read defensively.

Reading refuses, with a `FormatError`, anything but the expected members: absolute or `..` member
names (path traversal), duplicate or unknown names, encrypted members, compression other than
stored/deflate, members over their size limit, truncated members and bad CRCs. Members are read into
memory with a bounded read and never extracted to disk.
"""
from __future__ import annotations

import os
import time
import zipfile
from collections.abc import Callable, Mapping
from typing import IO

from plait.saving.atomic import atomic_write
from plait.saving.errors import FormatError

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


def _open(path: str) -> zipfile.ZipFile:
    if os.path.isdir(path):
        raise FormatError(f"{path!r} is a directory; load_model expects a single .plait file.")
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path!r}.")
    try:
        return zipfile.ZipFile(path, "r")
    except Exception as err:  # zipfile raises many kinds on malformed input; all mean "not a valid archive"
        raise FormatError(f"{path}: not a valid .plait file (not a readable zip archive: {err}).") from None


def read_archive(path: str | os.PathLike, limits: Mapping[str, int], required: tuple[str, ...]) -> dict[str, bytes]:
    """Reads the members of a `.plait` zip after checking every entry against `limits`.

    Args:
        path: The archive.
        limits: Allowed member name -> maximum uncompressed size in bytes. Any other member is refused.
        required: Members that must be present.

    Returns:
        Member name -> its bytes.

    Raises:
        FormatError: for any malformed, unexpected, oversize, truncated or hostile content.
    """
    path = os.fspath(path)
    archive = _open(path)
    try:
        with archive:
            infos = archive.infolist()
            if len(infos) > MAX_MEMBERS:
                raise FormatError(f"{path}: {len(infos)} archive members, over the limit of {MAX_MEMBERS}.")
            seen: set[str] = set()
            for info in infos:
                _check_info(path, info, limits, seen)
            missing = [name for name in required if name not in seen]
            if missing:
                raise FormatError(f"{path}: the archive lacks {missing}; it is not a complete .plait model file.")
            return {info.filename: _read_member(path, archive, info, limits[info.filename]) for info in infos}
    except FormatError:
        raise
    except Exception as err:  # a malformed local header or stream surfaces as any zipfile/zlib error
        raise FormatError(f"{path}: the archive is damaged ({type(err).__name__}: {err}).") from None


def _check_info(path: str, info: zipfile.ZipInfo, limits: Mapping[str, int], seen: set[str]) -> None:
    name = info.filename
    shown = name[:200]
    reason = _unsafe_name_reason(name)
    if reason is not None:
        raise FormatError(f"{path}: refusing archive member {shown!r}: {reason}.")
    if name in seen:
        raise FormatError(f"{path}: archive member {shown!r} appears twice.")
    seen.add(name)
    if name not in limits:
        raise FormatError(f"{path}: unexpected archive member {shown!r}; a .plait file holds only {sorted(limits)}.")
    if info.flag_bits & 0x1:
        raise FormatError(f"{path}: archive member {shown!r} is encrypted.")
    if info.compress_type not in _ALLOWED_COMPRESSION:
        raise FormatError(f"{path}: archive member {shown!r} uses compression method {info.compress_type}; "
                          "only stored and deflate are read.")
    if info.file_size > limits[name]:
        raise FormatError(f"{path}: archive member {shown!r} declares {info.file_size} bytes, over its limit of "
                          f"{limits[name]}.")


def _read_member(path: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    # Read one byte past the limit: a member whose header understates its size is caught here, and the
    # stream checks the CRC when it reaches the declared end.
    with archive.open(info, "r") as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise FormatError(f"{path}: archive member {info.filename!r} is over its limit of {limit} bytes.")
    if len(data) != info.file_size:
        raise FormatError(f"{path}: archive member {info.filename!r} is truncated ({len(data)} of "
                          f"{info.file_size} bytes).")
    return data


def member_names(path: str | os.PathLike) -> list[str]:
    """The member names of a zip (for diagnostics and tests); a `FormatError` if it is not one."""
    with _open(os.fspath(path)) as archive:
        return archive.namelist()


__all__ = ["MAX_MEMBERS", "member_names", "read_archive", "write_archive"]
