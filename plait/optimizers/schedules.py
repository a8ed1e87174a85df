"""Learning-rate schedules: step -> learning rate, evaluated on the host at the optimizer's iteration count.

Every schedule computes in Python floats (float64), so evaluating one never touches the device: the optimizer
calls it with its host-side step counter and passes the result to its update kernels as a plain number.
Keras computes the same formulas in float32 tensors; values agree to float32 rounding.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch

from plait.registry import Registry


def _step_value(step: Any) -> float:
    # A tensor step is read once on the host (a sync); the optimizer itself always passes a Python int.
    if isinstance(step, torch.Tensor):
        return float(step.detach().cpu())
    if isinstance(step, (int, float, np.number)) and not isinstance(step, bool):
        return float(step)
    raise TypeError(f"A learning rate schedule expects a numeric step, got {type(step).__name__}: {step!r}.")


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not value > 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value!r}")


class LearningRateSchedule:
    """Base class of learning-rate schedules: `schedule(step)` returns the learning rate at that step.

    Subclasses implement `__call__(step)` and `get_config()`; pass an instance as an optimizer's
    `learning_rate`, and the optimizer evaluates it at its `iterations` before every update.

    Example:
        >>> class Halving(LearningRateSchedule):
        ...     def __init__(self, lr0): self.lr0 = lr0
        ...     def __call__(self, step): return self.lr0 / (step + 1)
        ...     def get_config(self): return {"lr0": self.lr0}
        >>> Halving(0.1)(1)
        0.05
    """

    def __call__(self, step: Any) -> float:
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  "`__call__(self, step)`.")

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override `get_config()` "
                                  "in order to be serializable.")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "LearningRateSchedule":
        """Instantiates the schedule from the output of `get_config()`."""
        return cls(**config)

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


SCHEDULES: Registry = Registry("learning rate schedule", base=LearningRateSchedule,
                               hint="Pass a LearningRateSchedule such as ExponentialDecay(...) or a config dict.")


@SCHEDULES.register()
class ExponentialDecay(LearningRateSchedule):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)` (the exponent floored when `staircase`).

    Args:
        initial_learning_rate: The learning rate at step 0.
        decay_steps: Positive number of steps per decay period.
        decay_rate: The factor applied once per period.
        staircase: Decay in discrete jumps at multiples of `decay_steps`.
        name: Name of the schedule.

    Returns:
        A callable schedule; `schedule(step)` is a Python float.

    Example:
        >>> ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(20)
        0.025
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False,
                 name: str = "ExponentialDecay") -> None:
        _positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step: Any) -> float:
        p = _step_value(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return float(self.initial_learning_rate) * float(self.decay_rate) ** p

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


@SCHEDULES.register()
class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[0]` while `step <= boundaries[0]`, `values[i]` while `boundaries[i-1] < step <= boundaries[i]`, ...

    Args:
        boundaries: Strictly increasing step numbers.
        values: One more value than boundaries.
        name: Name of the schedule.

    Returns:
        A callable schedule; `schedule(step)` is a Python float.

    Example:
        >>> s = PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
        >>> s(100), s(101), s(201)
        (1.0, 0.5, 0.1)
    """

    def __init__(self, boundaries: Sequence[float], values: Sequence[float], name: str = "PiecewiseConstant") -> None:
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError("The length of boundaries should be 1 less than the length of values. Received: "
                             f"boundaries={boundaries} of length {len(boundaries)}, and values={values} of length "
                             f"{len(values)}.")
        if any(not b < a for b, a in zip(boundaries, boundaries[1:])):
            raise ValueError(f"`boundaries` must be strictly increasing, got {boundaries}.")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step: Any) -> float:
        s = _step_value(step)
        for boundary, value in zip(self.boundaries, self.values):
            if s <= boundary:
                return float(value)
        return float(self.values[-1])

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


@SCHEDULES.register()
class PolynomialDecay(LearningRateSchedule):
    """Decays from `initial_learning_rate` to `end_learning_rate` over `decay_steps` along `(1 - t) ** power`.

    With `cycle=True` the decay restarts at the first multiple of `decay_steps` above `step`.

    Args:
        initial_learning_rate: The learning rate at step 0.
        decay_steps: Positive number of steps to reach `end_learning_rate`.
        end_learning_rate: The final learning rate.
        power: The power of the polynomial.
        cycle: Whether to cycle beyond `decay_steps`.
        name: Name of the schedule.

    Returns:
        A callable schedule; `schedule(step)` is a Python float.

    Example:
        >>> PolynomialDecay(0.1, 10, end_learning_rate=0.0)(5)
        0.05
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, end_learning_rate: float = 0.0001,
                 power: float = 1.0, cycle: bool = False, name: str = "PolynomialDecay") -> None:
        _positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step: Any) -> float:
        s, decay_steps = _step_value(step), float(self.decay_steps)
        if self.cycle:
            decay_steps *= 1.0 if s == 0 else math.ceil(s / decay_steps)
        else:
            s = min(s, decay_steps)
        p = s / decay_steps
        lr0, lr1 = float(self.initial_learning_rate), float(self.end_learning_rate)
        return (lr0 - lr1) * (1.0 - p) ** self.power + lr1

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


@SCHEDULES.register()
class InverseTimeDecay(LearningRateSchedule):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)` (the ratio floored when `staircase`).

    Args:
        initial_learning_rate: The learning rate at step 0.
        decay_steps: Positive number of steps per decay unit.
        decay_rate: The decay rate.
        staircase: Decay in discrete jumps at multiples of `decay_steps`.
        name: Name of the schedule.

    Returns:
        A callable schedule; `schedule(step)` is a Python float.

    Example:
        >>> InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5)(2)
        0.05
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False,
                 name: str = "InverseTimeDecay") -> None:
        _positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step: Any) -> float:
        p = _step_value(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return float(self.initial_learning_rate) / (1.0 + float(self.decay_rate) * p)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


@SCHEDULES.register()
class CosineDecay(LearningRateSchedule):
    """Optional linear warmup to `warmup_target`, then cosine decay to `alpha` times the peak over `decay_steps`.

    Without `warmup_target` the decay starts at `initial_learning_rate` at step 0. With it, the rate goes
    linearly from `initial_learning_rate` to `warmup_target` over `warmup_steps`, then decays from
    `warmup_target`. After the decay the rate stays at `alpha * peak`.

    Args:
        initial_learning_rate: The learning rate at step 0.
        decay_steps: Positive number of steps to decay over.
        alpha: Final rate as a fraction of the peak rate.
        name: Name of the schedule.
        warmup_target: Peak rate reached after warmup, or None for no warmup.
        warmup_steps: Number of warmup steps.

    Returns:
        A callable schedule; `schedule(step)` is a Python float.

    Example:
        >>> round(CosineDecay(0.1, decay_steps=10)(5), 6)
        0.05
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0, name: str = "CosineDecay",
                 warmup_target: float | None = None, warmup_steps: int = 0) -> None:
        _positive("decay_steps", decay_steps)
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, (int, float, np.number)) or warmup_steps < 0:
            raise ValueError(f"Argument `warmup_steps` must be >= 0. Received: warmup_steps={warmup_steps!r}")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step: float, peak: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return peak * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: Any) -> float:
        s = _step_value(step)
        lr0 = float(self.initial_learning_rate)
        if self.warmup_target is None:
            return self._decay(min(s, self.decay_steps), lr0)
        s = min(s, self.decay_steps + self.warmup_steps)
        if s < self.warmup_steps:
            return (float(self.warmup_target) - lr0) * (s / self.warmup_steps) + lr0
        return self._decay(s - self.warmup_steps, float(self.warmup_target))

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


@SCHEDULES.register("SGDRDecay")
class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): periods grow by `t_mul`, restart peaks shrink by `m_mul`.

    Args:
        initial_learning_rate: The learning rate at step 0.
        first_decay_steps: Positive length of the first period.
        t_mul: Factor by which each period is longer than the previous one.
        m_mul: Factor by which each restart's peak is lower than the previous one.
        alpha: Minimum rate as a fraction of `initial_learning_rate`.
        name: Name of the schedule.

    Returns:
        A callable schedule; `schedule(step)` is a Python float.

    Example:
        >>> s = CosineDecayRestarts(0.1, first_decay_steps=10, t_mul=1.0)
        >>> s(0) == s(10) == 0.1
        True
    """

    def __init__(self, initial_learning_rate: float, first_decay_steps: int, t_mul: float = 2.0, m_mul: float = 1.0,
                 alpha: float = 0.0, name: str = "SGDRDecay") -> None:
        _positive("first_decay_steps", first_decay_steps)
        _positive("t_mul", t_mul)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self.t_mul = t_mul
        self.m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step: Any) -> float:
        fraction = _step_value(step) / self.first_decay_steps
        t_mul = float(self.t_mul)
        if t_mul == 1.0:
            restart = math.floor(fraction)
            fraction -= restart
        else:
            restart = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            done = (1.0 - t_mul**restart) / (1.0 - t_mul)
            fraction = (fraction - done) / t_mul**restart
        cosine = 0.5 * float(self.m_mul) ** restart * (1.0 + math.cos(math.pi * fraction))
        return float(self.initial_learning_rate) * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self.t_mul, "m_mul": self.m_mul, "alpha": self.alpha, "name": self.name}


def serialize(learning_rate_schedule: LearningRateSchedule) -> dict[str, Any]:
    """A JSON-compatible dict `{"module", "class_name", "config", "registered_name"}` describing the schedule."""
    return SCHEDULES.serialize(learning_rate_schedule, module="plait.optimizers.schedules")


def deserialize(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> LearningRateSchedule:
    """Rebuilds a schedule from `serialize`'s output; custom classes are found in `custom_objects` by name."""
    return SCHEDULES.deserialize(config, custom_objects)


__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay",
           "InverseTimeDecay", "CosineDecay", "CosineDecayRestarts", "serialize", "deserialize", "SCHEDULES"]
