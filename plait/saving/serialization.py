"""Model and compile configurations to JSON-friendly dicts and back, through plait's registries only.

Model classes are layers: `Model` (also named "Functional"), `Sequential` and the user's own models are
found in `plait.layers.LAYERS` like any layer, so this module imports no model class.
"""
from __future__ import annotations

from typing import Any

from plait.custom_objects import deserialization_scope
from plait.errors import FormatError
from plait.layers.layer import LAYERS


def serialize_model(model: Any) -> dict[str, Any]:
    """`{"module", "class_name", "config", "registered_name", "build_config"}` for a model (Keras's layout)."""
    config = LAYERS.serialize(model)
    if type(model) is LAYERS.registered("Functional") and getattr(model, "_graph", None) is not None:
        config["class_name"] = "Functional"  # Keras's name for a Model built from inputs and outputs
    config["build_config"] = {"input_shape": _jsonable_shape(getattr(model, "_build_shape", None))}
    return config


def _jsonable_shape(shape: Any) -> Any:
    if isinstance(shape, (list, tuple)):
        return [_jsonable_shape(s) for s in shape]
    if isinstance(shape, dict):
        return {k: _jsonable_shape(v) for k, v in shape.items()}
    return shape


def _as_shape(value: Any) -> Any:
    # JSON lists back to the tuples plait uses for one shape; a list of shapes stays a list.
    if isinstance(value, list) and all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in value):
        return tuple(value)
    if isinstance(value, list):
        return [_as_shape(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_shape(v) for k, v in value.items()}
    raise FormatError(f"Invalid input shape {str(value)[:100]} in the model's build_config.")


def deserialize_model(spec: Any, custom_objects: dict[str, Any] | None = None) -> Any:
    """Rebuilds a model from `serialize_model`'s output, built when the config recorded an input shape."""
    if not isinstance(spec, dict):
        raise FormatError(f"The model config must be a JSON object, got {type(spec).__name__}.")
    if not isinstance(spec.get("config", {}), dict):
        raise FormatError("The model config's 'config' entry must be a JSON object.")
    with deserialization_scope(custom_objects):
        model = LAYERS.deserialize(spec, base=LAYERS.registered("Model"))
        build_config = spec.get("build_config")
        shape = build_config.get("input_shape") if isinstance(build_config, dict) else None
        if shape is not None and not model.built:
            model.build(_as_shape(shape))
    return model


# ------------------------------------------------------------------------------------------------ compile config
def _map_spec(spec: Any, leaf: Any) -> Any:
    """Applies `leaf` to each loss/metric object of a compile spec, keeping strings, None and the nesting
    (lists, or dicts keyed by output name; a dict with a 'class_name' is a serialized object, a leaf)."""
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, (list, tuple)):
        return [_map_spec(s, leaf) for s in spec]
    if isinstance(spec, dict) and "class_name" not in spec:
        return {k: _map_spec(v, leaf) for k, v in spec.items()}
    return leaf(spec)


def _serialize_loss(spec: Any) -> Any:
    from plait import losses

    return _map_spec(spec, losses.serialize)


def _deserialize_loss(spec: Any) -> Any:
    from plait import losses

    return _map_spec(spec, lambda s: losses.deserialize(_checked(s, "loss")))


def _serialize_metric(spec: Any) -> Any:
    from plait import metrics

    return _map_spec(spec, lambda s: metrics.serialize(metrics.get(s)))


def _deserialize_metric(spec: Any) -> Any:
    from plait import metrics

    return _map_spec(spec, lambda s: metrics.deserialize(_checked(s, "metric")))


def _checked(spec: Any, what: str) -> dict:
    if not isinstance(spec, dict):
        raise FormatError(f"Invalid {what} entry {str(spec)[:100]} in the compile config.")
    return spec


def serialize_compile_config(model: Any) -> dict[str, Any] | None:
    """What `compile` was given, as JSON-friendly data (optimizer, losses and metrics serialized); None if not
    compiled."""
    from plait import optimizers

    if not getattr(model, "compiled", False):
        return None
    given = model._compile_config
    return {"optimizer": optimizers.serialize(model.optimizer), "loss": _serialize_loss(given.get("loss")),
            "loss_weights": given.get("loss_weights"), "metrics": _serialize_metric(given.get("metrics")),
            "weighted_metrics": _serialize_metric(given.get("weighted_metrics")),
            "run_eagerly": bool(getattr(model, "run_eagerly", False)),
            "steps_per_execution": int(getattr(model, "steps_per_execution", 1)),
            "jit_compile": getattr(model, "jit_compile", "auto")}


def compile_from_config(model: Any, config: Any, custom_objects: dict[str, Any] | None = None) -> None:
    """Calls `model.compile` with a deserialized `serialize_compile_config` output."""
    from plait import optimizers

    if not isinstance(config, dict):
        raise FormatError(f"The compile config must be a JSON object, got {type(config).__name__}.")
    with deserialization_scope(custom_objects):
        optimizer = config.get("optimizer", "rmsprop")
        if isinstance(optimizer, dict):
            optimizer = optimizers.deserialize(optimizer)
        model.compile(optimizer=optimizer, loss=_deserialize_loss(config.get("loss")),
                      loss_weights=config.get("loss_weights"),
                      metrics=_deserialize_metric(config.get("metrics")),
                      weighted_metrics=_deserialize_metric(config.get("weighted_metrics")),
                      run_eagerly=bool(config.get("run_eagerly", False)),
                      steps_per_execution=config.get("steps_per_execution", 1),
                      jit_compile=config.get("jit_compile", "auto"))
