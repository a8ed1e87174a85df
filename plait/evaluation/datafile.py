"""Reading evaluation data from a file for `plait report`: a CSV table or a NumPy `.npz` archive."""
from __future__ import annotations

import csv
import os
from typing import Any

import numpy as np


def _targets(values: np.ndarray) -> np.ndarray:
    """Integral targets become int64 class ids; anything else stays float32 (regression)."""
    values = values.astype(np.float64)
    if np.all(values == np.round(values)):
        return values.astype(np.int64)
    return values.astype(np.float32)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path: str, target: str | None) -> tuple[np.ndarray, np.ndarray]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle) if row]
    if not rows:
        raise ValueError(f"{path} is empty; expected a CSV table with one row per sample.")
    header = None if all(_is_number(cell) for cell in rows[0]) else [c.strip() for c in rows[0]]
    body = rows[1:] if header is not None else rows
    width = len(rows[0])
    if width < 2:
        raise ValueError(f"{path} has {width} column; expected feature columns and a target column.")
    if target is None:
        column = width - 1
    elif header is not None and target in header:
        column = header.index(target)
    elif target.lstrip("-").isdigit() and -width <= int(target) < width:
        column = int(target) % width
    else:
        names = header if header is not None else list(range(width))
        raise ValueError(f"No target column {target!r} in {path}; its columns are {names}. Pass --target NAME "
                         "(or a column index).")
    try:
        table = np.array([[float(cell) for cell in row] for row in body], dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"{path} holds a non-numeric cell ({err}); encode categories as numbers first.") from None
    if table.ndim != 2 or table.shape[1] != width:
        raise ValueError(f"{path} has rows of different lengths; expected {width} columns in every row.")
    features = np.delete(table, column, axis=1).astype(np.float32)
    return features, _targets(table[:, column])


def _read_npz(path: str, x_key: str, y_key: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        missing = [k for k in (x_key, y_key) if k not in archive.files]
        if missing:
            raise ValueError(f"{path} has no array {missing[0]!r}; it holds {archive.files}. Pass --x-key/--y-key.")
        x, y = archive[x_key], archive[y_key]
    x = x.astype(np.float32) if x.dtype.kind == "f" else x
    return x, (_targets(y) if y.dtype.kind == "f" else y)


def load_data_file(path: str | os.PathLike, *, target: str | None = None, x_key: str = "x",
                   y_key: str = "y") -> tuple[Any, Any]:
    """(x, y) from a `.csv` file (target: the last column, or `target` by header name or index) or a `.npz`
    archive (arrays `x_key` and `y_key`). Integral targets are read as class ids."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No data file at {path!r}.")
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".npz":
        return _read_npz(path, x_key, y_key)
    if suffix in (".csv", ".txt"):
        return _read_csv(path, target)
    raise ValueError(f"Unsupported data file {path!r}: expected a .csv table or a .npz archive.")
