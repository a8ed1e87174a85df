"""`clone_model`: the same architecture with fresh weights, as Keras's `keras.models.clone_model`."""
from __future__ import annotations

from typing import Any, Callable

from plait.layers.input_layer import InputLayer
from plait.layers.layer import Layer
from plait.models.model import Model
from plait.models.sequential import Sequential


def _fresh_layer(layer: Layer) -> Layer:
    return type(layer).from_config(layer.get_config())


def clone_model(model: Model, input_tensors: Any = None,
                clone_function: Callable[[Layer], Layer] | None = None) -> Model:
    """A new model with the architecture of `model` and newly initialized weights (nothing is shared).

    As in Keras, the clone is not compiled and its weights are new; copy them with
    `clone.set_weights(model.get_weights())` if you want the trained ones.

    Args:
        model: A Sequential, functional or subclassed (with `get_config`) model.
        input_tensors: Not supported (Keras uses it to rewire a functional clone); must be None.
        clone_function: For a Sequential model, a function `layer -> new layer` applied to each layer (default:
            `type(layer).from_config(layer.get_config())`, as Keras).

    Returns:
        The clone, built when `model` had a defined input shape.

    Raises:
        ValueError: For `input_tensors`, or `clone_function` with a model that is not Sequential.

    Example:
        >>> import plait
        >>> model = plait.Sequential([plait.Input((3,)), plait.layers.Dense(2)])
        >>> clone = clone_model(model)
        >>> clone.output_shape, clone.layers[0] is model.layers[0]
        ((None, 2), False)
    """
    if input_tensors is not None:
        raise ValueError("clone_model(input_tensors=...) is not supported; clone the model, then call it on your "
                         "tensors: clone(plait.Input(...)).")
    if isinstance(model, Sequential):
        make = clone_function or _fresh_layer
        layers: list[Layer] = []
        if model._input_layer is not None:
            layers.append(InputLayer(batch_shape=model._input_layer.batch_shape, dtype=model._input_layer.dtype))
        layers += [make(layer) for layer in model.layers]
        return Sequential(layers, name=model.name)
    if clone_function is not None:
        raise ValueError("clone_function is supported for Sequential models; a functional or subclassed model is "
                         "cloned from its config.")
    from plait.saving.serialization import deserialize_model, serialize_model

    return deserialize_model(serialize_model(model))
