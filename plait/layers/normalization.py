"""BatchNormalization, LayerNormalization, GroupNormalization and UnitNormalization with Keras's defaults (momentum
0.99, epsilon 1e-3)."""
from __future__ import annotations

from typing import Any

import torch

from plait import initializers, regularizers
from plait.layers.layer import LAYERS, Layer


def _axes_list(axis: Any, rank: int) -> list[int]:
    axes = [axis] if isinstance(axis, int) else list(axis)
    out = sorted(a % rank for a in axes)
    if any(not -rank <= a < rank for a in axes):
        raise ValueError(f"axis {axis} is out of range for inputs of rank {rank}.")
    return out


def _scale_shift(out: torch.Tensor, gamma: torch.Tensor | None, beta: torch.Tensor | None,
                 view: list[int]) -> torch.Tensor:
    """`out * gamma + beta` with the parameters broadcast along the normalized axes."""
    if gamma is not None:
        out = out * gamma.reshape(view)
    if beta is not None:
        out = out + beta.reshape(view)
    return out


@LAYERS.register()
class BatchNormalization(Layer):
    """Normalizes with the batch's statistics while training and the moving averages at inference.

    Keras semantics: `moving = moving * momentum + batch_stat * (1 - momentum)` with the biased batch
    variance; `axis` is the feature axis (-1, channels-last).

    Example:
        >>> bn = BatchNormalization()
        >>> bn(torch.randn(8, 4), training=True).shape
        torch.Size([8, 4])
    """

    supports_masking = True  # elementwise over the steps: a mask passes on unchanged

    def __init__(self, axis: Any = -1, momentum: float = 0.99, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 moving_mean_initializer: Any = "zeros", moving_variance_initializer: Any = "ones",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1], got {momentum!r}.")
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.inits = {k: initializers.get(v) for k, v in (
            ("beta_initializer", beta_initializer), ("gamma_initializer", gamma_initializer),
            ("moving_mean_initializer", moving_mean_initializer),
            ("moving_variance_initializer", moving_variance_initializer))}

    def build(self, input_shape: Any) -> None:
        rank = len(input_shape)
        self._axes = _axes_list(self.axis, rank)
        shape = tuple(input_shape[a] for a in self._axes)
        if any(d is None for d in shape):
            raise ValueError(f"BatchNormalization needs a known size on axis {self.axis}, got shape {input_shape}.")
        self._reduce = [i for i in range(rank) if i not in self._axes]
        self._view = [input_shape[i] if i in self._axes else 1 for i in range(rank)]
        self.gamma = self.add_weight(shape, self.inits["gamma_initializer"], name="gamma") if self.scale else None
        self.beta = self.add_weight(shape, self.inits["beta_initializer"], name="beta") if self.center else None
        self.moving_mean = self.add_weight(shape, self.inits["moving_mean_initializer"], trainable=False,
                                           name="moving_mean")
        self.moving_variance = self.add_weight(shape, self.inits["moving_variance_initializer"], trainable=False,
                                               name="moving_variance")

    def call(self, inputs: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        view = [-1 if d != 1 else 1 for d in self._view]
        if training and self.trainable:
            mean = inputs.mean(dim=self._reduce)
            var = inputs.var(dim=self._reduce, unbiased=False)
            with torch.no_grad():
                self.moving_mean.mul_(self.momentum).add_(mean.detach(), alpha=1 - self.momentum)
                self.moving_variance.mul_(self.momentum).add_(var.detach(), alpha=1 - self.momentum)
        else:
            mean, var = self.moving_mean, self.moving_variance
        out = (inputs - mean.reshape(view)) * torch.rsqrt(var.reshape(view) + self.epsilon)
        return _scale_shift(out, self.gamma, self.beta, view)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                **{k: initializers.serialize(v) for k, v in self.inits.items()}}


@LAYERS.register()
class LayerNormalization(Layer):
    """Normalizes each sample over `axis` (default the last), then scales by gamma and shifts by beta.

    Example:
        >>> LayerNormalization()(torch.randn(2, 5)).shape
        torch.Size([2, 5])
    """

    supports_masking = True  # elementwise over the steps: a mask passes on unchanged

    def __init__(self, axis: Any = -1, epsilon: float = 1e-3, center: bool = True, scale: bool = True,
                 beta_initializer: Any = "zeros", gamma_initializer: Any = "ones", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis, self.epsilon, self.center, self.scale = axis, float(epsilon), bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)

    def build(self, input_shape: Any) -> None:
        rank = len(input_shape)
        self._axes = _axes_list(self.axis, rank)
        shape = tuple(input_shape[a] for a in self._axes)
        self._view = [input_shape[i] if i in self._axes else 1 for i in range(rank)]
        self.gamma = self.add_weight(shape, self.gamma_initializer, name="gamma") if self.scale else None
        self.beta = self.add_weight(shape, self.beta_initializer, name="beta") if self.center else None

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        mean = inputs.mean(dim=self._axes, keepdim=True)
        var = inputs.var(dim=self._axes, unbiased=False, keepdim=True)
        out = (inputs - mean) * torch.rsqrt(var + self.epsilon)
        return _scale_shift(out, self.gamma, self.beta, [-1 if d != 1 else 1 for d in self._view])

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer)}


@LAYERS.register()
class GroupNormalization(Layer):
    """Normalizes each sample over groups of channels: the channels on `axis` are split into `groups` groups and
    each group is normalized over its channels and every other non-batch axis, then scaled and shifted per channel.

    `groups=1` is LayerNormalization over all non-batch axes (with per-channel gamma/beta), `groups=-1` (one group
    per channel) is InstanceNormalization. float16/bfloat16 inputs are normalized in float32, as in Keras.

    Args:
        groups: Number of groups (must divide the channels); -1 for one group per channel.
        axis: The channels axis (-1 for channels-last).
        epsilon: Added to the variance before its square root.
        center: Whether to add a learned offset beta (per channel).
        scale: Whether to multiply by a learned gamma (per channel).
        beta_initializer, gamma_initializer: Their initializers.
        beta_regularizer, gamma_regularizer: Their regularizers.
        beta_constraint, gamma_constraint: Callables `w -> w` applied after each optimizer update.

    Example:
        >>> GroupNormalization(groups=2)(torch.randn(3, 5, 4)).shape
        torch.Size([3, 5, 4])
    """

    def __init__(self, groups: int = 32, axis: int = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 beta_regularizer: Any = None, gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(groups, bool) or not isinstance(groups, int) or (groups <= 0 and groups != -1):
            raise ValueError(f"GroupNormalization groups must be a positive integer or -1 (one group per channel), "
                             f"got {groups!r}.")
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"GroupNormalization axis must be an int (the channels axis), got {axis!r}.")
        self.groups, self.axis, self.epsilon = groups, axis, float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint, self.gamma_constraint = beta_constraint, gamma_constraint

    def build(self, input_shape: Any) -> None:
        rank = len(input_shape)
        if not -rank < self.axis < rank or self.axis % rank == 0:
            raise ValueError(f"GroupNormalization axis {self.axis} must be a non-batch axis of inputs of rank {rank}.")
        self._axis = self.axis % rank
        dim = input_shape[self._axis]
        if dim is None:
            raise ValueError(f"Axis {self.axis} of the input must have a known size, got input shape {input_shape}.")
        self._groups = dim if self.groups == -1 else self.groups
        if dim % self._groups:
            raise ValueError(f"GroupNormalization groups ({self._groups}) must divide the number of channels ({dim}) "
                             f"on axis {self.axis}; choose groups among the divisors of {dim}.")
        self.gamma = self.add_weight((dim,), self.gamma_initializer, name="gamma", regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint) if self.scale else None
        self.beta = self.add_weight((dim,), self.beta_initializer, name="beta", regularizer=self.beta_regularizer,
                                    constraint=self.beta_constraint) if self.center else None

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        axis, channels = self._axis, inputs.shape[self._axis]
        grouped = inputs.unflatten(axis, (self._groups, channels // self._groups))
        if grouped.dtype in (torch.float16, torch.bfloat16):  # their variance overflows or loses all precision
            grouped = grouped.float()
        var, mean = torch.var_mean(grouped, dim=[d for d in range(1, grouped.dim()) if d != axis], unbiased=False,
                                   keepdim=True)
        # Keras's order: gamma folded into the inverse std, then one multiply-add.
        inv = torch.rsqrt(var + self.epsilon)
        view = [self._groups if d == axis else channels // self._groups if d == axis + 1 else 1
                for d in range(grouped.dim())]
        if self.gamma is not None:
            inv = inv * self.gamma.reshape(view).to(inv.dtype)
        shift = -mean * inv
        if self.beta is not None:
            shift = shift + self.beta.reshape(view).to(inv.dtype)
        return (grouped * inv + shift).to(inputs.dtype).flatten(axis, axis + 1)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer)}


@LAYERS.register()
class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over `axis`: `x / max(||x||, 1e-12)`, as Keras's `ops.normalize`.

    Args:
        axis: An axis or a list of axes to normalize over (default the last).

    Example:
        >>> UnitNormalization()(torch.tensor([[3.0, 4.0]]))
        tensor([[0.6000, 0.8000]])
    """

    def __init__(self, axis: int | list[int] = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and axis and all(isinstance(a, int) and not isinstance(a, bool)
                                                              for a in axis):
            self.axis: int | list[int] = list(axis)
        elif isinstance(axis, int) and not isinstance(axis, bool):
            self.axis = axis
        else:
            raise TypeError(f"UnitNormalization axis must be an int or a list/tuple of ints, got {axis!r}.")

    def build(self, input_shape: Any) -> None:
        self._axes = _axes_list(self.axis, len(input_shape))

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        # Keras's form: x * min(rsqrt(sum x^2), 1/eps), i.e. x / max(||x||, eps) without a division.
        inv_norm = torch.rsqrt(inputs.square().sum(dim=self._axes, keepdim=True)).clamp(max=1e12)
        return inputs * inv_norm

    def compute_output_shape(self, input_shape: Any) -> Any:
        _axes_list(self.axis, len(input_shape))
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}
