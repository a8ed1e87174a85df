"""SGD with optional (Nesterov) momentum, in Keras's form where the velocity carries the learning rate."""
from __future__ import annotations

from typing import Any, Iterable

import torch

from plait.optimizers.arguments import check_number
from plait.optimizers.optimizer import Optimizer
from plait.optimizers.serialization import register_optimizer


@register_optimizer
class SGD(Optimizer):
    """Gradient descent with optional momentum.

    Update per variable `w` with gradient `g` (Keras's form, so the velocity includes the learning rate and a
    changed learning rate does not rescale past velocity)::

        momentum == 0:  w -= lr * g
        otherwise:      m = momentum * m - lr * g
                        w += m                              (nesterov=False)
                        w += momentum * m - lr * g          (nesterov=True)

    Args:
        learning_rate: Float, `LearningRateSchedule` or callable. Defaults to 0.01.
        momentum: Float in [0, 1]; 0 is plain gradient descent.
        nesterov: Whether to use Nesterov momentum.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
        loss_scale_factor, gradient_accumulation_steps, name: See `Optimizer`.

    Returns:
        An optimizer; call `apply_gradients(zip(grads, variables))` or pass it to `compile`.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> opt = SGD(learning_rate=0.1, momentum=0.9)
        >>> opt.apply_gradients([(torch.tensor([1.0]), w)])
        >>> round(w.item(), 6)
        0.9
    """

    def __init__(self, learning_rate: Any = 0.01, momentum: float = 0.0, nesterov: bool = False, *,
                 weight_decay: float | None = None, clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, use_ema: bool = False, ema_momentum: float = 0.99,
                 ema_overwrite_frequency: int | None = None, loss_scale_factor: float | None = None,
                 gradient_accumulation_steps: int | None = None, name: str | None = "SGD", **kwargs: Any) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self.momentum = check_number("momentum", momentum, 0.0, 1.0)
        self.nesterov = bool(nesterov)

    def build(self, variables: Iterable[torch.Tensor]) -> None:
        if self.built:
            return
        super().build(variables)
        if self.momentum != 0:
            self.add_optimizer_variables(self._variables, "momentum")

    def _update(self, params: list[torch.Tensor], grads: list[torch.Tensor], slots: dict[str, list[torch.Tensor]],
                lr: float, step: int, weight_decay: float, fused: bool) -> None:
        if "momentum" not in slots:
            torch._foreach_add_(params, grads, alpha=-lr)
            return
        m = slots["momentum"]
        if fused:
            # torch's fused SGD computes buf = mom*buf + g'; w -= lr'*(buf or g' + mom*buf). With g' = -lr*g and
            # lr' = -1 that is exactly Keras's rule with buf = m, in one kernel.
            torch._fused_sgd_(params, [g.contiguous() for g in torch._foreach_mul(grads, -lr)], m,
                              weight_decay=0.0, momentum=self.momentum, lr=-1.0, dampening=0.0,
                              nesterov=self.nesterov, maximize=False, is_first_step=False)
            return
        torch._foreach_mul_(m, self.momentum)
        torch._foreach_add_(m, grads, alpha=-lr)
        if self.nesterov:
            torch._foreach_add_(params, m, alpha=self.momentum)
            torch._foreach_add_(params, grads, alpha=-lr)
        else:
            torch._foreach_add_(params, m)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
