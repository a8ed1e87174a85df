"""Checks of whole target arrays against the compiled losses, before the first training step.

A loss sees one batch at a time: a label out of range in the last batch would only fail after the earlier
batches had trained (on CPU), or become a NaN loss (on an accelerator, where a per-batch check would cost a
device sync). So `fit` checks array targets here once, over all rows, before any weight changes: integer
class ids for a sparse crossentropy, probabilities in [0, 1] for binary and categorical crossentropies, and
`class_weight` classes against the output's classes. Targets a DataLoader or generator yields are checked
by the losses batch by batch, as before.
"""
from __future__ import annotations

from typing import Any

import torch

from plait import losses as losses_mod
from plait.losses.torch_loss import TorchLoss
from plait.tree import flatten

_SPARSE_TORCH = (torch.nn.CrossEntropyLoss, torch.nn.NLLLoss)
_BINARY_TORCH = (torch.nn.BCELoss, torch.nn.BCEWithLogitsLoss)


def target_kind(loss: Any) -> tuple[str, int | None] | None:
    """('sparse' | 'categorical' | 'binary', ignored label or None) for a crossentropy loss, else None."""
    if isinstance(loss, TorchLoss):
        if isinstance(loss.module, _SPARSE_TORCH):
            return "sparse", loss.module.ignore_index
        return ("binary", None) if isinstance(loss.module, _BINARY_TORCH) else None
    fn = getattr(loss, "fn", loss)
    name = getattr(fn, "__name__", "")
    ignore = getattr(loss, "_fn_kwargs", {}).get("ignore_class")
    if isinstance(loss, losses_mod.SparseCategoricalCrossentropy) or name == "sparse_categorical_crossentropy":
        return "sparse", ignore
    if isinstance(loss, losses_mod.CategoricalCrossentropy) or name == "categorical_crossentropy":
        return "categorical", None
    if isinstance(loss, losses_mod.BinaryCrossentropy) or name == "binary_crossentropy":
        return "binary", None
    return None


def _first_rows(mask: torch.Tensor) -> list[int]:
    rows = mask.reshape(mask.shape[0], -1).any(dim=1) if mask.dim() else mask.reshape(1)
    return torch.nonzero(rows).flatten()[:5].tolist()


def _check_sparse(y: torch.Tensor, classes: int, ignore: int | None, where: str, name: str) -> None:
    labels = y.reshape(y.shape[0], -1)
    fractional = labels != torch.round(labels) if labels.is_floating_point() else None
    if fractional is not None and bool(fractional.any()):
        raise ValueError(f"{where} holds fractional labels (rows {_first_rows(fractional)}, e.g. "
                         f"{float(labels[fractional][0])}) but the loss {name!r} takes integer class ids "
                         f"0..{classes - 1}. For class probabilities (one column per class) use "
                         "'categorical_crossentropy'.")
    ids = labels.long()
    outside = (ids < 0) | (ids >= classes)
    if ignore is not None:
        outside &= ids != ignore
    if bool(outside.any()):
        bad = int(ids[outside][0])
        fix = (" A 1-unit output needs 'binary_crossentropy' instead." if classes == 1 else
               " If the labels start at 1, subtract 1; otherwise give the output layer one unit per class.")
        raise ValueError(f"{where} holds the label {bad} (rows {_first_rows(outside)}), outside the range "
                         f"[0, {classes}) of the model's output with {classes} classes (loss {name!r}).{fix}")


def _check_probabilities(y: torch.Tensor, where: str, name: str, kind: str) -> None:
    if not y.is_floating_point() and y.dtype != torch.bool:
        y = y.float()
    outside = (y < 0) | (y > 1)
    if bool(outside.any()):
        bad = float(y[outside][0])
        fix = (" For more than two classes give the output one unit per class, with softmax and "
               "'sparse_categorical_crossentropy' for integer labels." if kind == "binary" else
               " One-hot rows (or class probabilities) are expected; for integer class ids use "
               "'sparse_categorical_crossentropy'.")
        raise ValueError(f"{where} holds the target {bad:g} (rows {_first_rows(outside)}), but the loss {name!r} "
                         f"takes probabilities in [0, 1].{fix}")


def class_count(kind: str, output_shape: tuple) -> int:
    """How many classes an output of `output_shape` (batch axis excluded) scores under a loss of `kind`."""
    width = int(output_shape[-1]) if output_shape else 1
    return 2 if kind == "binary" and width == 1 else width


def check_targets(compiled_loss: Any, output_names: list[str], y: Any, *, what: str = "y",
                  class_weight: Any = None) -> None:
    """Checks every row of the targets `y` (tensors, one per output) against the built `compiled_loss`.

    Args:
        compiled_loss: A built `CompileLoss` (its losses and the output shapes they were resolved for).
        output_names: The model's output names, for messages.
        y: The targets, as the data adapter holds them (a tensor, or a list/dict with one per output).
        what: The name of the data in messages ('y', 'the validation targets').
        class_weight: A `plait.data.ClassWeight` whose classes must exist in the (single) output, or None.

    Raises:
        ValueError: For a label or target the loss cannot take, or a class_weight class the output lacks.
    """
    if compiled_loss is None or compiled_loss.losses is None or y is None:
        return
    targets = [y[n] for n in output_names] if isinstance(y, dict) else flatten(y)
    shapes = compiled_loss.output_shapes
    for i, (loss, target, shape) in enumerate(zip(compiled_loss.losses, targets, shapes)):
        found = None if loss is None or not isinstance(target, torch.Tensor) else target_kind(loss)
        if found is None:
            continue
        kind, ignore = found
        where = what if len(targets) == 1 else f"{what} of output {output_names[i]!r}"
        name = getattr(loss, "name", type(loss).__name__)
        if kind == "sparse":
            _check_sparse(target, class_count(kind, shape), ignore, where, name)
        else:
            _check_probabilities(target, where, name, kind)
        if class_weight is not None and len(targets) == 1:
            classes = class_count(kind, shape)
            unknown = sorted(k for k in class_weight.weights if not 0 <= k < classes)
            if unknown:
                raise ValueError(f"class_weight names the classes {unknown}, but the model's output has {classes} "
                                 f"classes (0..{classes - 1}). Give weights only for classes 0..{classes - 1}.")
