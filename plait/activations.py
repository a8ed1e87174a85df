"""Activation functions on torch tensors, under Keras 3's names, arguments and defaults.

Each function takes a tensor and returns a tensor of the same shape (and dtype), using a
`torch.nn.functional` kernel wherever one exists. `get` resolves what a layer's `activation=`
argument receives: `None` (linear), a string id, a config dict, or any callable.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

from plait import config
from plait.registry import Registry
from plait.tensors import convert_to_tensor

ACTIVATIONS: Registry[Callable[..., torch.Tensor]] = Registry(
    "activation", functions=True, error=ValueError, hint="Pass a string id such as 'relu', a callable, or None "
                                                         "for linear.")

__all__ = [
    "ACTIVATIONS", "celu", "deserialize", "elu", "exponential", "gelu", "get", "glu", "hard_shrink",
    "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid",
    "log_softmax", "mish", "relu", "relu6", "selu", "serialize", "sigmoid", "silu", "soft_shrink",
    "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus",
    "swish", "tanh", "tanh_shrink", "threshold",
]


def _t(x: Any) -> torch.Tensor:
    # The isinstance check keeps the per-step path free of conversions for tensors.
    return x if isinstance(x, torch.Tensor) else convert_to_tensor(x)


@ACTIVATIONS.register()
def relu(x: torch.Tensor, negative_slope: float = 0.0, max_value: float | None = None,
         threshold: float = 0.0) -> torch.Tensor:
    """Rectified linear unit: `max(x, 0)` by default, with Keras's optional leak, cap and threshold.

    With the options: `max_value` for `x >= max_value`, `x` for `threshold < x < max_value`,
    and `negative_slope * (x - threshold)` otherwise (computed exactly as Keras does).

    Args:
        x: Input tensor.
        negative_slope: Slope for values below `threshold`.
        max_value: Largest value returned (`None`: no cap).
        threshold: Values at or below it are damped (or zeroed).

    Returns:
        A tensor of the same shape and dtype as `x`.
    """
    x = _t(x)
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return F.relu(x)
    if negative_slope != 0.0:
        if max_value is None and threshold == 0.0:
            return F.leaky_relu(x, negative_slope)
        negative_part = F.relu(threshold - x) if threshold != 0.0 else F.relu(-x)
    clip_max = max_value is not None
    if threshold != 0.0:
        out = x * (x > threshold).to(x.dtype)
    elif max_value == 6:
        out = F.relu6(x)
        clip_max = False
    else:
        out = F.relu(x)
    if clip_max:
        out = out.clamp(0.0, max_value)
    if negative_slope != 0.0:
        out = out - negative_slope * negative_part
    return out


@ACTIVATIONS.register()
def leaky_relu(x: torch.Tensor, negative_slope: float = 0.2) -> torch.Tensor:
    """Leaky ReLU: `x` if `x >= 0` else `negative_slope * x` (Keras 3 default slope 0.2)."""
    return F.leaky_relu(_t(x), negative_slope)


@ACTIVATIONS.register()
def relu6(x: torch.Tensor) -> torch.Tensor:
    """ReLU capped at 6: `min(max(x, 0), 6)`."""
    return F.relu6(_t(x))


@ACTIVATIONS.register()
def softmax(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    """Softmax along `axis`: `exp(x) / sum(exp(x))`, computed stably.

    In a training step the output remembers its logits, so that a crossentropy loss on it is computed from
    them, as Keras on TensorFlow does (see `logits_of`).
    """
    x = _t(x)
    return _remember_logits(F.softmax(x, dim=axis), x, "softmax", axis)


def _remember_logits(out: torch.Tensor, logits: torch.Tensor, kind: str, axis: int) -> torch.Tensor:
    # Only while differentiating (training): predict() keeps its outputs, which must not hold the logits too.
    # Inside torch.compile the version counter cannot be read, and compiled code has no later in-place edit.
    if out.requires_grad:
        version = None if torch.compiler.is_compiling() else out._version
        out._plait_logits = (kind, logits, axis % max(logits.dim(), 1), version)
    return out


def logits_of(probs: torch.Tensor, kind: str, axis: int = -1) -> torch.Tensor | None:
    """The logits that `probs` was computed from by the `kind` activation ('softmax' or 'sigmoid'), or None.

    Set only on the output of `softmax` or `sigmoid` during a training step (inputs that require grad), and
    only while the output is unmodified (an in-place change since gives None). Crossentropy losses use it to
    work from logits, as Keras on TensorFlow does with `_keras_logits`: one fused, stable kernel forward and
    backward instead of a clip, a log and their gradients, and no clip at `[1e-7, 1 - 1e-7]`.
    """
    record = getattr(probs, "_plait_logits", None)
    if record is None:
        return None
    recorded_kind, logits, recorded_axis, version = record
    if recorded_kind != kind or recorded_axis != axis % max(probs.dim(), 1):
        return None
    if version is not None and version != probs._version:
        return None
    return logits


def log_probabilities(output: torch.Tensor, axis: int = -1, from_logits: bool = False) -> torch.Tensor:
    """Log-probabilities along `axis` of class scores: `log_softmax` of logits (also of a softmax output's own
    logits during a training step, see `logits_of`), else Keras's `log(clip(p / sum(p), eps, 1 - eps))`.

    The one definition behind the crossentropy losses and `plait.ops`' crossentropies.
    """
    logits = output if from_logits else logits_of(output, "softmax", axis)
    if logits is not None:
        return F.log_softmax(logits, dim=axis)
    eps = config.epsilon()
    return torch.log((output / output.sum(dim=axis, keepdim=True)).clamp(eps, 1.0 - eps))


@ACTIVATIONS.register()
def log_softmax(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    """Log of the softmax along `axis`, computed without forming the softmax."""
    return F.log_softmax(_t(x), dim=axis)


@ACTIVATIONS.register()
def elu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Exponential linear unit: `x` if `x > 0` else `alpha * (exp(x) - 1)`."""
    return F.elu(_t(x), alpha=alpha)


@ACTIVATIONS.register()
def celu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Continuously differentiable ELU: `max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))`."""
    return F.celu(_t(x), alpha=alpha)


@ACTIVATIONS.register()
def selu(x: torch.Tensor) -> torch.Tensor:
    """Scaled ELU with alpha=1.67326324 and scale=1.05070098 (pair it with `lecun_normal`)."""
    return F.selu(_t(x))


@ACTIVATIONS.register()
def softplus(x: torch.Tensor) -> torch.Tensor:
    """Softplus: `log(exp(x) + 1)`."""
    return F.softplus(_t(x))


@ACTIVATIONS.register()
def softsign(x: torch.Tensor) -> torch.Tensor:
    """Softsign: `x / (abs(x) + 1)`."""
    return F.softsign(_t(x))


@ACTIVATIONS.register()
def squareplus(x: torch.Tensor, b: float = 4) -> torch.Tensor:
    """Squareplus: `(x + sqrt(x**2 + b)) / 2`."""
    x = _t(x)
    return (x + torch.sqrt(x * x + b)) / 2


@ACTIVATIONS.register("swish")
def silu(x: torch.Tensor) -> torch.Tensor:
    """SiLU, also called swish: `x * sigmoid(x)`."""
    return F.silu(_t(x))


swish = silu


@ACTIVATIONS.register()
def gelu(x: torch.Tensor, approximate: bool = False) -> torch.Tensor:
    """Gaussian error linear unit: `0.5 * x * (1 + erf(x / sqrt(2)))`, or its tanh approximation.

    Args:
        x: Input tensor.
        approximate: Use the tanh approximation (Keras 3 default: exact, `False`).
    """
    return F.gelu(_t(x), approximate="tanh" if approximate else "none")


@ACTIVATIONS.register()
def glu(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    """Gated linear unit: splits `x` in two halves `a, b` along `axis` and returns `a * sigmoid(b)`."""
    x = _t(x)
    if x.shape[axis] % 2:
        raise ValueError(f"glu needs an even size along axis {axis}, got shape {tuple(x.shape)}; "
                         "make that dimension even or pass another `axis`.")
    return F.glu(x, dim=axis)


@ACTIVATIONS.register()
def tanh(x: torch.Tensor) -> torch.Tensor:
    """Hyperbolic tangent."""
    return torch.tanh(_t(x))


@ACTIVATIONS.register()
def tanh_shrink(x: torch.Tensor) -> torch.Tensor:
    """Tanh shrink: `x - tanh(x)`."""
    return F.tanhshrink(_t(x))


@ACTIVATIONS.register()
def hard_tanh(x: torch.Tensor) -> torch.Tensor:
    """Hard tanh: `x` clipped to `[-1, 1]`."""
    return F.hardtanh(_t(x))


@ACTIVATIONS.register()
def hard_shrink(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Hard shrink: `x` if `abs(x) > threshold` else `0`."""
    return F.hardshrink(_t(x), lambd=threshold)


@ACTIVATIONS.register()
def soft_shrink(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Soft shrink: `x - threshold` above `threshold`, `x + threshold` below `-threshold`, else `0`."""
    return F.softshrink(_t(x), lambd=threshold)


@ACTIVATIONS.register()
def threshold(x: torch.Tensor, threshold: float, default_value: float) -> torch.Tensor:
    """Threshold: `x` if `x > threshold` else `default_value`."""
    return F.threshold(_t(x), threshold, default_value)


@ACTIVATIONS.register()
def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Sigmoid: `1 / (1 + exp(-x))`. In a training step the output remembers its logits (see `logits_of`)."""
    x = _t(x)
    return _remember_logits(torch.sigmoid(x), x, "sigmoid", -1)


@ACTIVATIONS.register()
def log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Log of the sigmoid, `-softplus(-x)`, computed stably."""
    return F.logsigmoid(_t(x))


@ACTIVATIONS.register()
def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Hard sigmoid, Keras 3's formula: `relu6(x + 3) / 6` (0 below -3, 1 above 3, `x/6 + 0.5` between).

    Keras 2 used `0.2 * x + 0.5`; plait follows Keras 3.
    """
    return F.hardsigmoid(_t(x))


@ACTIVATIONS.register("hard_swish")
def hard_silu(x: torch.Tensor) -> torch.Tensor:
    """Hard SiLU, also called hard swish: `x * relu6(x + 3) / 6`."""
    return F.hardswish(_t(x))


hard_swish = hard_silu


@ACTIVATIONS.register()
def sparse_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Sparse sigmoid: `0` for `x <= -1`, `(x + 1) / 2` for `-1 < x < 1`, `1` for `x >= 1`."""
    return (0.5 * (_t(x) + 1)).clamp(0.0, 1.0)


@ACTIVATIONS.register()
def sparse_plus(x: torch.Tensor) -> torch.Tensor:
    """Sparse plus: `0` for `x <= -1`, `(x + 1)**2 / 4` for `-1 < x < 1`, `x` for `x >= 1`."""
    x = _t(x)
    return torch.where(x <= -1, torch.zeros_like(x), torch.where(x < 1, 0.25 * (x + 1) ** 2, x))


@ACTIVATIONS.register()
def sparsemax(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    """Sparsemax along `axis`: the Euclidean projection of `x` onto the probability simplex.

    Like softmax its outputs sum to 1, but many are exactly 0 (Martins & Astudillo, 2016).
    """
    x = _t(x)
    z, _ = torch.sort(x, dim=axis, descending=True)
    cumsum = z.cumsum(dim=axis)
    shape = [1] * x.dim()
    shape[axis] = -1
    k = torch.arange(1, x.shape[axis] + 1, device=x.device, dtype=x.dtype).reshape(shape)
    support = (1 + k * z) > cumsum
    k_z = support.sum(dim=axis, keepdim=True)
    tau = (cumsum.gather(axis, k_z - 1) - 1) / k_z.to(x.dtype)
    return F.relu(x - tau)


@ACTIVATIONS.register()
def exponential(x: torch.Tensor) -> torch.Tensor:
    """Exponential: `exp(x)`."""
    return torch.exp(_t(x))


@ACTIVATIONS.register()
def mish(x: torch.Tensor) -> torch.Tensor:
    """Mish: `x * tanh(softplus(x))`."""
    return F.mish(_t(x))


@ACTIVATIONS.register()
def linear(x: torch.Tensor) -> torch.Tensor:
    """Linear (identity) activation: returns `x` unchanged."""
    return x


def get(identifier: Any) -> Callable[..., Any]:
    """Resolves an activation identifier to a callable.

    Args:
        identifier: `None` (gives `linear`), a string id such as `"relu"` or `"swish"` (case
            insensitive), a config (a name, or a dict as written by `serialize`/Keras), or a callable.

    Returns:
        The activation callable.

    Example:
        >>> get("relu") is relu
        True
    """
    return linear if identifier is None else ACTIVATIONS.get(identifier)


def serialize(activation: Any) -> str | dict[str, Any]:
    """Returns the name of a built-in or registered activation (what `get` turns back into it).

    Objects that carry a `get_config` (e.g. an activation layer instance) serialize to a
    Keras-style dict `{"module", "class_name", "config", "registered_name"}` instead.

    Raises:
        ValueError: for a callable that is neither registered nor configurable (e.g. a lambda).
    """
    return ACTIVATIONS.serialize(activation)


def deserialize(config: str | dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Callable[..., Any]:
    """Turns a name or a Keras-style config dict back into an activation function.

    Args:
        config: A name (`"relu"`) or a dict such as Keras's
            `{"class_name": "function", "config": "relu", ...}` or `{"class_name": "relu"}`.
        custom_objects: Optional extra `{name: callable}` looked up before the registry.

    Returns:
        The activation callable.
    """
    return ACTIVATIONS.deserialize(config, custom_objects)
