"""Keras 3's `config.json` to plait's model config and back, as data only (nothing a file names is imported).

Reading (`from_keras`): every object's `module` must be one of Keras's own (`KERAS_MODULES`, or a `keras.src.*`
module) unless it carries a `registered_name` (a custom object, found only among plait's registered and custom
objects); classes are then resolved by plait's registries when the translated config is deserialized. What
differs between the two configs is translated here:

- `dtype`: Keras's `DTypePolicy` dict becomes the dtype name plait takes (`"float32"`); a mixed policy
  (`"mixed_float16"`) becomes its variable dtype, float32;
- the model's `input_layers`/`output_layers` triples `[name, node, tensor]` become plait's tensor references;
- keys plait's class does not take are dropped when null, false (a Keras-only option left off), or inert
  (`DROPPED_KEYS` at Keras's default, e.g. `renorm_momentum: 0.99`); those that only matter to training
  (`TRAINING_ONLY_KEYS`, any `*_regularizer` plait lacks, any `*_constraint`: plait's constraints are
  callables with no serialized form) are dropped with a warning when set; any other setting plait does not
  have (`rms_scaling: true`, `renorm: true`, `use_gate: true`) is refused with a `FormatError`, since the
  model would not predict as it did in Keras.

Writing (`to_keras`) goes the other way: Keras modules, `DTypePolicy` dicts, Sequential's leading
`InputLayer`, and the triples.
"""
from __future__ import annotations

import inspect
import warnings
from typing import Any

from plait.errors import FormatError

KERAS_MODULES = frozenset({"keras", "keras.layers", "keras.models", "keras.initializers", "keras.regularizers",
                           "keras.constraints", "keras.optimizers", "keras.optimizers.schedules", "keras.losses",
                           "keras.metrics", "keras.activations", "builtins"})
"""The `module` values a Keras file may name (besides `keras.src.*`); they are checked, never imported."""

DROPPED_KEYS = frozenset({
    "kernel_constraint", "bias_constraint", "recurrent_constraint", "embeddings_constraint", "beta_constraint",
    "gamma_constraint", "depthwise_constraint", "pointwise_constraint", "activity_regularizer",
    "quantization_config", "sparse", "ragged", "optional", "synchronized", "renorm", "renorm_clipping",
    "renorm_momentum", "rms_scaling", "use_gate", "sliding_window", "lora_rank", "lora_alpha", "unroll",
    "input_axes", "output_axes", "flash_attention", "build_input_shape"})
"""Keras-only config keys dropped when their value is inert (null, false, Keras's default)."""

TRAINING_ONLY_KEYS = frozenset({
    "kernel_constraint", "bias_constraint", "recurrent_constraint", "embeddings_constraint", "beta_constraint",
    "gamma_constraint", "depthwise_constraint", "pointwise_constraint", "activity_regularizer", "synchronized",
    "renorm_clipping", "renorm_momentum", "unroll"})
"""Keras-only keys that change training but not predictions: dropped with a warning when set."""

_INERT_DEFAULTS: dict[str, Any] = {"renorm_momentum": 0.99, "unroll": False, "synchronized": False}
_TENSOR_TAG = "__keras_tensor__"
_MODEL_KEYS = ("layers", "input_layers", "output_layers", "build_input_shape")
_OBJECT_KEYS = ("kernel_initializer", "bias_initializer", "recurrent_initializer", "embeddings_initializer",
                "beta_initializer", "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer",
                "depthwise_initializer", "pointwise_initializer", "alpha_initializer")
_REGULARIZER_SUFFIX = "_regularizer"


# ------------------------------------------------------------------------------------------------------ reading
def check_module(spec: dict[str, Any], where: str) -> None:
    """Refuses an object whose `module` is not Keras's own (custom objects, with a `registered_name`, excepted)."""
    module = spec.get("module")
    if module is None or spec.get("registered_name"):
        return
    if not isinstance(module, str) or not (module in KERAS_MODULES or module.startswith("keras.src.")):
        raise FormatError(f"{where}: object {str(spec.get('class_name'))[:80]!r} comes from module "
                          f"{str(module)[:80]!r}, which is not one of Keras's; plait reads only Keras's own layers "
                          "and objects registered with plait.saving.register_serializable().")


def _dtype_name(value: Any, where: str) -> Any:
    if isinstance(value, dict):
        check_module(value, where)
        name = (value.get("config") or {}).get("name") if isinstance(value.get("config"), dict) else None
        if not isinstance(name, str):
            raise FormatError(f"{where}: malformed dtype policy {str(value)[:100]}.")
        value = name
    if isinstance(value, str) and value.startswith("mixed_"):
        return "float32"  # a mixed policy's variables are float32; plait's autocast is set at compile/fit
    return value


def _accepted(cls: Any) -> set[str] | None:
    """The keyword arguments `cls` takes (over its MRO, as plait's layers pass **kwargs up); None if unknown."""
    names: set[str] = set()
    for klass in inspect.getmro(cls):
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return None
        names.update(p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "self")
    return names


def _inert(key: str, value: Any) -> bool:
    return value is None or value is False or value == _INERT_DEFAULTS.get(key, object())


def _plain_object(spec: Any, where: str) -> Any:
    """An initializer/regularizer/constraint spec with its module checked and Keras-only null keys dropped."""
    if not isinstance(spec, dict):
        return spec
    check_module(spec, where)
    config = spec.get("config")
    if isinstance(config, dict):
        config = {k: v for k, v in config.items() if not (k in DROPPED_KEYS and v is None)}
    return {"class_name": spec.get("class_name"), "config": config, "registered_name": spec.get("registered_name")}


def _layer_config(cls: Any, config: dict[str, Any], where: str) -> dict[str, Any]:
    accepted = _accepted(cls)
    out: dict[str, Any] = {}
    for key, value in config.items():
        if key == "dtype":
            value = _dtype_name(value, where)
        elif key in _OBJECT_KEYS or key.endswith(_REGULARIZER_SUFFIX):
            value = _plain_object(value, where)
        if key.endswith("_constraint"):
            if value is not None:  # plait's constraints are callables, with no serialized form to rebuild
                warnings.warn(f"{where}: Keras's {key}={str(value)[:80]} is dropped (plait does not rebuild "
                              "constraints from a file); predictions are unchanged, training differs.", stacklevel=4)
        elif accepted is None or key in accepted or key in _MODEL_KEYS:
            out[key] = value
        elif key in TRAINING_ONLY_KEYS or key.endswith((_REGULARIZER_SUFFIX, "_constraint")):
            if not _inert(key, value):
                warnings.warn(f"{where}: Keras's {key}={str(value)[:80]} is dropped (plait's {cls.__name__} has no "
                              "such argument); predictions are unchanged, training differs.", stacklevel=4)
        elif not (value is None or value is False or (key in DROPPED_KEYS and _inert(key, value))):
            raise FormatError(f"{where}: plait's {cls.__name__} has no argument {key!r} (the file sets it to "
                              f"{str(value)[:80]}), so the model would not compute what it did in Keras.")
    return out


def _as_tensor_refs(value: Any) -> Any:
    """Keras's `[name, node, tensor]` triples (or lists of them) as plait's `__keras_tensor__` references."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) \
            and all(isinstance(i, int) for i in value[1:]):
        return {"class_name": _TENSOR_TAG, "config": {"shape": None, "dtype": None, "keras_history": list(value)}}
    if isinstance(value, list):
        return [_as_tensor_refs(v) for v in value]
    if isinstance(value, dict) and value.get("class_name") != _TENSOR_TAG:
        return {k: _as_tensor_refs(v) for k, v in value.items()}
    return value


def from_keras(spec: Any, registry: Any, where: str = "config.json") -> dict[str, Any]:
    """A Keras layer or model spec (`{"module", "class_name", "config", ...}`) as plait's spec.

    Args:
        spec: The parsed JSON object from the file.
        registry: plait's layer registry (`LAYERS`), used only to look classes up by name.
        where: Where the spec comes from, for messages.
    """
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str):
        raise FormatError(f"{where}: expected a layer spec with a 'class_name', got {str(spec)[:100]}.")
    check_module(spec, where)
    config = spec.get("config")
    if not isinstance(config, dict):
        raise FormatError(f"{where}: the config of {spec['class_name'][:80]!r} must be a JSON object.")
    cls = registry.resolve(spec)
    where = f"{where}: layer {str(config.get('name', spec['class_name']))[:80]!r}"
    out = {"class_name": spec["class_name"], "registered_name": spec.get("registered_name"),
           "config": _layer_config(cls, config, where)}
    layers = config.get("layers")
    if isinstance(layers, list):
        layers = [from_keras(layer, registry, where) for layer in layers]
        if spec["class_name"] == "Sequential" and layers and layers[0]["class_name"] == "InputLayer":
            out["config"]["build_input_shape"] = layers.pop(0)["config"].get("batch_shape")
        out["config"]["layers"] = layers
    for key in ("input_layers", "output_layers"):
        if key in config:
            out["config"][key] = _as_tensor_refs(config[key])
    for key in ("name", "inbound_nodes", "build_config"):
        if key in spec:
            out[key] = spec[key]
    if spec.get("registered_name") == spec["class_name"]:
        out["registered_name"] = None  # Keras writes "Functional" here; it is no custom name
    return out


# ------------------------------------------------------------------------------------------------------ writing
def _policy(name: Any) -> dict[str, Any]:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name or "float32"},
            "registered_name": None}


def _keras_object(spec: Any, module: str) -> Any:
    if isinstance(spec, dict) and "class_name" in spec and spec.get("registered_name") is None:
        return {**spec, "module": module}
    return spec


def _as_triples(value: Any) -> Any:
    if isinstance(value, dict) and value.get("class_name") == _TENSOR_TAG:
        return list(value["config"]["keras_history"])
    if isinstance(value, list):
        return [_as_triples(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_triples(v) for k, v in value.items()}
    return value


def to_keras(spec: dict[str, Any], dtypes: dict[str, str]) -> dict[str, Any]:
    """plait's serialized layer or model spec in Keras 3's layout.

    Args:
        spec: `serialize_model`'s output (or one layer's entry in it).
        dtypes: Layer name -> dtype name, for the `DTypePolicy` Keras writes on every layer.
    """
    config = dict(spec.get("config") or {})
    name = config.get("name")
    class_name = spec["class_name"]
    for key, value in list(config.items()):
        if key in _OBJECT_KEYS:
            config[key] = _keras_object(value, "keras.initializers")
        elif key.endswith(_REGULARIZER_SUFFIX):
            config[key] = _keras_object(value, "keras.regularizers")
    if class_name != "InputLayer":
        config["dtype"] = _policy(dtypes.get(name, "float32"))
    out: dict[str, Any] = {"module": "keras.layers", "class_name": class_name, "config": config,
                           "registered_name": spec.get("registered_name")}
    if isinstance(config.get("layers"), list):
        layers = [to_keras(layer, dtypes) for layer in config["layers"]]
        if class_name == "Sequential":
            out["module"] = "keras"
            shape = config.get("build_input_shape")
            if shape is not None:
                layers.insert(0, {"module": "keras.layers", "class_name": "InputLayer",
                                  "config": {"batch_shape": list(shape), "dtype": "float32",
                                             "name": f"{name}_input"}, "registered_name": None})
        else:
            out["module"], out["registered_name"] = "keras.src.models.functional", "Functional"
            for key in ("input_layers", "output_layers"):
                config[key] = _as_triples(config.get(key))
        config["layers"] = layers
    for key in ("name", "inbound_nodes", "build_config"):
        if key in spec:
            out[key] = spec[key]
    return out


__all__ = ["DROPPED_KEYS", "KERAS_MODULES", "TRAINING_ONLY_KEYS", "check_module", "from_keras", "to_keras"]
