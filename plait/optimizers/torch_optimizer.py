"""TorchOptimizer: a `torch.optim` optimizer behind plait's optimizer interface (`apply`, `apply_gradients`).

`compile(optimizer=torch.optim.AdamW(model.parameters(), lr=1e-3))` wraps the optimizer in a `TorchOptimizer`.
Each step puts the gradients on the variables' `.grad`, calls the optimizer's `step()` and clears them, so
the update is exactly the torch optimizer's, and a torch LR scheduler built on that optimizer drives it
(call `scheduler.step()` from a callback, e.g. `LambdaCallback(on_epoch_end=lambda e, logs: sched.step())`).

A torch optimizer holds only the parameters it was created with: build the model first (`input_shape=...`,
`plait.Input`, `model.build(...)` or one call), or pass the class, `TorchOptimizer(torch.optim.AdamW, lr=1e-3)`
(or just `optimizer=torch.optim.AdamW`), to have it created from the model's variables at the first step.
"""
from __future__ import annotations

import inspect
import warnings
from typing import Any, Iterable, Sequence

import torch

from plait.custom_objects import get_registered_object
from plait.optimizers.optimizer import Optimizer
from plait.registry import to_snake_case


def _describe(variable: torch.Tensor) -> str:
    name = getattr(variable, "path", None) or getattr(variable, "name", None) or "a tensor"
    return f"{name} {tuple(variable.shape)}"


def _check_stepper(cls: type) -> None:
    params = list(inspect.signature(cls.step).parameters.values())[1:]
    if any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params):
        raise TypeError(f"torch.optim.{cls.__name__}.step needs a closure that re-evaluates the loss, which fit's "
                        "step does not provide. Use another optimizer (e.g. torch.optim.AdamW or 'adam'), or "
                        "write your own training loop.")


class TorchOptimizer:
    """Runs a `torch.optim.Optimizer` from `fit` and from GradientTape loops.

    Args:
        optimizer: A torch optimizer instance (already holding the model's parameters), or a torch optimizer
            class, created at the first update from the variables being trained, with `kwargs`.
        **kwargs: Constructor arguments for a class (e.g. `lr=1e-3, weight_decay=0.01`).

    Attributes:
        torch_optimizer: The torch optimizer (None until the first update when a class was given).
        learning_rate: The first param group's `lr`; setting it sets every group's (callbacks such as
            `ReduceLROnPlateau` use this).

    Example:
        >>> import torch, plait
        >>> model = plait.Sequential([plait.layers.Dense(1, input_shape=(2,))])
        >>> opt = TorchOptimizer(torch.optim.SGD(model.parameters(), lr=0.1))
        >>> opt.apply_gradients(zip([torch.ones(2, 1), torch.ones(1)], model.trainable_variables))
        >>> int(opt.iterations), opt.learning_rate
        (1, 0.1)
    """

    def __init__(self, optimizer: Any, /, **kwargs: Any) -> None:
        if isinstance(optimizer, torch.optim.Optimizer):
            if kwargs:
                raise TypeError(f"TorchOptimizer got an optimizer instance and the arguments {sorted(kwargs)}; give "
                                "the arguments to the torch optimizer itself, or pass its class with them.")
            cls = type(optimizer)
        elif isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
            cls = optimizer
        else:
            raise TypeError(f"TorchOptimizer wraps a torch.optim optimizer (an instance or a class), got "
                            f"{type(optimizer).__name__}: {optimizer!r}.")
        _check_stepper(cls)
        self._class = cls
        self._kwargs = dict(kwargs)
        self.torch_optimizer: torch.optim.Optimizer | None = optimizer if cls is not optimizer else None
        self.name = to_snake_case(cls.__name__)
        self._iterations = 0
        self._order: list[torch.Tensor] = []  # the trained variables, in the order of the first update
        self._held: set[int] = set()
        self._checked: Any = None  # the last variable list found to be held (fit passes the same list each step)

    # ------------------------------------------------------------------ state
    @property
    def built(self) -> bool:
        return self.torch_optimizer is not None and bool(self._order)

    def build(self, variables: Iterable[torch.Tensor]) -> None:
        """Creates the torch optimizer from `variables` (when a class was given) and records their order."""
        variables = list(variables)
        if self.torch_optimizer is None:
            self.torch_optimizer = self._class(variables, **self._kwargs)
        self._held = {id(p) for group in self.torch_optimizer.param_groups for p in group["params"]}
        self._check_held(variables)
        self._order = variables

    def _check_held(self, variables: Sequence[torch.Tensor]) -> None:
        missing = [v for v in variables if id(v) not in self._held]
        if missing:
            shown = ", ".join(_describe(v) for v in missing[:3]) + (", ..." if len(missing) > 3 else "")
            cls = self._class.__name__
            raise ValueError(
                f"The torch optimizer {cls} does not hold {len(missing)} of the {len(variables)} variables being "
                f"trained ({shown}): a torch optimizer updates only the parameters it was created with, and these "
                "did not exist yet (the model builds its weights on its first call) or belong to another model. "
                "Build the model first: give the first layer input_shape=..., start with plait.Input(shape), or "
                f"call model.build(input_shape) or model(x[:1]); then create torch.optim.{cls}(model.parameters(), "
                f"...). Or pass optimizer=plait.optimizers.TorchOptimizer(torch.optim.{cls}, lr=...), which is "
                "created from the model's variables at the first step.")
        self._checked = variables

    @property
    def iterations(self) -> int:
        """Number of updates applied so far."""
        return self._iterations

    @iterations.setter
    def iterations(self, value: int) -> None:
        self._iterations = int(value)

    @property
    def learning_rate(self) -> float:
        if self.torch_optimizer is None:
            default = inspect.signature(self._class).parameters.get("lr")
            lr = self._kwargs.get("lr", None if default is None else default.default)
            if not isinstance(lr, (int, float, torch.Tensor)):
                raise ValueError(f"{self._class.__name__} has no learning rate until it is created at the first "
                                 "step; pass lr=... to TorchOptimizer.")
            return float(lr)
        return float(self.torch_optimizer.param_groups[0]["lr"])

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        if self.torch_optimizer is None:
            self._kwargs["lr"] = float(value)
            return
        for group in self.torch_optimizer.param_groups:
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(float(value))
            else:
                group["lr"] = float(value)

    @property
    def variables(self) -> list[torch.Tensor]:
        """The optimizer's state tensors (moments, momentum buffers, step counts)."""
        if self.torch_optimizer is None:
            return []
        return [t for state in self.torch_optimizer.state.values() for t in state.values()
                if isinstance(t, torch.Tensor)]

    # ------------------------------------------------------------------ updates
    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, torch.Tensor]]) -> None:
        """Applies one update from `(gradient, variable)` pairs (a `None` gradient leaves its variable alone)."""
        pairs = list(grads_and_vars)
        if pairs:
            grads, variables = zip(*pairs)
            self.apply(list(grads), list(variables))

    def apply(self, grads: Sequence[Any], trainable_variables: Sequence[torch.Tensor] | None = None) -> None:
        """One `step()` of the torch optimizer with `grads` as the variables' `.grad`."""
        if trainable_variables is None:
            if not self.built:
                raise ValueError("When passing `grads` without `variables`, the optimizer must already be built on a "
                                 "list of variables. Call `optimizer.build(trainable_variables)` first.")
            trainable_variables = self._order
        variables = list(trainable_variables) if not isinstance(trainable_variables, list) else trainable_variables
        if len(variables) != len(grads):
            raise ValueError(f"Received {len(grads)} gradients for {len(variables)} variables; pass one gradient "
                             "per variable.")
        if not self.built:
            self.build(variables)
        elif variables is not self._checked:
            self._check_held(variables)
        for i, (g, v) in enumerate(zip(grads, variables)):
            v.grad = None if g is None else Optimizer._as_gradient(g, v, i)
        self.torch_optimizer.step()
        for v in variables:
            v.grad = None
        self._iterations += 1

    # ------------------------------------------------------------------ saving
    def state_dict(self) -> dict[str, torch.Tensor]:
        """The state as flat tensors: `iterations`, `param_groups/<g>/<option>` (numbers), and
        `state/<i>/<name>` where `i` is the variable's position in the first update's (or build's) list."""
        opt = self.torch_optimizer
        out = {"iterations": torch.tensor(self._iterations, dtype=torch.int64)}
        if opt is None:
            return out
        for g, group in enumerate(opt.param_groups):
            for key, value in group.items():
                if isinstance(value, bool) or key == "params":
                    continue
                if isinstance(value, (int, float)):
                    out[f"param_groups/{g}/{key}"] = torch.tensor(float(value), dtype=torch.float64)
                elif isinstance(value, torch.Tensor):
                    out[f"param_groups/{g}/{key}"] = value.detach()
        for i, v in enumerate(self._order):
            for key, value in opt.state.get(v, {}).items():
                if isinstance(value, torch.Tensor):
                    out[f"state/{i}/{key}"] = value.detach()
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    out[f"state/{i}/{key}"] = torch.tensor(float(value), dtype=torch.float64)
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores `state_dict()`'s output; build on the same variables, in the same order, first."""
        if not self.built:
            raise ValueError("load_state_dict needs a built optimizer: call "
                             "`optimizer.build(model.trainable_variables)` first.")
        opt = self.torch_optimizer
        torch_state = opt.state_dict()
        index = {id(p): k for k, p in enumerate(p for group in opt.param_groups for p in group["params"])}
        per_param: dict[int, dict[str, Any]] = {}
        for key, value in state.items():
            parts = key.split("/")
            if key == "iterations":
                continue
            if parts[0] == "param_groups" and len(parts) == 3:
                if int(parts[1]) >= len(torch_state["param_groups"]):
                    continue  # groups of equal options, rebuilt from the saved config as one group
                group = torch_state["param_groups"][int(parts[1])]
                current = group.get(parts[2])
                group[parts[2]] = value.clone() if isinstance(current, torch.Tensor) else \
                    type(current)(float(value)) if isinstance(current, (int, float)) else float(value)
            elif parts[0] == "state" and len(parts) == 3 and int(parts[1]) < len(self._order):
                per_param.setdefault(index[id(self._order[int(parts[1])])], {})[parts[2]] = value
            else:
                raise ValueError(f"Optimizer state key {key!r} does not fit the torch optimizer {self._class.__name__} "
                                 f"built on {len(self._order)} variables; was it saved from the same optimizer?")
        torch_state["state"] = per_param
        opt.load_state_dict(torch_state)
        self._iterations = int(state.get("iterations", 0))

    def get_config(self) -> dict[str, Any]:
        """`{'name', 'optimizer': the torch class name, 'arguments': its options}` (JSON-friendly).

        Options that differ between param groups, or that are not numbers, strings or lists, cannot be
        saved; they are listed under 'unsaved_arguments' (with a warning) and loading refuses to compile.
        """
        if self.torch_optimizer is None:
            arguments = {k: list(v) if isinstance(v, tuple) else v for k, v in self._kwargs.items()}
            unsaved = []
        else:
            groups = self.torch_optimizer.param_groups
            arguments, unsaved = {}, []
            accepted = inspect.signature(self._class.__init__).parameters
            takes_any = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
            for key, value in self.torch_optimizer.defaults.items():
                if key not in accepted and not takes_any:
                    continue  # an internal default (AdamW's decoupled_weight_decay), not a constructor argument
                value = groups[0].get(key, value) if len(groups) == 1 else value
                if isinstance(value, torch.Tensor) and value.numel() == 1:
                    value = float(value)
                if len(groups) > 1 and any(g.get(key) != groups[0].get(key) for g in groups[1:]):
                    unsaved.append(key)
                else:
                    arguments[key] = list(value) if isinstance(value, tuple) else value
        bad = [k for k, v in arguments.items()
               if not (v is None or isinstance(v, (bool, int, float, str, list)))]
        unsaved += bad
        for k in bad:
            arguments.pop(k)
        config = {"name": self.name, "optimizer": self._class.__name__, "arguments": arguments}
        if unsaved:
            warnings.warn(f"The torch optimizer {self._class.__name__}'s options {unsaved} differ between param "
                          "groups or are not plain values, so the saved compile config cannot rebuild it: load the "
                          "model with compile=False and compile it again.", stacklevel=2)
            config["unsaved_arguments"] = unsaved
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> "TorchOptimizer":
        """A TorchOptimizer of the saved class and options, created from the model's variables at build."""
        name = config.get("optimizer")
        if config.get("unsaved_arguments"):
            raise ValueError(f"The torch optimizer {name!r} was saved without its option(s) "
                             f"{config['unsaved_arguments']}, so it cannot be rebuilt. Load the model with "
                             "compile=False and compile it again with the optimizer.")
        found = get_registered_object(name, custom_objects) if isinstance(name, str) else None
        if found is None and isinstance(name, str) and not name.startswith("_"):
            found = vars(torch.optim).get(name)  # torch.optim's own classes by exact name; imports nothing
        if not (isinstance(found, type) and issubclass(found, torch.optim.Optimizer)):
            raise ValueError(f"Unknown torch optimizer {name!r}. If it is your own torch.optim.Optimizer subclass, "
                             f"pass custom_objects={{{name!r}: {name}}} to load_model.")
        return cls(found, **dict(config.get("arguments") or {}))

    def __repr__(self) -> str:
        return f"<TorchOptimizer {self._class.__name__} lr={self.learning_rate}>"
