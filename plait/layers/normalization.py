"""BatchNormalization and LayerNormalization with Keras's defaults (momentum 0.99, epsilon 1e-3)."""
from __future__ import annotations

from typing import Any

import torch

from plait import initializers
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
