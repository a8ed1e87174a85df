"""Mean, Sum and MeanMetricWrapper: the (weighted) running mean or sum that most metrics are made of."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from plait.metrics.metric import METRIC_FUNCTIONS, METRICS, Metric


def _squeeze_or_expand(values: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # Keras's squeeze_or_expand_to_same_rank (expand_rank_1=True): a trailing unit axis is squeezed away,
    # except that a rank-1 partner is expanded to (N, 1) instead.
    rv, rw = values.dim(), weight.dim()
    if rv == rw + 1 and values.shape[-1] == 1:
        if rw == 1:
            weight = weight.unsqueeze(-1)
        else:
            values = values.squeeze(-1)
    elif rw == rv + 1 and weight.shape[-1] == 1:
        if rv == 1:
            values = values.unsqueeze(-1)
        else:
            weight = weight.squeeze(-1)
    return values, weight


def reduce_to_samplewise(values: torch.Tensor, sample_weight: torch.Tensor | None,
                         reduce: str, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Keras's `reduce_to_samplewise_values`: one (weighted) value and one weight per sample.

    Values are reduced over the axes the weight does not have, multiplied by the broadcast weight, then
    reduced over every non-batch axis; a weight with several axes is reduced to one per sample the same
    way. plait difference: a 0-d weight weights every sample (Keras would collapse the batch to one value).

    Args:
        values: per-sample or per-element values, batch first.
        sample_weight: None, a scalar, or weights broadcastable to `values` after rank alignment.
        reduce: 'mean' or 'sum', how non-batch axes are reduced.
        dtype: dtype to compute in.

    Returns:
        `(values, sample_weight)`: values of shape `(batch,)` (or 0-d), weights likewise (or None).
    """
    def reduce_fn(x: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
        return x.mean(dim=dims) if reduce == "mean" else x.sum(dim=dims)

    if values.dtype != dtype:
        values = values.to(dtype)
    weight = None
    if sample_weight is not None:
        weight = sample_weight.to(dtype)
        if weight.dim() == 0 and values.dim() >= 1:
            weight = weight.expand(values.shape[0])
        values, weight = _squeeze_or_expand(values, weight)
        w_ndim, v_ndim = weight.dim(), values.dim()
        if v_ndim > w_ndim:
            values = reduce_fn(values, tuple(range(w_ndim, v_ndim)))
        try:
            weight = weight.broadcast_to(values.shape)
        except RuntimeError as err:
            raise ValueError(f"sample_weight of shape {tuple(sample_weight.shape)} does not match the metric "
                             f"values of shape {tuple(values.shape)}; pass one weight per sample, of shape "
                             f"({values.shape[0] if values.dim() else 1},).") from err
        values = values * weight
        if w_ndim > 1:
            weight = reduce_fn(weight, tuple(range(1, w_ndim)))
    if values.dim() > 1:
        values = reduce_fn(values, tuple(range(1, values.dim())))
    return values, weight


@METRICS.register()
class Mean(Metric):
    """The (weighted) mean of the values given so far.

    Values are first averaged per sample over their non-batch axes; then
    `result = sum(value_i * w_i) / sum(w_i)` (0 when no weight has been seen).

    Args:
        name: name of the metric.
        dtype: dtype of the states and the result.

    Example:
        >>> m = Mean()
        >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
        >>> float(m.result())
        2.0
    """

    def __init__(self, name: str = "mean", dtype: str | torch.dtype | None = None) -> None:
        super().__init__(dtype=dtype, name=name)
        self.add_state("total", 0.0, reduce="sum")
        self.add_state("count", 0.0, reduce="sum")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        """Adds a batch of values (batch first), optionally weighted per sample."""
        self._add_values(self._to_tensor(values, dtype=self._dtype), sample_weight)

    def _add_values(self, values: torch.Tensor, sample_weight: Any) -> None:
        # update_state's body without its guard, for subclasses whose own update_state is already guarded.
        weight = None if sample_weight is None else self._to_tensor(sample_weight, dtype=self._dtype)
        if weight is not None or values.dim() != 1:  # an unweighted per-sample batch is already samplewise
            values, weight = reduce_to_samplewise(values, weight, "mean", self._dtype)
        self.total.add_(values.sum())
        if weight is not None:
            self.count.add_(weight.sum())
        else:
            self.count.add_(values.shape[0] if values.dim() else 1)

    def update_scalar(self, value: torch.Tensor, weight: float) -> None:
        """Adds one 0-d value with a host-side weight (the training loop's loss: no conversions, no checks)."""
        if value.device != self._device:
            self.to(value.device)
        total = self.total
        total.add_(value.detach() if value.dtype == total.dtype else value.detach().to(total.dtype), alpha=weight)
        self.count.add_(weight)

    def result(self) -> torch.Tensor:
        count = self.count
        safe = torch.where(count == 0, torch.ones_like(count), count)
        return torch.where(count == 0, torch.zeros_like(self.total), self.total / safe)


@METRICS.register()
class Sum(Metric):
    """The (weighted) sum of the values given so far.

    Args:
        name: name of the metric.
        dtype: dtype of the state and the result.

    Example:
        >>> m = Sum()
        >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
        >>> float(m.result())
        4.0
    """

    def __init__(self, name: str = "sum", dtype: str | torch.dtype | None = None) -> None:
        super().__init__(dtype=dtype, name=name)
        self.add_state("total", 0.0, reduce="sum")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        """Adds a batch of values, optionally weighted per sample."""
        values = self._to_tensor(values, dtype=self._dtype)
        weight = None if sample_weight is None else self._to_tensor(sample_weight, dtype=self._dtype)
        values, _ = reduce_to_samplewise(values, weight, "sum", self._dtype)
        self.total.add_(values.sum())

    def result(self) -> torch.Tensor:
        return self.total.clone()


def _function_name(fn: Callable[..., Any]) -> str | None:
    name = getattr(fn, "__name__", None)
    return None if name is None or name == "<lambda>" else name


@METRICS.register(wrapper=True)  # `plait.metrics.get(fn)` wraps a bare function in it
class MeanMetricWrapper(Mean):
    """The (weighted) mean of a per-sample function `fn(y_true, y_pred, **fn_kwargs)` over all batches.

    `fn` receives tensors on the metric's device and returns one value per sample (or per element;
    extra axes are averaged per sample). Sample weights follow `Mean`'s rules.

    Args:
        fn: the per-sample function.
        name: name of the metric (default: the function's name; Keras uses 'mean_metric_wrapper').
        dtype: dtype of the states and the result.
        **fn_kwargs: keyword arguments passed to `fn` on every call.

    Example:
        >>> def abs_error(y_true, y_pred):
        ...     return (y_true - y_pred).abs()
        >>> m = MeanMetricWrapper(abs_error)
        >>> float(m([1.0, 2.0], [1.5, 2.0]))
        0.25
    """

    def __init__(self, fn: Callable[..., Any], name: str | None = None,
                 dtype: str | torch.dtype | None = None, **fn_kwargs: Any) -> None:
        if not callable(fn):
            raise TypeError(f"MeanMetricWrapper needs a function fn(y_true, y_pred), got "
                            f"{type(fn).__name__}: {fn!r}.")
        super().__init__(name=name if name is not None else (_function_name(fn) or "mean_metric_wrapper"),
                         dtype=dtype)
        self._fn = fn
        self._fn_kwargs = fn_kwargs
        direction = getattr(fn, "higher_is_better", None)
        if direction is not None:
            self.higher_is_better = direction

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds `fn(y_true, y_pred)` for one batch, optionally weighted per sample."""
        y_pred = self._to_tensor(y_pred)
        y_true = self._to_tensor(y_true)
        values = self._to_tensor(self._fn(y_true, y_pred, **self._fn_kwargs), dtype=self._dtype)
        self._add_values(values, sample_weight)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if type(self) is MeanMetricWrapper:
            config["fn"] = _function_name(self._fn)
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "MeanMetricWrapper":
        config = dict(config)
        fn = config.get("fn")
        if isinstance(fn, str):  # a plait function twin, or the user's own through their custom objects
            config["fn"] = METRIC_FUNCTIONS.deserialize(fn)
        elif "fn" in config and fn is None:
            raise ValueError("This MeanMetricWrapper wrapped an anonymous function, which cannot be rebuilt "
                             "from its config; wrap a named function and pass it via custom_objects.")
        return cls(**config)
