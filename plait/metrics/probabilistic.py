"""Probabilistic metrics: the crossentropies, KL divergence and Poisson as running (weighted) means.

Each is the mean over samples of the per-sample loss of the same name in `plait.losses` (with the
loss's clipping to [1e-7, 1 - 1e-7] and its numerically stable `from_logits` paths). plait
difference: a rank-1 batch of binary labels and probabilities is N samples, not one (Keras averages
it into a single value that then counts once). Sparse crossentropy positions labelled `ignore_class`
leave the mean, as in Keras; labels outside `[0, num_classes)` give NaN instead of an error, because
checking them would read the labels on the host.
"""
from __future__ import annotations

from typing import Any

import torch

from plait.losses.probabilistic import (
    binary_crossentropy,
    categorical_crossentropy,
    kl_divergence,
    poisson,
    sparse_crossentropy_and_mask,
)
from plait.metrics.metric import METRICS
from plait.metrics.reduction import Mean, MeanMetricWrapper


def _column(y_true: torch.Tensor, y_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # One value per sample for rank-1 inputs: (N,) -> (N, 1) before the loss averages the last axis.
    if y_pred.dim() == 1:
        y_pred = y_pred.unsqueeze(-1)
        if y_true.dim() == 1:
            y_true = y_true.unsqueeze(-1)
    return y_true, y_pred


def _binary_crossentropy(y_true: Any, y_pred: Any, **kwargs: Any) -> torch.Tensor:
    return binary_crossentropy(*_column(y_true, y_pred), **kwargs)


def _poisson(y_true: Any, y_pred: Any) -> torch.Tensor:
    return poisson(*_column(y_true, y_pred))


class _LossMean(MeanMetricWrapper):
    higher_is_better = False
    _arg_names: tuple[str, ...] = ()

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, **{k: getattr(self, k) for k in self._arg_names}}


@METRICS.register("bce", "BCE")
class BinaryCrossentropy(_LossMean):
    """Mean binary crossentropy between 0/1 (or soft) labels and predicted probabilities.

    Args:
        name: name of the metric.
        dtype: dtype of the states and the result.
        from_logits: y_pred holds logits.
        label_smoothing: squeezes labels towards 0.5: `y * (1 - ls) + 0.5 * ls`.

    Example:
        >>> m = BinaryCrossentropy()
        >>> round(float(m([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])), 4)
        0.8149
    """

    _arg_names = ("from_logits", "label_smoothing")

    def __init__(self, name: str = "binary_crossentropy", dtype: str | torch.dtype | None = None,
                 from_logits: bool = False, label_smoothing: float = 0.0) -> None:
        super().__init__(_binary_crossentropy, name=name, dtype=dtype, from_logits=bool(from_logits),
                         label_smoothing=float(label_smoothing))
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)


@METRICS.register()
class CategoricalCrossentropy(_LossMean):
    """Mean categorical crossentropy between one-hot labels and predicted class probabilities.

    Args:
        name: name of the metric.
        dtype: dtype of the states and the result.
        from_logits: y_pred holds logits.
        label_smoothing: mixes labels with the uniform distribution.
        axis: the class axis.

    Example:
        >>> m = CategoricalCrossentropy()
        >>> round(float(m([[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]])), 4)
        1.1769
    """

    _arg_names = ("from_logits", "label_smoothing", "axis")

    def __init__(self, name: str = "categorical_crossentropy", dtype: str | torch.dtype | None = None,
                 from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1) -> None:
        super().__init__(categorical_crossentropy, name=name, dtype=dtype, from_logits=bool(from_logits),
                         label_smoothing=float(label_smoothing), axis=axis)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.axis = axis


@METRICS.register()
class SparseCategoricalCrossentropy(_LossMean):
    """Mean crossentropy between integer class ids and predicted class probabilities.

    Args:
        name: name of the metric.
        dtype: dtype of the states and the result.
        from_logits: y_pred holds logits.
        ignore_class: a label whose positions are left out of the mean (e.g. padding), or None.
        axis: the class axis of y_pred.

    Example:
        >>> m = SparseCategoricalCrossentropy()
        >>> round(float(m([1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]])), 4)
        1.1769
    """

    _arg_names = ("from_logits", "ignore_class", "axis")

    def __init__(self, name: str = "sparse_categorical_crossentropy", dtype: str | torch.dtype | None = None,
                 from_logits: bool = False, ignore_class: int | None = None, axis: int = -1) -> None:
        super().__init__(sparse_crossentropy_and_mask, name=name, dtype=dtype)
        self.from_logits = bool(from_logits)
        self.ignore_class = ignore_class
        self.axis = axis

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds one batch; positions labelled `ignore_class` get weight 0."""
        y_pred = self._to_tensor(y_pred)
        y_true = self._to_tensor(y_true)
        values, mask = sparse_crossentropy_and_mask(y_true, y_pred, self.from_logits, self.ignore_class,
                                                    self.axis, validate=False)
        if mask is not None:
            weight = mask.to(self._dtype)
            if sample_weight is not None:
                w = self._to_tensor(sample_weight, dtype=self._dtype)
                while w.dim() > weight.dim() and w.shape[-1] == 1:
                    w = w.squeeze(-1)
                while w.dim() < weight.dim():
                    w = w.unsqueeze(-1)
                weight = weight * w
            sample_weight = weight
        Mean.update_state(self, values, sample_weight=sample_weight)


@METRICS.register("kld", "KLD", "kullback_leibler_divergence")
class KLDivergence(_LossMean):
    """Mean Kullback-Leibler divergence `sum(y_true * log(y_true / y_pred))` over the last axis.

    Args:
        name: name of the metric.
        dtype: dtype of the states and the result.

    Example:
        >>> m = KLDivergence()
        >>> round(float(m([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])), 4)
        0.4581
    """

    def __init__(self, name: str = "kl_divergence", dtype: str | torch.dtype | None = None) -> None:
        super().__init__(kl_divergence, name=name, dtype=dtype)


@METRICS.register()
class Poisson(_LossMean):
    """Mean Poisson negative log-likelihood `y_pred - y_true * log(y_pred + eps)` (up to a constant).

    Args:
        name: name of the metric.
        dtype: dtype of the states and the result.

    Example:
        >>> m = Poisson()
        >>> round(float(m([[0, 1], [0, 0]], [[1, 1], [0, 0]])), 4)
        0.5
    """

    def __init__(self, name: str = "poisson", dtype: str | torch.dtype | None = None) -> None:
        super().__init__(_poisson, name=name, dtype=dtype)
