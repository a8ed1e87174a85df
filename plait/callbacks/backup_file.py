"""The BackupAndRestore file, read as untrusted input: the whole of it is checked before any of it is applied.

A backup is safetensors data: tensors under `model/`, `optimizer/`, `rng/`, `rng_epoch/`, `metric/` and
`callback/`, and one metadata entry, `plait.backup`, holding JSON of this shape:

    {"format": "plait.backup", "format_version": 1, "epoch": int, "step": int | null,
     "optimizer_built": bool, "rng": {"numpy": [...], "python": [...]}, "history": {name: [value, ...]},
     "history_epochs": [int, ...], "callbacks": [{"index": int, "class": str, "state": {...}}],
     "rng_epoch": {...}, "metrics": [[name, {state: null | count}], ...]}   (the last two mid-epoch only)

`read_backup` checks every field's type and range (`epoch` within the fit's `epochs`, `step` within an
epoch, no bools for integers), the nesting depth, that every tensor belongs to a section and every reference
resolves, and that the state fits the model: weights' names, shapes and dtypes, the optimizer's slots, RNG
states (tried on scratch generators). What it returns applies without error; anything else is one
`FormatError` saying what is wrong.
"""
from __future__ import annotations

import copy
import json
import math
import os
import stat
from dataclasses import dataclass
from typing import Any

import torch

from plait.callbacks import training_state as ts
from plait.errors import FormatError
from plait.saving import safetensors_format as st
from plait.saving.weights import weight_tensors

FORMAT = "plait.backup"
FORMAT_VERSION = 1
METADATA_KEY = "plait.backup"
MAX_METADATA_CHARS = 32 << 20
"""The longest metadata JSON read (the History and CSVLogger rows of a long run fit easily)."""
MAX_DEPTH = 32
"""The deepest nesting of the metadata JSON (plait writes at most 6 levels)."""
MAX_HISTORY = 10_000_000
SECTIONS = ("model/", "optimizer/", "rng/", "rng_epoch/", "metric/", "callback/")
_KEYS = {"format", "format_version", "epoch", "step", "rng", "history", "history_epochs", "callbacks"}
_MID_EPOCH_KEYS = {"rng_epoch", "metrics"}
_OPTIONAL_KEYS = {"optimizer_built"}  # absent from backups written before it existed: the optimizer was built


@dataclass
class Backup:
    """A backup that passed every check: what `BackupAndRestore` applies, in its types."""

    path: str
    epoch: int
    step: int | None
    weights: dict[str, torch.Tensor]
    optimizer: dict[str, torch.Tensor] | None
    rng: tuple[dict[str, torch.Tensor], dict[str, Any]]
    rng_epoch: tuple[dict[str, torch.Tensor], dict[str, Any]] | None
    history: dict[str, list[Any]]
    history_epochs: list[int]
    callbacks: list[tuple[int, str, dict[str, Any]]]
    metrics: list[list[Any]]
    tensors: dict[str, torch.Tensor]
    metrics_checked: bool


def _int(value: Any, name: str, low: int, high: int, why: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FormatError(f"'{name}' is {ts.show(value)}; expected an integer from {low} to {high}{why}")
    return value


def _check_depth(value: Any) -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > MAX_DEPTH:
            raise FormatError(f"its metadata is nested more than {MAX_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in children)


def _metadata(metadata: dict[str, str]) -> dict[str, Any]:
    text = metadata.get(METADATA_KEY)
    if not isinstance(text, str):
        raise FormatError(f"it is not a plait training backup (no {METADATA_KEY!r} metadata)")
    if len(text) > MAX_METADATA_CHARS:
        raise FormatError(f"its metadata is {len(text)} characters long, over the {MAX_METADATA_CHARS} limit")
    try:
        meta = json.loads(text)
    except RecursionError:
        raise FormatError(f"its metadata is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as err:
        raise FormatError(f"its metadata is not valid JSON ({err})") from None
    _check_depth(meta)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise FormatError(f"it is not a plait training backup (its metadata is {ts.show(meta)})")
    version = _int(meta.get("format_version"), "format_version", 1, 2**31)
    if version > FORMAT_VERSION:
        raise FormatError(f"it was written by a newer plait (backup format {version}; this plait reads up to "
                          f"{FORMAT_VERSION}); upgrade plait to resume from it")
    return meta


def _check_keys(meta: dict[str, Any], mid_epoch: bool) -> None:
    expected = _KEYS | (_MID_EPOCH_KEYS if mid_epoch else set())
    missing, unknown = expected - set(meta), set(meta) - expected - _OPTIONAL_KEYS
    if missing or unknown:
        raise FormatError(f"its metadata lacks the sections {sorted(missing)}" if missing else
                          f"its metadata has unknown keys {[k[:60] for k in sorted(unknown)[:10]]}")


def _sections(tensors: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    out: dict[str, dict[str, torch.Tensor]] = {prefix: {} for prefix in SECTIONS}
    for key, value in tensors.items():
        prefix = next((p for p in SECTIONS if key.startswith(p)), None)
        if prefix is None:
            raise FormatError(f"it holds the tensor {key[:100]!r}, outside the sections {list(SECTIONS)}")
        out[prefix][key[len(prefix):]] = value
    return out


def _compare(expected: dict[str, torch.Tensor], given: dict[str, torch.Tensor], what: str, fix: str,
             optional: frozenset[str] = frozenset()) -> None:
    """Same keys (but `optional`), and for each the same shape and dtype, or a `FormatError` listing the problems."""
    problems = [f"{key!r} is missing" for key in sorted(set(expected) - set(given) - optional)]
    problems += [f"{key[:100]!r} is not expected" for key in sorted(set(given) - set(expected) - optional)]
    for key in sorted(set(expected) & set(given)):
        want, got = expected[key], given[key]
        if tuple(got.shape) != tuple(want.shape) or got.dtype != want.dtype:
            problems.append(f"{key!r} is {got.dtype} of shape {tuple(got.shape)} in the backup but "
                            f"{want.dtype} of shape {tuple(want.shape)} here")
    if problems:
        raise FormatError(f"{what} do not match: " + "; ".join(problems[:10]) + ("; ..." if len(problems) > 10 else "")
                          + f". {fix}")


def _expected_optimizer_state(model: Any) -> dict[str, torch.Tensor] | None:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    if getattr(optimizer, "built", False):
        return optimizer.state_dict()
    scratch = copy.deepcopy(optimizer)  # unbuilt: no variables to copy; the model's optimizer stays unbuilt
    scratch.build(model.trainable_variables)
    return scratch.state_dict()


def _check_optimizer(model: Any, state: dict[str, torch.Tensor], built: Any) -> dict[str, torch.Tensor] | None:
    if not isinstance(built, bool):
        raise FormatError(f"'optimizer_built' is {ts.show(built)}; expected true or false")
    if not built:
        if state:
            raise FormatError("it holds optimizer tensors although its metadata says the optimizer was not built")
        return None
    expected = _expected_optimizer_state(model)
    if expected is None:
        return None
    if not state:
        raise FormatError("the optimizer's state (the optimizer/ tensors) is missing")
    fix = "The backup was written with a different optimizer or model; compile the model as it was."
    _compare(expected, state, "its optimizer state and the model's optimizer", fix, frozenset({"learning_rate"}))
    if "learning_rate" in state:
        rate = state["learning_rate"]
        if rate.shape != () or not rate.is_floating_point() or not math.isfinite(float(rate)) or float(rate) < 0:
            raise FormatError(f"optimizer/learning_rate must be a finite non-negative scalar, got {rate.dtype} "
                              f"{tuple(rate.shape)}")
    if int(state["iterations"]) < 0:
        raise FormatError(f"optimizer/iterations is {int(state['iterations'])}; expected a non-negative count")
    bad = [key for key, value in state.items() if key.startswith("scalars/") and not math.isfinite(float(value))]
    if bad:
        raise FormatError(f"the optimizer scalars {bad[:5]} are not finite")
    return state


def _check_history(history: Any, epochs_seen: Any, epoch: int) -> None:
    if not isinstance(history, dict) or not all(isinstance(values, list) and len(values) <= MAX_HISTORY
                                                and not any(isinstance(v, dict) for v in values)
                                                for values in history.values()):
        raise FormatError(f"'history' must map each log name to a list of values, got {ts.show(history)}")
    if not isinstance(epochs_seen, list) or len(epochs_seen) > MAX_HISTORY:
        raise FormatError(f"'history_epochs' must be a list of epoch numbers, got {ts.show(epochs_seen)}")
    for i, value in enumerate(epochs_seen):
        _int(value, f"history_epochs[{i}]", 0, epoch - 1, " (epochs before the backup's)")


def _check_references(section: dict[str, torch.Tensor], used: set[str], prefix: str) -> None:
    extra = sorted({prefix + key for key in section} - used)
    if extra:
        raise FormatError(f"it holds tensors that no saved state refers to: {extra[:5]}")


def _position(meta: dict[str, Any], epochs: int, steps: int | None) -> tuple[int, int | None]:
    epoch = _int(meta["epoch"], "epoch", 0, epochs, f" (this fit has epochs={epochs})")
    step = meta["step"]
    if step is None:
        return epoch, None
    if epoch >= epochs:
        raise FormatError(f"it was taken during epoch {epoch + 1}, past this fit's epochs={epochs}")
    last = steps - 1 if steps else 2**53
    return epoch, _int(step, "step", 0, last, f" (an epoch here has {steps} steps)" if steps else "")


def _check_regular_file(path: str) -> None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FormatError("it is a broken symbolic link") from None
    if not stat.S_ISREG(info.st_mode):
        raise FormatError("it is not a regular file (a directory, device or pipe)")


def read_backup(path: str, model: Any, *, epochs: int, steps: int | None) -> Backup:
    """Reads and checks the backup at `path` for `model` in a fit of `epochs` epochs of `steps` steps (None:
    unknown); raises `FormatError` (its message starts with `path`) for anything that does not fit."""
    try:
        _check_regular_file(path)
        tensors, metadata = st.load_file(path)
    except FormatError as err:
        raise FormatError(str(err) if str(err).startswith(path) else f"{path}: {err}") from None
    try:
        return _validate(path, tensors, _metadata(metadata), model, epochs, steps)
    except FormatError as err:
        raise FormatError(f"{path}: {err}") from None


def _validate(path: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any], model: Any, epochs: int,
              steps: int | None) -> Backup:
    sections = _sections(tensors)
    for key in ("epoch", "step"):
        if key not in meta:
            raise FormatError(f"its metadata lacks {key!r}")
    epoch, step = _position(meta, epochs, steps)
    _check_keys(meta, mid_epoch=step is not None)
    _compare(weight_tensors(model), sections["model/"], f"its weights and those of model {model.name!r}",
             "The backup was written by a different model.")
    optimizer = _check_optimizer(model, sections["optimizer/"], meta.get("optimizer_built", True))
    ts.check_rng_state(sections["rng/"], meta["rng"])
    rng_epoch = None
    if step is not None:
        ts.check_rng_state(sections["rng_epoch/"], meta["rng_epoch"], "rng_epoch")
        rng_epoch = (sections["rng_epoch/"], meta["rng_epoch"])
    elif sections["rng_epoch/"]:
        raise FormatError("it holds rng_epoch/ tensors, which only a mid-epoch backup has")
    _check_history(meta["history"], meta["history_epochs"], epoch)
    callbacks, used = ts.decode_callback_states(meta["callbacks"], tensors)
    _check_references(sections["callback/"], used, "callback/")
    layout = meta.get("metrics", [])
    _check_references(sections["metric/"], ts.metric_layout_keys(layout, tensors), "metric/")
    # The metrics exist before the first step only when fit built them early (array data); otherwise they are
    # checked after the replay, when they do.
    metrics_checked = step is None or bool(getattr(model, "_compile_built", False))
    if step is not None and metrics_checked:
        ts.check_metric_states(model, tensors, layout)
    return Backup(path=path, epoch=epoch, step=step, weights=sections["model/"], optimizer=optimizer,
                  rng=(sections["rng/"], meta["rng"]), rng_epoch=rng_epoch, history=meta["history"],
                  history_epochs=meta["history_epochs"], callbacks=callbacks, metrics=layout, tensors=tensors,
                  metrics_checked=metrics_checked)
