"""TorchLoss: a `torch.nn` loss (`nn.CrossEntropyLoss()`, `nn.MSELoss()`, ...) used as a plait loss.

`compile(loss=nn.CrossEntropyLoss())` wraps the module in a `TorchLoss`, which calls it the way torch does,
`module(y_pred, y_true)`, with the targets torch expects: integer class ids as int64 (a `(N, 1)` label column
squeezed to `(N,)`), float targets in the prediction's dtype, a trailing unit axis matched to the prediction.
Without sample weights the value is exactly the module's own. With `sample_weight` (or fit's `class_weight`)
the module is evaluated with `reduction='none'` and its per-element values are weighted, then reduced as the
module's `reduction` says, dividing by the same denominator torch uses; weights of 1 give the module's value.
"""
from __future__ import annotations

import copy
import inspect
from typing import Any

import torch
from torch import nn

from plait import config
from plait.custom_objects import get_registered_object
from plait.losses.loss import LOSSES, Loss, LossFunctionWrapper, sample_weight_for
from plait.registry import to_snake_case
from plait.tensors import convert_to_tensor
from plait.torch_interop import check_saved_arguments, class_id_layout, same_but_unit_axis, saved_arguments

_CLASS_ID_LOSSES = (nn.CrossEntropyLoss, nn.NLLLoss, nn.MultiMarginLoss)
_ELEMENTWISE_LOSSES = (nn.L1Loss, nn.MSELoss, nn.BCELoss, nn.BCEWithLogitsLoss, nn.HuberLoss, nn.SmoothL1Loss,
                       nn.KLDivLoss, nn.PoissonNLLLoss, nn.SoftMarginLoss, nn.MultiLabelSoftMarginLoss,
                       nn.HingeEmbeddingLoss)
_PLAIT_REDUCTION = {"mean": "sum_over_batch_size", "batchmean": "sum_over_batch_size", "sum": "sum", "none": "none"}


def is_torch_loss(obj: Any) -> bool:
    """Whether `obj` is a torch loss module (an instance of `torch.nn.modules.loss._Loss`)."""
    return isinstance(obj, nn.modules.loss._Loss)


def _required_inputs(module: nn.Module) -> list[str]:
    params = list(inspect.signature(module.forward).parameters.values())
    return [p.name for p in params
            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


class TorchLoss(LossFunctionWrapper):
    """A `torch.nn` loss module in plait's loss API: `TorchLoss(module)(y_true, y_pred, sample_weight=None)`.

    `compile(loss=...)` wraps torch losses itself; build one by hand to choose its name. The module's own
    `reduction` applies: 'mean' (and KLDivLoss's 'batchmean') and 'sum' give one number; 'none' gives the
    per-element values, which `fit` cannot train on.

    Args:
        module: A torch loss taking `(input, target)`, e.g. `nn.CrossEntropyLoss(label_smoothing=0.1)`.
        name: The loss name; default: the class name in snake_case ('cross_entropy_loss').

    Example:
        >>> import torch
        >>> loss = TorchLoss(torch.nn.CrossEntropyLoss())
        >>> logits, labels = torch.tensor([[2.0, 0.0, 0.0]]), torch.tensor([[0]])
        >>> bool(torch.isclose(loss(labels, logits), torch.nn.functional.cross_entropy(logits, labels[:, 0])))
        True
    """

    def __init__(self, module: nn.Module, *, name: str | None = None) -> None:
        if not is_torch_loss(module):
            raise TypeError(f"TorchLoss wraps a torch loss module such as torch.nn.CrossEntropyLoss(), got "
                            f"{type(module).__name__}: {module!r}. Pass a plain function fn(y_true, y_pred) to "
                            "compile(loss=...) directly.")
        cls = type(module).__name__
        inputs = _required_inputs(module)
        if len(inputs) != 2:
            raise TypeError(f"torch.nn.{cls} takes {len(inputs)} inputs ({', '.join(inputs)}), but compile's loss "
                            "is called with the model's output and the target only. Compute it in your own "
                            "train_step (or compute_loss), or use a loss of (input, target).")
        if any(p.requires_grad for p in module.parameters()):
            raise TypeError(f"torch.nn.{cls} has trainable parameters, which fit would never update (it trains "
                            "the model's variables). Put those layers in the model and use a loss of "
                            "(input, target) such as torch.nn.CrossEntropyLoss().")
        reduction = getattr(module, "reduction", "mean")
        Loss.__init__(self, name=name or to_snake_case(cls), reduction=_PLAIT_REDUCTION.get(reduction, "sum"))
        self.fn = module
        self._fn_kwargs: dict[str, Any] = {}
        self._unreduced: nn.Module | None = None

    @property
    def module(self) -> nn.Module:
        """The wrapped torch loss module."""
        return self.fn

    # ------------------------------------------------------------------ calling
    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> torch.Tensor:
        pred = y_pred if isinstance(y_pred, torch.Tensor) else convert_to_tensor(y_pred)
        if not pred.is_floating_point():
            pred = pred.to(config.float_dtype())
        target = convert_to_tensor(y_true, device=pred.device)
        self._follow(pred)
        pred, target = self._torch_layout(pred, target)
        if sample_weight is None:
            return self._run(self.fn, pred, target)
        values = self._run(self._none_copy(), pred, target)
        return self._reduce(values * sample_weight_for(values, sample_weight), target)

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        """The per-element values (the module with `reduction='none'`), in torch's layout."""
        self._follow(y_pred)
        pred, target = self._torch_layout(y_pred, convert_to_tensor(y_true, device=y_pred.device))
        return self._run(self._none_copy(), pred, target)

    def _run(self, module: nn.Module, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        try:
            return module(pred, target)
        except (RuntimeError, ValueError, IndexError) as err:
            raise ValueError(
                f"torch.nn.{type(self.fn).__name__} failed on the model's output {tuple(pred.shape)} {pred.dtype} "
                f"and the target {tuple(target.shape)} {target.dtype} (plait calls a torch loss as "
                f"loss(y_pred, y_true), as torch does): {err}") from err

    def _follow(self, pred: torch.Tensor) -> None:
        # A class `weight` buffer must sit where the predictions are, in their dtype; model.to(...) does not
        # move the loss.
        for buf in self.fn.buffers():
            if buf.device != pred.device or (buf.is_floating_point() and buf.dtype != pred.dtype):
                self.fn.to(device=pred.device, dtype=pred.dtype)
            return

    def _torch_layout(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        module = self.fn
        if isinstance(module, _CLASS_ID_LOSSES):
            pred, target, class_ids = class_id_layout(pred, target)
            if not class_ids and target.shape == pred.shape and isinstance(module, nn.CrossEntropyLoss):
                target = target.to(pred.dtype)  # class probabilities (e.g. one-hot rows)
        elif isinstance(module, nn.MultiLabelMarginLoss):
            target = (target.reshape(pred.shape) if same_but_unit_axis(target.shape, pred.shape) else target).long()
        elif isinstance(module, _ELEMENTWISE_LOSSES):
            if same_but_unit_axis(target.shape, pred.shape):
                target = target.reshape(pred.shape)  # (N,) targets for a (N, 1) output, and back
            target = target.to(pred.dtype)
        elif target.is_floating_point():
            target = target.to(pred.dtype)
        return pred, target

    # ------------------------------------------------------------------ sample weights
    def _none_copy(self) -> nn.Module:
        if self.fn.reduction == "none":
            return self.fn
        if self._unreduced is None:
            self._unreduced = copy.copy(self.fn)  # shares the module's buffers (a class `weight`) and their device
            self._unreduced.reduction = "none"
        return self._unreduced

    def _reduce(self, weighted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        reduction = self.fn.reduction
        if reduction == "none":
            return weighted
        if reduction == "sum":
            return weighted.sum()
        if reduction == "batchmean":
            return weighted.sum() / (weighted.shape[0] if weighted.dim() else 1)
        return weighted.sum() / self._mean_denominator(weighted, target)

    def _mean_denominator(self, values: torch.Tensor, target: torch.Tensor) -> Any:
        """What torch's 'mean' divides by: the number of values, or for class ids with a class `weight` or an
        `ignore_index`, the summed weight of the counted targets."""
        module = self.fn
        if isinstance(module, (nn.CrossEntropyLoss, nn.NLLLoss)) and not target.is_floating_point():
            valid = target != module.ignore_index
            weight = getattr(module, "weight", None)
            if weight is None:
                return valid.sum().to(values.dtype)
            return (weight.to(values.dtype)[torch.where(valid, target, 0)] * valid).sum()
        return values.numel()

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        """`{'name', 'loss': the torch class name, 'arguments': its constructor arguments}` (JSON-friendly).

        An argument that cannot be read back from the module (your own loss class that does not keep it as
        `self.<name>`) is listed under 'unsaved_arguments', with a warning; loading then refuses to compile.
        """
        return {"name": self.name, "loss": type(self.fn).__name__, **saved_arguments(self.fn, "torch loss")}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> "TorchLoss":
        """Rebuilds the loss: torch.nn's own losses by name; your own `_Loss` subclasses from `custom_objects` (or
        the custom-object scope the loss is loaded in)."""
        config = dict(config)
        name = config.get("loss")
        found = get_registered_object(name, custom_objects) if isinstance(name, str) else None
        if found is None and isinstance(name, str) and not name.startswith("_"):
            found = vars(nn).get(name)  # torch.nn's own classes by exact name: a plain lookup imports nothing
        check_saved_arguments(config, "torch loss", name)
        if not (isinstance(found, type) and issubclass(found, nn.modules.loss._Loss)):
            raise ValueError(f"Unknown torch loss {name!r} in a TorchLoss config. If it is your own torch loss "
                             f"class, pass custom_objects={{{name!r}: {name}}} to load_model.")
        arguments = {k: torch.tensor(v) if isinstance(v, list) else v
                     for k, v in (config.get("arguments") or {}).items()}
        return cls(found(**arguments), name=config.get("name"))

    def __repr__(self) -> str:
        return f"TorchLoss({self.fn!r}, name={self.name!r})"


LOSSES.add("TorchLoss", TorchLoss)  # so a saved compile config finds it (as a class name, not a string id)


def get(identifier: Any) -> Loss | None:
    """`plait.losses.get`, which also takes a torch loss module (`nn.CrossEntropyLoss()`) as a `TorchLoss`.

    Resolves a string id (class name, snake_case id, or alias like 'mse'), a config dict, a Loss class or
    instance, or a plain function `fn(y_true, y_pred)` (wrapped in LossFunctionWrapper).

    Example:
        >>> get("mse").name
        'mean_squared_error'
        >>> get(torch.nn.MSELoss()).name
        'mse_loss'
    """
    if is_torch_loss(identifier):
        return TorchLoss(identifier)
    if isinstance(identifier, type) and issubclass(identifier, nn.modules.loss._Loss):
        return TorchLoss(identifier())
    return LOSSES.get(identifier)


def serialize(loss: Any) -> dict[str, Any]:
    """`{"class_name": ..., "config": {...}}` for a loss (ids, functions and torch losses are resolved first)."""
    return LOSSES.serialize(get(loss), short=True)
