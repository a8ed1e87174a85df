"""TorchMetric: a torchmetrics metric (`MulticlassAccuracy(num_classes=3)`, ...) used as a plait metric.

`compile(metrics=[...])` wraps a torchmetrics object in a `TorchMetric`, which calls it the way torchmetrics
does: `update(preds, target)` per batch with integer class ids as int64 (a `(N, 1)` label column squeezed to
`(N,)`), `compute()` for the result and `reset()` each epoch; the metric follows the predictions' device.
torchmetrics stays optional: plait never imports it; an object is recognised by its class.
"""
from __future__ import annotations

import sys
from typing import Any

import torch

from plait.metrics.metric import METRICS, Metric
from plait.registry import to_snake_case
from plait.tensors import convert_to_tensor
from plait.torch_interop import check_saved_arguments, class_id_layout, same_but_unit_axis, saved_arguments

# Where from_config looks a torchmetrics class up by name (never a module named by a file).
_NAMESPACES = ("torchmetrics", "torchmetrics.classification", "torchmetrics.regression")


def is_torchmetrics_metric(obj: Any) -> bool:
    """Whether `obj` is a torchmetrics `Metric` instance (without importing torchmetrics)."""
    module = sys.modules.get("torchmetrics")
    return module is not None and isinstance(obj, module.Metric)


class TorchMetric(Metric):
    """A torchmetrics metric in plait's metric API: `update_state(y_true, y_pred)` calls
    `update(y_pred, y_true)`, `result()` calls `compute()`, `reset_state()` calls `reset()`.

    `compile(metrics=[...])` wraps torchmetrics objects itself; build one by hand to choose its log name.
    torchmetrics metrics take no sample weights, so one cannot be a `weighted_metrics` entry.

    Args:
        metric: A torchmetrics metric, e.g. `torchmetrics.classification.MulticlassF1Score(num_classes=3)`.
        name: The log name; default: the class name in snake_case ('multiclass_f1_score').

    Example:
        >>> import torch, torchmetrics  # doctest: +SKIP
        >>> m = TorchMetric(torchmetrics.classification.MulticlassAccuracy(num_classes=3))  # doctest: +SKIP
        >>> m.update_state(torch.tensor([[0], [2]]), torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1]]))  # doctest: +SKIP
        >>> float(m.result())  # doctest: +SKIP
        0.5
    """

    def __init__(self, metric: Any, *, name: str | None = None) -> None:
        if not is_torchmetrics_metric(metric):
            raise TypeError(f"TorchMetric wraps a torchmetrics metric object, got {type(metric).__name__}: "
                            f"{metric!r}. Pass plait metrics (or their string ids) to compile directly.")
        super().__init__(name=name or to_snake_case(type(metric).__name__))
        self.metric = metric
        self.higher_is_better = getattr(metric, "higher_is_better", None)

    # update_state is guarded by Metric (no autograd, state follows y_pred's device); so is the wrapped metric.
    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        if sample_weight is not None:
            raise ValueError(f"{type(self.metric).__name__} (torchmetrics) takes no sample weights; list it in "
                             "metrics=[...] rather than weighted_metrics, or use a plait metric, which does.")
        preds = y_pred if isinstance(y_pred, torch.Tensor) else convert_to_tensor(y_pred)
        target = convert_to_tensor(y_true, device=preds.device)
        if self.metric.device != preds.device:
            self.metric.to(preds.device)
        preds, target = self._torch_layout(preds, target)
        try:
            self.metric.update(preds, target)
        except (RuntimeError, ValueError) as err:
            raise ValueError(f"{type(self.metric).__name__}.update failed on the model's output {tuple(preds.shape)} "
                             f"{preds.dtype} and the target {tuple(target.shape)} {target.dtype} (plait calls it as "
                             f"update(preds=y_pred, target=y_true), as torchmetrics does): {err}") from err

    def to(self, device: torch.device | str) -> "TorchMetric":
        super().to(device)
        self.metric.to(device)
        return self

    @staticmethod
    def _torch_layout(preds: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        preds, target, class_ids = class_id_layout(preds, target)
        if class_ids:
            return preds, target
        if same_but_unit_axis(target.shape, preds.shape):
            target = target.reshape(preds.shape)  # (N,) targets for a (N, 1) output, and back
        if target.is_floating_point() and preds.is_floating_point() and target.dtype != preds.dtype:
            target = target.to(preds.dtype)
        return preds, target

    def result(self) -> Any:
        return self.metric.compute()

    def reset_state(self) -> None:
        self.metric.reset()

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        """`{'name', 'metric': the torchmetrics class name, 'arguments': its constructor arguments}`.

        Arguments the metric does not keep as attributes of the same name are listed under
        'unsaved_arguments'; loading then refuses to compile (load with compile=False and compile again).
        """
        return {"name": self.name, "metric": type(self.metric).__name__,
                **saved_arguments(self.metric, "torchmetrics metric")}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "TorchMetric":
        """Rebuilds the metric from torchmetrics' own classes (looked up by name; torchmetrics must be installed)."""
        name = config.get("metric")
        check_saved_arguments(config, "torchmetrics metric", name)
        try:
            import torchmetrics  # noqa: F401  (optional dependency, only when a saved config names one)
        except ImportError:
            raise ValueError(f"The model was compiled with the torchmetrics metric {name!r}; install torchmetrics "
                             "to load it compiled, or load it with compile=False.") from None
        found = None
        if isinstance(name, str) and not name.startswith("_"):
            for namespace in _NAMESPACES:
                found = getattr(sys.modules.get(namespace), name, None)
                if found is not None:
                    break
        if not (isinstance(found, type) and issubclass(found, sys.modules["torchmetrics"].Metric)):
            raise ValueError(f"Unknown torchmetrics metric {name!r}; plait rebuilds the classes of "
                             f"{', '.join(_NAMESPACES)} only. Load the model with compile=False and compile it again.")
        return cls(found(**dict(config.get("arguments") or {})), name=config.get("name"))

    def __repr__(self) -> str:
        return f"TorchMetric({self.metric!r}, name={self.name!r})"


METRICS.add("TorchMetric", TorchMetric)  # so a saved compile config finds it (as a class name, not a string id)


def as_torch_metric(identifier: Any) -> TorchMetric | None:
    """A torchmetrics metric object as a `TorchMetric`; None for anything that does not come from torchmetrics.

    Raises:
        TypeError: For a torchmetrics object that is not a metric instance (a class, a `MetricCollection`).
    """
    if is_torchmetrics_metric(identifier):
        return TorchMetric(identifier)
    module = getattr(identifier if isinstance(identifier, type) else type(identifier), "__module__", "") or ""
    if module.split(".")[0] == "torchmetrics":
        what = identifier.__name__ if isinstance(identifier, type) else type(identifier).__name__
        fix = ("its metrics as a list, metrics=[...]" if what == "MetricCollection" else
               f"an instance with its arguments, e.g. {what}(num_classes=3)")
        raise TypeError(f"compile's metrics take torchmetrics Metric objects, got {what}; pass {fix}.")
    return None
