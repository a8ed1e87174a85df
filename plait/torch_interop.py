"""What the torch-object adapters share (TorchLoss, TorchMetric, TorchOptimizer): plait's targets in torch's
layout, and a torch object's constructor arguments read back for a saved compile config."""
from __future__ import annotations

import inspect
import warnings
from typing import Any

import torch

from plait.caller import user_stacklevel

_SKIPPED_ARGS = ("size_average", "reduce")  # torch's deprecated loss arguments, folded into `reduction`
_MISSING = object()


def same_but_unit_axis(a: torch.Size, b: torch.Size) -> bool:
    """Whether two shapes differ only by one trailing unit axis ((N,) and (N, 1))."""
    return a != b and (tuple(a) == tuple(b) + (1,) or tuple(a) + (1,) == tuple(b))


def class_id_layout(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Class-id targets in torch's layout: a `(N, 1)` label column squeezed to `(N,)` and cast to int64, and for
    outputs of more than two dimensions whose class axis is last (plait's layout, targets of shape
    `pred.shape[:-1]`), the class axis moved to dim 1 (torch's). Returns `(pred, target, is_class_ids)`."""
    if target.dim() == pred.dim() and pred.dim() >= 2 and target.shape[-1] == 1 and pred.shape[-1] != 1:
        target = target.squeeze(-1)
    if target.dim() != pred.dim() - 1 or same_but_unit_axis(target.shape, pred.shape):
        return pred, target, False  # not class ids; (N,) targets of a (N, 1) output are one value per sample
    target = target.long()
    torch_layout = (pred.shape[0],) + tuple(pred.shape[2:])
    if pred.dim() > 2 and tuple(target.shape) == tuple(pred.shape[:-1]) and tuple(target.shape) != torch_layout:
        pred = pred.movedim(-1, 1)
    return pred, target, True


def constructor_arguments(obj: Any) -> tuple[dict[str, Any], list[str]]:
    """`obj`'s constructor arguments read back from its attributes of the same names (tensors as lists), and
    the names of those that cannot be (no such attribute, or a value that is not a number, string or tensor).

    Example:
        >>> constructor_arguments(torch.nn.HuberLoss(delta=2.0))
        ({'reduction': 'mean', 'delta': 2.0}, [])
    """
    out: dict[str, Any] = {}
    unsaved: list[str] = []
    for name, param in list(inspect.signature(type(obj).__init__).parameters.items())[1:]:
        if name in _SKIPPED_ARGS or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        value = getattr(obj, name, _MISSING)
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().tolist()
        elif isinstance(value, tuple):
            value = list(value)
        if value is None or isinstance(value, (bool, int, float, str)) or (
                isinstance(value, list) and all(v is None or isinstance(v, (bool, int, float, str, list))
                                                for v in value)):
            out[name] = value
        else:
            unsaved.append(name)
    return out, unsaved


def saved_arguments(obj: Any, kind: str) -> dict[str, Any]:
    """The constructor arguments a saved compile config keeps for a wrapped torch object (`kind`: 'torch loss',
    'torchmetrics metric'): `{'arguments': ...}`, plus `'unsaved_arguments'` with a warning for those that
    cannot be read back, which `check_saved_arguments` then refuses at load."""
    arguments, unsaved = constructor_arguments(obj)
    if not unsaved:
        return {"arguments": arguments}
    warnings.warn(f"The {kind} {type(obj).__name__} keeps no attribute for its argument(s) {unsaved}, so the saved "
                  "compile config cannot rebuild it: load the model with compile=False and compile it again. "
                  "Storing each constructor argument as self.<name> avoids this.", stacklevel=user_stacklevel())
    return {"arguments": arguments, "unsaved_arguments": unsaved}


def check_saved_arguments(config: dict[str, Any], kind: str, name: Any) -> None:
    """Refuses to rebuild a wrapped torch object saved without some of its arguments (see `saved_arguments`)."""
    if config.get("unsaved_arguments"):
        raise ValueError(f"The {kind} {name!r} was saved without its argument(s) {config['unsaved_arguments']}, so "
                         "it cannot be rebuilt. Load the model with compile=False and compile it again.")
