"""Lambda: a function of the inputs as a layer, as Keras's `keras.layers.Lambda`.

A Keras `.keras` file stores a Lambda's Python bytecode and runs it on load (only with `safe_mode=False`).
plait never loads code from a file, so a model with a Lambda saves only when its function can be named: a
plait activation (`plait.activations.relu`) or a function registered with
`@plait.saving.register_serializable()`; loading then finds it by that name. Any other function is refused at
save time with the fix, instead of writing a file that could not be loaded (there is no `safe_mode=False`).
"""
from __future__ import annotations

from typing import Any, Callable

from plait import activations
from plait.custom_objects import get_registered_name, get_registered_object
from plait.errors import FormatError
from plait.layers.layer import LAYERS, Layer
from plait.layers.symbolic import normalize_shape


@LAYERS.register()
class Lambda(Layer):
    """Wraps `function(inputs, **arguments)` as a layer.

    Args:
        function: The function of the inputs (a tensor, or a list of tensors for several inputs).
        output_shape: The output's shape without the batch dimension (a tuple), or a function of the input
            shape; None infers it by calling the function on zeros.
        mask: Accepted for Keras compatibility; plait layers do not propagate masks.
        arguments: Extra keyword arguments for `function`.
        **kwargs: Base layer arguments (`name`, `dtype`, `input_shape`, ...).

    Example:
        >>> import plait, torch
        >>> double = Lambda(lambda x: 2 * x, name="double")
        >>> double(torch.ones(2, 3)).tolist()
        [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
        >>> plait.Sequential([plait.Input((3,)), Lambda(lambda x: x[:, :2])]).output_shape
        (None, 2)
    """

    def __init__(self, function: Callable[..., Any], output_shape: Any = None, mask: Any = None,
                 arguments: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not callable(function):
            raise TypeError(f"Lambda takes a function of the inputs, got {type(function).__name__}: {function!r}.")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"arguments must be a dict of keyword arguments for the function, got {arguments!r}.")
        super().__init__(**kwargs)
        self.function = function
        self.arguments = dict(arguments or {})
        self.mask = mask
        self._output_shape = output_shape if output_shape is None or callable(output_shape) else \
            normalize_shape(output_shape, "output_shape")

    def call(self, inputs: Any) -> Any:
        return self.function(inputs, **self.arguments)

    def compute_output_shape(self, input_shape: Any) -> Any:
        if self._output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        first = input_shape[0] if isinstance(input_shape, list) else input_shape
        return (first[0],) + tuple(self._output_shape)

    def get_config(self) -> dict[str, Any]:
        if callable(self._output_shape):
            raise ValueError(f"Cannot save Lambda layer {self.name!r}: its output_shape is a function, and plait "
                             "never stores code. Give output_shape as a tuple, or leave it out.")
        return {**super().get_config(), "function": _function_name(self.function, self.name),
                "output_shape": None if self._output_shape is None else list(self._output_shape),
                "arguments": self.arguments}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> "Lambda":
        config = dict(config)
        name = config.pop("function", None)
        function = get_registered_object(name, custom_objects) if isinstance(name, str) else None
        if function is None and isinstance(name, str) and name in activations.ACTIVATIONS:
            function = activations.get(name)
        if not callable(function):
            raise FormatError(f"The Lambda layer's function {str(name)[:100]!r} is not a plait activation nor a "
                              "registered function. Register it with @plait.saving.register_serializable() (or pass "
                              "custom_objects={name: function}) before loading.")
        return cls(function, **config)


def _function_name(function: Callable[..., Any], layer: str) -> str:
    name = getattr(function, "__name__", "")
    registered = get_registered_name(function)
    if registered != name and get_registered_object(registered) is function:  # register_serializable's name
        return registered
    if name and name in activations.ACTIVATIONS and activations.get(name) is function:
        return name
    raise ValueError(f"Cannot save Lambda layer {layer!r}: its function {name or function!r} has no name a file "
                     "can hold, and plait never stores code (Keras stores bytecode and runs it on load). Decorate "
                     "the function with @plait.saving.register_serializable(), use a plait activation, or write "
                     "the computation as a Layer subclass with get_config.")
