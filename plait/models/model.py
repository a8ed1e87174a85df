"""Model: a Layer that can be compiled, trained (fit), evaluated and used to predict.

The structure (layers, shapes, summary, config, saving) is here; the Keras training API (compile, fit,
evaluate, predict, ...) comes from `models/training_api.py`, and the steps from `training/trainer.py`.
"""
from __future__ import annotations

from typing import Any

import torch

from plait import config
from plait.layers.layer import LAYERS, Layer
from plait.models.training_api import TrainingAPI
from plait.tree import flatten


@LAYERS.register("Functional")  # a model is a layer; "Functional" is Keras's name for a graph Model
class Model(TrainingAPI, Layer):
    """A trainable model. Subclass it and implement `call`, or build one from symbolic tensors.

    Args:
        inputs: For the functional API, the `plait.Input(...)` tensor(s).
        outputs: For the functional API, the output tensor(s) computed from `inputs`.
        name: Model name.

    Example:
        >>> import plait
        >>> inputs = plait.Input(shape=(4,))
        >>> outputs = plait.layers.Dense(2)(inputs)
        >>> model = plait.Model(inputs, outputs)
        >>> model.output_shape
        (None, 2)
    """

    def __init__(self, inputs: Any = None, outputs: Any = None, name: str | None = None,
                 trainable: bool = True, **kwargs: Any) -> None:
        super().__init__(name=name, trainable=trainable, **kwargs)
        self.history: Any = None
        self._graph = None
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError("The functional API needs both inputs and outputs: plait.Model(inputs, outputs).")
            from plait.models.functional import FunctionalGraph

            self._graph = FunctionalGraph(inputs, outputs)
            self._graph_layers = torch.nn.ModuleList(self._graph.layers)
            self._build_shape = self._graph.input_shapes
            self.built = True

    # ------------------------------------------------------------------ structure
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._clear_added_losses()  # `losses` holds the `add_loss` terms of this call only, as in Keras
        return super().__call__(*args, **kwargs)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if self._graph is None:
            raise NotImplementedError(f"Model {self.name!r} has no call(): subclass plait.Model and implement "
                                      "call(self, inputs, training=None), or use plait.Model(inputs, outputs).")
        return self._graph.run(inputs, training=training)

    @property
    def layers(self) -> list[Layer]:
        if self._graph is not None:
            return list(self._graph.layers)
        return [m for m in self.children() if isinstance(m, Layer)]

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called `name`, or at position `index` in `layers`."""
        if (name is None) == (index is None):
            raise ValueError("Give exactly one of name= or index= to get_layer.")
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"get_layer index {index} is out of range: the model has {len(self.layers)} layers.")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No layer named {name!r}; the layers are {[layer.name for layer in self.layers]}.")

    @property
    def input(self) -> Any:
        """The model's symbolic input(s), as given to `Model(inputs, outputs)` (Keras's `model.input`)."""
        return self._graph.inputs_structure if self._graph is not None else super().input

    @property
    def output(self) -> Any:
        """The model's symbolic output(s), as given to `Model(inputs, outputs)` (Keras's `model.output`)."""
        return self._graph.outputs_structure if self._graph is not None else super().output

    @property
    def inputs(self) -> list[Any]:
        """The symbolic inputs as a flat list (Keras's `model.inputs`)."""
        return flatten(self.input)

    @property
    def outputs(self) -> list[Any]:
        """The symbolic outputs as a flat list (Keras's `model.outputs`)."""
        return flatten(self.output)

    @property
    def output_names(self) -> list[str]:
        if self._graph is not None:
            return self._graph.output_names
        return ["output"]

    def build(self, input_shape: Any) -> None:
        """Builds the weights by running the model once on a zero batch of `input_shape`."""
        if self.built:
            return
        self.compute_output_shape(input_shape)
        self._build_shape = input_shape
        self.built = True

    def _maybe_build(self, input_shape: Any) -> None:
        if not self.built:
            self._build_shape = input_shape
            self.built = True  # children build lazily inside the first call

    def compute_output_shape(self, input_shape: Any) -> Any:
        if self._graph is not None:
            return self._graph.output_shapes
        return super().compute_output_shape(input_shape)

    @property
    def output_shape(self) -> Any:
        if self._build_shape is None:
            raise AttributeError(f"Model {self.name!r} has no defined output shape yet: it has not been built. "
                                 "Give the first layer input_shape=..., start with plait.Input(shape), or call "
                                 "the model on data first.")
        return self.compute_output_shape(self._build_shape)

    def summary(self, line_length: int | None = None, positions: Any = None, print_fn: Any = None,
                expand_nested: bool = False, show_trainable: bool = False) -> None:
        """Prints a table of the layers, their output shapes and parameter counts, and the totals.

        Args:
            line_length: Total width of the table in characters. `None` means 88.
            positions: Accepted for Keras compatibility and ignored: the column widths are fixed fractions
                of `line_length`.
            print_fn: Function called with the table's text, e.g. to log it. `None` means `print`.
            expand_nested: Accepted for Keras compatibility and ignored: nested models are shown as one row.
            show_trainable: If True, adds a column saying whether each layer is trainable. Default False.

        Returns:
            None; the table goes to `print_fn`.

        Raises:
            ValueError: If the model is not built yet (give the first layer an input shape, start with
                `plait.Input(shape)`, or call the model on data first).

        Example:
            >>> import plait
            >>> model = plait.Sequential([plait.Input(shape=(4,)), plait.layers.Dense(2)])
            >>> lines = []
            >>> model.summary(print_fn=lines.append)
            >>> any("Total params: 10" in line for line in lines)
            True
        """
        from plait.models.summary import print_summary

        print_summary(self, line_length=line_length, print_fn=print_fn, show_trainable=show_trainable)

    def count_params(self) -> int:
        if not self.built or (not list(self.parameters()) and any(not la.built for la in self.layers)):
            raise ValueError(f"Model {self.name!r} has not been built yet, so it has no weights to count. "
                             "Give the first layer input_shape=..., or call the model on data first.")
        return int(sum(p.numel() for p in self.parameters()))

    # ------------------------------------------------------------------ saving (done by plait.saving)
    def get_config(self) -> dict[str, Any]:
        """The architecture as a JSON-friendly dict; for a functional model, its layers and how they connect."""
        from plait.models.functional import functional_config

        return functional_config(self) if self._graph is not None else super().get_config()

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> "Model":
        """Rebuilds a model from `get_config()`'s output (a functional graph, or a subclass's own config)."""
        from plait.models.functional import functional_from_config

        if isinstance(config, dict) and "layers" in config and "input_layers" in config:
            return functional_from_config(cls, config, custom_objects)
        return cls(**config)

    def save(self, filepath: Any, overwrite: bool = True) -> None:
        """Saves architecture, weights, compile config and optimizer state to one `.plait` file, atomically.

        The file is written under a temporary name and renamed into place, so a crash or a full disk never
        leaves a half-written model. `plait.load_model(filepath)` restores it.

        Args:
            filepath: Path of the file, a string or `os.PathLike`, ending in `.plait`.
            overwrite: If True (the default), replaces an existing file; if False, raises instead.

        Returns:
            None.

        Raises:
            ValueError: If the path does not end in `.plait`, the model is not built, or a custom layer's
                config is not JSON-serializable.
            FileExistsError: If the file exists and `overwrite` is False.
        """
        from plait import saving

        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath: Any, overwrite: bool = True) -> None:
        """Saves the weights only to a `.weights.safetensors` file, atomically."""
        from plait import saving

        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath: Any, skip_mismatch: bool = False) -> None:
        """Loads weights from a `.safetensors` (or `.plait`) file; mismatches raise unless `skip_mismatch`."""
        from plait import saving

        saving.load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def to_json(self, **kwargs: Any) -> str:
        """The architecture (no weights) as JSON; `plait.saving.model_from_json` rebuilds it."""
        import json

        from plait.saving.serialization import serialize_model

        return json.dumps(serialize_model(self), **kwargs)

    def _device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return config.get_device()

    def __repr__(self) -> str:
        return f"<plait.{type(self).__name__} name={self.name!r}, built={self.built}>"
