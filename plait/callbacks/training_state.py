"""The pieces of a training run's state that BackupAndRestore saves besides weights and optimizer state.

Random number generators (torch CPU and CUDA, NumPy's global, Python's `random`), the running metric
states of a half-finished epoch and the state of the other callbacks. Resuming itself is the loop's: the
callback asks for it through `FitRun.resume_at` (training/run.py).
"""
from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch

from plait.errors import FormatError


def section(tensors: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries of `tensors` under `prefix`, with the prefix removed."""
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


# ----------------------------------------------------------------------------------------------------- RNG
def get_rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Every global RNG state: tensors (torch, CUDA per device) and JSON-friendly values (NumPy, Python)."""
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda/{i}"] = state
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    meta = {"numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
            "python": [version, list(internal), gauss_next]}
    return tensors, meta


def set_rng_state(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
    """Restores what `get_rng_state` returned; CUDA states are skipped (with no error) on a machine without CUDA."""
    try:
        torch.set_rng_state(tensors["torch"].to(torch.uint8))
        cuda = sorted((int(k.split("/")[1]), v) for k, v in tensors.items() if k.startswith("cuda/"))
        if cuda and torch.cuda.is_available():
            for index, state in cuda:
                if index < torch.cuda.device_count():
                    torch.cuda.set_rng_state(state.to(torch.uint8), index)
        name, keys, pos, has_gauss, cached = meta["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss), float(cached)))
        version, internal, gauss_next = meta["python"]
        random.setstate((int(version), tuple(int(v) for v in internal), gauss_next))
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as err:
        raise FormatError(f"The backup's random number generator state is damaged ({err}).") from None


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Every global RNG is where it was before the block, whatever the block drew."""
    saved = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(*saved)


# ------------------------------------------------------------------------------------------------ metrics
def metric_states(model: Any, tensors: dict[str, torch.Tensor]) -> list[list[Any]]:
    """Adds every metric state of `model` to `tensors` (`metric/<i>/<state>[/<j>]`); returns their layout."""
    layout = []
    for i, (log_name, metric) in enumerate(zip(model.metrics_names, model.metrics)):
        states = {}
        for name, value in metric._state_values.items():
            if isinstance(value, list):
                for j, item in enumerate(value):
                    tensors[f"metric/{i}/{name}/{j}"] = item.detach()
                states[name] = len(value)
            else:
                tensors[f"metric/{i}/{name}"] = value.detach()
                states[name] = None
        layout.append([log_name, states])
    return layout


def set_metric_states(model: Any, tensors: Mapping[str, torch.Tensor], layout: list[Any]) -> None:
    """Puts back what `metric_states` saved, into the model's (built) metrics."""
    metrics = model.metrics
    if [entry[0] for entry in layout] != model.metrics_names:
        raise FormatError("The backup's metrics differ from the model's compiled metrics; compile the model as it "
                          "was when the backup was written.")
    with torch.no_grad():
        for i, (metric, (_, states)) in enumerate(zip(metrics, layout)):
            for name, count in states.items():
                current = metric._state_values[name]
                if count is None:
                    current.data = tensors[f"metric/{i}/{name}"].to(device=current.device, dtype=current.dtype)
                else:
                    device = metric.device
                    metric._state_values[name] = [tensors[f"metric/{i}/{name}/{j}"].to(device) for j in range(count)]


# ---------------------------------------------------------------------------------------------- callbacks
def _encode(value: Any, key: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, np.ndarray):
        tensors[key] = torch.from_numpy(np.ascontiguousarray(value).copy())
        return {"__ndarray__": key}
    if isinstance(value, torch.Tensor):
        tensors[key] = value.detach()
        return {"__tensor__": key}
    if isinstance(value, (list, tuple)):
        return [_encode(v, f"{key}/{i}", tensors) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): _encode(v, f"{key}/{k}", tensors) for k, v in value.items()}
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def _decode(value: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    if isinstance(value, dict) and len(value) == 1 and ("__ndarray__" in value or "__tensor__" in value):
        key = value.get("__ndarray__", value.get("__tensor__"))
        if key not in tensors:
            raise FormatError(f"The backup lacks the callback tensor {str(key)[:100]!r}.")
        return tensors[key].numpy().copy() if "__ndarray__" in value else tensors[key].clone()
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if isinstance(value, dict):
        return {k: _decode(v, tensors) for k, v in value.items()}
    return value


def callback_states(callbacks: list[Any], tensors: dict[str, torch.Tensor]) -> list[dict[str, Any]]:
    """The `get_state()` of each callback that has one, arrays stored in `tensors` under `callback/<i>/...`."""
    out = []
    for i, callback in enumerate(callbacks):
        get_state = getattr(callback, "get_state", None)
        if callable(get_state):
            out.append({"index": i, "class": type(callback).__name__,
                        "state": _encode(get_state(), f"callback/{i}", tensors)})
    return out


def restore_callback_states(callbacks: list[Any], saved: list[Any], tensors: Mapping[str, torch.Tensor]) -> None:
    """Calls `set_state` on the callbacks at the same positions and of the same classes as when saved."""
    for entry in saved:
        if not isinstance(entry, dict):
            raise FormatError("The backup's callback states are damaged.")
        index = entry.get("index")
        if not isinstance(index, int) or not 0 <= index < len(callbacks) or \
                type(callbacks[index]).__name__ != entry.get("class"):
            continue  # the callbacks changed since the backup: that one starts fresh
        callbacks[index].set_state(_decode(entry.get("state", {}), tensors))
