"""Regression metrics (MSE, MAE, RMSE, MAPE, MSLE, log-cosh, cosine similarity) with per-sample twins.

The twins mirror Keras's loss functions but live here, so metrics do not depend on `plait.losses`.
Each returns one value per sample: the mean over the last axis for inputs of rank >= 2, and the
element itself for rank-1 inputs, which are read as one scalar target per sample. (Keras averages a
rank-1 batch into a single value that then counts as one sample; plait weights every sample.)
`cosine_similarity` is the exception: a rank-1 input is one vector, as in Keras.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from plait import config
from plait.metrics.metric import METRIC_FUNCTIONS, METRICS, input_tensor as _tensor
from plait.metrics.reduction import Mean, MeanMetricWrapper
from plait.tensors import align_ranks


def _pair(y_true: Any, y_pred: Any) -> tuple[torch.Tensor, torch.Tensor]:
    y_pred = _tensor(y_pred)
    if not y_pred.is_floating_point():
        y_pred = y_pred.to(config.float_dtype())
    y_true = _tensor(y_true, dtype=y_pred.dtype, device=y_pred.device)
    return align_ranks(y_true, y_pred)


def _per_sample(x: torch.Tensor) -> torch.Tensor:
    return x.mean(dim=-1) if x.dim() >= 2 else x


def _lower_is_better(fn):
    fn.higher_is_better = False
    return METRIC_FUNCTIONS.register()(fn)


@_lower_is_better
def mean_squared_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample `mean((y_true - y_pred) ** 2)` over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    return _per_sample((y_true - y_pred).square())


@_lower_is_better
def mean_absolute_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample `mean(|y_true - y_pred|)` over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    return _per_sample((y_true - y_pred).abs())


@_lower_is_better
def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample `100 * mean(|y_true - y_pred| / max(|y_true|, epsilon))`, a percentage (Keras's)."""
    y_true, y_pred = _pair(y_true, y_pred)
    return 100.0 * _per_sample(((y_true - y_pred) / y_true.abs().clamp_min(config.epsilon())).abs())


@_lower_is_better
def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample `mean((log1p(max(y_pred, eps)) - log1p(max(y_true, eps))) ** 2)` over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    eps = config.epsilon()
    return _per_sample((torch.log1p(y_pred.clamp_min(eps)) - torch.log1p(y_true.clamp_min(eps))).square())


@_lower_is_better
def log_cosh(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample `mean(log(cosh(y_pred - y_true)))` over the last axis.

    Small errors use `log1p(2 * sinh(x / 2) ** 2)`, which keeps full relative precision where Keras's
    `x + softplus(-2x) - log(2)` cancels; large errors use the latter, which cannot overflow.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    x = (y_pred - y_true).abs()
    small = torch.log1p(2.0 * torch.sinh(x.clamp_max(10.0) / 2.0).square())
    large = x + torch.nn.functional.softplus(-2.0 * x) - math.log(2.0)
    return _per_sample(torch.where(x < 10.0, small, large))


def _l2_normalize(x: torch.Tensor, dim: int) -> torch.Tensor:
    norm = x.square().sum(dim=dim, keepdim=True).sqrt()
    return x / norm.clamp_min(config.epsilon())


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> torch.Tensor:
    """Per-sample cosine similarity along `axis` (a zero vector gives 0); a rank-1 input is one vector."""
    y_true, y_pred = _pair(y_true, y_pred)
    return (_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis)).sum(dim=axis)


cosine_similarity.higher_is_better = True  # type: ignore[attr-defined]
METRIC_FUNCTIONS.register()(cosine_similarity)


@METRICS.register("mse", "MSE")
class MeanSquaredError(MeanMetricWrapper):
    """Mean squared error: `mean((y_true - y_pred) ** 2)` over all samples seen.

    Args:
        name: name of the metric.
        dtype: dtype of the states and the result.

    Example:
        >>> m = MeanSquaredError()
        >>> float(m([[0, 1], [0, 0]], [[1, 1], [0, 0]]))
        0.25
    """

    higher_is_better = False

    def __init__(self, name: str = "mean_squared_error", dtype: str | torch.dtype | None = None) -> None:
        super().__init__(mean_squared_error, name=name, dtype=dtype)


@METRICS.register("mae", "MAE")
class MeanAbsoluteError(MeanMetricWrapper):
    """Mean absolute error: `mean(|y_true - y_pred|)` over all samples seen.

    Args:
        name: name of the metric.
        dtype: dtype of the states and the result.

    Example:
        >>> m = MeanAbsoluteError()
        >>> float(m([[0, 1], [0, 0]], [[1, 1], [0, 0]]))
        0.25
    """

    higher_is_better = False

    def __init__(self, name: str = "mean_absolute_error", dtype: str | torch.dtype | None = None) -> None:
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


@METRICS.register("mape", "MAPE")
class MeanAbsolutePercentageError(MeanMetricWrapper):
    """Mean absolute percentage error, in percent: `100 * mean(|y_true - y_pred| / |y_true|)`.

    `|y_true|` is clipped below at epsilon (1e-7), so a zero target gives a huge, finite error.
    scikit-learn's `mean_absolute_percentage_error` returns the fraction (this divided by 100).

    Args:
        name: name of the metric.
        dtype: dtype of the states and the result.

    Example:
        >>> m = MeanAbsolutePercentageError()
        >>> round(float(m([2.0, 4.0], [1.0, 5.0])), 4)
        37.5
    """

    higher_is_better = False

    def __init__(self, name: str = "mean_absolute_percentage_error",
                 dtype: str | torch.dtype | None = None) -> None:
        super().__init__(mean_absolute_percentage_error, name=name, dtype=dtype)


@METRICS.register("msle", "MSLE")
class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """Mean squared logarithmic error: `mean((log(1 + y_pred) - log(1 + y_true)) ** 2)`.

    Values are clipped below at epsilon first, so negative inputs count as 0.

    Args:
        name: name of the metric.
        dtype: dtype of the states and the result.

    Example:
        >>> m = MeanSquaredLogarithmicError()
        >>> round(float(m([[0, 1], [0, 0]], [[1, 1], [0, 0]])), 6)
        0.120113
    """

    higher_is_better = False

    def __init__(self, name: str = "mean_squared_logarithmic_error",
                 dtype: str | torch.dtype | None = None) -> None:
        super().__init__(mean_squared_logarithmic_error, name=name, dtype=dtype)


@METRICS.register("rmse")
class RootMeanSquaredError(Mean):
    """Root mean squared error: `sqrt(mean((y_pred - y_true) ** 2))` over all samples seen.

    The root is taken of the accumulated (weighted) mean, not averaged per batch.

    Args:
        name: name of the metric.
        dtype: dtype of the states and the result.

    Example:
        >>> m = RootMeanSquaredError()
        >>> float(m([[0, 1], [0, 0]], [[1, 1], [0, 0]]))
        0.5
    """

    higher_is_better = False

    def __init__(self, name: str = "root_mean_squared_error", dtype: str | torch.dtype | None = None) -> None:
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds the squared errors of one batch, optionally weighted per sample."""
        y_pred = self._to_tensor(y_pred)
        y_true = self._to_tensor(y_true)
        y_true, y_pred = _pair(y_true, y_pred)
        super().update_state((y_pred - y_true).square(), sample_weight=sample_weight)

    def result(self) -> torch.Tensor:
        return super().result().sqrt()


@METRICS.register("logcosh", "log_cosh")
class LogCoshError(MeanMetricWrapper):
    """Mean of `log(cosh(y_pred - y_true))`: like MSE / 2 for small errors and MAE for large ones.

    Args:
        name: name of the metric (Keras's default is 'logcosh').
        dtype: dtype of the states and the result.

    Example:
        >>> m = LogCoshError()
        >>> round(float(m([[0, 1], [0, 0]], [[1, 1], [0, 0]])), 6)
        0.108445
    """

    higher_is_better = False

    def __init__(self, name: str = "logcosh", dtype: str | torch.dtype | None = None) -> None:
        super().__init__(log_cosh, name=name, dtype=dtype)


@METRICS.register()
class CosineSimilarity(MeanMetricWrapper):
    """Mean cosine similarity between `y_true` and `y_pred` along `axis`.

    Args:
        name: name of the metric.
        dtype: dtype of the states and the result.
        axis: the axis holding each vector.

    Example:
        >>> m = CosineSimilarity(axis=1)
        >>> round(float(m([[0., 1.], [1., 1.]], [[1., 0.], [1., 1.]])), 6)
        0.5
    """

    higher_is_better = True

    def __init__(self, name: str = "cosine_similarity", dtype: str | torch.dtype | None = None,
                 axis: int = -1) -> None:
        super().__init__(cosine_similarity, name=name, dtype=dtype, axis=axis)
        self.axis = axis
