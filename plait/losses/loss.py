"""The Loss base class (conversion, sample weights, masks, reductions), the loss registry and its helpers."""
from __future__ import annotations

from typing import Any, Callable

import torch

from plait import config
from plait.registry import Registry, to_snake_case
from plait.tensors import align_ranks, align_weight, convert_to_tensor

LOSS_FUNCTIONS: Registry = Registry("loss function", functions=True)
"""Function twins by name, so a serialized LossFunctionWrapper can find its function again."""

REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none", None)
_FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def register_loss_function(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """Decorator recording a function twin under its `__name__` (see `LOSS_FUNCTIONS`)."""
    return LOSS_FUNCTIONS.register()(fn)


def standardize_reduction(reduction: str | None) -> str | None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"Invalid reduction {reduction!r}. Expected one of {list(REDUCTIONS)}; "
                         "'sum_over_batch_size' (the default) averages over every per-sample loss value.")
    return reduction


def standardize_dtype(dtype: str | torch.dtype | None) -> str | None:
    if dtype is None:
        return None
    name = str(dtype).replace("torch.", "") if isinstance(dtype, torch.dtype) else dtype
    if name not in _FLOAT_DTYPES:
        raise ValueError(f"A loss dtype must be one of {list(_FLOAT_DTYPES)} or None (floatx), got {dtype!r}.")
    return name


def to_pred_tensor(y_pred: Any, dtype: torch.dtype | None = None) -> torch.Tensor:
    """y_pred as a float tensor: cast to `dtype` if given; a tensor stays on its device."""
    if isinstance(y_pred, torch.Tensor):
        if dtype is None and not y_pred.is_floating_point():
            dtype = config.float_dtype()
        return y_pred if dtype is None or y_pred.dtype == dtype else y_pred.to(dtype)
    t = convert_to_tensor(y_pred, dtype=dtype)
    return t if t.is_floating_point() else t.to(config.float_dtype())


def prepare_pair(y_true: Any, y_pred: Any, *, cast_true: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Both as tensors on y_pred's device, y_true cast to y_pred's float dtype, ranks aligned (Keras's rule)."""
    p = to_pred_tensor(y_pred)
    t = convert_to_tensor(y_true, dtype=p.dtype if cast_true else None, device=p.device)
    return align_ranks(t, p)


def check_broadcastable(y_true: torch.Tensor, y_pred: torch.Tensor, loss_name: str) -> None:
    """Raises a ValueError naming both shapes when y_true cannot be compared element by element with y_pred."""
    if y_true.shape == y_pred.shape:
        return
    hint = ("Reshape y_true to y_pred's shape (e.g. `y.reshape(-1, 1)` for a 1-unit output) "
            "or change the number of units of the model's output layer.")
    if y_true.dim() == y_pred.dim():
        try:
            torch.broadcast_shapes(y_true.shape, y_pred.shape)
            return
        except RuntimeError:
            pass
    elif y_true.dim() == y_pred.dim() - 1 and y_true.shape == y_pred.shape[:-1]:
        hint = (f"y_true looks like one integer class id per sample while y_pred has {y_pred.shape[-1]} "
                "units; for classification use 'sparse_categorical_crossentropy'. " + hint)
    raise ValueError(f"{loss_name}: y_true of shape {tuple(y_true.shape)} does not match y_pred of shape "
                     f"{tuple(y_pred.shape)}. {hint}")


def sample_weight_for(values: torch.Tensor, sample_weight: Any) -> torch.Tensor:
    """`sample_weight` as a tensor shaped to weight `values` (per-sample losses); a clear error if it cannot."""
    sw = convert_to_tensor(sample_weight, dtype=values.dtype, device=values.device)
    sw = align_weight(sw, values)
    try:
        ok = torch.broadcast_shapes(sw.shape, values.shape) == values.shape
    except RuntimeError:
        ok = False
    if not ok:
        n = values.shape[0] if values.dim() else 1
        raise ValueError(f"sample_weight of shape {tuple(sw.shape)} cannot weight per-sample losses of shape "
                         f"{tuple(values.shape)}. Pass one weight per sample, shape ({n},), or an array that "
                         "broadcasts to the per-sample losses.")
    return sw


def reduce_values(values: torch.Tensor, sample_weight: torch.Tensor | None, reduction: str | None) -> torch.Tensor:
    """Reduces already-weighted per-sample losses; divisions by zero give 0 (Keras's divide_no_nan)."""
    if reduction is None or reduction == "none" or values.dim() == 0:
        return values
    if reduction == "sum" or values.numel() == 0:
        return values.sum()
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        total = values.sum()
        # The divisor counts each weight once per value it multiplies, so the result is a true weighted mean
        # even when one weight per sample scales several values (Keras sums the unbroadcast weights).
        divisor = sample_weight.expand(values.shape).sum()
        nonzero = divisor != 0
        # Dividing by a placeholder 1 where the divisor is 0 keeps NaNs out of the backward pass.
        return torch.where(nonzero, total / torch.where(nonzero, divisor, torch.ones_like(divisor)),
                           torch.zeros_like(total))
    return values.mean()


def reduce_weighted_values(values: torch.Tensor, sample_weight: Any = None, mask: torch.Tensor | None = None,
                           reduction: str | None = "sum_over_batch_size") -> torch.Tensor:
    """Folds `mask` into `sample_weight`, weights `values` and reduces them, as Keras's loss reduction does.

    With a mask (e.g. SparseCategoricalCrossentropy's `ignore_class`) and a mean reduction, valid entries are
    scaled by total/(valid + epsilon), so the mean runs over valid entries only.
    """
    reduction = standardize_reduction(reduction)
    sw = None if sample_weight is None else sample_weight_for(values, sample_weight)
    if mask is not None:
        m = mask.to(values.dtype)
        if reduction in ("sum_over_batch_size", "mean"):
            m = m * (m.numel() / (m.sum() + config.epsilon()))
        sw = m if sw is None else sw * m
    if sw is not None:
        values = values * sw
    return reduce_values(values, sw, reduction)


class Loss:
    """Base class of every loss: `loss(y_true, y_pred, sample_weight=None)` returns the reduced loss.

    Subclasses implement `call(y_true, y_pred)`, returning per-sample losses (the class axis reduced).
    `__call__` converts the inputs (numpy or torch) to tensors on y_pred's device, computes in `dtype`
    (default `floatx`, so float16 predictions are scored in float32 as Keras does), weights by
    `sample_weight` and applies `reduction`.

    Args:
        name: The loss name; default: the class name in snake_case.
        reduction: 'sum_over_batch_size' (= 'mean': sum / number of per-sample values), 'sum',
            'mean_with_sample_weight' (sum / sum of weights), or None / 'none' (per-sample values).
        dtype: The float dtype of the computation; None means `plait.config.floatx()`.

    Returns:
        Calling the loss returns a scalar tensor, or the per-sample losses when `reduction` is None/'none'.

    Example:
        >>> class AbsSum(Loss):
        ...     def call(self, y_true, y_pred):
        ...         return (y_true - y_pred).abs().sum(dim=-1)
        >>> float(AbsSum()([[1.0, 2.0]], [[0.0, 0.0]]))
        3.0
    """

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size",
                 dtype: str | torch.dtype | None = None) -> None:
        self.name = name or to_snake_case(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        self.dtype = standardize_dtype(dtype)

    @property
    def compute_dtype(self) -> torch.dtype:
        return config.dtype_from_name(self.dtype or config.floatx())

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> torch.Tensor:
        y_pred = to_pred_tensor(y_pred, self.compute_dtype)
        y_true = convert_to_tensor(y_true, device=y_pred.device)
        if sample_weight is None and self.reduction in ("sum_over_batch_size", "mean"):
            mean = self.unweighted_mean(y_true, y_pred)
            if mean is not None:
                return mean
        values, mask = self.call_with_mask(y_true, y_pred)
        return reduce_weighted_values(values, sample_weight, mask, self.reduction)

    def unweighted_mean(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor | None:
        """The 'sum_over_batch_size' loss without sample weights in one fused kernel, or None (the default) to
        have `__call__` reduce the per-sample values of `call_with_mask`. A fast path, never a different number."""
        return None

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred) returning "
                                  "per-sample losses.")

    def call_with_mask(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per-sample losses and an optional validity mask (entries to leave out of the mean)."""
        return self.call(y_true, y_pred), None

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Loss":
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, reduction={self.reduction!r})"


LOSSES: Registry = Registry("loss", base=Loss, hint="Pass a string id such as 'mse', a Loss instance, or a "
                                                  "function fn(y_true, y_pred).")
"""String id -> Loss class (class names, their snake_case, and Keras's aliases such as 'mse'); `plait.losses.get`,
`serialize` and `deserialize` resolve through it (bare functions become its wrapper, `LossFunctionWrapper`)."""


@LOSSES.register(wrapper=True)  # `plait.losses.get(fn)` wraps a bare function in it
class LossFunctionWrapper(Loss):
    """Turns a function `fn(y_true, y_pred, **fn_kwargs) -> per-sample losses` into a Loss.

    The ranks of y_true and y_pred are aligned first by Keras's rule (`plait.tensors.align_ranks`): a trailing
    unit axis is squeezed, except that (N,) labels against a (N, 1) output are expanded to (N, 1).
    Unlike Keras, the default name is `fn.__name__` rather than 'loss_function_wrapper'.

    Args:
        fn: The loss function.
        reduction: See `Loss`.
        name: The loss name; default `fn.__name__`.
        dtype: See `Loss`.
        **fn_kwargs: Extra keyword arguments passed to `fn` on every call.

    Returns:
        A Loss whose call returns `fn(y_true, y_pred, **fn_kwargs)`.

    Example:
        >>> def sum_abs(y_true, y_pred):
        ...     return (y_true - y_pred).abs().sum(dim=-1)
        >>> loss = LossFunctionWrapper(sum_abs)
        >>> loss.name, float(loss([[1.0, 2.0]], [[0.0, 0.0]]))
        ('sum_abs', 3.0)
    """

    # True where the function compares elements one by one: 1-D inputs then mean one value per sample.
    _per_element = False

    def __init__(self, fn: Callable[..., torch.Tensor], *, reduction: str | None = "sum_over_batch_size",
                 name: str | None = None, dtype: str | torch.dtype | None = None, **fn_kwargs: Any) -> None:
        if not callable(fn):
            raise TypeError(f"LossFunctionWrapper needs a callable fn(y_true, y_pred), got {type(fn).__name__}.")
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = fn_kwargs

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        y_true, y_pred = align_ranks(y_true, y_pred)
        if (self._per_element and y_true.dim() == 1 and y_pred.dim() == 1
                and self._fn_kwargs.get("axis", -1) == -1):
            # Keras would reduce a 1-D batch to one scalar; a trailing axis keeps one loss per sample, so
            # per-sample weights apply (the unweighted mean is the same number).
            y_true, y_pred = y_true.unsqueeze(-1), y_pred.unsqueeze(-1)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["fn"] = getattr(self.fn, "__name__", repr(self.fn))
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> "Loss":
        config = dict(config)
        fn = config.pop("fn", None)
        if isinstance(fn, str):  # a plait function twin, or the user's own through their custom objects
            fn = LOSS_FUNCTIONS.deserialize(fn, custom_objects)
        return cls(fn, **config)


class _BuiltinWrapper(LossFunctionWrapper):
    """A built-in loss class over its function twin: its config lists the class's own arguments."""

    _arg_names: tuple[str, ...] = ()

    def get_config(self) -> dict[str, Any]:
        config = Loss.get_config(self)
        config.update({k: self._fn_kwargs[k] for k in self._arg_names})
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> "Loss":
        return cls(**config)


def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Loss:
    """Rebuilds a loss from `serialize`'s output (or a string id); `custom_objects` maps names to user
    classes/functions."""
    return LOSSES.deserialize(config, custom_objects)
