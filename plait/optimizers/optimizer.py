"""Optimizer base: the one `apply` path (clipping, decoupled weight decay, schedules, EMA, accumulation) and its state.

Each optimizer subclass adds its slots in `build` and implements one update rule, `_update`, over lists of
tensors with `torch._foreach_*` ops or a fused kernel. `model.fit` and custom loops both end here.

Hot-path rules: the step count and the learning rate live on the host (a Python int and float), so bias
corrections and schedules never read the device; variables are grouped once by (device, dtype, weight decay,
contiguity) so each update is a handful of multi-tensor kernels.
"""
from __future__ import annotations

import inspect
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from plait.optimizers import schedules as schedules_lib
from plait.optimizers.arguments import HostFloat, HostInt, check_number, optional_positive
from plait.caller import user_stacklevel
from plait.optimizers.clipping import clip_gradients
from plait.optimizers.ema import MovingAverage
from plait.optimizers.state import OptimizerState
from plait.registry import to_snake_case
from plait.variables import Variable

_FUSED_DEVICE_TYPES = ("cpu", "cuda")
_FUSED_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


@dataclass(eq=False)
class _Group:
    """Variables sharing a device, dtype, weight-decay flag and layout, so one multi-tensor kernel serves them."""

    indices: list[int]
    params: list[torch.Tensor]
    slots: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    decay: bool = True
    fusable: bool = False


class Optimizer(OptimizerState, MovingAverage):
    """Base class of plait optimizers (Keras 3 semantics and argument names).

    Args:
        learning_rate: A float, a `LearningRateSchedule` evaluated at `iterations`, or a callable taking the
            step (or nothing) and returning the rate. Settable later: `opt.learning_rate = 0.01`.
        weight_decay: Decoupled decay for every optimizer: `var -= var * weight_decay * lr` before the update.
        clipnorm: Clip each gradient to this L2 norm.
        clipvalue: Clip each gradient element to `[-clipvalue, clipvalue]`.
        global_clipnorm: Clip all gradients jointly to this global L2 norm. Only one clip option may be set.
        use_ema: Keep an exponential moving average of the variables (`ema_momentum`); every
            `ema_overwrite_frequency` steps, or at `finalize_variable_values`, the variables take its value.
        loss_scale_factor: Gradients are divided by it; `scale_loss` multiplies the loss by it.
        gradient_accumulation_steps: Update once every that many calls, with the mean gradient.
        name: Name of the optimizer.

    Example:
        >>> import torch
        >>> from plait.optimizers import SGD
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> opt = SGD(learning_rate=0.5)
        >>> opt.apply_gradients([(torch.ones(2), w)])
        >>> w.tolist(), int(opt.iterations)
        ([0.5, 0.5], 1)
    """

    _handles_weight_decay = False  # True where `_update` folds the decay into its own kernel (Adam)
    use_fused = True  # set False (class or instance) to force the foreach path, e.g. to compare the two

    def __init__(self, learning_rate: Any, *, weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None, use_ema: bool = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: int | None = None,
                 loss_scale_factor: float | None = None, gradient_accumulation_steps: int | None = None,
                 name: str | None = None, **kwargs: Any) -> None:
        if kwargs.pop("decay", None) is not None:
            # Keras 2's argument, removed rather than deprecated: it is ignored, so the training differs from
            # what the user asked for. That is a UserWarning, shown wherever the call is (a DeprecationWarning
            # would be hidden when the call sits in the user's own module), pointed at the user's line.
            warnings.warn("Argument `decay` is no longer supported and will be ignored; use a "
                          "plait.optimizers.schedules schedule as `learning_rate` instead.", UserWarning,
                          stacklevel=user_stacklevel())
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}. Check the spelling against "
                             f"{type(self).__name__}'s signature.")
        clip = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        if sum(v is not None for v in clip.values()) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: "
                             + ", ".join(f"{k}={v}" for k, v in clip.items()) + ". Keep one of them.")
        self.name = name or to_snake_case(type(self).__name__)
        self.weight_decay = None if weight_decay is None else check_number("weight_decay", weight_decay, 0.0)
        self.clipnorm = optional_positive("clipnorm", clipnorm)
        self.clipvalue = optional_positive("clipvalue", clipvalue)
        self.global_clipnorm = optional_positive("global_clipnorm", global_clipnorm)
        self.use_ema = bool(use_ema)
        self.ema_momentum = check_number("ema_momentum", ema_momentum, 0.0, 1.0)
        if ema_overwrite_frequency is not None and (not isinstance(ema_overwrite_frequency, int)
                                                    or isinstance(ema_overwrite_frequency, bool)
                                                    or ema_overwrite_frequency < 1):
            raise ValueError("`ema_overwrite_frequency` must be an integer >= 1 or None. Received: "
                             f"ema_overwrite_frequency={ema_overwrite_frequency!r}")
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = optional_positive("loss_scale_factor", loss_scale_factor)
        if gradient_accumulation_steps is not None and (not isinstance(gradient_accumulation_steps, int)
                                                        or isinstance(gradient_accumulation_steps, bool)
                                                        or gradient_accumulation_steps < 2):
            raise ValueError("`gradient_accumulation_steps` must be an integer >= 2. Received: "
                             f"gradient_accumulation_steps={gradient_accumulation_steps!r}")
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self._iterations = 0  # every call to apply, like Keras's `_iterations`; `iterations` divides by accumulation
        self._learning_rate: Any = None
        self.learning_rate = learning_rate
        self.built = False
        self._variables: list[torch.Tensor] = []
        self._index: dict[int, int] = {}
        self._slots: dict[str, list[Variable]] = {}
        self._scalars: dict[str, float] = {}
        self._groups: list[_Group] | None = None
        self._step_tensors: dict[torch.device, torch.Tensor] = {}
        self._exclude_ids: set[int] = set()
        self._exclude_pattern: re.Pattern | None = None
        self._constrained: list[int] = []

    # ----------------------------------------------------------------------------------------- learning rate
    @property
    def learning_rate(self) -> HostFloat:
        """The learning rate the next update will use (a schedule is evaluated at the current iteration)."""
        return HostFloat(self._current_learning_rate())

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        # Unlike Keras, a float may replace a schedule: nothing device-side depends on which one is in use.
        if isinstance(value, schedules_lib.LearningRateSchedule):
            self._learning_rate = value
        elif callable(value) and not isinstance(value, torch.Tensor):
            try:
                inspect.signature(value).bind(0)
                self._lr_takes_step = True
            except TypeError:
                self._lr_takes_step = False
            except ValueError:  # no introspectable signature (some builtins): Keras passes nothing, try the step
                self._lr_takes_step = True
            self._learning_rate = value
        else:
            try:
                self._learning_rate = check_number("learning_rate", value, 0.0)
            except TypeError:
                raise TypeError("`learning_rate` must be a float, a LearningRateSchedule or a callable returning "
                                f"the rate, got {type(value).__name__}: {value!r}.") from None

    def _current_learning_rate(self) -> float:
        lr = self._learning_rate
        if isinstance(lr, float):
            return lr
        if isinstance(lr, schedules_lib.LearningRateSchedule):
            value = lr(self._iterations)
        else:
            value = lr(self._iterations) if self._lr_takes_step else lr()
        # A schedule that returns a tensor costs one host read per step; built-in schedules return floats.
        return float(value.detach().cpu()) if isinstance(value, torch.Tensor) else float(value)

    @property
    def iterations(self) -> HostInt:
        """Number of updates applied so far (calls to `apply` divided by `gradient_accumulation_steps`)."""
        steps = self.gradient_accumulation_steps or 1
        return HostInt(self._iterations // steps)

    @iterations.setter
    def iterations(self, value: int) -> None:
        value = int(value)
        if value < 0:
            raise ValueError(f"`iterations` must be a non-negative integer, got {value}.")
        self._iterations = value * (self.gradient_accumulation_steps or 1)

    # ------------------------------------------------------------------------------------------------ build
    def build(self, variables: Iterable[torch.Tensor]) -> None:
        """Creates the optimizer state for `variables`; their order fixes each slot's position in saved state."""
        if self.built:
            return
        variables = list(variables)
        for i, v in enumerate(variables):
            if not isinstance(v, torch.Tensor) or not v.is_floating_point():
                raise TypeError(f"Optimizers update floating-point tensors; variable {i} is "
                                f"{type(v).__name__} {getattr(v, 'dtype', '')}. Pass model.trainable_variables.")
        self._variables = variables
        self._index = {id(v): i for i, v in enumerate(variables)}
        self._decay_mask = [self._use_weight_decay(v) for v in variables]
        self._constrained = [i for i, v in enumerate(variables) if getattr(v, "constraint", None) is not None]
        self.built = True
        if self.use_ema:
            self.add_optimizer_variables(variables, "average")
        if self.gradient_accumulation_steps:
            self.add_optimizer_variables(variables, "gradient_accumulator")

    def add_optimizer_variables(self, variables: Sequence[torch.Tensor], name: str,
                                initializer: float = 0.0) -> list[Variable]:
        """Adds one slot per variable (same shape, dtype, device and layout), filled with `initializer`."""
        slots = []
        for i, v in enumerate(variables):
            data = torch.full_like(v.detach(), float(initializer), memory_format=torch.preserve_format)
            base = getattr(v, "path", None) or getattr(v, "name", None) or f"variable_{i}"
            slots.append(Variable(data, trainable=False, name=f"{str(base).replace('/', '_')}_{name}"))
        self._slots[name] = slots
        self._groups = None
        return slots

    def add_scalar(self, name: str, value: float) -> None:
        """Registers a host-side scalar of the optimizer's state (saved and restored with the slots)."""
        self._scalars[name] = float(value)

    def exclude_from_weight_decay(self, var_list: Sequence[torch.Tensor] | None = None,
                                  var_names: Sequence[str] | None = None) -> None:
        """Exempts variables (or those whose name contains any of `var_names`) from weight decay; call before build."""
        if self.built:
            raise ValueError("`exclude_from_weight_decay()` can only be configured before the optimizer is built; "
                             "create a new optimizer and call it before the first update.")
        self._exclude_ids = {id(v) for v in var_list or []}
        self._exclude_pattern = re.compile("|".join(map(re.escape, set(var_names)))) if var_names else None

    def _use_weight_decay(self, variable: torch.Tensor) -> bool:
        if id(variable) in self._exclude_ids:
            return False
        name = getattr(variable, "name", None)
        return not (self._exclude_pattern is not None and isinstance(name, str) and self._exclude_pattern.search(name))

    def _get_groups(self) -> list[_Group]:
        if self._groups is None:
            keyed: dict[tuple, list[int]] = {}
            for i, v in enumerate(self._variables):
                key = (v.device, v.dtype, self._decay_mask[i], v.is_contiguous())
                keyed.setdefault(key, []).append(i)
            self._groups = [
                _Group(idx, [self._variables[i] for i in idx], {n: [s[i] for i in idx] for n, s in self._slots.items()},
                       decay=key[2], fusable=key[0].type in _FUSED_DEVICE_TYPES and key[1] in _FUSED_DTYPES and key[3])
                for key, idx in keyed.items()]
        return self._groups

    def _step_tensor(self, device: torch.device, step: int) -> torch.Tensor:
        """A float32 scalar on `device` holding `step`, for fused kernels that read the step count on device."""
        t = self._step_tensors.get(device)
        if t is None:
            t = self._step_tensors[device] = torch.zeros((), dtype=torch.float32, device=device)
        t.fill_(float(step))  # a host scalar written without a sync
        return t

    # ------------------------------------------------------------------------------------------------ apply
    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, torch.Tensor]]) -> None:
        """Applies one update from `(gradient, variable)` pairs; `None` gradients are skipped with a warning."""
        pairs = list(grads_and_vars)
        if not pairs:
            return
        grads, variables = zip(*pairs)
        self.apply(list(grads), list(variables))

    def apply(self, grads: Sequence[Any], trainable_variables: Sequence[torch.Tensor] | None = None) -> None:
        """Applies one update; `grads` align with `trainable_variables`, or with the built variables if omitted."""
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError("When passing `grads` without `variables`, the optimizer must already be built on "
                                 "a list of variables. Call `optimizer.build(trainable_variables)` first.")
            if len(grads) != len(self._variables):
                raise ValueError(f"Received {len(grads)} gradients, but the optimizer tracks {len(self._variables)} "
                                 "variables; pass one gradient per variable, in the order given to build.")
            indices: Iterable[int] = range(len(grads))
        else:
            variables = list(trainable_variables)
            if len(variables) != len(grads):
                raise ValueError(f"Received {len(grads)} gradients for {len(variables)} variables; pass one "
                                 "gradient per variable.")
            if not self.built:
                self.build(variables)
            indices = [self._index_of(v) for v in variables]
        dense: list[torch.Tensor | None] = [None] * len(self._variables)
        missing = []
        for i, g in zip(indices, grads):
            if g is None:
                missing.append(self._slot_base_name(i))
            else:
                dense[i] = self._as_gradient(g, self._variables[i], i)
        present = [i for i, g in enumerate(dense) if g is not None]
        if not present:
            raise ValueError("No gradients provided for any variable. Check that the loss depends on the variables "
                             "and that you passed (gradient, variable) pairs.")
        if missing:
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the loss. If using "
                          "`model.compile()`, did you forget to provide a `loss` argument?", UserWarning,
                          stacklevel=user_stacklevel())
        with torch.no_grad():
            self._apply_present(dense, present)

    def _index_of(self, variable: torch.Tensor) -> int:
        i = self._index.get(id(variable))
        if i is None:
            raise ValueError(f"Unknown variable: {getattr(variable, 'name', type(variable).__name__)} of shape "
                             f"{tuple(variable.shape)}. This optimizer can only be called for the variables it was "
                             "originally built with. When working with a new set of variables, you should recreate "
                             "a new optimizer instance.")
        return i

    def _slot_base_name(self, i: int) -> str:
        return str(getattr(self._variables[i], "name", None) or f"variable_{i}")

    @staticmethod
    def _as_gradient(g: Any, v: torch.Tensor, i: int) -> torch.Tensor:
        if not isinstance(g, torch.Tensor):
            g = torch.as_tensor(np.asarray(g))
        if g.shape != v.shape:
            raise ValueError(f"Gradient {i} has shape {tuple(g.shape)} but its variable has shape {tuple(v.shape)}; "
                             "pass gradients in the same order as the variables.")
        if g.is_sparse:
            g = g.to_dense()
        if g.dtype != v.dtype or g.device != v.device:
            g = g.to(device=v.device, dtype=v.dtype)
        return g.detach() if g.requires_grad else g

    def _apply_present(self, dense: list[torch.Tensor | None], present: list[int]) -> None:
        grads = [dense[i] for i in present]
        if self.loss_scale_factor is not None:
            grads = torch._foreach_div(grads, self.loss_scale_factor)
        steps = self.gradient_accumulation_steps
        if steps:
            accumulators = self._slots["gradient_accumulator"]
            if (self._iterations + 1) % steps == 0:
                grads = torch._foreach_add(grads, [accumulators[i] for i in present])
                torch._foreach_div_(grads, steps)
                self._update_step(dense, present, grads)
                torch._foreach_zero_(accumulators)
            else:
                torch._foreach_add_([accumulators[i] for i in present], grads)
        else:
            self._update_step(dense, present, grads)
        if self.use_ema:
            self._update_moving_average()
        self._iterations += 1
        for i in self._constrained:
            if dense[i] is not None:
                v = self._variables[i]
                v.copy_(v.constraint(v))

    def _update_step(self, dense: list[torch.Tensor | None], present: list[int], grads: list[torch.Tensor]) -> None:
        grads = clip_gradients(grads, self.clipnorm, self.global_clipnorm, self.clipvalue)
        for i, g in zip(present, grads):
            dense[i] = g
        lr = self._current_learning_rate()
        step = int(self.iterations) + 1
        self._prepare_step(step)
        full = len(present) == len(self._variables)
        for group in self._get_groups():
            if full:
                params, slots, gs = group.params, group.slots, [dense[i] for i in group.indices]
            else:
                keep = [k for k, i in enumerate(group.indices) if dense[i] is not None]
                if not keep:
                    continue
                params = [group.params[k] for k in keep]
                slots = {n: [s[k] for k in keep] for n, s in group.slots.items()}
                gs = [dense[group.indices[k]] for k in keep]
            wd = self.weight_decay if group.decay and self.weight_decay else 0.0
            if wd and not self._handles_weight_decay:
                torch._foreach_mul_(params, 1.0 - wd * lr)
            self._update(params, gs, slots, lr, step, wd, group.fusable and self.use_fused)

    def _prepare_step(self, step: int) -> None:
        """Hook run once per update before the groups, for state shared by all variables (Nadam's product)."""

    def _update(self, params: list[torch.Tensor], grads: list[torch.Tensor], slots: dict[str, list[torch.Tensor]],
                lr: float, step: int, weight_decay: float, fused: bool) -> None:
        """The update rule over one group of variables, in place.

        Args:
            params: Variables of one device and dtype.
            grads: Their (clipped) gradients, in the variables' dtype.
            slots: This group's slots by name, aligned with `params`.
            lr: The learning rate for this step (host float).
            step: The 1-based update count (host int), for bias corrections.
            weight_decay: This group's decay; already applied unless the class sets `_handles_weight_decay`.
            fused: Whether the group may use a fused kernel (device, dtype and layout allow it).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement `_update`.")

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """Multiplies the loss by `loss_scale_factor` (if set) before gradients are computed."""
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    # ----------------------------------------------------------------------------------------------- config
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a JSON-compatible dict (no state)."""
        lr = self._learning_rate
        if isinstance(lr, schedules_lib.LearningRateSchedule):
            lr = schedules_lib.serialize(lr)
        elif not isinstance(lr, float):
            warnings.warn("A callable learning rate cannot be serialized; the config records its current value "
                          f"{self._current_learning_rate()}. Use a LearningRateSchedule subclass to keep it.",
                          UserWarning, stacklevel=user_stacklevel())
            lr = self._current_learning_rate()
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue, "use_ema": self.use_ema,
                "ema_momentum": self.ema_momentum, "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> "Optimizer":
        """Creates an optimizer from `get_config()`'s output."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules_lib.deserialize(config["learning_rate"], custom_objects)
        return cls(**config)

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} name={self.name!r} learning_rate={self._learning_rate!r} "
                f"iterations={int(self.iterations)}>")
