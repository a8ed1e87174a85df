"""The neural-network ops of `keras.ops.nn`: activations, `one_hot`, crossentropies, `normalize`, `moments`,
and (from their own modules) convolution, pooling and `dot_product_attention`.

The activations are `plait.activations`' functions (one implementation each); where `keras.ops` differs from
`keras.activations` the op says so: `gelu` defaults to the tanh approximation, and `softmax`/`log_softmax`
take `axis=None` for all axes. The crossentropies return one value per sample (or element, for
`binary_crossentropy`), without reduction, with Keras's clipping of probabilities to `[epsilon, 1 - epsilon]`.

Example:
    >>> from plait import ops
    >>> ops.one_hot([0, 2, -1], 3)
    tensor([[1., 0., 0.],
            [0., 0., 1.],
            [0., 0., 0.]])
    >>> ops.relu([-1.0, 2.0])
    tensor([0., 2.])
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from plait import activations, config
from plait.ops.attention import dot_product_attention
from plait.ops.conv import average_pool, conv, depthwise_conv, max_pool, separable_conv
from plait.ops.core import float_tensor, operands, standardize_dtype, to_tensor

__all__ = [
    "average_pool", "batch_normalization", "binary_crossentropy", "categorical_crossentropy", "celu", "conv",
    "depthwise_conv", "dot_product_attention", "elu", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu",
    "hard_swish", "hard_tanh", "leaky_relu", "log_sigmoid", "log_softmax", "max_pool", "moments", "multi_hot",
    "normalize", "one_hot", "relu", "relu6", "selu", "separable_conv", "sigmoid", "silu", "soft_shrink", "softmax",
    "softplus", "softsign", "sparse_categorical_crossentropy", "sparse_plus", "sparse_sigmoid", "sparsemax",
    "squareplus", "swish", "tanh", "tanh_shrink", "threshold",
]


def _activation(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """The activation `fn` on `x` converted by the ops' rules (a NumPy float64 array stays float64; integers
    compute in `floatx`, which every activation kernel accepts)."""
    @functools.wraps(fn)
    def op(x: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        return fn(float_tensor(x), *args, **kwargs)
    return op


celu = _activation(activations.celu)
elu = _activation(activations.elu)
glu = _activation(activations.glu)
hard_shrink = _activation(activations.hard_shrink)
hard_sigmoid = _activation(activations.hard_sigmoid)
hard_silu = _activation(activations.hard_silu)
hard_tanh = _activation(activations.hard_tanh)
leaky_relu = _activation(activations.leaky_relu)
log_sigmoid = _activation(activations.log_sigmoid)
relu = _activation(activations.relu)
relu6 = _activation(activations.relu6)
selu = _activation(activations.selu)
sigmoid = _activation(activations.sigmoid)
silu = _activation(activations.silu)
soft_shrink = _activation(activations.soft_shrink)
softplus = _activation(activations.softplus)
softsign = _activation(activations.softsign)
sparse_plus = _activation(activations.sparse_plus)
sparse_sigmoid = _activation(activations.sparse_sigmoid)
sparsemax = _activation(activations.sparsemax)
squareplus = _activation(activations.squareplus)
tanh = _activation(activations.tanh)
tanh_shrink = _activation(activations.tanh_shrink)
threshold = _activation(activations.threshold)
hard_swish = hard_silu
swish = silu


def gelu(x: Any, approximate: bool = True) -> torch.Tensor:
    """Gaussian error linear unit; `keras.ops.gelu` defaults to the tanh approximation (the activation
    `plait.activations.gelu`, like `keras.activations.gelu`, to the exact form)."""
    return activations.gelu(float_tensor(x), approximate=approximate)


def _over_axis(fn: Any, x: Any, axis: int | None) -> torch.Tensor:
    x = float_tensor(x)  # Keras: the softmax of integers is a float
    if axis is None:  # every axis at once, as NumPy would read it (torch would take the last)
        return fn(x.reshape(-1)).reshape(x.shape)
    return fn(x, axis=axis)


def softmax(x: Any, axis: int | None = -1) -> torch.Tensor:
    """Softmax along `axis` (over all elements when None)."""
    return _over_axis(activations.softmax, x, axis)


def log_softmax(x: Any, axis: int | None = -1) -> torch.Tensor:
    """Log-softmax along `axis` (over all elements when None)."""
    return _over_axis(activations.log_softmax, x, axis)


def one_hot(x: Any, num_classes: int, axis: int = -1, dtype: Any = None, sparse: bool = False) -> torch.Tensor:
    """Integer class ids as one-hot vectors along a new `axis` (`floatx` by default).

    Ids outside `[0, num_classes)` (such as -1 for padding) give all-zero vectors, as in Keras.
    """
    if sparse:
        raise ValueError("one_hot(sparse=True) is not supported: plait.ops tensors are dense. Drop sparse=True.")
    ids = to_tensor(x).long()
    valid = (ids >= 0) & (ids < num_classes)
    out = F.one_hot(torch.where(valid, ids, 0), num_classes) * valid.unsqueeze(-1)
    out = out.to(standardize_dtype(dtype) or config.float_dtype())
    return torch.movedim(out, -1, axis) if axis != -1 else out


def multi_hot(inputs: Any, num_classes: int, axis: int = -1, dtype: Any = None,
              sparse: bool = False) -> torch.Tensor:
    """Each row of class ids (the last axis) as one vector with 1 at every id present (`floatx` by default)."""
    hot = one_hot(inputs, num_classes, axis=-1, dtype=dtype, sparse=sparse)
    out = hot.amax(dim=-2) if hot.ndim > 1 else hot
    return torch.movedim(out, -1, axis) if axis != -1 else out


def _check_rank(output: torch.Tensor, name: str) -> None:
    if output.ndim < 1:
        raise ValueError(f"{name} needs `output` of rank >= 1 (..., num_classes), got a scalar.")


def categorical_crossentropy(target: Any, output: Any, from_logits: bool = False, axis: int = -1) -> torch.Tensor:
    """`-sum(target * log(p), axis)` for one-hot (or soft) `target` of `output`'s shape; one value per sample.

    Example:
        >>> categorical_crossentropy([[0.0, 1.0]], [[0.5, 0.5]])
        tensor([0.6931])
    """
    output = float_tensor(output)
    target = to_tensor(target, output.dtype, device=output.device)
    _check_rank(output, "categorical_crossentropy")
    if target.shape != output.shape:
        raise ValueError(f"categorical_crossentropy needs target and output of one shape, got target "
                         f"{tuple(target.shape)} and output {tuple(output.shape)}. For integer class ids use "
                         "sparse_categorical_crossentropy.")
    return -(target * activations.log_probabilities(output, axis, from_logits)).sum(dim=axis)


def sparse_categorical_crossentropy(target: Any, output: Any, from_logits: bool = False,
                                    axis: int = -1) -> torch.Tensor:
    """Crossentropy for integer class ids `target` (`output`'s shape without `axis`, or with a trailing 1).

    Ids outside `[0, num_classes)` contribute 0, as in Keras (their one-hot vector is all zeros).
    """
    output = float_tensor(output)
    _check_rank(output, "sparse_categorical_crossentropy")
    target = to_tensor(target, device=output.device)
    if target.ndim == output.ndim and target.shape[-1] == 1:
        target = target.squeeze(-1)
    axis = axis % output.ndim
    expected = output.shape[:axis] + output.shape[axis + 1:]
    if target.shape != expected:
        raise ValueError(f"sparse_categorical_crossentropy needs target of shape {tuple(expected)} (one class id "
                         f"per sample) for output of shape {tuple(output.shape)}, got {tuple(target.shape)}.")
    hot = one_hot(target, output.shape[axis], axis=axis, dtype=output.dtype)
    return -(hot * activations.log_probabilities(output, axis, from_logits)).sum(dim=axis)


def binary_crossentropy(target: Any, output: Any, from_logits: bool = False) -> torch.Tensor:
    """Element-wise `-(t log p + (1 - t) log(1 - p))` (no mean over the last axis, unlike the loss).

    Example:
        >>> binary_crossentropy([1.0, 0.0], [0.0, 0.0], from_logits=True)
        tensor([0.6931, 0.6931])
    """
    output = float_tensor(output)
    target = to_tensor(target, output.dtype, device=output.device)
    if target.shape != output.shape:
        raise ValueError(f"binary_crossentropy needs target and output of one shape, got target "
                         f"{tuple(target.shape)} and output {tuple(output.shape)}.")
    logits = output if from_logits else activations.logits_of(output, "sigmoid")
    if logits is not None:
        return F.binary_cross_entropy_with_logits(logits.reshape(output.shape), target, reduction="none")
    eps = config.epsilon()
    p = output.clamp(eps, 1.0 - eps)
    return -(target * torch.log(p) + (1.0 - target) * torch.log1p(-p))


def normalize(x: Any, axis: int = -1, order: int = 2, epsilon: float | None = None) -> torch.Tensor:
    """`x` divided by its `order`-norm along `axis`, the norm taken as at least `epsilon` (default 1e-7)."""
    return F.normalize(float_tensor(x), p=order, dim=axis, eps=config.epsilon() if epsilon is None else epsilon)


def moments(x: Any, axes: int | Sequence[int], keepdims: bool = False,
            synchronized: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and (population) variance of `x` over `axes`.

    `synchronized` (Keras: across devices in distributed training) is not supported and raises.
    """
    if synchronized:
        raise NotImplementedError("moments(synchronized=True) is not supported; reduce across processes with "
                                  "torch.distributed.all_reduce instead.")
    x = float_tensor(x)
    dims = (axes,) if isinstance(axes, int) else tuple(axes)
    variance, mean = torch.var_mean(x, dim=dims, correction=0, keepdim=keepdims)
    return mean, variance


def batch_normalization(x: Any, mean: Any, variance: Any, axis: int, offset: Any = None, scale: Any = None,
                        epsilon: float = 1e-3) -> torch.Tensor:
    """`(x - mean) / sqrt(variance + epsilon) * scale + offset`, the 1-D statistics laid along `axis`."""
    x, mean, variance = operands(x, mean, variance)
    shape = [1] * x.ndim
    shape[axis] = -1
    out = (x - mean.reshape(shape)) * torch.rsqrt(variance.reshape(shape) + epsilon)
    if scale is not None:
        out = out * to_tensor(scale, device=x.device).reshape(shape)
    if offset is not None:
        out = out + to_tensor(offset, device=x.device).reshape(shape)
    return out
