"""The safetensors format, written and read by plait itself, with strict validation on read.

Layout (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N, N bytes of
JSON `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}` (padded with
spaces to a multiple of 8), then the raw little-endian tensor bytes; offsets count from the end of the
header. Files written here load with the `safetensors` package and the other way round.

Reading never trusts the file: the header length, the JSON, every dtype, shape and offset are checked
(offsets inside the data, tensors contiguous with no overlap or gap, byte sizes matching the shapes,
no shape whose size overflows) against the length of the data, which comes from a trustworthy place
(the file's own size), before any tensor is made, and every problem is a `FormatError`. Tensors are then
read one by one straight into their own memory: loading costs the tensors' bytes, never a copy of the file.
"""
from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import struct
import sys
from collections.abc import Collection, Mapping
from typing import IO, Any

import torch

from plait.saving.atomic import atomic_write
from plait.saving.errors import FormatError
from plait.saving.untrusted import open_regular, read_exactly, read_into, skip

DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}
"""The dtypes plait reads and writes (safetensors names); anything else in a file is refused."""

_NAMES: dict[torch.dtype, str] = {dtype: name for name, dtype in DTYPES.items()}
_ITEMSIZE: dict[str, int] = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                             "BOOL": 1}
MAX_HEADER_BYTES = 100_000_000  # the limit the safetensors package uses
MAX_RANK = 64
MAX_EXTENT = 2**62
"""Largest product of a shape's dimensions (zeros counted as one) plait reads: torch's strides must not overflow."""
MAX_NAME_CHARS = 4096
_HEADER_KEYS = {"dtype", "shape", "data_offsets"}


def _check_little_endian() -> None:
    if sys.byteorder != "little":
        raise RuntimeError("plait reads and writes safetensors on little-endian machines only.")


# ----------------------------------------------------------------------------------------------- writing
def _prepare(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None) -> tuple[bytes, list]:
    if not isinstance(tensors, Mapping):
        raise TypeError(f"tensors must be a dict of name -> torch.Tensor, got {type(tensors).__name__}.")
    items = []
    for name, tensor in tensors.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise ValueError(f"Tensor names must be non-empty strings other than '__metadata__', got {name!r}.")
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"Tensor {name!r} must be a torch.Tensor, got {type(tensor).__name__}.")
        if tensor.dtype not in _NAMES:
            raise TypeError(f"Tensor {name!r} has dtype {tensor.dtype}, which plait does not save; supported: "
                            f"{sorted(str(d).replace('torch.', '') for d in _NAMES)}.")
        items.append((name, tensor.detach()))
    # Largest elements first, so every tensor starts aligned to its element size (as the safetensors package does).
    items.sort(key=lambda item: (-item[1].element_size(), item[0]))
    header: dict[str, Any] = {}
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError("safetensors metadata must map strings to strings; encode other values as JSON text.")
        header["__metadata__"] = dict(metadata)
    offset = 0
    for name, tensor in items:
        size = tensor.numel() * tensor.element_size()
        header[name] = {"dtype": _NAMES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-(len(text) + 8) % 8)  # data starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text, items


def _tensor_bytes(tensor: torch.Tensor) -> memoryview:
    flat = tensor.to("cpu").contiguous().reshape(-1)
    return memoryview(flat.view(torch.uint8).numpy())


def write(handle: IO[bytes], tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None) -> None:
    """Streams `tensors` (and string `metadata`) in safetensors format to an open binary file."""
    _check_little_endian()
    header, items = _prepare(tensors, metadata)
    handle.write(header)
    for _, tensor in items:
        handle.write(_tensor_bytes(tensor))


def encode(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None) -> bytes:
    """The safetensors bytes of `tensors` (and string `metadata`)."""
    _check_little_endian()
    header, items = _prepare(tensors, metadata)
    return header + b"".join(bytes(_tensor_bytes(t)) for _, t in items)


def save_file(tensors: Mapping[str, torch.Tensor], path: str | os.PathLike,
              metadata: Mapping[str, str] | None = None, *, overwrite: bool = True) -> None:
    """Writes `tensors` to a `.safetensors` file atomically.

    Args:
        tensors: name -> tensor (any device; saved from CPU copies).
        path: Destination file.
        metadata: Optional string -> string map stored in the header's `__metadata__`.
        overwrite: If False, refuse to replace an existing file.

    Example:
        >>> import os, tempfile, torch
        >>> path = os.path.join(tempfile.mkdtemp(), "t.safetensors")
        >>> save_file({"w": torch.ones(2)}, path)
        >>> load_file(path)[0]["w"]
        tensor([1., 1.])
    """
    with atomic_write(path, "wb", overwrite=overwrite) as handle:
        write(handle, tensors, metadata)


# ----------------------------------------------------------------------------------------------- reading
@dataclasses.dataclass(frozen=True)
class Entry:
    """One tensor of a validated header: its place in the data and what it holds."""

    name: str
    dtype: torch.dtype
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.begin


@dataclasses.dataclass(frozen=True)
class Header:
    """A validated safetensors header: the entries in data order, the string metadata, and where data starts.

    Every entry lies inside the data, the entries tile it exactly (no gap, overlap or trailing byte) and
    each one's byte count is its shape's, so reading them allocates exactly `data_bytes` bytes.
    """

    entries: tuple[Entry, ...]
    metadata: dict[str, str]
    data_start: int

    @property
    def data_bytes(self) -> int:
        return self.entries[-1].end if self.entries else 0

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {e.name: e.shape for e in self.entries}


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise FormatError(f"the header names {key!r} twice")
        out[key] = value
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_header(raw: bytes, source: str) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(f"{source}: the safetensors header is not UTF-8 text.") from None
    if not text.startswith("{"):
        raise FormatError(f"{source}: the safetensors header must be a JSON object starting with '{{'.")
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates)
    except FormatError as err:
        raise FormatError(f"{source}: {err}.") from None
    except (ValueError, RecursionError) as err:
        raise FormatError(f"{source}: the safetensors header is not valid JSON ({err}).") from None
    if not isinstance(header, dict):
        raise FormatError(f"{source}: the safetensors header must be a JSON object.")
    return header


def _check_shape(shape: Any, where: str) -> tuple[int, ...]:
    """The shape as a tuple, refused unless every dimension is an int >= 0 and the extent (the product of the
    dimensions, zeros counted as one, which is what torch's strides multiply) stays under `MAX_EXTENT`: a shape
    like `[0, 2**40, 2**40]` holds no bytes but overflows torch's stride computation."""
    if not isinstance(shape, list) or len(shape) > MAX_RANK or not all(_is_int(d) and d >= 0 for d in shape):
        raise FormatError(f"{where} has an invalid shape {str(shape)[:80]}; expected a list of at most {MAX_RANK} "
                          "non-negative ints.")
    extent = 1
    for dim in shape:
        extent *= max(dim, 1)
        if extent > MAX_EXTENT:
            raise FormatError(f"{where} has shape {str(shape)[:80]}, whose size overflows (over {MAX_EXTENT} "
                              "elements); the file is damaged or hostile.")
    return tuple(shape)


def _check_entry(name: str, spec: Any, data_len: int, source: str) -> Entry:
    where = f"{source}: tensor {name[:200]!r}"
    if not name or len(name) > MAX_NAME_CHARS:
        raise FormatError(f"{source}: tensor names must have 1 to {MAX_NAME_CHARS} characters.")
    if not isinstance(spec, dict) or set(spec) != _HEADER_KEYS:
        raise FormatError(f"{where} must be described by exactly 'dtype', 'shape' and 'data_offsets'.")
    dtype = DTYPES.get(spec["dtype"]) if isinstance(spec["dtype"], str) else None
    if dtype is None:
        raise FormatError(f"{where} has dtype {str(spec['dtype'])[:40]!r}; plait reads only {sorted(DTYPES)}.")
    shape, offsets = _check_shape(spec["shape"], where), spec["data_offsets"]
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)
            and 0 <= offsets[0] <= offsets[1] <= data_len):
        raise FormatError(f"{where} has data_offsets {str(offsets)[:80]} outside the {data_len} data bytes.")
    size = math.prod(shape) * _ITEMSIZE[spec["dtype"]]
    if size != offsets[1] - offsets[0]:
        raise FormatError(f"{where}: shape {list(shape)} of {spec['dtype']} needs {size} bytes, but its offsets span "
                          f"{offsets[1] - offsets[0]}.")
    return Entry(name, dtype, shape, offsets[0], offsets[1])


def read_header(stream: IO[bytes], total: int, *, source: str,
                max_header_bytes: int = MAX_HEADER_BYTES) -> Header:
    """Reads and validates the header of a safetensors stream of `total` bytes, leaving the stream at its data.

    `total` must come from a trustworthy place (the file's `fstat` size, a zip member's declared size that
    the reader enforces): every entry is checked against `total - 8 - header length` data bytes, so the
    tensors the header declares are exactly what reading them will allocate.

    Args:
        stream: Positioned at the start of the safetensors bytes.
        total: Their length.
        source: How to name the data in messages.
        max_header_bytes: Refuse a longer header (JSON parsing costs a multiple of its length).

    Raises:
        FormatError: for anything but a well-formed header describing exactly `total` bytes.
    """
    _check_little_endian()
    if total < 8:
        raise FormatError(f"{source}: {total} bytes is too short for a safetensors file (it starts with an 8-byte "
                          "header length).")
    (header_len,) = struct.unpack("<Q", read_exactly(stream, 8, source))
    limit = min(max_header_bytes, total - 8)
    if header_len < 2 or header_len > limit:
        raise FormatError(f"{source}: the header length {header_len} is impossible for a file of {total} bytes "
                          f"(at most {limit}); the file is truncated, too large for the model, or not safetensors.")
    header = _parse_header(read_exactly(stream, header_len, source), source)
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise FormatError(f"{source}: '__metadata__' must map strings to strings.")
    data_len = total - 8 - header_len
    entries = sorted((_check_entry(name, spec, data_len, source) for name, spec in header.items()),
                     key=lambda e: (e.begin, e.end))
    position = 0
    for entry in entries:
        if entry.begin != position:
            problem = "overlaps the previous tensor" if entry.begin < position else "leaves a gap before it"
            raise FormatError(f"{source}: tensor {entry.name[:200]!r} starts at byte {entry.begin} and {problem} "
                              f"(which ends at {position}).")
        position = entry.end
    if position != data_len:
        raise FormatError(f"{source}: the tensors cover {position} of the {data_len} data bytes; the file has "
                          "trailing data or is truncated.")
    return Header(tuple(entries), dict(metadata), 8 + header_len)


def read_tensors(stream: IO[bytes], header: Header, *, source: str,
                 names: Collection[str] | None = None) -> dict[str, torch.Tensor]:
    """Reads the tensors `header` describes from `stream` (left at the data by `read_header`), in data order.

    Each tensor is read straight into its own buffer, so memory grows by exactly the bytes of the tensors
    read; those not in `names` (if given) are skipped without being held.

    Raises:
        FormatError: if the stream ends early or a bool tensor holds bytes other than 0 and 1.
    """
    tensors: dict[str, torch.Tensor] = {}
    position = 0
    for entry in header.entries:
        if names is not None and entry.name not in names:
            continue
        skip(stream, entry.begin - position, source)
        buffer = torch.empty(entry.nbytes, dtype=torch.uint8)
        read_into(stream, memoryview(buffer.numpy()), source)
        position = entry.end
        if entry.dtype == torch.bool and entry.nbytes and int(buffer.max()) > 1:
            raise FormatError(f"{source}: bool tensor {entry.name[:200]!r} holds bytes other than 0 and 1.")
        tensors[entry.name] = buffer.view(entry.dtype).reshape(entry.shape)
    return tensors


def decode(data: bytes | bytearray | memoryview, *, source: str = "safetensors data",
           max_bytes: int | None = None) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Parses safetensors bytes into CPU tensors and the header's string metadata, refusing anything malformed.

    Args:
        data: The whole file's bytes.
        source: How to name the data in error messages (e.g. the file path).
        max_bytes: Refuse data longer than this.

    Returns:
        `(tensors, metadata)`: name -> CPU tensor (its own memory), and the `__metadata__` map ({} if none).

    Raises:
        FormatError: for anything that is not a well-formed safetensors file within the limits.
    """
    view = memoryview(data).cast("B")
    if max_bytes is not None and len(view) > max_bytes:
        raise FormatError(f"{source}: {len(view)} bytes is over the {max_bytes}-byte limit.")
    stream = io.BytesIO(view)
    header = read_header(stream, len(view), source=source)
    return read_tensors(stream, header, source=source), header.metadata


def load_file(path: str | os.PathLike, *,
              max_bytes: int | None = None) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Reads a `.safetensors` file: `(tensors, metadata)`, validated as in `decode`.

    Only a regular file is read (not a FIFO, device or directory, even through a symlink), and its size
    comes from the open file: the header must describe exactly that many bytes before any tensor is made.
    """
    path = os.fspath(path)
    handle, size = open_regular(path, "a .safetensors file")
    with handle:
        if max_bytes is not None and size > max_bytes:
            raise FormatError(f"{path}: {size} bytes is over the {max_bytes}-byte limit.")
        header = read_header(handle, size, source=path)
        return read_tensors(handle, header, source=path), header.metadata
