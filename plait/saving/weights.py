"""A model's weights as a flat `{path: tensor}` dict, and copying such a dict back into a model, checked first.

A leaf module (torch only): `model_io` writes and reads these tensors in files, and `BackupAndRestore` keeps
them in its backups, without either reaching the model (de)serialization that `model_io` also holds.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import torch


def weight_tensors(model: Any) -> dict[str, torch.Tensor]:
    """Every weight (and persistent buffer) of `model` by its path in the module tree, detached, on its device."""
    return {key: value.detach() for key, value in model.state_dict().items()}


def _display_names(model: Any) -> dict[str, str]:
    return {key: getattr(p, "path", key) for key, p in model.named_parameters(remove_duplicate=False)}


def weight_shapes(model: Any) -> dict[str, tuple[int, ...]]:
    """Every weight's (and persistent buffer's) shape by its key in `model.state_dict()`; a model built on the
    meta device gives the shapes without holding any memory."""
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


_FIX = "Check that the architecture is the same, or pass skip_mismatch=True to load only the matching weights."


def check_weight_shapes(model: Any, shapes: Mapping[str, tuple[int, ...]], *, skip_mismatch: bool = False,
                        source: str = "the file", error: type[Exception] = ValueError, fix: str = _FIX) -> list[str]:
    """Compares the weights `model` has with `shapes` (name -> shape, e.g. of a file's tensors) without touching
    any weight; raises `error` naming each weight (by its layer path) that is missing, unexpected or of another
    shape, ending with `fix`, or, with `skip_mismatch`, warns and returns their keys.
    """
    own = weight_shapes(model)
    names = _display_names(model)
    problems, skipped = [], []
    for key, shape in own.items():
        shown = names.get(key, key)
        if key not in shapes:
            problems.append(f"weight {shown!r} (key {key!r}) is missing from {source}")
            skipped.append(key)
        elif tuple(shapes[key]) != shape:
            problems.append(f"weight {shown!r} (key {key!r}) has shape {shape} in the model but "
                            f"{tuple(shapes[key])} in {source}")
            skipped.append(key)
    for key in shapes:
        if key not in own:
            problems.append(f"{source} has a weight {str(key)[:200]!r} that the model does not have")
            skipped.append(key)
    if problems and not skip_mismatch:
        raise error(f"The weights in {source} do not match model {model.name!r}: " + "; ".join(problems[:20])
                    + ("; ..." if len(problems) > 20 else "") + f". {fix}")
    if problems:
        warnings.warn("Skipped mismatched weights while loading: " + "; ".join(problems[:20]), stacklevel=4)
    return skipped


def assign_weights(model: Any, tensors: dict[str, torch.Tensor], *, skip_mismatch: bool = False,
                   source: str = "the file", error: type[Exception] = ValueError) -> list[str]:
    """Copies `tensors` into `model`'s weights in place, after checking every name and shape first.

    Nothing is written unless every check passes (or, with `skip_mismatch`, only matching weights are).

    Args:
        model: The model (any torch module with a `name`) to write into.
        tensors: Weights by their key in `model.state_dict()`.
        skip_mismatch: Load the matching weights and warn about the others instead of raising.
        source: Where the tensors come from, for messages.
        error: The exception raised for a mismatch (`FormatError` when the tensors come from a file).

    Returns:
        The keys that were skipped (missing, unexpected or of another shape).
    """
    skipped = check_weight_shapes(model, {key: tuple(t.shape) for key, t in tensors.items()},
                                  skip_mismatch=skip_mismatch, source=source, error=error)
    copy_weights(model, {key: t for key, t in tensors.items() if key not in skipped})
    return skipped


def copy_weights(model: Any, tensors: Mapping[str, torch.Tensor]) -> None:
    """Copies `tensors` (already checked by `check_weight_shapes`) into `model`'s weights of the same keys."""
    with torch.no_grad():
        for key, target in model.state_dict(keep_vars=True).items():
            if key in tensors:
                target.copy_(tensors[key].to(device=target.device, dtype=target.dtype))
