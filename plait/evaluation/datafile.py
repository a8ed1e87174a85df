"""Reading evaluation data from a file for `plait report`: a CSV table or a NumPy `.npz` archive.

The file is untrusted, so reading it costs memory bounded by sizes checked before anything is allocated:

- only a regular file is opened (`plait.saving.untrusted.open_regular`: a symlink to a device such as
  /dev/zero, a FIFO or a directory is refused, without blocking on it);
- a `.npz` member's `.npy` header is parsed on its own (at most `NPY_MAX_HEADER_BYTES`; object dtypes, and so
  pickles, are refused) and its shape, multiplied out exactly in Python integers, times the item size must
  equal the bytes the zip directory declares for the member: a tiny file declaring a huge array is refused
  before any allocation, never a NumPy `_ArrayMemoryError`;
- the members read may together expand to at most `max_bytes` (default `MAX_DATA_BYTES`), and a member over
  `INFLATION_FLOOR` bytes may expand at most `MAX_INFLATION` times its compressed size (a zip bomb is refused
  from the zip directory, before inflating); the bytes read never exceed the declared sizes;
- a CSV file may hold at most `max_bytes` bytes and is parsed row by row into float64 (8 bytes a cell).

Every refusal is a `FormatError` (a `ValueError`) that names the file, what was wrong and the fix.
"""
from __future__ import annotations

import array
import csv
import io
import math
import os
import zipfile
from typing import IO, Any

import numpy as np
from numpy.lib import format as npy_format

from plait.errors import FormatError
from plait.saving.untrusted import open_regular, read_exactly, read_into

MAX_DATA_BYTES = 4 << 30
"""The most bytes (4 GiB) a data file may hold (CSV) or expand to (the arrays read from a .npz), unless
`load_data_file(max_bytes=...)` (`plait report --max-bytes`) says otherwise."""
MAX_INFLATION = 200
"""A compressed .npz member may expand at most 200-fold (numeric data compresses far less; zip bombs far more)..."""
INFLATION_FLOOR = 64 << 20
"""... once it expands to more than 64 MiB: smaller members (e.g. an all-zero label array) may compress any amount."""
NPY_MAX_HEADER_BYTES = 10_000
"""The longest `.npy` header read (NumPy's own default `max_header_size`): np.save writes about 128 bytes."""
_NUMERIC_KINDS = "biuf"  # bool, integers, floats: what a model's inputs and targets can be
_SAVEZ_HINT = "Save the arrays with np.savez(path, x=x, y=y)."


# ------------------------------------------------------------------ .npy members of a .npz archive
def read_npy_header(stream: IO[bytes], where: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """Parses a `.npy` header from `stream` without reading the data: (shape, fortran_order, dtype, header bytes).

    Refuses, with a `FormatError`, anything but format versions 1.0/2.0, headers over `NPY_MAX_HEADER_BYTES`,
    malformed headers, and dtypes other than bool, integer and float (object dtypes would need pickles).
    """
    preamble = read_exactly(stream, 8, where)
    if preamble[:6] != b"\x93NUMPY":
        raise FormatError(f"{where} is not a .npy array (it lacks the \\x93NUMPY magic). {_SAVEZ_HINT}")
    version = (preamble[6], preamble[7])
    if version not in ((1, 0), (2, 0)):
        raise FormatError(f"{where} uses .npy format version {version[0]}.{version[1]}; plait reads versions 1.0 "
                          f"and 2.0 (numeric arrays). {_SAVEZ_HINT}")
    length_bytes = read_exactly(stream, 2 if version == (1, 0) else 4, where)
    length = int.from_bytes(length_bytes, "little")
    if length > NPY_MAX_HEADER_BYTES:
        raise FormatError(f"{where} declares a {length}-byte .npy header, over the {NPY_MAX_HEADER_BYTES}-byte "
                          f"limit (np.save writes about 128 bytes). {_SAVEZ_HINT}")
    header = io.BytesIO(length_bytes + read_exactly(stream, length, where))
    reader = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
    try:
        shape, fortran, dtype = reader(header, max_header_size=NPY_MAX_HEADER_BYTES)
    except Exception as err:  # a forged header raises ValueError, SyntaxError, RecursionError, MemoryError...
        raise FormatError(f"{where} has a malformed .npy header ({type(err).__name__}: {str(err)[:200]}). "
                          f"{_SAVEZ_HINT}") from None
    if dtype.hasobject or dtype.kind not in _NUMERIC_KINDS or dtype.shape != ():
        raise FormatError(f"{where} holds dtype {str(dtype)[:80]}; plait reads bool, integer and float arrays only "
                          "(never Python objects, which would need unpickling). Convert it, e.g. x.astype('float32').")
    if len(shape) > 32 or any(d < 0 for d in shape):
        raise FormatError(f"{where} declares the impossible shape {str(shape)[:120]}. {_SAVEZ_HINT}")
    return tuple(shape), bool(fortran), dtype, 8 + len(length_bytes) + length


def _member_name(name: str) -> str:
    return name[:-4] if name.endswith(".npy") else name


def _check_sizes(path: str, infos: list[zipfile.ZipInfo], max_bytes: int) -> None:
    """Refuses, from the zip directory alone, members that would expand past the limits."""
    total = sum(info.file_size for info in infos)
    if total > max_bytes:
        raise FormatError(f"{path}: the arrays read declare {total} bytes uncompressed, over the {max_bytes}-byte "
                          "limit on data read from a file. If the data is genuine, raise the limit (plait report "
                          "--max-bytes N, load_data_file(max_bytes=N)).")
    for info in infos:
        if info.file_size > INFLATION_FLOOR and info.file_size > MAX_INFLATION * max(info.compress_size, 1):
            raise FormatError(f"{path}: member {info.filename[:100]!r} would expand from {info.compress_size} to "
                              f"{info.file_size} bytes, over {MAX_INFLATION} times (a zip bomb?). Genuine data "
                              "compresses far less; save it uncompressed with np.savez(path, x=x, y=y).")


def _read_member(path: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    where = f"{path}: array {_member_name(info.filename)[:100]!r}"
    with archive.open(info) as stream:
        shape, fortran, dtype, header_size = read_npy_header(stream, where)
        count = math.prod(shape)  # Python integers: exact, however large the forged shape
        if header_size + count * dtype.itemsize != info.file_size:
            raise FormatError(f"{where} declares shape {str(shape)[:120]} of {dtype} ({count * dtype.itemsize} bytes), "
                              f"but the archive holds {info.file_size - header_size} bytes of data for it: the file "
                              f"is damaged or forged. {_SAVEZ_HINT}")
        flat = np.empty(count, dtype=dtype)  # within the declared, already checked, member size
        read_into(stream, memoryview(flat.view(np.uint8)), where)  # bytes of any dtype, byte order included
        if stream.read(1):  # also makes zipfile check the member's CRC at its end
            raise FormatError(f"{where} holds more data than its header declares. {_SAVEZ_HINT}")
    return flat.reshape(shape, order="F" if fortran else "C")


def _read_npz(handle: IO[bytes], path: str, keys: tuple[str, str], max_bytes: int) -> list[np.ndarray]:
    try:
        archive = zipfile.ZipFile(handle)
    except Exception as err:  # zipfile raises many kinds on a malformed directory; all mean "not an archive"
        raise FormatError(f"{path} is not a readable .npz archive ({str(err)[:200]}). {_SAVEZ_HINT}") from None
    with archive:
        members = {_member_name(info.filename): info for info in archive.infolist()}
        missing = [k for k in keys if k not in members]
        if missing:
            held = sorted(members)
            shown = f"{held[:20]}{' and more' if len(held) > 20 else ''}"
            raise FormatError(f"{path} has no array {missing[0]!r}; it holds {shown}. Name the arrays with "
                              "--x-key/--y-key (load_data_file(x_key=..., y_key=...)).")
        infos = [members[k] for k in keys]
        _check_sizes(path, infos, max_bytes)
        try:
            return [_read_member(path, archive, info) for info in infos]
        except FormatError:
            raise
        # A damaged or hostile stream surfaces as any kind of error (a bad CRC or local header, bad deflate data,
        # encryption, an unsupported compression method); all mean the archive cannot be read.
        except Exception as err:
            raise FormatError(f"{path}: the archive is damaged or unsupported ({type(err).__name__}: "
                              f"{str(err)[:200]}). {_SAVEZ_HINT}") from None


def _float32(values: np.ndarray, path: str, what: str) -> np.ndarray:
    """`values` as float32 (the model computes in it), refusing finite values beyond its range rather than
    letting them turn into inf."""
    with np.errstate(over="ignore"):
        out = values.astype(np.float32)
    if out.size and not np.isfinite(out.sum(dtype=np.float64)):
        overflow = np.isfinite(values) & ~np.isfinite(out)
        if overflow.any():
            row = int(np.argwhere(overflow)[0][0])
            raise FormatError(f"{path}: {what} holds {values[overflow].flat[0]:g} (row {row}), beyond the float32 "
                              "range (about 3.4e38) a model computes in. Rescale that column.")
    return out


# ------------------------------------------------------------------ CSV
def _targets(values: np.ndarray) -> np.ndarray:
    """Finite integral targets become int64 class ids; anything else stays float (regression, or NaN that the
    report refuses by row)."""
    values = values.astype(np.float64)
    finite = np.isfinite(values)
    if np.all(finite) and np.all(values == np.round(values)) and np.all(np.abs(values) <= 2**53):
        return values.astype(np.int64)
    # float32 where it holds the values: past its range they would turn into inf
    return values.astype(np.float32) if np.all(np.abs(values[finite]) <= np.finfo(np.float32).max) else values


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _target_column(path: str, target: str | None, header: list[str] | None, width: int) -> int:
    if target is None:
        return width - 1
    if header is not None and target in header:
        return header.index(target)
    if target.lstrip("-").isdigit() and -width <= int(target) < width:
        return int(target) % width
    names = header if header is not None else list(range(width))
    raise ValueError(f"No target column {target!r} in {path}; its columns are {str(names)[:400]}. Pass --target "
                     "NAME (or a column index).")


def _parse_csv(rows: Any, path: str, target: str | None) -> tuple[np.ndarray, int]:
    """(float64 table, target column) from CSV rows; the cells are stored as they are read, 8 bytes each."""
    values = array.array("d")
    header: list[str] | None = None
    width = column = 0
    for row in rows:
        if not row:
            continue
        if not width:
            width = len(row)
            if width < 2:
                raise ValueError(f"{path} has 1 column; expected feature columns and a target column.")
            if not all(_is_number(cell) for cell in row):
                header = [cell.strip() for cell in row]
            column = _target_column(path, target, header, width)
            if header is not None:
                continue
        if len(row) != width:
            raise ValueError(f"{path} line {rows.line_num} has {len(row)} columns; expected {width}, as in its first "
                             "row. Give every row the same columns.")
        try:
            values.extend([float(cell) for cell in row])
        except ValueError as err:
            raise ValueError(f"{path} line {rows.line_num} holds a non-numeric cell ({err}); encode categories as "
                             "numbers first.") from None
    if not width:
        raise ValueError(f"{path} is empty; expected a CSV table with one row per sample.")
    if not values:
        raise ValueError(f"{path} has a header but no data rows; expected one row per sample.")
    return np.frombuffer(values, dtype=np.float64).reshape(-1, width), column


def _read_csv(handle: IO[bytes], size: int, path: str, target: str | None,
              max_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    if size > max_bytes:
        raise FormatError(f"{path} holds {size} bytes, over the {max_bytes}-byte limit on data read from a file. If "
                          "the data is genuine, raise the limit (plait report --max-bytes N, "
                          "load_data_file(max_bytes=N)).")
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
    rows = csv.reader(text)
    try:
        table, column = _parse_csv(rows, path, target)
    except UnicodeDecodeError:
        raise FormatError(f"{path} is not UTF-8 text (line {rows.line_num + 1}); save the CSV as UTF-8.") from None
    except csv.Error as err:
        raise FormatError(f"{path} line {rows.line_num} is not valid CSV ({err}).") from None
    return _float32(np.delete(table, column, axis=1), path, "x"), _targets(table[:, column])


def load_data_file(path: str | os.PathLike, *, target: str | None = None, x_key: str = "x", y_key: str = "y",
                   max_bytes: int = MAX_DATA_BYTES) -> tuple[Any, Any]:
    """(x, y) from a `.csv` file (target: the last column, or `target` by header name or index) or a `.npz`
    archive (arrays `x_key` and `y_key`). Integral targets are read as class ids.

    The file is read within the bounds the module docstring lists: only a regular file, at most `max_bytes`
    of data, `.npy` headers checked against the archive's sizes before any allocation, no pickles.

    Raises:
        FileNotFoundError: If there is no file at `path`.
        ValueError: (`FormatError` for the file itself) for an unsupported, malformed, hostile or oversized
            file, or one that lacks the arrays or columns asked for.
    """
    path = os.fspath(path)
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
        raise ValueError(f"max_bytes must be a positive number of bytes, got {max_bytes!r}.")
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".npz", ".csv", ".txt"):
        raise ValueError(f"Unsupported data file {path!r}: expected a .csv table or a .npz archive.")
    handle, size = open_regular(path, "a .csv or .npz data file")
    with handle:
        if suffix != ".npz":
            return _read_csv(handle, size, path, target, max_bytes)
        x, y = _read_npz(handle, path, (x_key, y_key), max_bytes)
    return (_float32(x, path, "x") if x.dtype.kind == "f" else x), (_targets(y) if y.dtype.kind == "f" else y)
