"""The limits that bound what loading a file may cost, and the checks of a config's values against them.

A small file must not take the machine. Loading decides how much it will read and allocate from sizes it
can trust (the model the config describes, built first on the meta device at no cost; the file's own size)
before reading or allocating anything, and refuses with a `FormatError` a file that asks for more:

- `MAX_COMPRESSION_RATIO`: a zip member over `RATIO_FREE_BYTES` may inflate at most this many times its
  compressed size (deflate reaches about 1030:1 on constant data; plait's configs stay under 100:1 and its
  weights are stored uncompressed), so a zip bomb is refused from its header, never inflated;
- the weights member may declare no more than the config's model needs (`weights_bound`: 8 bytes per
  element, the widest dtype, plus `header_bound` for the header);
- the optimizer member: at most `OPTIMIZER_COPIES` copies of the trainable weights (Adam keeps 2, with EMA
  and gradient accumulation 4);
- `MAX_EXTRA_BYTES`: what building the model and its metrics may allocate beyond `ALLOCATION_FACTOR` times
  its weights (metric states, buffers, the one-sample forward passes that infer shapes);
- `MAX_LAYERS`: the layers a config may list;
- `MAX_SAMPLE_ELEMENTS`: the elements one layer may output for one sample;
- `COUNT_LIMITS`: config values that cost memory or time without showing in the weights (a metric's
  `num_thresholds`, `num_classes`);
- `DTYPE_NAMES` (from `plait.config`): the only dtype strings a config may hold; anything else (such as
  "onnx", which torch would import as a submodule) is refused before any object is built.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from plait.config import DTYPE_NAMES
from plait.errors import FormatError

MAX_COMPRESSION_RATIO = 200
"""Largest uncompressed/compressed size ratio of a zip member over `RATIO_FREE_BYTES`."""
RATIO_FREE_BYTES = 1 << 20
"""Members up to this size may compress any amount (a small config of repeated layers compresses well)."""
MAX_METADATA_BYTES = 1 << 20
MAX_CONFIG_BYTES = 64 << 20
"""Largest `config.json` (the architecture and compile configuration) read."""
MAX_TENSOR_FILE_BYTES = 1 << 40
"""Largest safetensors member or file read when no model tells the size to expect."""
ALLOCATION_FACTOR = 4
MAX_EXTRA_BYTES = 256 << 20
"""Building a model from a file may allocate at most `ALLOCATION_FACTOR` x its weights' bytes plus this."""
OPTIMIZER_COPIES = 8
"""The optimizer state may hold at most this many copies of the trainable weights."""
HEADER_BASE_BYTES = 64 << 10
HEADER_BYTES_PER_TENSOR = 256
MAX_LAYERS = 10_000
"""Most layers a config may list (nested models included): each costs about 10 KB and a millisecond to build,
and a config of repeated layers compresses over 100:1, so a small file could otherwise ask for millions."""
MAX_SAMPLE_ELEMENTS = 1 << 30
"""Largest output of one layer for one sample (unknown dimensions counted as 1): 4 GiB in float32. Layers
without weights (`RepeatVector(n)`, `UpSampling`, padding) could otherwise make the first predict allocate
without bound."""
COUNT_LIMITS: dict[str, int] = {"num_thresholds": 1 << 20, "num_classes": 1 << 20, "num_labels": 1 << 20}
"""Config keys whose value costs memory or time that no weight shows, and their largest accepted value."""


def header_bound(names: Iterable[str]) -> int:
    """The longest safetensors header plait accepts for tensors named `names` (with room for metadata)."""
    return HEADER_BASE_BYTES + sum(len(name.encode("utf-8")) + HEADER_BYTES_PER_TENSOR for name in names)


def weights_bound(shapes: dict[str, tuple[int, ...]], copies: int = 1) -> int:
    """The most bytes a safetensors file of `copies` x the tensors `shapes` may take: 8 bytes per element (the
    widest dtype, so a model saved in float64 loads into float32) plus the header."""
    elements = sum(_numel(shape) for shape in shapes.values())
    return copies * 8 * elements + header_bound(list(shapes) * copies)


def allocation_budget(weight_bytes: int) -> int:
    """What building a model whose weights take `weight_bytes` may allocate."""
    return ALLOCATION_FACTOR * weight_bytes + MAX_EXTRA_BYTES


def _numel(shape: tuple[int, ...]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def human_bytes(count: int) -> str:
    """`1536` -> `'1.5 KiB'`, for messages."""
    value = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} bytes"


def check_config_values(config: Any, source: str) -> None:
    """Walks a config read from a file and refuses, before anything is built from it, any dtype string outside
    `DTYPE_NAMES`, any `COUNT_LIMITS` value over its limit, and more than `MAX_LAYERS` layers.

    Every key ending in 'dtype' is checked, wherever it sits (layers, Input layers, metrics, losses, the
    functional graph's tensors), so no string from the file reaches `getattr(torch, ...)`, which would import
    a lazily loaded torch submodule of that name.

    Raises:
        FormatError: naming the key, the value and what is accepted.
    """
    stack: list[tuple[Any, str]] = [(config, "config")]
    layers = 0
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                path = f"{where}.{str(key)[:60]}"
                if isinstance(key, str) and key.endswith("dtype"):
                    _check_dtype(value, path, source)
                elif key in COUNT_LIMITS:
                    _check_count(key, value, path, source)
                elif key == "layers" and isinstance(value, list):
                    layers += len(value)
                if isinstance(value, (dict, list)):
                    stack.append((value, path))
        elif isinstance(node, list):
            stack.extend((value, f"{where}[{i}]") for i, value in enumerate(node) if isinstance(value, (dict, list)))
    if layers > MAX_LAYERS:
        raise FormatError(f"{source}: the config lists {layers} layers, over the limit of {MAX_LAYERS} plait builds "
                          "from a file; the file is damaged or hostile.")


def _check_dtype(value: Any, path: str, source: str) -> None:
    if value is None or (isinstance(value, str) and value.removeprefix("torch.") in DTYPE_NAMES):
        return
    raise FormatError(f"{source}: {path} is {str(value)[:60]!r}, which is not a dtype plait reads; expected one of "
                      f"{sorted(DTYPE_NAMES)} or null. The file is damaged or was not written by plait.")


def _check_count(key: str, value: Any, path: str, source: str) -> None:
    # Non-integers are left to the constructor, which refuses them with its own message.
    if isinstance(value, int) and not isinstance(value, bool) and value > COUNT_LIMITS[key]:
        raise FormatError(f"{source}: {path} is {value}, over the limit of {COUNT_LIMITS[key]} plait accepts from a "
                          f"file for {key!r} (it costs memory and time that no weight in the file shows). If the "
                          "value is really meant, rebuild the object in code after loading.")


__all__ = ["ALLOCATION_FACTOR", "COUNT_LIMITS", "MAX_COMPRESSION_RATIO", "MAX_CONFIG_BYTES", "MAX_EXTRA_BYTES",
           "MAX_LAYERS", "MAX_METADATA_BYTES", "MAX_SAMPLE_ELEMENTS", "MAX_TENSOR_FILE_BYTES", "OPTIMIZER_COPIES",
           "RATIO_FREE_BYTES", "allocation_budget", "check_config_values", "header_bound", "human_bytes",
           "weights_bound"]
