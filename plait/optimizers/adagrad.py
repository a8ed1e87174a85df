"""Adagrad in Keras's form: accumulators start at `initial_accumulator_value`, epsilon inside the square root."""
from __future__ import annotations

from typing import Any, Iterable

import torch

from plait.optimizers.arguments import check_number
from plait.optimizers.optimizer import Optimizer
from plait.optimizers.serialization import register_optimizer


@register_optimizer
class Adagrad(Optimizer):
    """Adagrad: per-parameter rates that shrink with the sum of past squared gradients.

    Update for variable `w` with gradient `g`::

        acc += g*g                          (acc starts at initial_accumulator_value)
        w -= lr * g / sqrt(acc + epsilon)

    torch.optim.Adagrad adds epsilon outside the root, so this runs as foreach kernels.

    Args:
        learning_rate: Float, `LearningRateSchedule` or callable. Defaults to 0.001 (Adagrad often wants more).
        initial_accumulator_value: Starting value of the accumulators; >= 0.
        epsilon: Added under the square root; >= 0.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
        loss_scale_factor, gradient_accumulation_steps, name: See `Optimizer`.

    Returns:
        An optimizer; call `apply_gradients(zip(grads, variables))` or pass it to `compile`.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> Adagrad(learning_rate=0.1, initial_accumulator_value=0.0, epsilon=0.0).apply_gradients(
        ...     [(torch.tensor([3.0]), w)])
        >>> round(w.item(), 4)
        0.9
    """

    def __init__(self, learning_rate: Any = 0.001, initial_accumulator_value: float = 0.1, epsilon: float = 1e-07, *,
                 weight_decay: float | None = None, clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, use_ema: bool = False, ema_momentum: float = 0.99,
                 ema_overwrite_frequency: int | None = None, loss_scale_factor: float | None = None,
                 gradient_accumulation_steps: int | None = None, name: str | None = "adagrad",
                 **kwargs: Any) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self.initial_accumulator_value = check_number("initial_accumulator_value", initial_accumulator_value, 0.0)
        self.epsilon = check_number("epsilon", epsilon, 0.0)

    def build(self, variables: Iterable[torch.Tensor]) -> None:
        if self.built:
            return
        super().build(variables)
        self.add_optimizer_variables(self._variables, "accumulator", initializer=self.initial_accumulator_value)

    def _update(self, params: list[torch.Tensor], grads: list[torch.Tensor], slots: dict[str, list[torch.Tensor]],
                lr: float, step: int, weight_decay: float, fused: bool) -> None:
        acc = slots["accumulator"]
        torch._foreach_addcmul_(acc, grads, grads)
        denom = torch._foreach_add(acc, self.epsilon)
        torch._foreach_sqrt_(denom)
        torch._foreach_addcdiv_(params, grads, denom, value=-lr)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
