"""Probabilistic losses: binary, categorical and sparse categorical crossentropy, KL divergence, Poisson.

These are the hot path of `fit`: no Python loops and no host syncs on accelerators. Probabilities are
clipped to `[epsilon, 1 - epsilon]` (epsilon = 1e-7) as in Keras; the `from_logits` paths use torch's
numerically stable kernels (log-sigmoid / log-softmax). So does the crossentropy of a softmax or sigmoid
output during a training step, from the logits the activation kept (`plait.activations.logits_of`), as
Keras on TensorFlow does.
"""
from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F

from plait import config
from plait.activations import log_probabilities, logits_of
from plait.losses.loss import (LOSSES, _BuiltinWrapper, check_broadcastable, prepare_pair,
                               register_loss_function, to_pred_tensor)
from plait.tensors import convert_to_tensor

_SUM = "sum_over_batch_size"
_NO_IGNORE = -(2**63)  # torch ignores label -100 by default; no int64 label is this one


class LossShapeWarning(UserWarning):
    """y_true/y_pred shapes that a loss accepts but that make it meaningless (e.g. categorical crossentropy
    over a single class: always about 0, with a zero gradient).

    Keras warns with a SyntaxWarning here; Python reserves that category for dubious source syntax (the compiler
    emits it), so a filter on it would catch the wrong thing. A UserWarning subclass is what `warnings`
    documents for user-facing warnings, and this class lets a user silence just this one.
    """


def _check_label_smoothing(label_smoothing: float) -> float:
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}.")
    return float(label_smoothing)


def _check_axis(axis: Any) -> int:
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(f"axis must be an integer, got {axis!r} of type {type(axis).__name__}.")
    return axis


@register_loss_function
def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0,
                        axis: int = -1) -> torch.Tensor:
    """Per-sample binary crossentropy, the mean over `axis` of `-(y log p + (1 - y) log(1 - p))`.

    Smoothed labels are `y * (1 - label_smoothing) + 0.5 * label_smoothing`.
    """
    logits = None if from_logits else logits_of(y_pred, "sigmoid")
    t, p = prepare_pair(y_true, y_pred)
    if logits is not None:  # a sigmoid output of this training step: scored from its logits (see logits_of)
        p, from_logits = logits.reshape(p.shape), True
    if t.shape != p.shape:
        hint = ""
        if p.dim() >= 1 and p.shape[-1] > 1 and t.shape in (p.shape[:-1], p.shape[:-1] + (1,)):
            hint = (f" y_true looks like integer class ids for a {p.shape[-1]}-unit output: use "
                    "'sparse_categorical_crossentropy', or a 1-unit sigmoid output for a binary problem.")
        raise ValueError(f"binary_crossentropy: y_true and y_pred must have the same shape, got y_true "
                         f"{tuple(t.shape)} and y_pred {tuple(p.shape)}.{hint}")
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        ce = F.binary_cross_entropy_with_logits(p, t, reduction="none")
    else:
        eps = config.epsilon()
        p = p.clamp(eps, 1.0 - eps)
        if t.requires_grad or torch.is_autocast_enabled(p.device.type):
            # F.binary_cross_entropy has no gradient for the target and autocast refuses to run it.
            ce = -(torch.log1p(-p) + t * (torch.log(p) - torch.log1p(-p)))
        else:
            ce = F.binary_cross_entropy(p, t, reduction="none")
    # A mean over one unit is the value itself; the view saves a kernel on the common (batch, 1) output.
    return ce.squeeze(axis) if ce.dim() and ce.shape[axis] == 1 else ce.mean(dim=axis)


def _cce_shape_error(t: torch.Tensor, p: torch.Tensor) -> ValueError:
    k = p.shape[-1] if p.dim() else 1
    looks_sparse = k > 1 and (t.shape == p.shape[:-1] or t.shape == p.shape[:-1] + (1,))
    if looks_sparse:
        return ValueError(
            f"categorical_crossentropy expects one-hot y_true of shape {tuple(p.shape)}, but y_true has shape "
            f"{tuple(t.shape)}: the labels look like integer class ids. Use "
            "loss='sparse_categorical_crossentropy', or one-hot encode them with "
            f"plait.utils.to_categorical(y, num_classes={k}).")
    return ValueError(f"categorical_crossentropy: y_true and y_pred must have the same shape, got y_true "
                      f"{tuple(t.shape)} and y_pred {tuple(p.shape)}.")


@register_loss_function
def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0,
                             axis: int = -1) -> torch.Tensor:
    """Per-sample `-sum(y_true * log(p), axis)` for one-hot (or soft) y_true.

    Probabilities are first divided by their sum over `axis`, then clipped. Smoothed labels are
    `y * (1 - label_smoothing) + label_smoothing / num_classes`.
    """
    axis = _check_axis(axis)
    t, p = prepare_pair(y_true, y_pred)
    if t.shape != p.shape:
        raise _cce_shape_error(t, p)
    if p.dim() == 0:
        raise ValueError("categorical_crossentropy needs y_pred of rank >= 1 (batch, num_classes), got a scalar.")
    if p.shape[axis] == 1:
        warnings.warn(f"categorical_crossentropy expected y_pred.shape to be (batch_size, num_classes) with "
                      f"num_classes > 1, got y_pred.shape={tuple(p.shape)}: the loss is always about 0 and "
                      "nothing is learned. Use 'binary_crossentropy' for a 1-unit sigmoid output, or give the output "
                      "layer one unit per class with a softmax.", LossShapeWarning, stacklevel=2)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / t.shape[axis]
    log_prob = log_probabilities(p, axis, from_logits)
    return -(t * log_prob).sum(dim=axis)


def _check_label_range(labels: torch.Tensor, num_classes: int) -> None:
    if labels.numel() == 0:
        return
    low, high = (int(v) for v in torch.aminmax(labels))
    if low < 0 or high >= num_classes:
        bad = high if high >= num_classes else low
        fix = (" A 1-unit output needs 'binary_crossentropy' instead." if num_classes == 1 else
               " If the labels start at 1, subtract 1; otherwise give the output layer one unit per class.")
        raise ValueError(f"sparse_categorical_crossentropy received a label value of {bad}, outside the valid "
                         f"range [0, {num_classes}) for y_pred with {num_classes} classes.{fix}")


def sparse_crossentropy_and_mask(y_true: Any, y_pred: Any, from_logits: bool = False,
                                 ignore_class: int | None = None, axis: int = -1, *,
                                 validate: bool | None = None,
                                 mean: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-sample sparse categorical crossentropy and the mask of non-ignored positions (None without
    `ignore_class`).

    Labels outside `[0, num_classes)` raise a ValueError when `validate` (default: labels on the CPU, where the
    check costs no device sync); elsewhere they give a NaN loss instead of a device-side assert.
    With `mean=True` the first value is the mean over all positions instead, taken inside torch's kernel
    when there is no mask (one autograd node fewer: the training loss's fast path).
    """
    axis = _check_axis(axis)
    p = to_pred_tensor(y_pred)
    labels = convert_to_tensor(y_true, device=p.device)
    if p.dim() == 0:
        raise ValueError("sparse_categorical_crossentropy needs y_pred of rank >= 1 (batch, num_classes), got "
                         "a scalar.")
    if labels.dim() == p.dim() and labels.shape[-1] == 1:
        labels = labels.squeeze(-1)
    axis = axis % p.dim()
    expected = p.shape[:axis] + p.shape[axis + 1:]
    if labels.shape != expected:
        hint = (" y_true looks one-hot: use 'categorical_crossentropy'." if labels.shape == p.shape else "")
        raise ValueError(f"sparse_categorical_crossentropy expects y_true of shape {tuple(expected)} (one class "
                         f"id per sample) for y_pred of shape {tuple(p.shape)}, got {tuple(labels.shape)}.{hint}")
    labels = labels.long()
    valid = None
    if ignore_class is not None:
        valid = labels != ignore_class
        labels = torch.where(valid, labels, 0)
    k = p.shape[axis]
    checked = validate if validate is not None else labels.device.type == "cpu"
    if torch.compiler.is_compiling():
        checked = False  # a host read would break the compiled graph; out-of-range ids give NaN instead
    if checked and labels.device.type != "cpu":
        _check_label_range(labels, k)
    elif not checked:
        # Unchecked ids are clamped so the device kernel cannot assert, and their loss is NaN, not a wrong number.
        safe = labels.clamp(0, k - 1)
        out_of_range, labels = safe != labels, safe
    logits = p if from_logits else logits_of(p, "softmax", axis)
    if logits is not None:
        scores, fn = logits, F.cross_entropy
    else:
        scores, fn = log_probabilities(p, axis, False), F.nll_loss
    if p.dim() > 1 and axis != 1:
        scores = scores.movedim(axis, 1)  # torch wants the class axis second
    fused_mean = mean and checked and valid is None
    try:
        # torch's CPU kernels check every id themselves, so CPU labels need no extra pass to be validated.
        loss = fn(scores, labels, reduction="mean" if fused_mean else "none", ignore_index=_NO_IGNORE)
    except IndexError:
        _check_label_range(labels, k)  # raises the explanation
        raise
    if not checked:
        loss = loss.masked_fill(out_of_range, float("nan"))
    if valid is not None:
        loss = torch.where(valid, loss, 0.0)
    return (loss.mean() if mean and not fused_mean else loss), valid


@register_loss_function
def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    ignore_class: int | None = None, axis: int = -1) -> torch.Tensor:
    """Per-sample crossentropy for integer class ids `y_true` (shape of y_pred without the class axis, or
    with a trailing 1). Positions labelled `ignore_class` get loss 0 (the class also drops them from the mean).
    """
    return sparse_crossentropy_and_mask(y_true, y_pred, from_logits, ignore_class, axis)[0]


@register_loss_function
def kl_divergence(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample `sum(y_true * log(y_true / y_pred), axis=-1)`, both clipped to `[epsilon, 1]`."""
    t, p = prepare_pair(y_true, y_pred)
    check_broadcastable(t, p, "kl_divergence")
    eps = config.epsilon()
    t, p = t.clamp(eps, 1.0), p.clamp(eps, 1.0)
    return (t * torch.log(t / p)).sum(dim=-1)


@register_loss_function
def poisson(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Per-sample `mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)`."""
    t, p = prepare_pair(y_true, y_pred)
    check_broadcastable(t, p, "poisson")
    return (p - t * torch.log(p + config.epsilon())).mean(dim=-1)


@LOSSES.register("bce", "BCE")
class BinaryCrossentropy(_BuiltinWrapper):
    """Crossentropy between binary labels (0/1, or soft labels in [0, 1]) and predicted probabilities.

    Args:
        from_logits: Whether y_pred holds logits (no sigmoid applied) instead of probabilities.
        label_smoothing: Squeezes labels towards 0.5: `y * (1 - ls) + 0.5 * ls`.
        axis: The axis the mean runs over.
        reduction: See `plait.losses.Loss`.
        name: Default 'binary_crossentropy'.
        dtype: See `plait.losses.Loss`.

    Returns:
        Calling it returns the reduced loss.

    Example:
        >>> round(float(BinaryCrossentropy()([[1.0], [0.0]], [[0.9], [0.2]])), 4)
        0.1643
    """

    _per_element = True
    _arg_names = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1, *,
                 reduction: str | None = _SUM, name: str = "binary_crossentropy", dtype: Any = None):
        super().__init__(binary_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=bool(from_logits), label_smoothing=_check_label_smoothing(label_smoothing),
                         axis=_check_axis(axis))


@LOSSES.register()
class CategoricalCrossentropy(_BuiltinWrapper):
    """Crossentropy between one-hot labels and predicted class probabilities (or logits).

    For integer class ids use `SparseCategoricalCrossentropy`; passing them here raises an error saying so.

    Args:
        from_logits: Whether y_pred holds logits (no softmax applied) instead of probabilities.
        label_smoothing: Mixes labels with the uniform distribution: `y * (1 - ls) + ls / num_classes`.
        axis: The class axis.
        reduction: See `plait.losses.Loss`.
        name: Default 'categorical_crossentropy'.
        dtype: See `plait.losses.Loss`.

    Returns:
        Calling it returns the reduced loss.

    Example:
        >>> round(float(CategoricalCrossentropy()([[0.0, 1.0]], [[0.25, 0.75]])), 4)
        0.2877
    """

    _arg_names = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1, *,
                 reduction: str | None = _SUM, name: str = "categorical_crossentropy", dtype: Any = None):
        super().__init__(categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=bool(from_logits), label_smoothing=_check_label_smoothing(label_smoothing),
                         axis=_check_axis(axis))


@LOSSES.register()
class SparseCategoricalCrossentropy(_BuiltinWrapper):
    """Crossentropy between integer class ids and predicted class probabilities (or logits).

    `ignore_class` follows Keras 3: positions with that label get loss 0 and are masked, so with the
    'sum_over_batch_size' reduction the mean runs over the non-ignored positions only (sum / (count + 1e-7));
    with 'mean_with_sample_weight' they leave the weight sum; with 'sum' and 'none' they contribute 0.
    The function twin `sparse_categorical_crossentropy` has no mask: it returns the zeros only.

    Labels outside `[0, num_classes)` raise a ValueError on CPU; on an accelerator they are checked on the
    first call only (later calls would need a device sync) and otherwise show up as a NaN loss.

    Args:
        from_logits: Whether y_pred holds logits (no softmax applied) instead of probabilities.
        ignore_class: A label value to leave out of the loss (e.g. a padding or 'void' class), or None.
        axis: The class axis of y_pred.
        reduction: See `plait.losses.Loss`.
        name: Default 'sparse_categorical_crossentropy'.
        dtype: See `plait.losses.Loss`.

    Returns:
        Calling it returns the reduced loss.

    Example:
        >>> round(float(SparseCategoricalCrossentropy()([1], [[0.25, 0.75]])), 4)
        0.2877
    """

    _arg_names = ("from_logits", "ignore_class", "axis")

    def __init__(self, from_logits: bool = False, ignore_class: int | None = None, axis: int = -1, *,
                 reduction: str | None = _SUM, name: str = "sparse_categorical_crossentropy", dtype: Any = None):
        if ignore_class is not None and (isinstance(ignore_class, bool) or not isinstance(ignore_class, int)):
            raise TypeError(f"ignore_class must be an integer label or None, got {ignore_class!r}.")
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=bool(from_logits), ignore_class=ignore_class, axis=_check_axis(axis))
        self._labels_checked = False

    def call_with_mask(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        validate = y_pred.device.type == "cpu" or not self._labels_checked
        values, mask = sparse_crossentropy_and_mask(y_true, y_pred, **self._fn_kwargs, validate=validate)
        self._labels_checked = True
        return values, mask

    def unweighted_mean(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor | None:
        if self._fn_kwargs["ignore_class"] is not None or y_pred.device.type != "cpu":
            return None  # the mask, or the NaN marking of unchecked labels, needs the per-sample values
        return sparse_crossentropy_and_mask(y_true, y_pred, **self._fn_kwargs, validate=True, mean=True)[0]

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return self.call_with_mask(y_true, y_pred)[0]


@LOSSES.register("kld", "KLD", "kullback_leibler_divergence")
class KLDivergence(_BuiltinWrapper):
    """Kullback-Leibler divergence `sum(y_true * log(y_true / y_pred))`, both clipped to `[epsilon, 1]`.

    Args:
        reduction: See `plait.losses.Loss`.
        name: Default 'kl_divergence'.
        dtype: See `plait.losses.Loss`.

    Returns:
        Calling it returns the reduced loss.

    Example:
        >>> round(float(KLDivergence()([[0.5, 0.5]], [[0.25, 0.75]])), 4)
        0.1438
    """

    def __init__(self, *, reduction: str | None = _SUM, name: str = "kl_divergence", dtype: Any = None):
        super().__init__(kl_divergence, reduction=reduction, name=name, dtype=dtype)


@LOSSES.register()
class Poisson(_BuiltinWrapper):
    """Poisson negative log-likelihood (up to a constant): `y_pred - y_true * log(y_pred + epsilon)`.

    Args:
        reduction: See `plait.losses.Loss`.
        name: Default 'poisson'.
        dtype: See `plait.losses.Loss`.

    Returns:
        Calling it returns the reduced loss.

    Example:
        >>> round(float(Poisson()([[2.0]], [[1.0]])), 4)
        1.0
    """

    _per_element = True

    def __init__(self, *, reduction: str | None = _SUM, name: str = "poisson", dtype: Any = None):
        super().__init__(poisson, reduction=reduction, name=name, dtype=dtype)
