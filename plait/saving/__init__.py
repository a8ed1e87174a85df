"""Saving and loading: `.plait` model files, `.safetensors` weights, Keras 3's `.keras`/`.weights.h5` files,
atomic writes, custom objects.

Loading treats every file as untrusted; `plait.saving.limits` holds the bounds on what it may cost.

Example:
    >>> import os, tempfile, plait
    >>> model = plait.Sequential([plait.layers.Dense(1, input_shape=(2,))])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.plait")
    >>> model.save(path)
    >>> restored = plait.saving.load_model(path)
"""
from plait.saving import atomic, keras_format, limits, safetensors_format
from plait.saving.atomic import atomic_write
from plait.saving.errors import FormatError
from plait.saving.model_io import load_model, load_weights, model_from_json, save_model, save_weights
from plait.saving.object_registration import (custom_object_scope, get_custom_objects, get_registered_name,
                                              get_registered_object, register_serializable)

register_keras_serializable = register_serializable  # Keras's name (`keras.saving.register_keras_serializable`)

__all__ = ["FormatError", "atomic", "atomic_write", "custom_object_scope", "get_custom_objects",
           "get_registered_name", "get_registered_object", "keras_format", "limits", "load_model", "load_weights",
           "model_from_json",
           "register_keras_serializable", "register_serializable", "safetensors_format", "save_model",
           "save_weights"]
