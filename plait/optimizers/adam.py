"""The Adam family: Adam and AdamW (one rule, on torch's fused kernel), Adamax and Nadam (foreach rules)."""
from __future__ import annotations

import math
from typing import Any, Iterable

import torch

from plait.optimizers.arguments import check_number
from plait.optimizers.optimizer import Optimizer
from plait.optimizers.serialization import register_optimizer


class _AdamBase(Optimizer):
    """Shared arguments of the Adam family: beta_1, beta_2 in [0, 1) and epsilon >= 0."""

    def __init__(self, learning_rate: Any, beta_1: float, beta_2: float, epsilon: float, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = check_number("beta_1", beta_1, 0.0, 1.0, high_open=True)
        self.beta_2 = check_number("beta_2", beta_2, 0.0, 1.0, high_open=True)
        self.epsilon = check_number("epsilon", epsilon, 0.0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


@register_optimizer
class Adam(_AdamBase):
    """Adam with Keras's "epsilon-hat" update (and optional AMSGrad).

    Update at step `t` (1-based) for variable `w` with gradient `g`::

        m = m + (1 - beta_1) * (g - m)
        v = v + (1 - beta_2) * (g*g - v)
        v_hat = max(v_hat, v) if amsgrad else v
        w -= lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v_hat) + epsilon)

    This is torch's Adam with `eps_t = epsilon / sqrt(1 - beta_2**t)`: torch divides by
    `sqrt(v)/sqrt(1-beta_2**t) + eps_t` and scales by `lr/(1-beta_1**t)`. So each step calls torch's fused
    kernel with that host-computed `eps_t` (on CPU/CUDA floating tensors), and a foreach version elsewhere.
    `weight_decay` (decoupled, `w *= 1 - lr*weight_decay` first) runs inside the same kernel.

    Args:
        learning_rate: Float, `LearningRateSchedule` or callable. Defaults to 0.001.
        beta_1: Decay rate of the first moment, in [0, 1).
        beta_2: Decay rate of the second moment, in [0, 1).
        epsilon: Added to `sqrt(v_hat)`; >= 0.
        amsgrad: Use the running maximum of `v` (AMSGrad).
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
        loss_scale_factor, gradient_accumulation_steps, name: See `Optimizer`.

    Returns:
        An optimizer; call `apply_gradients(zip(grads, variables))` or pass it to `compile`.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> opt = Adam(learning_rate=0.1)
        >>> opt.apply_gradients([(torch.tensor([2.0]), w)])
        >>> round(w.item(), 4)
        0.9
    """

    _handles_weight_decay = True

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-07, amsgrad: bool = False, *, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None, global_clipnorm: float | None = None,
                 use_ema: bool = False, ema_momentum: float = 0.99, ema_overwrite_frequency: int | None = None,
                 loss_scale_factor: float | None = None, gradient_accumulation_steps: int | None = None,
                 name: str | None = "adam", **kwargs: Any) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor, gradient_accumulation_steps=gradient_accumulation_steps,
                         name=name, **kwargs)
        self.amsgrad = bool(amsgrad)

    def build(self, variables: Iterable[torch.Tensor]) -> None:
        if self.built:
            return
        super().build(variables)
        self.add_optimizer_variables(self._variables, "momentum")
        self.add_optimizer_variables(self._variables, "velocity")
        if self.amsgrad:
            self.add_optimizer_variables(self._variables, "velocity_hat")

    def _update(self, params: list[torch.Tensor], grads: list[torch.Tensor], slots: dict[str, list[torch.Tensor]],
                lr: float, step: int, weight_decay: float, fused: bool) -> None:
        m, v = slots["momentum"], slots["velocity"]
        amsgrad = "velocity_hat" in slots
        bias_2 = 1.0 - self.beta_2**step
        if fused:
            kernel = torch._fused_adamw_ if weight_decay else torch._fused_adam_
            kernel(params, [g.contiguous() for g in grads], m, v, slots["velocity_hat"] if amsgrad else [],
                   [self._step_tensor(params[0].device, step)] * len(params), lr=lr, beta1=self.beta_1,
                   beta2=self.beta_2, weight_decay=weight_decay, eps=self.epsilon / math.sqrt(bias_2),
                   amsgrad=amsgrad, maximize=False)
            return
        if weight_decay:
            torch._foreach_mul_(params, 1.0 - weight_decay * lr)
        torch._foreach_lerp_(m, grads, 1.0 - self.beta_1)
        torch._foreach_mul_(v, self.beta_2)
        torch._foreach_addcmul_(v, grads, grads, value=1.0 - self.beta_2)
        if amsgrad:
            torch._foreach_maximum_(slots["velocity_hat"], v)
            v = slots["velocity_hat"]
        denom = torch._foreach_sqrt(v)
        torch._foreach_add_(denom, self.epsilon)
        alpha = lr * math.sqrt(bias_2) / (1.0 - self.beta_1**step)
        torch._foreach_addcdiv_(params, m, denom, value=-alpha)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "amsgrad": self.amsgrad}


@register_optimizer
class AdamW(Adam):
    """Adam with decoupled weight decay on by default (`weight_decay=0.004`), exactly Keras's AdamW.

    Each step first shrinks every variable, `w *= 1 - lr * weight_decay`, then applies `Adam`'s update.
    Use `exclude_from_weight_decay(var_names=["bias"])` before the first step to exempt variables.

    Args:
        learning_rate: Float, `LearningRateSchedule` or callable. Defaults to 0.001.
        weight_decay: Decoupled decay rate (required; not None).
        beta_1, beta_2, epsilon, amsgrad: As in `Adam`.
        clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
        loss_scale_factor, gradient_accumulation_steps, name: See `Optimizer`.

    Returns:
        An optimizer; call `apply_gradients(zip(grads, variables))` or pass it to `compile`.

    Example:
        >>> opt = AdamW(learning_rate=1e-3, weight_decay=0.01)
        >>> opt.get_config()["weight_decay"]
        0.01
    """

    def __init__(self, learning_rate: Any = 0.001, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-07, amsgrad: bool = False, *,
                 clipnorm: float | None = None, clipvalue: float | None = None, global_clipnorm: float | None = None,
                 use_ema: bool = False, ema_momentum: float = 0.99, ema_overwrite_frequency: int | None = None,
                 loss_scale_factor: float | None = None, gradient_accumulation_steps: int | None = None,
                 name: str | None = "adamw", **kwargs: Any) -> None:
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None. "
                             "Use Adam for no weight decay.")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor, gradient_accumulation_steps=gradient_accumulation_steps,
                         name=name, **kwargs)


@register_optimizer
class Adamax(_AdamBase):
    """Adamax, Adam's infinity-norm variant (Keras's form, epsilon added to `u`).

    Update at step `t`::

        m = m + (1 - beta_1) * (g - m)
        u = max(beta_2 * u, |g|)
        w -= lr * m / ((1 - beta_1**t) * (u + epsilon))

    torch.optim.Adamax adds epsilon inside the max instead, so this runs as foreach kernels.

    Args:
        learning_rate: Float, `LearningRateSchedule` or callable. Defaults to 0.001.
        beta_1: Decay rate of the first moment, in [0, 1).
        beta_2: Decay rate of the infinity norm, in [0, 1).
        epsilon: Added to `u`; >= 0.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
        loss_scale_factor, gradient_accumulation_steps, name: See `Optimizer`.

    Returns:
        An optimizer; call `apply_gradients(zip(grads, variables))` or pass it to `compile`.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> Adamax(learning_rate=0.1).apply_gradients([(torch.tensor([2.0]), w)])
        >>> round(w.item(), 4)
        0.9
    """

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-07, *, weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None, use_ema: bool = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: int | None = None,
                 loss_scale_factor: float | None = None, gradient_accumulation_steps: int | None = None,
                 name: str | None = "adamax", **kwargs: Any) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor, gradient_accumulation_steps=gradient_accumulation_steps,
                         name=name, **kwargs)

    def build(self, variables: Iterable[torch.Tensor]) -> None:
        if self.built:
            return
        super().build(variables)
        self.add_optimizer_variables(self._variables, "momentum")
        self.add_optimizer_variables(self._variables, "norm")

    def _update(self, params: list[torch.Tensor], grads: list[torch.Tensor], slots: dict[str, list[torch.Tensor]],
                lr: float, step: int, weight_decay: float, fused: bool) -> None:
        m, u = slots["momentum"], slots["norm"]
        torch._foreach_lerp_(m, grads, 1.0 - self.beta_1)
        torch._foreach_mul_(u, self.beta_2)
        torch._foreach_maximum_(u, torch._foreach_abs(grads))
        denom = torch._foreach_add(u, self.epsilon)
        torch._foreach_addcdiv_(params, m, denom, value=-lr / (1.0 - self.beta_1**step))


@register_optimizer
class Nadam(_AdamBase):
    """Nadam: Adam with Nesterov momentum and Keras's momentum-cache schedule.

    With `mu_t = beta_1 * (1 - 0.5 * 0.96**t)` and the running product `P_t = mu_1 * ... * mu_t`
    (a host-side scalar, saved with the state), the update at step `t` is::

        m = m + (1 - beta_1) * (g - m)
        v = v + (1 - beta_2) * (g*g - v)
        m_hat = mu_{t+1} * m / (1 - P_t * mu_{t+1}) + (1 - mu_t) * g / (1 - P_t)
        v_hat = v / (1 - beta_2**t)
        w -= lr * m_hat / (sqrt(v_hat) + epsilon)

    This equals `torch.optim.NAdam(momentum_decay=1.0)` (torch's default 0.004 decays far more slowly).

    Args:
        learning_rate: Float, `LearningRateSchedule` or callable. Defaults to 0.001.
        beta_1: Decay rate of the first moment, in [0, 1).
        beta_2: Decay rate of the second moment, in [0, 1).
        epsilon: Added to `sqrt(v_hat)`; >= 0.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
        loss_scale_factor, gradient_accumulation_steps, name: See `Optimizer`.

    Returns:
        An optimizer; call `apply_gradients(zip(grads, variables))` or pass it to `compile`.

    Example:
        >>> opt = Nadam(learning_rate=0.002)
        >>> opt.get_config()["beta_1"]
        0.9
    """

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-07, *, weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None, use_ema: bool = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: int | None = None,
                 loss_scale_factor: float | None = None, gradient_accumulation_steps: int | None = None,
                 name: str | None = "nadam", **kwargs: Any) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor, gradient_accumulation_steps=gradient_accumulation_steps,
                         name=name, **kwargs)

    def build(self, variables: Iterable[torch.Tensor]) -> None:
        if self.built:
            return
        super().build(variables)
        self.add_optimizer_variables(self._variables, "momentum")
        self.add_optimizer_variables(self._variables, "velocity")
        self.add_scalar("u_product", 1.0)

    def _mu(self, step: int) -> float:
        return self.beta_1 * (1.0 - 0.5 * 0.96**step)

    def _prepare_step(self, step: int) -> None:
        self._scalars["u_product"] *= self._mu(step)

    def _update(self, params: list[torch.Tensor], grads: list[torch.Tensor], slots: dict[str, list[torch.Tensor]],
                lr: float, step: int, weight_decay: float, fused: bool) -> None:
        m, v = slots["momentum"], slots["velocity"]
        mu_t, mu_next = self._mu(step), self._mu(step + 1)
        product = self._scalars["u_product"]
        torch._foreach_lerp_(m, grads, 1.0 - self.beta_1)
        torch._foreach_mul_(v, self.beta_2)
        torch._foreach_addcmul_(v, grads, grads, value=1.0 - self.beta_2)
        m_hat = torch._foreach_mul(m, mu_next / (1.0 - product * mu_next))
        torch._foreach_add_(m_hat, grads, alpha=(1.0 - mu_t) / (1.0 - product))
        denom = torch._foreach_div(v, 1.0 - self.beta_2**step)
        torch._foreach_sqrt_(denom)
        torch._foreach_add_(denom, self.epsilon)
        torch._foreach_addcdiv_(params, m_hat, denom, value=-lr)
