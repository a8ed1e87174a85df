"""Regression metrics (MSE, MAE, RMSE, MAPE, MSLE, log-cosh, cosine similarity, R2) with per-sample twins.

The twins mirror Keras's loss functions but live here, so metrics do not depend on `plait.losses`.
Each returns one value per sample: the mean over the last axis for inputs of rank >= 2, and the
element itself for rank-1 inputs, which are read as one scalar target per sample. (Keras averages a
rank-1 batch into a single value that then counts as one sample; plait weights every sample.)
`cosine_similarity` is the exception: a rank-1 input is one vector, as in Keras. `R2Score` is not a
mean of per-sample values: it keeps running sums per output column.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from plait import config
from plait.metrics.metric import METRIC_FUNCTIONS, METRICS, Metric, input_tensor as _tensor
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


@METRICS.register("r2")
class R2Score(Metric):
    """Coefficient of determination R^2 over all samples seen, per output column then aggregated.

    `R^2 = 1 - sum(w (y - y_hat)^2) / sum(w (y - mean_w(y))^2)` per column, from running weighted
    sums (float64, so the streaming form keeps full precision). A constant target column scores 1.0
    when predicted exactly and 0.0 otherwise (scikit-learn's `force_finite`; Keras gives 0 or NaN).
    Inputs are (batch, outputs); 1-D inputs are one output (plait; Keras requires rank 2).

    Args:
        class_aggregation: 'uniform_average' (mean over columns), 'variance_weighted_average' (weighted
            by each column's variance) or None (per-column scores).
        num_regressors: p > 0 gives the adjusted R^2 `1 - (1 - R^2)(n - 1)/(n - p - 1)`, n the number of
            samples (rows; Keras counts elements); it falls back to plain R^2 when `p >= n - 1`.
        name: name of the metric.
        dtype: dtype of the result.

    Example:
        >>> m = R2Score()
        >>> round(float(m([[1], [4], [3]], [[2], [4], [4]])), 4)
        0.5714
    """

    higher_is_better = True
    _SUMS = ("sum", "squared_sum", "total_mse", "count")

    def __init__(self, class_aggregation: str | None = "uniform_average", num_regressors: int = 0,
                 name: str = "r2_score", dtype: str | torch.dtype | None = None) -> None:
        super().__init__(dtype=dtype, name=name)
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ValueError("class_aggregation must be None, 'uniform_average' or 'variance_weighted_average', "
                             f"got {class_aggregation!r}.")
        if isinstance(num_regressors, bool) or not isinstance(num_regressors, int) or num_regressors < 0:
            raise ValueError(f"num_regressors must be an integer >= 0, got {num_regressors!r}.")
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        for state in self._SUMS:
            self.add_state(state, torch.zeros(0, dtype=torch.float64), reduce="sum")
        self.add_state("num_samples", torch.zeros((), dtype=torch.float64), reduce="sum")

    def _build(self, width: int) -> None:
        current = self.sum.shape[0]
        if current == width:
            return
        if current:
            raise ValueError(f"{self.name}: y_pred has {width} output columns but earlier batches had {current}; "
                             "call reset_state() first.")
        for state in self._SUMS:
            value = getattr(self, state)
            value.data = torch.zeros(width, dtype=torch.float64, device=value.device)

    def merge_state(self, metrics: Any) -> "R2Score":
        others = [metrics] if isinstance(metrics, Metric) else list(metrics)
        built = [m for m in others if not isinstance(m, R2Score) or m.sum.shape[0]]
        for other in built:
            if isinstance(other, R2Score):
                self._build(other.sum.shape[0])
        return super().merge_state(built) if built else self

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds one batch of (batch, outputs) or (batch,) targets and predictions."""
        y_pred = self._to_tensor(y_pred, dtype=torch.float64)
        y_true = self._to_tensor(y_true, dtype=torch.float64)
        y_true, y_pred = align_ranks(y_true, y_pred)
        if y_pred.dim() == 1:
            y_true, y_pred = y_true.unsqueeze(-1), y_pred.unsqueeze(-1)
        if y_pred.dim() != 2 or y_true.shape != y_pred.shape:
            raise ValueError(f"{self.name} expects y_true and y_pred of the same shape (batch, outputs) or (batch,), "
                             f"got {tuple(y_true.shape)} and {tuple(y_pred.shape)}.")
        weight = torch.ones((), dtype=torch.float64, device=y_pred.device)
        if sample_weight is not None:
            weight = self._to_tensor(sample_weight, dtype=torch.float64)
            if weight.dim() == 1:
                weight = weight.unsqueeze(-1)
            try:
                weight = weight.broadcast_to(y_true.shape)
            except RuntimeError as err:
                raise ValueError(f"{self.name}: sample_weight of shape {tuple(weight.shape)} does not match "
                                 f"y_true of shape {tuple(y_true.shape)}; pass one weight per sample.") from err
        self._build(y_pred.shape[1])
        weighted = y_true * weight
        self.sum.add_(weighted.sum(dim=0))
        self.squared_sum.add_((y_true * weighted).sum(dim=0))
        self.total_mse.add_(((y_true - y_pred).square() * weight).sum(dim=0))
        self.count.add_(weight.broadcast_to(y_true.shape).sum(dim=0))
        self.num_samples.add_(y_true.shape[0])

    def result(self) -> torch.Tensor:
        mean = self.sum / torch.where(self.count == 0, 1.0, self.count)
        total = (self.squared_sum - self.sum * mean).clamp_min(0.0)
        constant = total <= 1e-12 * self.squared_sum.abs().clamp_min(1e-300)
        scores = torch.where(constant, torch.where(self.total_mse == 0, 1.0, 0.0),
                             1.0 - self.total_mse / torch.where(constant, 1.0, total))
        if self.class_aggregation == "uniform_average":
            r2 = scores.sum() / max(scores.shape[0], 1)
        elif self.class_aggregation == "variance_weighted_average":
            total_sum = total.sum()
            r2 = torch.where(total_sum > 0, (total * scores).sum() / torch.where(total_sum > 0, total_sum, 1.0),
                             scores.sum() / max(scores.shape[0], 1))
        else:
            r2 = scores
        if self.num_regressors:
            n, p = self.num_samples, float(self.num_regressors)
            dof = n - p - 1.0
            adjusted = 1.0 - (1.0 - r2) * (n - 1.0) / torch.where(dof > 0, dof, 1.0)
            r2 = torch.where(dof > 0, adjusted, r2)
        return r2.to(self._dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}
