"""A model's weights as a flat `{path: tensor}` dict, and copying such a dict back into a model, checked first.

A leaf module (torch only): `model_io` writes and reads these tensors in files, and `BackupAndRestore` keeps
them in its backups, without either reaching the model (de)serialization that `model_io` also holds.
"""
from __future__ import annotations

import warnings
from typing import Any

import torch


def weight_tensors(model: Any) -> dict[str, torch.Tensor]:
    """Every weight (and persistent buffer) of `model` by its path in the module tree, detached, on its device."""
    return {key: value.detach() for key, value in model.state_dict().items()}


def _display_names(model: Any) -> dict[str, str]:
    return {key: getattr(p, "path", key) for key, p in model.named_parameters(remove_duplicate=False)}


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
    own = model.state_dict(keep_vars=True)
    names = _display_names(model)
    problems, skipped = [], []
    for key, target in own.items():
        shown = names.get(key, key)
        if key not in tensors:
            problems.append(f"weight {shown!r} (key {key!r}) is missing from {source}")
            skipped.append(key)
        elif tuple(tensors[key].shape) != tuple(target.shape):
            problems.append(f"weight {shown!r} (key {key!r}) has shape {tuple(target.shape)} in the model but "
                            f"{tuple(tensors[key].shape)} in {source}")
            skipped.append(key)
    for key in tensors:
        if key not in own:
            problems.append(f"{source} has a weight {key!r} that the model does not have")
            skipped.append(key)
    if problems and not skip_mismatch:
        raise error(f"The weights in {source} do not match model {model.name!r}: " + "; ".join(problems[:20])
                    + ("; ..." if len(problems) > 20 else "") + ". Check that the architecture is the same, or pass "
                    "skip_mismatch=True to load only the matching weights.")
    if problems:
        warnings.warn("Skipped mismatched weights while loading: " + "; ".join(problems[:20]), stacklevel=3)
    with torch.no_grad():
        for key, target in own.items():
            if key in tensors and tuple(tensors[key].shape) == tuple(target.shape):
                target.copy_(tensors[key].to(device=target.device, dtype=target.dtype))
    return skipped
