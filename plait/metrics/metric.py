"""Metric: the base of every streaming metric, with states that make reset, merge and sync generic."""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from plait import config
from plait.registry import Registry, to_snake_case
from plait.tensors import convert_to_tensor
from plait.variables import Variable

REDUCTIONS = ("sum", "mean", "max", "min", "cat")


def combine_states(reduce: str, values: list[Any]) -> Any:
    """Combines one state taken from several copies of a metric (`merge_state`, cross-process sync).

    Args:
        reduce: how the state combines: 'sum', 'mean', 'max', 'min' (tensors, same shape) or 'cat'
            (lists of tensors, concatenated in order).
        values: the state from each copy, all on one device.

    Returns:
        The combined state: a tensor, or a list for 'cat'.
    """
    if reduce == "cat":
        return [t for v in values for t in (v if isinstance(v, list) else [v])]
    stacked = torch.stack(list(values))
    if reduce == "sum":
        return stacked.sum(0)
    if reduce == "mean":
        return stacked.mean(0)
    if reduce == "max":
        return stacked.amax(0)
    if reduce == "min":
        return stacked.amin(0)
    raise ValueError(f"Unknown state reduction {reduce!r}; expected one of {REDUCTIONS}.")


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    """`None` -> plait's floatx; 'float64' or `torch.float64` -> `torch.float64`."""
    if dtype is None:
        return config.float_dtype()
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return config.dtype_from_name(dtype)  # an allow-list: no string reaches getattr(torch, ...)
    except ValueError:
        raise ValueError(f"Unknown metric dtype {str(dtype)[:60]!r}; pass a name such as 'float32' or 'float64', "
                         "or a torch.dtype.") from None


def input_tensor(x: Any, dtype: torch.dtype | None = None, device: torch.device | None = None) -> torch.Tensor:
    """A metric function's input as a tensor: tensors keep their device (a metric has already put them
    where its state lives), anything else goes to `device` or plait's device."""
    if isinstance(x, torch.Tensor):
        return x if dtype is None or x.dtype == dtype else x.to(dtype)
    return convert_to_tensor(x, dtype=dtype, device=device)


def _canonical(device: torch.device | str) -> torch.device:
    # 'cuda' and 'cuda:0' compare unequal; pin the index so the per-step device check stays a cheap no-op.
    device = torch.device(device)
    if device.type == "cuda" and device.index is None and torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return device


def _move_in_place(tensor: torch.Tensor, device: torch.device) -> None:
    # In place, so that references a subclass keeps (Keras-style `self.tp = self.add_variable(...)`) stay valid.
    moved = tensor.detach().to(device)
    if torch._has_compatible_shallow_copy_type(tensor, moved):  # CPU <-> CUDA
        tensor.data = moved
        return
    if isinstance(tensor, Variable):
        moved = Variable(moved, trainable=tensor.requires_grad, name=tensor.name)
    torch.utils.swap_tensors(tensor, moved)


def _guard_update(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps a subclass's `update_state`: no autograd graph, and states follow `y_pred`'s device."""
    params = [p for p in inspect.signature(fn).parameters.values()][1:]
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    key = "y_pred" if "y_pred" in names else (names[0] if names else None)
    position = names.index(key) if key is not None else None

    @functools.wraps(fn)
    def update_state(self: "Metric", *args: Any, **kwargs: Any) -> Any:
        ref = kwargs.get(key) if key in kwargs else (args[position] if position is not None
                                                     and position < len(args) else None)
        device = ref.device if isinstance(ref, torch.Tensor) else _canonical(config.get_device())
        if device != self._device:
            self.to(device)
        if not torch.is_grad_enabled():  # fit's steps (and a subclass calling super()) are already there
            return fn(self, *args, **kwargs)
        with torch.no_grad():
            return fn(self, *args, **kwargs)

    update_state._plait_guarded = True  # type: ignore[attr-defined]
    return update_state


class Metric:
    """Base class of streaming metrics: accumulate with `update_state`, read with `result`.

    A subclass declares its state with `add_state(name, default, reduce)` (torchmetrics style) or
    `add_variable(shape, initializer, aggregation=...)` (Keras style). Declared states are what make
    `reset_state`, `merge_state`, `to` and a cross-process sync generic. States live on one device and
    follow the device of the `y_pred` given to `update_state` (numpy inputs count as plait's device), so
    a training loop on CUDA never copies to the host. `update_state` runs without autograd and must
    never read a tensor's value on the host (`.item()`, `float()`, `if tensor:`).

    Args:
        dtype: dtype of the float states and the result (default: plait's floatx, 'float32').
        name: name of the metric, used as its log key (default: the snake_case class name).

    Example:
        >>> class Total(Metric):
        ...     def __init__(self, name="total", dtype=None):
        ...         super().__init__(dtype=dtype, name=name)
        ...         self.add_state("total", 0.0, reduce="sum")
        ...     def update_state(self, values, sample_weight=None):
        ...         self.total.add_(self._to_tensor(values).sum())
        ...     def result(self):
        ...         return self.total.clone()
        >>> m = Total()
        >>> m.update_state([1.0, 2.0]); float(m.result())
        3.0
    """

    higher_is_better: bool | None = None
    """True when larger is better (accuracy), False when smaller is (errors), None when unknown."""

    def __init__(self, dtype: str | torch.dtype | None = None, name: str | None = None) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Metric name must be a string, got {type(name).__name__}: {name!r}.")
        object.__setattr__(self, "_state_values", {})
        self._defaults: dict[str, Any] = {}
        self._reductions: dict[str, str] = {}
        self._dtype = resolve_dtype(dtype)
        self._device = torch.device("cpu")
        self.name = name if name is not None else to_snake_case(type(self).__name__)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fn = cls.__dict__.get("update_state")
        if fn is not None and not getattr(fn, "_plait_guarded", False):
            cls.update_state = _guard_update(fn)  # type: ignore[method-assign]

    # --- state -------------------------------------------------------------------------------
    def add_state(self, name: str, default: Any, reduce: str = "sum") -> None:
        """Declares a state tensor, readable and assignable as `self.<name>`.

        Args:
            name: attribute name of the state.
            default: initial value (a number, array or tensor; numbers take the metric's dtype), or an
                empty list for `reduce='cat'` (the state is then a list of tensors to append to).
            reduce: how copies combine in `merge_state` and cross-process sync:
                'sum', 'mean', 'max', 'min' or 'cat'.
        """
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"State name must be a Python identifier, got {name!r}.")
        if name in self._reductions or name in self.__dict__ or hasattr(type(self), name):
            raise ValueError(f"Metric {self.name!r} already has an attribute or state named {name!r}; "
                             "pick another state name.")
        if reduce not in REDUCTIONS:
            raise ValueError(f"reduce must be one of {REDUCTIONS}, got {reduce!r}.")
        if reduce == "cat":
            if not (isinstance(default, list) and not default):
                raise ValueError(f"A 'cat' state starts as an empty list, got {default!r} for {name!r}; "
                                 "pass default=[].")
            value: Any = []
        else:
            if isinstance(default, torch.Tensor):
                value = default.detach().to(device="cpu").clone()
            else:
                value = torch.as_tensor(default, dtype=self._dtype)
            self._defaults[name] = value.clone()
            value = value.to(self._device)
        self._reductions[name] = reduce
        self._state_values[name] = value

    def add_variable(self, shape: tuple[int, ...] | list[int] | int = (), initializer: Any = "zeros",
                     dtype: str | torch.dtype | None = None, aggregation: str = "sum",
                     name: str | None = None) -> Variable:
        """Keras-style state: returns a non-trainable `Variable` updated with `.assign_add(...)`.

        Args:
            shape: shape of the state.
            initializer: 'zeros', 'ones', a number, or a callable `(shape, dtype) -> tensor`.
            dtype: dtype of the state (default: the metric's dtype).
            aggregation: 'sum' or 'mean' (also plait's 'max', 'min'): how copies combine.
            name: state name (default: `variable_<i>`).

        Returns:
            The `Variable`, which also stays registered as a state of this metric.
        """
        name = name or f"variable_{len(self._reductions)}"
        if aggregation not in ("sum", "mean", "max", "min"):
            raise ValueError(f"aggregation must be 'sum', 'mean', 'max' or 'min', got {aggregation!r}.")
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        torch_dtype = resolve_dtype(dtype) if dtype is not None else self._dtype
        if isinstance(initializer, str) and initializer.lower() in ("zeros", "ones"):
            init = (torch.zeros if initializer.lower() == "zeros" else torch.ones)(shape, dtype=torch_dtype)
        elif callable(initializer):
            init = torch.as_tensor(initializer(shape, dtype=torch_dtype), dtype=torch_dtype)
        elif isinstance(initializer, (int, float)):
            init = torch.full(shape, initializer, dtype=torch_dtype)
        else:
            raise ValueError(f"initializer must be 'zeros', 'ones', a number or a callable, got {initializer!r}.")
        self.add_state(name, init, reduce=aggregation)
        variable = Variable(self._state_values[name], trainable=False, name=name)
        self._state_values[name] = variable
        return variable

    def __getattr__(self, name: str) -> Any:
        states = self.__dict__.get("_state_values")
        if states is not None and name in states:
            return states[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        states = self.__dict__.get("_state_values")
        if states is not None and name in states:
            states[name] = value
        else:
            object.__setattr__(self, name, value)

    @property
    def variables(self) -> list[torch.Tensor]:
        """The state tensors ('cat' states concatenated), in declaration order."""
        out = []
        for name, reduce in self._reductions.items():
            value = self._state_values[name]
            if reduce == "cat":
                value = torch.cat([v.reshape(-1) if v.dim() == 0 else v for v in value]) if value \
                    else torch.empty(0, dtype=self._dtype, device=self._device)
            out.append(value)
        return out

    @property
    def dtype(self) -> str:
        """Name of the metric's float dtype, e.g. 'float32' (as Keras)."""
        return str(self._dtype).replace("torch.", "")

    @property
    def device(self) -> torch.device:
        """Where the states live."""
        return self._device

    def to(self, device: torch.device | str) -> "Metric":
        """Moves every state to `device` in place (references to the state tensors stay valid)."""
        device = _canonical(device)
        for name, reduce in self._reductions.items():
            value = self._state_values[name]
            if reduce == "cat":
                self._state_values[name] = [v.to(device) for v in value]
            elif value.device != device:
                _move_in_place(value, device)
        self._device = device
        return self

    def _to_tensor(self, x: Any, dtype: torch.dtype | None = None) -> torch.Tensor:
        """An input as a tensor on the states' device (torch tensors already there are not copied).

        Without `dtype`, floating inputs take the metric's dtype (so a float64 metric sees float64 data
        and half-precision predictions are scored in float32); integers and booleans keep theirs.
        """
        if dtype is None:
            floating = x.is_floating_point() if isinstance(x, torch.Tensor) else np.asarray(x).dtype.kind == "f"
            dtype = self._dtype if floating else None
        return convert_to_tensor(x, dtype=dtype, device=self._device)

    # --- the metric API ----------------------------------------------------------------------
    def update_state(self, *args: Any, **kwargs: Any) -> None:
        """Accumulates statistics from one batch. Subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement update_state().")

    def result(self) -> torch.Tensor:
        """The metric value over everything seen since the last reset (a tensor). Subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement result().")

    def reset_state(self) -> None:
        """Returns every state to its default, keeping its device."""
        for name, reduce in self._reductions.items():
            if reduce == "cat":
                self._state_values[name] = []
            else:
                value = self._state_values[name]
                value.data = self._defaults[name].to(device=value.device, dtype=value.dtype).clone()

    def merge_state(self, metrics: "Metric | Iterable[Metric]") -> "Metric":
        """Folds the states of other copies of this metric into this one (e.g. one per data shard).

        Args:
            metrics: a metric of the same class (or several), whose states were accumulated elsewhere.

        Returns:
            self, whose `result()` now covers the data of all of them.
        """
        others = [metrics] if isinstance(metrics, Metric) else list(metrics)
        for other in others:
            if not isinstance(other, Metric) or set(other._reductions) != set(self._reductions):
                raise TypeError(f"merge_state expects metrics of the same kind as {type(self).__name__} "
                                f"with states {sorted(self._reductions)}, got {type(other).__name__}.")
        with torch.no_grad():
            for name, reduce in self._reductions.items():
                mine = self._state_values[name]
                if reduce == "cat":
                    theirs = [[t.to(self._device) for t in o._state_values[name]] for o in others]
                    self._state_values[name] = combine_states("cat", [mine, *theirs])
                    continue
                theirs = [o._state_values[name].detach().to(device=mine.device, dtype=mine.dtype) for o in others]
                mine.data = combine_states(reduce, [mine.detach(), *theirs])
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Updates the state with one batch, then returns the result over everything seen (as Keras)."""
        self.update_state(*args, **kwargs)
        return self.result()

    # --- config ------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-friendly."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Metric":
        """Rebuilds a metric from `get_config()`'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


METRICS: Registry = Registry("metric", base=Metric, hint="Pass a string id such as 'mse', a Metric instance, or "
                                                        "a function fn(y_true, y_pred).")
"""Metric classes by class name, snake_case name and Keras alias ('mse', 'MAE', ...); `plait.metrics.get`,
`serialize` and `deserialize` resolve through it (bare functions become its wrapper, `MeanMetricWrapper`)."""

METRIC_FUNCTIONS: Registry = Registry("metric function", functions=True)
"""Per-sample function twins (`binary_accuracy`, ...), so a serialized `MeanMetricWrapper` can be rebuilt."""
