"""Metric identifiers: `plait.metrics.get`, `serialize` and `deserialize`.

They live apart from `metric.py`, which is the base class only, because resolving an identifier needs what is
built on that base: `MeanMetricWrapper` for a bare function (`reduction.py` registers it as the `wrap` of
`METRICS`) and `TorchMetric` for a torchmetrics object. Lookup, configs and custom objects are
`plait.registry.Registry`'s, as for every kind.
"""
from __future__ import annotations

from typing import Any

from plait.metrics.metric import METRICS, Metric
from plait.metrics.torchmetrics_bridge import as_torch_metric

__all__ = ["deserialize", "get", "serialize"]


def get(identifier: Any) -> Metric | None:
    """Resolves a metric identifier to a `Metric` instance.

    Strings are class names, snake_case names or aliases ('mse', 'MAE', 'rmse', ...) and give a metric
    with default arguments whose `name` is the string itself, so `metrics=['MSE']` logs 'MSE'
    (Keras's rule). 'accuracy' gives `Accuracy`; 'acc' is resolved only by `compile`, from shapes.
    Dicts are deserialized, metric classes instantiated, instances passed through, plain functions
    `fn(y_true, y_pred)` wrapped in a `MeanMetricWrapper` named after the function, and torchmetrics
    metric objects wrapped in a `TorchMetric`.

    Args:
        identifier: string, dict, Metric class or instance, callable, torchmetrics metric, or None.

    Returns:
        A Metric, or None for None.

    Example:
        >>> get("mse").name
        'mse'
    """
    wrapped = as_torch_metric(identifier)
    if wrapped is not None:
        return wrapped
    try:
        metric = METRICS.get(identifier)
    except ValueError as err:
        if isinstance(identifier, str) and identifier.lower() == "acc":
            raise ValueError("'acc' is resolved by Model.compile from the shapes of y_true and y_pred; "
                             "outside compile use 'accuracy' or a class such as BinaryAccuracy().") from err
        raise
    if isinstance(identifier, str):
        metric.name = identifier
    return metric


def serialize(metric: Metric) -> dict[str, Any]:
    """`{'class_name': ..., 'config': ...}` for a metric (the layout of plait's compile configs)."""
    return METRICS.serialize(metric, short=True)


def deserialize(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Metric:
    """Rebuilds a metric from `serialize()`'s output.

    Args:
        config: a dict with 'class_name' and 'config'.
        custom_objects: classes (and functions wrapped by `MeanMetricWrapper`) not registered in plait,
            by name.

    Returns:
        The metric.
    """
    return METRICS.deserialize(config, custom_objects)
