"""Sequential: a plain stack of layers, each feeding the next."""
from __future__ import annotations

from typing import Any

import torch

from plait.layers.input_layer import InputLayer, adjust_input_rank
from plait.layers.layer import LAYERS, Layer
from plait.layers.symbolic import KerasTensor
from plait.layers.torch_module import TorchModuleWrapper
from plait.models.model import Model


@LAYERS.register()  # a model is a layer: saved configs name it, and LAYERS resolves it
class Sequential(Model):
    """A linear stack of layers, each feeding the next.

    The input shape comes from a `plait.Input(shape)` first, or `input_shape=` on the first layer; without
    either, the model builds itself on its first call or `fit` (deferred build).

    Args:
        layers: Optional list of layers to add in order; it may start with a `plait.Input(shape)`.
            `None` (the default) starts empty: use `add()`.
        trainable: Whether the model's weights are updated by training. Default True.
        name: Name of the model. `None` (the default) gives a unique one ('sequential', 'sequential_1', ...).

    Example:
        >>> import plait
        >>> model = plait.Sequential([
        ...     plait.layers.Dense(10, input_shape=(5,)),
        ...     plait.layers.Dense(3),
        ... ])
        >>> model.output_shape
        (None, 3)
    """

    def __init__(self, layers: list[Any] | None = None, trainable: bool = True, name: str | None = None) -> None:
        super().__init__(name=name, trainable=trainable)
        self._input_layer: InputLayer | None = None
        self._stack = torch.nn.ModuleList()
        if layers is not None:
            if not isinstance(layers, (list, tuple)):
                raise TypeError(f"Sequential takes a list of layers, got {type(layers).__name__}. "
                                "Wrap it in brackets: Sequential([layer]).")
            for layer in layers:
                self.add(layer, rebuild=False)
        self._maybe_rebuild()

    def add(self, layer: Any, rebuild: bool = True) -> None:
        """Adds a layer on top of the stack.

        Args:
            layer: A plait layer, a `torch.nn.Module` (wrapped in a `TorchModuleWrapper`), or a
                `plait.Input(shape)` tensor, which sets the input shape and may only come first.
            rebuild: If True (the default), builds the model right away when its input shape is known.

        Raises:
            TypeError: If `layer` is neither a plait layer nor a torch module.
            ValueError: If a layer of that name is already in the model, or an Input is not first.
        """
        if isinstance(layer, KerasTensor):
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            if self._input_layer is not None or len(self._stack):
                raise ValueError("An Input can only come first in a Sequential model, and only once.")
            self._input_layer = layer
            return
        if isinstance(layer, torch.nn.Module) and not isinstance(layer, Layer):
            layer = TorchModuleWrapper(layer)
        if not isinstance(layer, Layer):
            raise TypeError(f"Only plait layers and torch modules can be added to a Sequential model, got "
                            f"{type(layer).__name__}: {layer!r}.")
        if any(existing.name == layer.name for existing in self._stack):
            raise ValueError(f"All layers in a Sequential model need unique names; {layer.name!r} is already used.")
        if not len(self._stack) and self._input_layer is None and layer._input_shape_arg is not None:
            self._input_layer = InputLayer(shape=layer._input_shape_arg)
        self._stack.append(layer)
        self.built = False
        self._build_shape = None
        if rebuild:
            self._maybe_rebuild()

    def pop(self, rebuild: bool = True) -> Layer:
        """Removes the last layer from the stack and returns it.

        Args:
            rebuild: If True (the default), rebuilds the model right away when its input shape is known.

        Returns:
            The removed layer.

        Raises:
            IndexError: If the model has no layers.
        """
        if not len(self._stack):
            raise IndexError("pop() on an empty Sequential model: there are no layers to remove.")
        layer = self._stack[-1]
        del self._stack[-1]
        self.built = False
        self._build_shape = None
        if rebuild:
            self._maybe_rebuild()
        return layer

    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)

    @layers.setter
    def layers(self, _: Any) -> None:
        raise AttributeError("`layers` is read-only; use add() and pop().")

    def _maybe_rebuild(self) -> None:
        if self._input_layer is not None and len(self._stack):
            self.build(self._input_layer.batch_shape)

    def build(self, input_shape: Any = None) -> None:
        """Builds every layer for inputs of `input_shape` (batch first, e.g. `(None, 16)`)."""
        if input_shape is None:
            if self._input_layer is None:
                raise ValueError("build() needs an input shape, e.g. model.build((None, 16)).")
            input_shape = self._input_layer.batch_shape
        shape = tuple(input_shape)
        for layer in self._stack:
            layer._maybe_build(shape)
            shape = layer.compute_output_shape(shape)
        self._build_shape = tuple(input_shape)
        self.built = True

    def _maybe_build(self, input_shape: Any) -> None:
        if not self.built:
            if self._input_layer is not None:
                self._maybe_rebuild()
            else:
                self.build(input_shape)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        x = inputs
        if self._input_layer is not None:
            if type(x) is not torch.Tensor and isinstance(x, (list, tuple, dict)):
                x = self._single_input(x)
            x = adjust_input_rank(x, self._input_layer.batch_shape)
        for layer in self._stack:
            x = layer(x, training=training) if layer._call_takes_training else layer(x)
        return x

    def _single_input(self, x: list | tuple | dict) -> Any:
        """The one array of a one-element list (Keras accepts `[x]`); any other structure is refused."""
        if isinstance(x, (list, tuple)) and len(x) == 1:
            return x[0]
        got = f"a dict with keys {sorted(map(str, x))}" if isinstance(x, dict) else \
            f"a {type(x).__name__} of {len(x)} arrays"
        raise ValueError(f"Sequential model {self.name!r} takes one input of shape "
                         f"{self._input_layer.batch_shape}, got {got}. Pass one array, or build a model with "
                         "several inputs with the functional API: plait.Model(inputs=[...], outputs=...).")

    def compute_output_shape(self, input_shape: Any) -> Any:
        shape = tuple(input_shape)
        for layer in self._stack:
            shape = layer.compute_output_shape(shape)
        return shape

    @property
    def input(self) -> Any:
        """The symbolic input (Keras's `model.input`): the `Input` the model starts from."""
        if self._input_layer is None:
            raise AttributeError(f"Sequential model {self.name!r} has no defined input yet: start it with "
                                 "plait.Input(shape) or give the first layer input_shape=...")
        return self._input_layer.output

    @property
    def output(self) -> Any:
        """The symbolic output (Keras's `model.output`), traced through the layers once from `input`."""
        traced = self.__dict__.get("_traced")
        if traced is None or traced[0] != len(self._stack):
            x = self.input
            for layer in self._stack:
                x = layer(x)
            traced = self.__dict__["_traced"] = (len(self._stack), x)
        return traced[1]

    @property
    def input_shape(self) -> Any:
        if self._build_shape is None:
            raise AttributeError(f"Sequential model {self.name!r} has no defined input shape yet.")
        return self._build_shape

    def get_config(self) -> dict[str, Any]:
        from plait.models.functional import serialize_layer

        layers = [serialize_layer(layer) for layer in self._stack]
        config = {"name": self.name, "trainable": self.trainable, "layers": layers}
        if self._build_shape is not None:
            config["build_input_shape"] = list(self._build_shape)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> "Sequential":
        """Rebuilds a Sequential model from `get_config()`'s output; layer classes resolve through the registries.

        Args:
            config: The output of `get_config()`.
            custom_objects: Your own layer classes by name (or register them with
                `plait.saving.register_serializable()`).

        Returns:
            A new, built (if the config recorded an input shape) model with freshly initialized weights.
        """
        from plait.models.functional import deserialize_layer

        layers = config.get("layers", [])
        if not isinstance(layers, list):
            raise TypeError(f"Sequential config 'layers' must be a list, got {type(layers).__name__}.")
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for spec in layers:
            model.add(deserialize_layer(spec, custom_objects), rebuild=False)
        model._maybe_rebuild()
        build_shape = config.get("build_input_shape")
        if build_shape is not None and not model.built:
            model.build(tuple(build_shape))
        return model
