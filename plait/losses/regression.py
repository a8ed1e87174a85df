"""Regression and margin losses: MSE, MAE, MAPE, MSLE, Huber, LogCosh, CosineSimilarity, hinge losses.

Each class sits beside its function twin; a twin takes `(y_true, y_pred)` and returns per-sample losses
(the last axis reduced), as in Keras.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from plait import config
from plait.losses.loss import LOSSES, _BuiltinWrapper, check_broadcastable, prepare_pair, register_loss_function

_SUM = "sum_over_batch_size"


def _pair(y_true: Any, y_pred: Any, loss_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    t, p = prepare_pair(y_true, y_pred)
    check_broadcastable(t, p, loss_name)
    return t, p


@register_loss_function
def mean_squared_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample `mean((y_true - y_pred)**2, axis=-1)`."""
    t, p = _pair(y_true, y_pred, "mean_squared_error")
    return (t - p).square().mean(dim=-1)


@register_loss_function
def mean_absolute_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample `mean(|y_true - y_pred|, axis=-1)`."""
    t, p = _pair(y_true, y_pred, "mean_absolute_error")
    return (t - p).abs().mean(dim=-1)


@register_loss_function
def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample `100 * mean(|(y_true - y_pred) / max(|y_true|, epsilon)|, axis=-1)`."""
    t, p = _pair(y_true, y_pred, "mean_absolute_percentage_error")
    return 100.0 * ((t - p) / t.abs().clamp_min(config.epsilon())).abs().mean(dim=-1)


@register_loss_function
def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample `mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))**2, axis=-1)`.

    `log1p` stands in for Keras's `log(x + 1)`: the same function, more accurate near 0.
    """
    t, p = _pair(y_true, y_pred, "mean_squared_logarithmic_error")
    eps = config.epsilon()
    return (torch.log1p(p.clamp_min(eps)) - torch.log1p(t.clamp_min(eps))).square().mean(dim=-1)


@register_loss_function
def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> torch.Tensor:
    """Per-sample mean of `0.5 * min(|e|, delta)**2 + delta * (|e| - min(|e|, delta))`, `e = y_pred - y_true`."""
    t, p = _pair(y_true, y_pred, "huber")
    abs_error = (p - t).abs()
    quadratic = abs_error.clamp_max(delta)
    return (0.5 * quadratic.square() + delta * (abs_error - quadratic)).mean(dim=-1)


@register_loss_function
def log_cosh(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample mean of `log(cosh(y_pred - y_true))`, computed as `x + softplus(-2x) - log 2` (no overflow)."""
    t, p = _pair(y_true, y_pred, "log_cosh")
    x = p - t
    return (x + F.softplus(-2.0 * x) - math.log(2.0)).mean(dim=-1)


def _l2_normalize(x: torch.Tensor, axis: int) -> torch.Tensor:
    # Keras's l2_normalize: the epsilon bounds the squared norm, so an all-zero vector stays zero.
    return x * torch.rsqrt(x.square().sum(dim=axis, keepdim=True).clamp_min(1e-12))


@register_loss_function
def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> torch.Tensor:
    """Per-sample `-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`: -1 for identical directions."""
    t, p = _pair(y_true, y_pred, "cosine_similarity")
    return -(_l2_normalize(t, axis) * _l2_normalize(p, axis)).sum(dim=axis)


def _hinge_labels(t: torch.Tensor) -> torch.Tensor:
    # Keras converts {0, 1} labels to {-1, 1} only when every label is 0 or 1; torch.where keeps that
    # decision on the device instead of syncing.
    is_binary = ((t == 0) | (t == 1)).all()
    return torch.where(is_binary, 2.0 * t - 1.0, t)


@register_loss_function
def hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample `mean(max(1 - y_true * y_pred, 0), axis=-1)`; labels in {0, 1} become {-1, 1}."""
    t, p = _pair(y_true, y_pred, "hinge")
    return (1.0 - _hinge_labels(t) * p).clamp_min(0.0).mean(dim=-1)


@register_loss_function
def squared_hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample `mean(max(1 - y_true * y_pred, 0)**2, axis=-1)`; labels in {0, 1} become {-1, 1}."""
    t, p = _pair(y_true, y_pred, "squared_hinge")
    return (1.0 - _hinge_labels(t) * p).clamp_min(0.0).square().mean(dim=-1)


@register_loss_function
def categorical_hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample `max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)` for one-hot y_true."""
    t, p = _pair(y_true, y_pred, "categorical_hinge")
    pos = (t * p).sum(dim=-1)
    neg = ((1.0 - t) * p).amax(dim=-1)
    return (neg - pos + 1.0).clamp_min(0.0)


class _Elementwise(_BuiltinWrapper):
    _per_element = True


@LOSSES.register("mse", "MSE")
class MeanSquaredError(_Elementwise):
    """Mean of squares of errors between labels and predictions.

    Args:
        reduction: See `plait.losses.Loss`.
        name: Default 'mean_squared_error'.
        dtype: See `plait.losses.Loss`.

    Returns:
        Calling it returns the reduced loss.

    Example:
        >>> float(MeanSquaredError()([[0.0, 1.0]], [[1.0, 1.0]]))
        0.5
    """

    def __init__(self, *, reduction: str | None = _SUM, name: str = "mean_squared_error", dtype: Any = None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


@LOSSES.register("mae", "MAE")
class MeanAbsoluteError(_Elementwise):
    """Mean of absolute errors between labels and predictions.

    Args:
        reduction: See `plait.losses.Loss`.
        name: Default 'mean_absolute_error'.
        dtype: See `plait.losses.Loss`.

    Returns:
        Calling it returns the reduced loss.

    Example:
        >>> float(MeanAbsoluteError()([[0.0, 1.0]], [[1.0, 3.0]]))
        1.5
    """

    def __init__(self, *, reduction: str | None = _SUM, name: str = "mean_absolute_error", dtype: Any = None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


@LOSSES.register("mape", "MAPE")
class MeanAbsolutePercentageError(_Elementwise):
    """`100 * mean(|(y_true - y_pred) / y_true|)`, the denominator floored at epsilon.

    Args:
        reduction: See `plait.losses.Loss`.
        name: Default 'mean_absolute_percentage_error'.
        dtype: See `plait.losses.Loss`.

    Returns:
        Calling it returns the reduced loss.

    Example:
        >>> float(MeanAbsolutePercentageError()([[2.0, 4.0]], [[1.0, 4.0]]))
        25.0
    """

    def __init__(self, *, reduction: str | None = _SUM, name: str = "mean_absolute_percentage_error",
                 dtype: Any = None):
        super().__init__(mean_absolute_percentage_error, reduction=reduction, name=name, dtype=dtype)


@LOSSES.register("msle", "MSLE")
class MeanSquaredLogarithmicError(_Elementwise):
    """Mean of squared differences of `log(1 + x)` between labels and predictions (values floored at eps).

    Args:
        reduction: See `plait.losses.Loss`.
        name: Default 'mean_squared_logarithmic_error'.
        dtype: See `plait.losses.Loss`.

    Returns:
        Calling it returns the reduced loss.

    Example:
        >>> round(float(MeanSquaredLogarithmicError()([[0.0]], [[1.718281828]])), 4)
        1.0
    """

    def __init__(self, *, reduction: str | None = _SUM, name: str = "mean_squared_logarithmic_error",
                 dtype: Any = None):
        super().__init__(mean_squared_logarithmic_error, reduction=reduction, name=name, dtype=dtype)


@LOSSES.register("huber_loss")
class Huber(_Elementwise):
    """Quadratic for errors up to `delta`, linear beyond: robust to outliers.

    Args:
        delta: Where the loss turns from quadratic to linear.
        reduction: See `plait.losses.Loss`.
        name: Default 'huber_loss'.
        dtype: See `plait.losses.Loss`.

    Returns:
        Calling it returns the reduced loss.

    Example:
        >>> float(Huber(delta=1.0)([[0.0, 0.0]], [[0.5, 3.0]]))
        1.3125
    """

    _arg_names = ("delta",)

    def __init__(self, delta: float = 1.0, *, reduction: str | None = _SUM, name: str = "huber_loss",
                 dtype: Any = None):
        if not delta > 0:
            raise ValueError(f"Huber delta must be positive, got {delta!r}.")
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=float(delta))


@LOSSES.register("logcosh")
class LogCosh(_Elementwise):
    """Mean of `log(cosh(y_pred - y_true))`: like MSE for small errors, like MAE for large ones.

    Args:
        reduction: See `plait.losses.Loss`.
        name: Default 'log_cosh'.
        dtype: See `plait.losses.Loss`.

    Returns:
        Calling it returns the reduced loss.

    Example:
        >>> round(float(LogCosh()([[0.0]], [[1.0]])), 6)
        0.433781
    """

    def __init__(self, *, reduction: str | None = _SUM, name: str = "log_cosh", dtype: Any = None):
        super().__init__(log_cosh, reduction=reduction, name=name, dtype=dtype)


@LOSSES.register()
class CosineSimilarity(_BuiltinWrapper):
    """Negative cosine similarity along `axis`: -1 when the vectors point the same way, 0 when orthogonal.

    Args:
        axis: The axis along which the similarity is computed.
        reduction: See `plait.losses.Loss`.
        name: Default 'cosine_similarity'.
        dtype: See `plait.losses.Loss`.

    Returns:
        Calling it returns the reduced loss.

    Example:
        >>> round(float(CosineSimilarity()([[1.0, 0.0]], [[2.0, 0.0]])), 6)
        -1.0
    """

    _arg_names = ("axis",)

    def __init__(self, axis: int = -1, *, reduction: str | None = _SUM, name: str = "cosine_similarity",
                 dtype: Any = None):
        super().__init__(cosine_similarity, reduction=reduction, name=name, dtype=dtype, axis=axis)


@LOSSES.register()
class Hinge(_Elementwise):
    """`max(1 - y_true * y_pred, 0)`, for labels in {-1, 1} (labels in {0, 1} are converted).

    Args:
        reduction: See `plait.losses.Loss`.
        name: Default 'hinge'.
        dtype: See `plait.losses.Loss`.

    Returns:
        Calling it returns the reduced loss.

    Example:
        >>> float(Hinge()([[1.0, 0.0]], [[0.5, 0.5]]))
        1.0
    """

    def __init__(self, *, reduction: str | None = _SUM, name: str = "hinge", dtype: Any = None):
        super().__init__(hinge, reduction=reduction, name=name, dtype=dtype)


@LOSSES.register()
class SquaredHinge(_Elementwise):
    """`max(1 - y_true * y_pred, 0)**2`, for labels in {-1, 1} (labels in {0, 1} are converted).

    Args:
        reduction: See `plait.losses.Loss`.
        name: Default 'squared_hinge'.
        dtype: See `plait.losses.Loss`.

    Returns:
        Calling it returns the reduced loss.

    Example:
        >>> float(SquaredHinge()([[1.0, 0.0]], [[0.5, 0.5]]))
        1.25
    """

    def __init__(self, *, reduction: str | None = _SUM, name: str = "squared_hinge", dtype: Any = None):
        super().__init__(squared_hinge, reduction=reduction, name=name, dtype=dtype)


@LOSSES.register()
class CategoricalHinge(_BuiltinWrapper):
    """`max(max_neg - pos + 1, 0)` with `pos = sum(y_true * y_pred)`, `max_neg = max((1 - y_true) * y_pred)`.

    Args:
        reduction: See `plait.losses.Loss`.
        name: Default 'categorical_hinge'.
        dtype: See `plait.losses.Loss`.

    Returns:
        Calling it returns the reduced loss.

    Example:
        >>> round(float(CategoricalHinge()([[0.0, 1.0]], [[0.6, 0.4]])), 6)
        1.2
    """

    def __init__(self, *, reduction: str | None = _SUM, name: str = "categorical_hinge", dtype: Any = None):
        super().__init__(categorical_hinge, reduction=reduction, name=name, dtype=dtype)
