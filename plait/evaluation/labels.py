"""What kind of task a model solves (from its loss), and class labels decoded from targets and predictions.

The diagnostics need class ids: from sparse labels, one-hot rows, or 0/1 targets of a sigmoid output.
The loss a model was compiled with says which of these the targets are; regression losses mean there
are no classes, and the class checks are skipped.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from plait.registry import to_snake_case

_BINARY = ("binary_crossentropy", "binary_focal_crossentropy")
_HINGE = ("hinge", "squared_hinge")


@dataclass(frozen=True)
class Task:
    """How targets and outputs encode classes.

    Attributes:
        kind: 'binary' (one sigmoid/score column, 0/1 targets), 'categorical' (one-hot targets),
            'sparse' (integer targets, one column per class) or 'auto' (the generic 'crossentropy' id:
            decided from the shapes).
        from_logits: Whether outputs are logits/scores rather than probabilities.
        signed_labels: Whether -1 is a label too (hinge losses take -1/1 as well as 0/1).
    """

    kind: str
    from_logits: bool = False
    signed_labels: bool = False


def _loss_name(spec: Any) -> str:
    if isinstance(spec, str):
        return spec.lower()
    names = [to_snake_case(type(spec).__name__)]
    fn = getattr(spec, "fn", spec)
    names.append(str(getattr(fn, "__name__", "")).lower())
    return " ".join(names)


def task_from_loss(spec: Any) -> Task | None:
    """The classification task a compiled loss implies, or None (regression, several outputs, unknown)."""
    if isinstance(spec, dict):
        spec = list(spec.values())
    if isinstance(spec, (list, tuple)):
        if len(spec) != 1:
            return None
        spec = spec[0]
    if spec is None:
        return None
    name = _loss_name(spec)
    kwargs = getattr(spec, "_fn_kwargs", None) or {}
    logits = bool(kwargs.get("from_logits", getattr(spec, "from_logits", False)))
    if "sparse_categorical" in name:
        return Task("sparse", logits)
    if "categorical" in name:
        return Task("categorical", logits or "hinge" in name)
    if any(b in name for b in _BINARY):
        return Task("binary", logits)
    if set(name.split()) & set(_HINGE):
        return Task("binary", True, signed_labels=True)  # hinge outputs are scores with the decision at 0
    if name in ("crossentropy", "ce"):
        return Task("auto", False)
    return None


def model_task(model: Any) -> Task | None:
    """The task of a compiled single-output model, from its loss."""
    compile_loss = getattr(model, "compiled_loss", None)
    if compile_loss is None or len(getattr(model, "output_names", ["output"])) != 1:
        return None
    return task_from_loss(compile_loss.spec)


def _is_integral(t: torch.Tensor) -> bool:
    return not t.is_floating_point() or bool(torch.all(t == torch.round(t)))


def target_labels(y: Any, task: Task | None) -> torch.Tensor | None:
    """Class ids (1-D long tensor, on y's device) from targets, or None when y does not encode classes.

    Reads y once (one host sync): meant for the checks that run once before training.
    """
    if task is None or not isinstance(y, torch.Tensor) or y.dim() == 0:
        return None
    flat = y.reshape(y.shape[0], -1)
    kind = task.kind
    if kind == "auto":
        if flat.shape[1] > 1:
            kind = "categorical"
        elif _is_integral(flat):
            kind = "sparse"
        else:
            return None
    if kind == "binary":
        # Several sigmoid columns are multi-label targets: no single class per row.
        return None if flat.shape[1] != 1 else (flat[:, 0] > 0.5).long()
    if kind == "categorical":
        return flat.argmax(dim=1) if flat.shape[1] > 1 else None
    if flat.shape[1] != 1 or not _is_integral(flat):
        return None
    labels = flat[:, 0].round().long() if flat.is_floating_point() else flat[:, 0].long()
    return labels if bool((labels >= 0).all()) else None


def predicted_ids(y_pred: Any, task: Task) -> tuple[torch.Tensor, int] | None:
    """(predicted class ids, number of classes) of one batch of outputs, without a host sync; None if the
    output does not describe single-label classification."""
    if not isinstance(y_pred, torch.Tensor) or y_pred.dim() == 0:
        return None
    pred = y_pred.reshape(y_pred.shape[0], -1)
    if pred.shape[1] == 1:
        return (pred[:, 0] > (0.0 if task.from_logits else 0.5)).long(), 2
    if task.kind == "binary":
        return None  # several sigmoid columns: multi-label
    return pred.argmax(dim=1), pred.shape[1]


def true_ids(y_true: Any, num_classes: int, task: Task) -> torch.Tensor | None:
    """Class ids of targets for outputs with `num_classes` classes, without a host sync; None if the targets
    do not match (nested targets, multi-label rows)."""
    if not isinstance(y_true, torch.Tensor) or y_true.dim() == 0:
        return None
    true = y_true.reshape(y_true.shape[0], -1)
    if num_classes == 2 and true.shape[1] == 1 and task.kind in ("binary", "auto"):
        return (true[:, 0] > 0.5).long()
    if true.shape[1] == num_classes and task.kind != "sparse":
        return true.argmax(dim=1)
    if true.shape[1] == 1:
        return true[:, 0].long()
    return None


def _first_rows(mask: np.ndarray) -> list[int]:
    return np.flatnonzero(mask)[:5].tolist()


def _check_binary_targets(y: np.ndarray, task: Task | None, what: str) -> None:
    allowed = [-1, 0, 1] if task is not None and task.signed_labels else [0, 1]
    named = "-1, 0 and 1" if len(allowed) == 3 else "0 and 1"
    if y.shape[1] != 1:
        raise ValueError(f"{what} has {y.shape[1]} columns per sample, but the model has one output unit (a binary "
                         f"classifier): pass one label per sample, one of {named}. For "
                         f"{y.shape[1]} classes the model needs {y.shape[1]} output units (softmax).")
    outside = ~np.isin(y[:, 0], allowed)
    if outside.any():
        bad = y[outside, 0][0]
        fix = ("threshold soft labels first (y > 0.5)" if 0 < bad < 1 else
               "for more than two classes the model needs one output unit per class (softmax)")
        raise ValueError(f"{what} holds the label {bad:g} (rows {_first_rows(outside)}), but the model has one output "
                         f"unit, so its labels are {named}: {fix}.")


def _check_class_ids(ids: np.ndarray, classes: int, what: str) -> None:
    fractional = ids != np.round(ids) if ids.dtype.kind == "f" else np.zeros(ids.shape, dtype=bool)
    if fractional.any():
        raise ValueError(f"{what} holds fractional labels (rows {_first_rows(fractional)}, e.g. "
                         f"{ids[fractional][0]:g}); a classifier's report needs class ids 0..{classes - 1}. "
                         "Round or re-encode the labels (for a regression model, compile it with a regression loss).")
    outside = (ids < 0) | (ids >= classes)
    if outside.any():
        found = int(np.unique(ids).size)
        raise ValueError(f"{what} holds the class id {int(ids[outside][0])} (rows {_first_rows(outside)}), outside "
                         f"the model's {classes} classes 0..{classes - 1} (the data holds {found} distinct "
                         f"label{'s' if found != 1 else ''}). If the labels start at 1, subtract 1; otherwise evaluate "
                         "a model with one output unit per class.")


def check_class_targets(y: np.ndarray, classes: int, task: Task | None, *, what: str = "y") -> None:
    """Refuses targets that do not name one of a classifier's classes, before its report is computed.

    Args:
        y: The targets, one row per sample, already free of NaN and inf: class ids, one-hot rows, or 0/1.
        classes: The number of output columns (1 for a one-unit sigmoid or score output).
        task: The model's task (from its loss), or None.
        what: The name of the targets in messages.

    Raises:
        ValueError: For labels outside the classes (negative, too large, or not 0/1 for a one-unit output),
            fractional class ids, or one-hot rows whose width disagrees with the model's classes.
    """
    flat = y.reshape(y.shape[0], -1)
    if classes == 1:
        _check_binary_targets(flat, task, what)
    elif task is not None and task.kind == "binary":
        return  # several sigmoid columns: multi-label targets, not one class per row
    elif flat.shape[1] == 1:
        _check_class_ids(flat[:, 0], classes, what)
    elif flat.shape[1] != classes:
        raise ValueError(f"{what} has {flat.shape[1]} columns (one-hot rows for {flat.shape[1]} classes), but the "
                         f"model outputs {classes} classes. Evaluate it on data with {classes} classes, or pass "
                         "class ids of shape (samples,).")
    else:
        outside = (flat < 0) | (flat > 1)
        empty = ~(flat > 0).any(axis=1)
        if outside.any() or empty.any():
            rows = _first_rows(outside.any(axis=1) | empty)
            raise ValueError(f"{what} holds rows that are not one-hot (rows {rows}): each row needs values in "
                             "[0, 1] with at least one positive entry, the class of that sample.")
