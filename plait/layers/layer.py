"""Layer: a torch.nn.Module with Keras's lazy build, weights API and symbolic (functional) calls."""
from __future__ import annotations

import inspect
import itertools
from collections import defaultdict
from typing import Any, Iterable

import numpy as np
import torch

from plait import config
from plait.layers.symbolic import is_symbolic, map_shapes, normalize_shape, shapes_of, symbolic_call
from plait.registry import Registry, to_snake_case
from plait.tensors import convert_to_tensor
from plait.tree import flatten
from plait.variables import Variable

_NAME_COUNTS: defaultdict[str, itertools.count] = defaultdict(itertools.count)


def _regularizer(identifier: Any) -> Any:
    from plait import regularizers

    return regularizers.get(identifier)

# Set by the first `add_loss` anywhere: until then no model call spends time clearing added losses.
_ADDED_LOSSES = {"in_use": False}
# Set when a layer that makes masks exists (`Embedding(mask_zero=True)`, `Masking`): until then no layer call
# spends time looking for a mask to pass on.
_MASKS = {"in_use": False}


def use_masks() -> None:
    """Turns on Keras's mask propagation (called by the layers that make masks)."""
    _MASKS["in_use"] = True


def unique_name(base: str) -> str:
    """Keras naming: `dense`, `dense_1`, `dense_2`, ..."""
    n = next(_NAME_COUNTS[base])
    return base if n == 0 else f"{base}_{n}"


def _has_hooks(module: torch.nn.Module) -> bool:
    """Whether nn.Module.__call__ has work to do (forward hooks), so the direct call must not skip it."""
    return bool(module._forward_hooks or module._forward_pre_hooks or torch.nn.modules.module._global_forward_hooks
                or torch.nn.modules.module._global_forward_pre_hooks or module._backward_hooks
                or torch.nn.modules.module._global_backward_hooks or module._backward_pre_hooks)


def _to_tensors(x: Any) -> Any:
    # Its own walk, not tree.map_structure: a list of numbers is one array, not a structure of scalars.
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, (list, tuple)) and x and not isinstance(x[0], (int, float, np.number)):
        return type(x)(_to_tensors(v) for v in x)
    if isinstance(x, dict):
        return {k: _to_tensors(v) for k, v in x.items()}
    return convert_to_tensor(x)


class Layer(torch.nn.Module):
    """Base class of every plait layer: a `torch.nn.Module` that builds its weights on first call.

    Subclasses implement `build(input_shape)` (create weights with `add_weight`) and
    `call(inputs, training=None)`; `compute_output_shape` has a generic fallback.

    Example:
        >>> class Scale(Layer):
        ...     def build(self, input_shape):
        ...         self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")
        ...     def call(self, x):
        ...         return x * self.w
        >>> Scale()(torch.ones(2, 3)).shape
        torch.Size([2, 3])
    """

    _call_takes_training = False
    _call_takes_mask = False
    supports_masking = False
    """Whether the layer passes an incoming mask on to its output unchanged (Keras's `supports_masking`)."""

    def __init__(self, *, name: str | None = None, trainable: bool = True, dtype: Any = None,
                 input_shape: Any = None, input_dim: int | None = None, batch_input_shape: Any = None,
                 activity_regularizer: Any = None, **kwargs: Any) -> None:
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}. "
                             f"Check the spelling against the layer's documented arguments.")
        super().__init__()
        # Keras semantics: a direct call is inference unless training=True is passed (fit passes it).
        self.training = False
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self.built = False
        self._trainable = bool(trainable)
        self._dtype_name = None if dtype is None else str(config.dtype_from_name(dtype)).replace("torch.", "")
        self._build_shape: Any = None
        if batch_input_shape is not None:
            self._input_shape_arg = normalize_shape(batch_input_shape, "batch_input_shape")[1:]
        elif input_shape is not None:
            self._input_shape_arg = normalize_shape(input_shape, "input_shape")
        elif input_dim is not None:
            self._input_shape_arg = (int(input_dim),)
        else:
            self._input_shape_arg = None
        self._inbound_nodes: list = []
        self._weight_regularizers: list = []
        # Keras's base-layer argument: a penalty of the layer's output, added (add_loss) on every call.
        self.activity_regularizer = None if activity_regularizer is None else _regularizer(activity_regularizer)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        params = inspect.signature(cls.call).parameters
        cls._call_takes_training = "training" in params or any(
            p.kind is p.VAR_KEYWORD for p in params.values())
        cls._call_takes_mask = "mask" in params

    def __getattr__(self, name: str) -> Any:
        # A property that raises AttributeError (e.g. output_shape before build) would otherwise surface as
        # torch's generic "object has no attribute"; re-raise the property's own, explanatory error.
        try:
            return super().__getattr__(name)
        except AttributeError:
            prop = getattr(type(self), name, None)
            if isinstance(prop, property):
                return prop.fget(self)
            raise

    # ------------------------------------------------------------------ building
    @property
    def dtype(self) -> torch.dtype:
        return config.dtype_from_name(self._dtype_name) if self._dtype_name else config.float_dtype()

    def build(self, input_shape: Any) -> None:
        """Creates the layer's weights for inputs of `input_shape` (batch dimension first, may be None)."""
        self.built = True

    def _maybe_build(self, input_shape: Any) -> None:
        if not self.built:
            self._build_shape = input_shape
            self.build(input_shape)
            self.built = True

    def add_weight(self, shape: Any = None, initializer: Any = "glorot_uniform", dtype: Any = None,
                   trainable: bool = True, name: str | None = None, **kwargs: Any) -> Variable:
        """Creates a weight (a `Variable`, i.e. a torch Parameter) and tracks it on this layer."""
        from plait import initializers

        from plait import regularizers

        unknown = set(kwargs) - {"regularizer", "constraint", "autocast", "aggregation"}
        if unknown:
            raise ValueError(f"Unrecognized arguments to add_weight: {sorted(unknown)}.")
        regularizer = regularizers.get(kwargs.get("regularizer"))
        constraint = kwargs.get("constraint")
        if constraint is not None and not callable(constraint):
            raise TypeError("constraint must be a callable w -> w (e.g. lambda w: w.clamp(min=0)), "
                            f"got {constraint!r}.")
        shape = normalize_shape(() if shape is None else shape, "weight shape")
        torch_dtype = config.dtype_from_name(dtype) if dtype is not None else self.dtype
        init = initializers.get(initializer)
        value = torch.as_tensor(init(shape, dtype=torch_dtype))
        value = value.to(device=config.get_device(), dtype=torch_dtype)
        name = name or f"variable_{len(list(self._parameters))}"
        var = Variable(value, trainable=trainable and self._trainable, name=name)
        var._plait_trainable = bool(trainable)
        var._plait_path = f"{self.name}/{name}"
        if regularizer is not None:
            self._weight_regularizers.append((var, regularizer))
        if constraint is not None:
            var.constraint = constraint  # applied by the optimizer after each update, as Keras does
        attr = name
        while attr in self._parameters:
            attr += "_"
        self.register_parameter(attr, var)
        return var

    # ------------------------------------------------------------------ calling
    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"Layer {type(self).__name__} does not implement call().")

    def forward(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        # `inputs` is named so torch.export's `dynamic_shapes=({0: batch},)` and ONNX export bind to it (a bare
        # `*args` would make the spec need one more level of nesting).
        return self.call(inputs, *args, **kwargs)

    def __call__(self, inputs: Any, *args: Any, training: bool | None = None, **kwargs: Any) -> Any:
        if _MASKS["in_use"] and isinstance(inputs, torch.Tensor):
            return self._call_with_mask(inputs, args, training, kwargs)
        return self._dispatch(inputs, args, training, kwargs)

    def _call_with_mask(self, inputs: torch.Tensor, args: tuple, training: bool | None, kwargs: dict) -> Any:
        """A call with Keras's mask propagation: the mask the input carries (`_keras_mask`, set by the layer that
        made it) goes to a `call` that takes `mask=`, and `compute_mask` gives the output's."""
        mask = kwargs["mask"] if "mask" in kwargs else getattr(inputs, "_keras_mask", None)
        if mask is not None and self._call_takes_mask and "mask" not in kwargs:
            kwargs["mask"] = mask
        outputs = self._dispatch(inputs, args, training, kwargs)
        out_mask = self.compute_mask(inputs, mask)
        if out_mask is not None and isinstance(outputs, torch.Tensor):
            outputs._keras_mask = out_mask
        return outputs

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The mask of the output for `inputs` carrying `mask` (Keras's rule): passed on unchanged by a layer that
        `supports_masking`, dropped by the others. A layer that makes or reshapes masks overrides it."""
        return mask if self.supports_masking else None

    def _dispatch(self, inputs: Any, args: tuple, training: bool | None, kwargs: dict) -> Any:
        if self.built and type(inputs) is torch.Tensor and not _has_hooks(self):
            # The hot path (every layer of every step in fit): no conversion, no nn.Module dispatch.
            if self._call_takes_training:
                kwargs["training"] = training if training is not None else self.training
            if self.activity_regularizer is None:
                return self.call(inputs, *args, **kwargs)
            return self._regularize_activity(self.call(inputs, *args, **kwargs))
        if is_symbolic(inputs):
            return symbolic_call(self, inputs, args, kwargs)
        inputs = _to_tensors(inputs)
        if not self.built:
            self._maybe_build(shapes_of(inputs))
        if self._call_takes_training:
            kwargs["training"] = training if training is not None else self.training
        outputs = super().__call__(inputs, *args, **kwargs)
        return outputs if self.activity_regularizer is None else self._regularize_activity(outputs)

    def _regularize_activity(self, outputs: Any) -> Any:
        for output in flatten(outputs):
            if isinstance(output, torch.Tensor) and output.is_floating_point():
                self.add_loss(self.activity_regularizer(output))
        return outputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Output shape for `input_shape`; the default runs the layer once on a zero batch of one."""
        def zeros(shape: tuple) -> torch.Tensor:
            return torch.zeros([1 if d is None else d for d in shape], device=config.get_device(), dtype=self.dtype)

        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                out = self(map_shapes(zeros, input_shape))
        finally:
            self.train(was_training)
        return shapes_of(out)

    # ------------------------------------------------------------------ weights
    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        value = bool(value)
        for layer in self._flat_layers():
            layer._trainable = value
            for p in layer.parameters(recurse=False):
                p.requires_grad_(value and getattr(p, "_plait_trainable", True))

    def _flat_layers(self) -> Iterable["Layer"]:
        return [m for m in self.modules() if isinstance(m, Layer)]

    # ------------------------------------------------------------------ the functional graph
    def _first_node(self, what: str) -> Any:
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name!r} has never been called on a symbolic tensor (plait.Input), so "
                                 f"it has no defined {what}. Call it on one first, e.g. layer(plait.Input((3,))).")
        return self._inbound_nodes[0]

    @property
    def input(self) -> Any:
        """The symbolic input(s) of the layer's first call in a functional graph (Keras's `layer.input`)."""
        return self._first_node("input").inputs

    @property
    def output(self) -> Any:
        """The symbolic output(s) of the layer's first call in a functional graph (Keras's `layer.output`)."""
        return self._first_node("output").outputs

    def add_loss(self, loss: Any) -> None:
        """Adds a loss term (a scalar tensor) computed in `call`, as Keras's `Layer.add_loss`.

        The terms of the latest call of a model are in `model.losses`, and `fit` adds them to the compiled loss
        (or trains on them alone when compiled without a loss). Each call of a model clears those of the call
        before.

        Example:
            >>> class ActivityPenalty(Layer):
            ...     def call(self, x):
            ...         self.add_loss(1e-3 * x.square().sum())
            ...         return x
            >>> layer = ActivityPenalty()
            >>> _ = layer(torch.ones(2, 3))
            >>> [round(float(v), 6) for v in layer.losses]
            [0.006]
        """
        value = loss if isinstance(loss, torch.Tensor) else torch.as_tensor(loss, dtype=config.float_dtype())
        if value.numel() != 1:
            raise ValueError(f"add_loss takes a scalar loss, got a tensor of shape {tuple(value.shape)}; reduce it "
                             "first, e.g. self.add_loss(tensor.mean()).")
        _ADDED_LOSSES["in_use"] = True
        self.__dict__.setdefault("_added_losses", []).append(value.reshape(()))

    def _collect_added_losses(self) -> list[torch.Tensor]:
        if not _ADDED_LOSSES["in_use"]:
            return []
        return [v for layer in self._flat_layers() for v in layer.__dict__.get("_added_losses", ())]

    def _clear_added_losses(self) -> None:
        if _ADDED_LOSSES["in_use"]:
            for layer in self._flat_layers():
                layer.__dict__.pop("_added_losses", None)

    @property
    def losses(self) -> list[torch.Tensor]:
        """The loss terms of this layer and its sublayers: their weights' regularization penalties, then the
        terms `add_loss` recorded in the latest call (both are added to the training loss)."""
        return [reg(var) for var, reg in self._regularized_weights()] + self._collect_added_losses()

    def _regularized_weights(self) -> list[tuple[torch.Tensor, Any]]:
        """(weight, regularizer) pairs of this layer and its sublayers (fit keeps them in its FitRun)."""
        return [pair for layer in self._flat_layers() for pair in layer._weight_regularizers]

    @property
    def weights(self) -> list[torch.nn.Parameter]:
        """Trainable then non-trainable weights (Keras order)."""
        return self.trainable_weights + self.non_trainable_weights

    @property
    def trainable_weights(self) -> list[torch.nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    @property
    def non_trainable_weights(self) -> list[torch.nn.Parameter]:
        return [p for p in self.parameters() if not p.requires_grad]

    @property
    def trainable_variables(self) -> list[torch.nn.Parameter]:
        return self.trainable_weights

    @property
    def non_trainable_variables(self) -> list[torch.nn.Parameter]:
        return self.non_trainable_weights

    @property
    def variables(self) -> list[torch.nn.Parameter]:
        return self.weights

    def get_weights(self) -> list[np.ndarray]:
        """The weights' values as NumPy arrays, in `weights` order."""
        return [w.detach().cpu().numpy().copy() for w in self.weights]

    def set_weights(self, weights: list[Any]) -> None:
        """Writes NumPy arrays into the weights, in `weights` order; shapes must match."""
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(f"set_weights expected a list of {len(own)} arrays for layer {self.name!r}, "
                             f"got {len(weights)}.")
        for var, value in zip(own, weights):
            value = np.asarray(value)
            if tuple(value.shape) != tuple(var.shape):
                raise ValueError(f"Weight {getattr(var, 'path', '?')!r} has shape {tuple(var.shape)}, "
                                 f"got an array of shape {value.shape}.")
        with torch.no_grad():
            for var, value in zip(own, weights):
                var.copy_(torch.as_tensor(np.asarray(value), dtype=var.dtype, device=var.device))

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"Layer {self.name!r} is not built yet, so it has no weights to count. "
                             "Call it on data or build it first.")
        return int(sum(p.numel() for p in self.parameters()))

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        config_ = {"name": self.name, "trainable": self.trainable}
        if self.activity_regularizer is not None:
            from plait import regularizers

            config_["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if self._dtype_name:
            config_["dtype"] = self._dtype_name
        if self._input_shape_arg is not None:
            config_["input_shape"] = list(self._input_shape_arg)
        return config_

    @classmethod
    def from_config(cls, config_: dict[str, Any]) -> "Layer":
        return cls(**config_)

    @property
    def input_shape(self) -> Any:
        if self._build_shape is None:
            raise AttributeError(f"Layer {self.name!r} has not been called yet, so it has no input shape.")
        return self._build_shape

    @property
    def output_shape(self) -> Any:
        if not self.built or self._build_shape is None:
            raise AttributeError(f"Layer {self.name!r} has not been built yet, so it has no output shape. "
                                 "Call it on data or give the model an input shape.")
        return self.compute_output_shape(self._build_shape)

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


LAYERS: Registry = Registry("layer", base=Layer)
"""Layer classes (and the model classes, which are Layers) by class name and snake_case name."""
