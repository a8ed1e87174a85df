"""RMSprop in Keras's form: epsilon inside the square root, momentum over learning-rate-scaled increments."""
from __future__ import annotations

from typing import Any, Iterable

import torch

from plait.optimizers.arguments import check_number
from plait.optimizers.optimizer import Optimizer
from plait.optimizers.serialization import register_optimizer


@register_optimizer
class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root-mean-square of recent gradients.

    Update for variable `w` with gradient `g`::

        v = rho * v + (1 - rho) * g*g
        a = rho * a + (1 - rho) * g                 (centered only)
        denom = v - a*a + epsilon  if centered else  v + epsilon
        inc = lr * g / sqrt(denom)
        mom = momentum * mom + inc; w -= mom        (momentum > 0)
        w -= inc                                    (momentum == 0)

    Epsilon sits inside the square root and the momentum buffer holds learning-rate-scaled increments,
    so this differs from torch.optim.RMSprop; it runs as foreach kernels.

    Args:
        learning_rate: Float, `LearningRateSchedule` or callable. Defaults to 0.001.
        rho: Discount of the running averages, in [0, 1).
        momentum: Momentum in [0, 1); 0 disables it.
        epsilon: Added to the mean square under the root; >= 0.
        centered: Normalize by the estimated variance instead of the second moment.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
        loss_scale_factor, gradient_accumulation_steps, name: See `Optimizer`.

    Returns:
        An optimizer; call `apply_gradients(zip(grads, variables))` or pass it to `compile`.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.tensor([10.0]))
        >>> RMSprop(learning_rate=0.1).apply_gradients([(w.detach().clone(), w)])
        >>> round(w.item(), 4)
        9.6838
    """

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.9, momentum: float = 0.0, epsilon: float = 1e-07,
                 centered: bool = False, *, weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None, use_ema: bool = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: int | None = None,
                 loss_scale_factor: float | None = None, gradient_accumulation_steps: int | None = None,
                 name: str | None = "rmsprop", **kwargs: Any) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self.rho = check_number("rho", rho, 0.0, 1.0, high_open=True)
        self.momentum = check_number("momentum", momentum, 0.0, 1.0, high_open=True)
        self.epsilon = check_number("epsilon", epsilon, 0.0)
        self.centered = bool(centered)

    def build(self, variables: Iterable[torch.Tensor]) -> None:
        if self.built:
            return
        super().build(variables)
        self.add_optimizer_variables(self._variables, "velocity")
        if self.momentum > 0:
            self.add_optimizer_variables(self._variables, "momentum")
        if self.centered:
            self.add_optimizer_variables(self._variables, "average_gradient")

    def _update(self, params: list[torch.Tensor], grads: list[torch.Tensor], slots: dict[str, list[torch.Tensor]],
                lr: float, step: int, weight_decay: float, fused: bool) -> None:
        v, rho = slots["velocity"], self.rho
        torch._foreach_mul_(v, rho)
        torch._foreach_addcmul_(v, grads, grads, value=1.0 - rho)
        denom = torch._foreach_add(v, self.epsilon)
        if "average_gradient" in slots:
            a = slots["average_gradient"]
            torch._foreach_lerp_(a, grads, 1.0 - rho)
            torch._foreach_addcmul_(denom, a, a, value=-1.0)
        torch._foreach_sqrt_(denom)
        if "momentum" not in slots:
            torch._foreach_addcdiv_(params, grads, denom, value=-lr)
            return
        mom = slots["momentum"]
        torch._foreach_mul_(mom, self.momentum)
        torch._foreach_addcdiv_(mom, grads, denom, value=lr)
        torch._foreach_sub_(params, mom)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}
