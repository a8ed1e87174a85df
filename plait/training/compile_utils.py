"""What `compile` resolves: losses per output, metrics per output, and the 'accuracy' shape rule."""
from __future__ import annotations

import math
from typing import Any

import torch

from plait import losses as losses_mod
from plait import metrics as metrics_mod
from plait.losses.torch_loss import TorchLoss, is_torch_loss
from plait.metrics.torchmetrics_bridge import TorchMetric, is_torchmetrics_metric

_ACCURACY_IDS = ("accuracy", "acc")
_CROSSENTROPY_IDS = ("crossentropy", "ce")


def _is_binary_crossentropy(loss: Any) -> bool:
    if isinstance(loss, losses_mod.BinaryCrossentropy):
        return True
    if isinstance(loss, TorchLoss):
        return isinstance(loss.module, (torch.nn.BCELoss, torch.nn.BCEWithLogitsLoss))
    fn = getattr(loss, "fn", loss)
    return getattr(fn, "__name__", "") == "binary_crossentropy"


def _trains_logits(loss: Any) -> bool:
    """Whether a binary crossentropy scores logits (then 'accuracy' thresholds the sigmoid, not the logit)."""
    if isinstance(loss, TorchLoss):
        return isinstance(loss.module, torch.nn.BCEWithLogitsLoss)
    return isinstance(loss, losses_mod.BinaryCrossentropy) and bool(getattr(loss, "_fn_kwargs", {}).get("from_logits"))


def resolve_accuracy(name: str, y_true: torch.Tensor, y_pred: torch.Tensor, loss: Any = None) -> Any:
    """Keras's shape rule for 'accuracy', with two deliberate fixes.

    Keras 3 picks CategoricalAccuracy for multi-label targets trained with binary crossentropy (an argmax
    over independent sigmoids, rarely what anyone wants). plait picks BinaryAccuracy there, as Keras 2 did.
    With a binary crossentropy on logits (`from_logits=True`, `torch.nn.BCEWithLogitsLoss`), Keras compares
    the logits with 0.5; plait's BinaryAccuracy takes `from_logits=True` and thresholds their sigmoid.
    """
    is_binary = y_pred.shape[-1] == 1 if y_pred.dim() else True
    is_sparse = y_true.dim() < y_pred.dim() or (y_true.shape[-1] == 1 and y_pred.shape[-1] > 1)
    logits = _trains_logits(loss)
    if is_binary:
        return metrics_mod.BinaryAccuracy(name=name, from_logits=logits)
    if is_sparse:
        return metrics_mod.SparseCategoricalAccuracy(name=name)
    if _is_binary_crossentropy(loss):
        return metrics_mod.BinaryAccuracy(name=name, from_logits=logits)
    return metrics_mod.CategoricalAccuracy(name=name)


def resolve_crossentropy(y_true: torch.Tensor, y_pred: torch.Tensor) -> Any:
    """`loss='crossentropy'`/'ce': binary, sparse categorical or categorical from the shapes (Keras rule)."""
    if y_pred.shape[-1] == 1:
        return losses_mod.BinaryCrossentropy()
    if y_true.dim() < y_pred.dim() or y_true.shape[-1] == 1:
        return losses_mod.SparseCategoricalCrossentropy()
    return losses_mod.CategoricalCrossentropy()


def _per_output(spec: Any, output_names: list[str], what: str) -> list[Any]:
    """Spreads a per-output spec (single value, list, or dict keyed by output name) to one entry per output."""
    n = len(output_names)
    if isinstance(spec, dict):
        unknown = set(spec) - set(output_names)
        if unknown:
            raise ValueError(f"{what} names outputs {sorted(unknown)} that the model does not have; "
                             f"its outputs are {output_names}.")
        return [spec.get(name) for name in output_names]
    if isinstance(spec, (list, tuple)):
        if len(spec) != n:
            raise ValueError(f"{what} has {len(spec)} entries but the model has {n} outputs {output_names}.")
        return list(spec)
    return [spec] * n


class CompileLoss:
    """The total training loss: one loss per output, weighted by `loss_weights`, summed."""

    def __init__(self, loss: Any, loss_weights: Any = None) -> None:
        self.spec = loss
        self.loss_weights_spec = loss_weights
        for spec in _listify(list(loss.values()) if isinstance(loss, dict) else loss):
            if isinstance(spec, str) and spec.lower() not in _CROSSENTROPY_IDS:
                losses_mod.get(spec)  # an unknown id fails at compile time, with suggestions
            elif is_torch_loss(spec):
                losses_mod.get(spec)  # a torch loss of three inputs fails at compile time
        self.losses: list[Any] | None = None
        self.weights: list[float] | None = None
        self.output_shapes: list[tuple] = []  # each output's shape without the batch axis, from the first batch
        for w in _listify(list(loss_weights.values()) if isinstance(loss_weights, dict) else loss_weights):
            _check_loss_weight(w)

    def build(self, y_true: list[torch.Tensor], y_pred: list[torch.Tensor], output_names: list[str]) -> None:
        specs = _per_output(self.spec, output_names, "loss")
        resolved = []
        for spec, yt, yp in zip(specs, y_true, y_pred):
            if isinstance(spec, str) and spec.lower() in _CROSSENTROPY_IDS:
                resolved.append(resolve_crossentropy(yt, yp))
            else:
                resolved.append(losses_mod.get(spec) if spec is not None else None)
        self.losses = resolved
        self.output_shapes = [tuple(yp.shape[1:]) if isinstance(yp, torch.Tensor) else () for yp in y_pred]
        weights = _per_output(self.loss_weights_spec, output_names, "loss_weights")
        self.weights = [1.0 if w is None else float(w) for w in weights]

    def __call__(self, y_true: list[torch.Tensor], y_pred: list[torch.Tensor],
                 sample_weight: torch.Tensor | None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        total, parts = None, []
        for loss, w, yt, yp in zip(self.losses, self.weights, y_true, y_pred):
            if loss is None:
                continue
            value = loss(yt, yp, sample_weight=sample_weight)
            if isinstance(value, torch.Tensor) and value.dim():
                raise ValueError(
                    f"The loss {getattr(loss, 'name', loss)!r} returned a tensor of shape {tuple(value.shape)}, but "
                    "training needs one number per batch. Give the loss a reduction that returns a scalar: "
                    "reduction='sum_over_batch_size' (plait's default) or, for a torch loss, reduction='mean'.")
            parts.append(value)
            value = value if w == 1.0 else value * w
            total = value if total is None else total + value
        return total, parts


class CompileMetrics:
    """The metrics given to compile, resolved per output on the first batch, with Keras's log names."""

    def __init__(self, metrics: Any, weighted_metrics: Any) -> None:
        self.metrics_spec = metrics
        self.weighted_spec = weighted_metrics
        for spec in (metrics, weighted_metrics):
            for item in _flatten_spec(spec):
                if isinstance(item, str) and item.lower() not in _ACCURACY_IDS:
                    metrics_mod.get(item)  # an unknown id fails at compile time, with suggestions
                elif not isinstance(item, (str, metrics_mod.Metric)):
                    metrics_mod.get(item)  # e.g. a torchmetrics class rather than an instance, refused now
        for item in _flatten_spec(weighted_metrics):
            if is_torchmetrics_metric(item) or isinstance(item, TorchMetric):
                shown = type(getattr(item, "metric", item)).__name__
                raise ValueError(f"weighted_metrics got the torchmetrics metric {shown}, but "
                                 "torchmetrics metrics take no sample weights. List it in metrics=[...], or use a "
                                 "plait metric (e.g. plait.metrics.F1Score) in weighted_metrics.")
        self.entries: list[tuple[Any, int, bool]] = []  # (metric, output index, weighted)
        self.log_names: list[str] = []  # Keras's log name of each entry ('accuracy', 'out_a_accuracy', ...)
        self.built = False

    @staticmethod
    def _as_list(spec: Any, output_names: list[str], what: str) -> list[list[Any]]:
        n = len(output_names)
        if spec is None:
            return [[] for _ in range(n)]
        if isinstance(spec, str) or not isinstance(spec, (list, tuple, dict)):
            spec = [spec]
        if isinstance(spec, dict):
            unknown = set(spec) - set(output_names)
            if unknown:
                raise ValueError(f"{what} names outputs {sorted(unknown)} that the model does not have; "
                                 f"its outputs are {output_names}.")
            return [_listify(spec.get(name)) for name in output_names]
        if n > 1 and all(isinstance(s, (list, tuple)) or s is None for s in spec) and len(spec) == n:
            return [_listify(s) for s in spec]
        return [list(spec) for _ in range(n)]

    def build(self, y_true: list[torch.Tensor], y_pred: list[torch.Tensor], output_names: list[str],
              losses: list[Any]) -> None:
        per_output = self._as_list(self.metrics_spec, output_names, "metrics")
        weighted = self._as_list(self.weighted_spec, output_names, "weighted_metrics")
        names: set[str] = set()
        for weighted_flag, groups in ((False, per_output), (True, weighted)):
            for i, group in enumerate(groups):
                for spec in group:
                    metric = self._resolve(spec, y_true[i], y_pred[i], losses[i] if losses else None)
                    base = metric.name
                    if len(output_names) > 1:
                        base = f"{output_names[i]}_{base}"
                    if weighted_flag and base in names:
                        base = f"weighted_{base}"
                    name, k = base, 0
                    while name in names:
                        k += 1
                        name = f"{base}_{k}"
                    names.add(name)
                    self.log_names.append(name)
                    self.entries.append((metric, i, weighted_flag))
        self.built = True

    @staticmethod
    def _resolve(spec: Any, y_true: torch.Tensor, y_pred: torch.Tensor, loss: Any) -> Any:
        if isinstance(spec, str) and spec.lower() in _ACCURACY_IDS:
            return resolve_accuracy(spec, y_true, y_pred, loss)
        if isinstance(spec, metrics_mod.Metric):
            return spec
        return metrics_mod.get(spec)

    def update_state(self, y_true: list[torch.Tensor], y_pred: list[torch.Tensor],
                     sample_weight: torch.Tensor | None) -> None:
        for metric, i, weighted in self.entries:
            metric.update_state(y_true[i], y_pred[i], sample_weight if weighted else None)

    @property
    def metrics(self) -> list[Any]:
        return [m for m, _, _ in self.entries]

    @property
    def named_metrics(self) -> list[tuple[str, Any]]:
        """(log name, metric) of each resolved metric, in log order."""
        return [(name, m) for name, (m, _, _) in zip(self.log_names, self.entries)]


def _check_loss_weight(weight: Any) -> None:
    if weight is None:
        return
    try:
        value = float(weight)
    except (TypeError, ValueError):
        raise TypeError(f"loss_weights must be numbers (one per output), got {weight!r}.") from None
    if isinstance(weight, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"loss_weights must be finite, non-negative numbers, got {weight!r}. A weight scales its "
                         "output's loss in the total that is minimized, e.g. loss_weights=[1.0, 0.5].")


def _listify(spec: Any) -> list[Any]:
    if spec is None:
        return []
    return list(spec) if isinstance(spec, (list, tuple)) else [spec]



def _flatten_spec(spec: Any) -> list[Any]:
    if isinstance(spec, dict):
        return [item for value in spec.values() for item in _flatten_spec(value)]
    if isinstance(spec, (list, tuple)):
        return [item for value in spec for item in _flatten_spec(value)]
    return [] if spec is None else [spec]
