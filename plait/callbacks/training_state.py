"""The pieces of a training run's state that BackupAndRestore saves besides weights and optimizer state.

Random number generators (torch CPU and CUDA, NumPy's global, Python's `random`), the running metric
states of a half-finished epoch and the state of the other callbacks. Each has a check for state read back
from a file (which is untrusted: see `backup_file.py`) that raises `FormatError` before anything is set, and
a setter. Resuming itself is the loop's: the callback asks for it through `FitRun.resume_at`
(training/run.py).
"""
from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch

from plait.errors import FormatError

MAX_LIST_STATE = 1 << 24
"""The most tensors one 'cat' metric state may hold in a backup."""


def section(tensors: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries of `tensors` under `prefix`, with the prefix removed."""
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def show(value: Any, limit: int = 60) -> str:
    """A short description of a value read from a file, for messages: its type and a clipped repr."""
    text = repr(value)
    return f"{type(value).__name__} {text[:limit]}{'...' if len(text) > limit else ''}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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


def _ints(values: Any, count: int, what: str) -> None:
    if not isinstance(values, list) or len(values) != count or \
            not all(_is_int(v) and 0 <= v < 2**32 for v in values):
        raise FormatError(f"{what} must be a list of {count} integers in [0, 2**32), got {show(values)}")


def check_rng_state(tensors: Mapping[str, torch.Tensor], meta: Any, what: str = "rng") -> None:
    """Raises `FormatError` unless `set_rng_state(tensors, meta)` would restore valid states (tried on scratch
    generators, so the global ones are untouched)."""
    if set(tensors) - {"torch"} - {f"cuda/{i}" for i in range(64)}:
        raise FormatError(f"the {what} section holds unknown tensors {sorted(tensors)[:5]}")
    for key, state in tensors.items():
        if state.dtype != torch.uint8 or state.dim() != 1:
            raise FormatError(f"the {what} state {key!r} must be a 1-D uint8 tensor, got {state.dtype} of shape "
                              f"{tuple(state.shape)}")
    if "torch" not in tensors:
        raise FormatError(f"the torch random number generator state ({what}/torch) is missing")
    try:
        torch.Generator().set_state(tensors["torch"])
    except (RuntimeError, TypeError, ValueError) as err:
        raise FormatError(f"the torch random number generator state ({what}/torch) is invalid ({err})") from None
    if not isinstance(meta, dict) or set(meta) != {"numpy", "python"}:
        raise FormatError(f"'{what}' must be an object with exactly 'numpy' and 'python', got {show(meta)}")
    numpy_state, python_state = meta["numpy"], meta["python"]
    if not (isinstance(numpy_state, list) and len(numpy_state) == 5 and numpy_state[0] == "MT19937"
            and _is_int(numpy_state[2]) and 0 <= numpy_state[2] <= 624 and numpy_state[3] in (0, 1)
            and not isinstance(numpy_state[3], bool) and isinstance(numpy_state[4], (int, float))
            and not isinstance(numpy_state[4], bool)):
        raise FormatError(f"'{what}.numpy' must be ['MT19937', keys, pos, has_gauss, cached], got "
                          f"{show(numpy_state)}")
    _ints(numpy_state[1], 624, f"'{what}.numpy' keys")
    if not (isinstance(python_state, list) and len(python_state) == 3 and python_state[0] == 3
            and not isinstance(python_state[0], bool)
            and (python_state[2] is None or isinstance(python_state[2], float))):
        raise FormatError(f"'{what}.python' must be [3, internal state, gauss_next], got {show(python_state)}")
    _ints(python_state[1], 625, f"'{what}.python' internal state")
    try:
        np.random.RandomState().set_state(("MT19937", np.asarray(numpy_state[1], dtype=np.uint32),
                                           numpy_state[2], numpy_state[3], float(numpy_state[4])))
        random.Random().setstate((3, tuple(python_state[1]), python_state[2]))
    except (TypeError, ValueError, OverflowError) as err:
        raise FormatError(f"the NumPy or Python random number generator state in '{what}' is invalid ({err})") \
            from None


def set_rng_state(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
    """Restores what `get_rng_state` returned; CUDA states are skipped (with no error) on a machine without CUDA.

    State read from a file must pass `check_rng_state` first.
    """
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


def metric_layout_keys(layout: Any, tensors: Mapping[str, torch.Tensor]) -> set[str]:
    """Checks the structure of a saved metric layout; returns the tensor keys it refers to (all present)."""
    if not isinstance(layout, list) or len(layout) > 10_000:
        raise FormatError(f"'metrics' must be a list of [name, states] pairs, got {show(layout)}")
    keys: set[str] = set()
    for i, entry in enumerate(layout):
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
                and isinstance(entry[1], dict)):
            raise FormatError(f"'metrics[{i}]' must be [metric name, {{state: count}}], got {show(entry)}")
        for name, count in entry[1].items():
            if count is not None and not (_is_int(count) and 0 <= count <= MAX_LIST_STATE):
                raise FormatError(f"'metrics[{i}]' state {name[:60]!r} has count {show(count)}; expected null or "
                                  f"an integer from 0 to {MAX_LIST_STATE}")
            keys.update([f"metric/{i}/{name}"] if count is None else [f"metric/{i}/{name}/{j}" for j in range(count)])
    missing = sorted(keys - set(tensors))
    if missing:
        raise FormatError(f"the running metric states lack the tensors {missing[:5]}")
    return keys


def check_metric_states(model: Any, tensors: Mapping[str, torch.Tensor], layout: list[Any]) -> None:
    """Raises `FormatError` unless the (structurally checked) layout fits the model's built metrics exactly."""
    if [entry[0] for entry in layout] != model.metrics_names:
        raise FormatError(f"its running metrics {[entry[0] for entry in layout][:20]} differ from the model's "
                          f"compiled metrics {model.metrics_names[:20]}; compile the model as it was when the backup "
                          "was written")
    for i, (metric, (log_name, states)) in enumerate(zip(model.metrics, layout)):
        if set(states) != set(metric._state_values):
            raise FormatError(f"metric {log_name!r} has the states {sorted(metric._state_values)} but the backup "
                              f"has {sorted(states)[:20]}")
        for name, count in states.items():
            current = metric._state_values[name]
            if (count is None) != (not isinstance(current, list)):
                raise FormatError(f"metric {log_name!r} state {name!r} is saved as the wrong kind (a list of tensors "
                                  "where one tensor is expected, or the reverse)")
            saved = [tensors[f"metric/{i}/{name}"]] if count is None else \
                [tensors[f"metric/{i}/{name}/{j}"] for j in range(count)]
            for value in saved:
                if count is None and (value.shape != current.shape or value.dtype != current.dtype):
                    raise FormatError(f"metric {log_name!r} state {name!r} is {value.dtype} of shape "
                                      f"{tuple(value.shape)} in the backup but {current.dtype} of shape "
                                      f"{tuple(current.shape)} in the model")
                if count is not None and (value.dim() == 0 or value.dtype != saved[0].dtype
                                          or value.shape[1:] != saved[0].shape[1:]):
                    raise FormatError(f"metric {log_name!r} state {name!r} holds tensors of differing kinds")


def set_metric_states(model: Any, tensors: Mapping[str, torch.Tensor], layout: list[Any]) -> None:
    """Puts back what `metric_states` saved, into the model's (built) metrics, after checking all of it."""
    check_metric_states(model, tensors, layout)
    with torch.no_grad():
        for i, (metric, (_, states)) in enumerate(zip(model.metrics, layout)):
            for name, count in states.items():
                current = metric._state_values[name]
                if count is None:
                    current.data = tensors[f"metric/{i}/{name}"].to(device=current.device, dtype=current.dtype)
                else:
                    metric._state_values[name] = [tensors[f"metric/{i}/{name}/{j}"].to(metric.device)
                                                  for j in range(count)]


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


def _decode(value: Any, tensors: Mapping[str, torch.Tensor], used: set[str]) -> Any:
    # Recursion is bounded: the metadata's nesting depth is checked before anything is decoded.
    if isinstance(value, dict) and len(value) == 1 and ("__ndarray__" in value or "__tensor__" in value):
        key = value.get("__ndarray__", value.get("__tensor__"))
        if not isinstance(key, str) or not key.startswith("callback/") or key not in tensors:
            raise FormatError(f"a callback state refers to the tensor {show(key)}, which the backup lacks")
        used.add(key)
        if "__tensor__" in value:
            return tensors[key].clone()
        try:
            return tensors[key].numpy().copy()
        except TypeError as err:  # bfloat16 has no NumPy twin
            raise FormatError(f"the callback array {key!r} has a dtype NumPy cannot hold ({err})") from None
    if isinstance(value, list):
        return [_decode(v, tensors, used) for v in value]
    if isinstance(value, dict):
        return {k: _decode(v, tensors, used) for k, v in value.items()}
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


def decode_callback_states(saved: Any, tensors: Mapping[str, torch.Tensor]) -> tuple[list[tuple[int, str, dict]],
                                                                                      set[str]]:
    """The saved callback states, checked and decoded: `[(index, class name, state)]` and the tensor keys used."""
    if not isinstance(saved, list) or len(saved) > 10_000:
        raise FormatError(f"'callbacks' must be a list of callback states, got {show(saved)}")
    out, used = [], set()
    for n, entry in enumerate(saved):
        if not (isinstance(entry, dict) and set(entry) == {"index", "class", "state"} and _is_int(entry["index"])
                and 0 <= entry["index"] < 10_000 and isinstance(entry["class"], str)):
            raise FormatError(f"'callbacks[{n}]' must be {{'index': int, 'class': str, 'state': {{...}}}}, got "
                              f"{show(entry)}")
        state = _decode(entry["state"], tensors, used)
        if not isinstance(state, dict):
            raise FormatError(f"the saved state of callback {entry['class'][:60]!r} must be an object (a dict), got "
                              f"{show(state)}")
        out.append((entry["index"], entry["class"], state))
    return out, used


def _kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "number"
    for kind, types in (("str", str), ("list", (list, tuple)), ("dict", dict), ("array", np.ndarray),
                        ("tensor", torch.Tensor)):
        if isinstance(value, types):
            return kind
    return type(value).__name__


def _check_like_current(callback: Any, state: Mapping[str, Any]) -> None:
    """For plait's own callbacks: each saved value has the kind of the callback's current one (an integer
    counter stays a non-negative integer, a flag a bool, ...); None is always accepted. A user's callback
    checks its own state in `set_state`."""
    if not type(callback).__module__.startswith("plait."):
        return
    current = callback.get_state()
    for key, value in state.items():
        expected, got = _kind(current.get(key)), _kind(value)
        if expected is None or got is None:
            continue
        fits = got == expected or (expected == "number" and got == "int")
        if not fits or (got == "int" and value < 0):
            what = "a non-negative integer" if expected == "int" else f"a {expected}"
            raise ValueError(f"its {key!r} is {show(value)}, expected {what} or null")


def restore_callback_states(callbacks: list[Any], saved: list[tuple[int, str, dict]]) -> list[tuple[Any, Any]]:
    """Calls `set_state` on the callbacks at the same positions and of the same classes as when saved.

    Returns each changed callback with its state from before, for `rollback_callback_states`. If one refuses
    its state, those already set are rolled back and a `FormatError` names it.
    """
    previous: list[tuple[Any, Any]] = []
    for index, class_name, state in saved:
        if index >= len(callbacks) or type(callbacks[index]).__name__ != class_name:
            continue  # the callbacks changed since the backup: that one starts fresh
        callback = callbacks[index]
        previous.append((callback, callback.get_state()))
        try:
            _check_like_current(callback, state)
            callback.set_state(state)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as err:
            rollback_callback_states(previous)  # this one too: set_state may have stopped half-way
            raise FormatError(f"the saved state of callback {class_name} (position {index}) is damaged: {err}") \
                from None
    return previous


def rollback_callback_states(previous: list[tuple[Any, Any]]) -> None:
    """Puts back the states `restore_callback_states` returned, latest first."""
    for callback, state in reversed(previous):
        with contextlib.suppress(Exception):  # best effort while another error is being raised
            callback.set_state(state)
