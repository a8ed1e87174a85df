"""Keras 3's `.keras` model files and `.weights.h5` weights files, read and written by plait.

A `.keras` file is a zip of `metadata.json` (`keras_version`, `date_saved`), `config.json` (the model's
`{"module", "class_name", "config", "registered_name", "build_config", "compile_config"}`) and
`model.weights.h5` (the layout of `keras_weights`). `.plait` stays plait's native format: a `.keras` file
holds no optimizer state written by plait (Keras starts a fresh optimizer), and Keras's optimizer state is not
read.

Loading is as careful as `.plait` loading (`loading.py`): no pickle, nothing imported that the file names
(`keras_config` checks modules against an allow-list and resolves classes through plait's registries), the
zip directory checked before anything is read, the config's dtype strings and counts checked, the model built
first on the meta device so that the weights member may declare no more than its weights need (plus the
optimizer's variables Keras stores beside them, and HDF5's bookkeeping), the real build held to the same
allocation budget, and every dataset's shape checked before it is read. h5py is an optional dependency
(`pip install h5py`, or the `keras-files` extra).
"""
from __future__ import annotations

import datetime
import io
import json
import warnings
from typing import Any

from plait.custom_objects import custom_object_scope
from plait.errors import FormatError
from plait.layers.layer import LAYERS
from plait.saving.allocation import on_meta, within
from plait.saving.archive import Archive, write_archive
from plait.saving.atomic import atomic_write
from plait.saving.keras_config import KERAS_MODULES, check_module, from_keras, to_keras
from plait.saving.keras_weights import expected_shapes, h5_bound, h5py_module, read_h5, write_h5
from plait.saving.limits import (MAX_CONFIG_BYTES, MAX_METADATA_BYTES, MAX_TENSOR_FILE_BYTES, OPTIMIZER_COPIES,
                                 allocation_budget, check_config_values, human_bytes)
from plait.saving.serialization import compile_from_config, deserialize_model, serialize_model
from plait.saving.untrusted import open_regular, read_exactly
from plait.version import __version__

KERAS_SUFFIX = ".keras"
H5_WEIGHTS_SUFFIX = ".weights.h5"
WRITTEN_KERAS_VERSION = "3.0.0"
"""The `keras_version` written in `metadata.json`: the archive format plait writes is Keras 3's."""
WEIGHTS = "model.weights.h5"
MEMBER_LIMITS = {"metadata.json": MAX_METADATA_BYTES, "config.json": MAX_CONFIG_BYTES, WEIGHTS: MAX_TENSOR_FILE_BYTES}


# ---------------------------------------------------------------------------------------------------- writing
def _dtypes(model: Any) -> dict[str, str]:
    out = {}
    stack = list(model.layers)
    while stack:
        layer = stack.pop()
        out[layer.name] = getattr(layer, "_dtype_name", None) or "float32"
        stack.extend(getattr(layer, "layers", []) if hasattr(layer, "_graph") or hasattr(layer, "_stack") else [])
    return out


def _compile_config(model: Any) -> dict[str, Any] | None:
    from plait.saving.serialization import serialize_compile_config

    config = serialize_compile_config(model)
    if config is None:
        return None
    optimizer = config.get("optimizer")
    if isinstance(optimizer, dict):
        config["optimizer"] = {**optimizer, "module": "keras.optimizers"}

    def keras_object(spec: Any, module: str) -> Any:
        if isinstance(spec, dict) and "class_name" in spec:
            return {"module": module, **spec}
        if isinstance(spec, list):
            return [keras_object(s, module) for s in spec]
        if isinstance(spec, dict):
            return {k: keras_object(v, module) for k, v in spec.items()}
        return spec

    config["loss"] = keras_object(config.get("loss"), "keras.losses")
    for key in ("metrics", "weighted_metrics"):
        config[key] = keras_object(config.get(key), "keras.metrics")
    config["jit_compile"] = config.get("jit_compile") is True
    return config


def keras_config_bytes(model: Any) -> bytes:
    """`model`'s architecture (and compile configuration) as Keras 3's `config.json`."""
    with custom_object_scope(bare_names=False):
        config = to_keras(serialize_model(model), _dtypes(model))
        config["compile_config"] = _compile_config(model)
    try:
        return json.dumps(config, indent=1).encode("utf-8")
    except (TypeError, ValueError) as err:
        raise ValueError(f"The configuration of model {model.name!r} is not JSON-serializable ({err}).") from err


def save_keras_model(model: Any, path: str, overwrite: bool = True) -> None:
    """Writes `model` as a Keras 3 `.keras` archive (atomically), loadable by `keras.saving.load_model`."""
    h5py_module()
    config = keras_config_bytes(model)
    metadata = {"keras_version": WRITTEN_KERAS_VERSION, "plait_version": __version__,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    buffer = io.BytesIO()
    write_h5(model, buffer)
    write_archive(path, [("metadata.json", json.dumps(metadata).encode("utf-8"), True), ("config.json", config, True),
                         (WEIGHTS, buffer.getvalue(), False)], overwrite=overwrite)


def save_keras_weights(model: Any, path: str, overwrite: bool = True) -> None:
    """Writes `model`'s weights as a Keras 3 `.weights.h5` file (atomically), for `keras_model.load_weights`."""
    h5py_module()
    buffer = io.BytesIO()
    write_h5(model, buffer)
    with atomic_write(path, "wb", overwrite=overwrite) as handle:
        handle.write(buffer.getvalue())


# ---------------------------------------------------------------------------------------------------- reading
def _json(archive: Archive, name: str) -> Any:
    try:
        return json.loads(archive.read(name).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise FormatError(f"{archive.path}: {name} is not valid JSON ({type(err).__name__}).") from None


def _check_metadata(archive: Archive) -> None:
    if "metadata.json" not in archive:
        return
    metadata = _json(archive, "metadata.json")
    version = metadata.get("keras_version") if isinstance(metadata, dict) else None
    if not isinstance(version, str) or not version.startswith("3."):
        raise FormatError(f"{archive.path}: metadata.json names keras_version {str(version)[:40]!r}; plait reads the "
                          ".keras files of Keras 3. Re-save the model with Keras 3.")


def _weight_bytes(model: Any) -> int:
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def plait_spec(config: Any, source: str) -> dict[str, Any]:
    """A Keras `config.json` object translated to plait's model spec, its values checked as a `.plait` file's."""
    if not isinstance(config, dict):
        raise FormatError(f"{source}: config.json must hold a JSON object.")
    spec = from_keras(config, LAYERS, f"{source}: config.json")
    spec["build_config"] = config.get("build_config")
    check_config_values(spec, source)
    return spec


def _build(spec: dict[str, Any], source: str, weights_size: int | None) -> Any:
    """Builds the model `spec` describes: first on the meta device (no memory) to learn its weights' shapes, which
    bound the weights member's declared size, then for real within the allocation budget they allow."""
    try:
        with on_meta():
            skeleton = deserialize_model(spec)
    except FormatError:
        raise
    except Exception as err:  # noqa: BLE001 - a constructor refusing the config's values
        raise FormatError(f"{source}: could not rebuild the model from config.json ({type(err).__name__}: "
                          f"{err}).") from err
    shapes = expected_shapes(skeleton)
    if weights_size is not None and weights_size > h5_bound(shapes, 1 + OPTIMIZER_COPIES):
        raise FormatError(f"{source}: the weights declare {human_bytes(weights_size)}, more than the "
                          f"{human_bytes(h5_bound(shapes, 1 + OPTIMIZER_COPIES))} the model its config describes "
                          f"({len(shapes)} weights, with room for optimizer state) can take; the file is damaged or "
                          "hostile.")
    with within(allocation_budget(_weight_bytes(skeleton))):
        return deserialize_model(spec)


def _keras_object(spec: Any, where: str) -> Any:
    """A Keras optimizer/loss/metric spec (nested in lists and dicts) for plait's deserializers: modules checked
    against the allow-list and dropped."""
    if isinstance(spec, list):
        return [_keras_object(s, where) for s in spec]
    if isinstance(spec, dict) and "class_name" in spec:
        check_module(spec, where)
        return {k: v for k, v in spec.items() if k != "module"}
    if isinstance(spec, dict):
        return {k: _keras_object(v, where) for k, v in spec.items()}
    return spec


_OPTIMIZER_DROPPED = ("use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                      "gradient_accumulation_steps")


def _compile(model: Any, config: Any, source: str) -> None:
    """Compiles `model` as Keras's `compile_config` says; a config plait cannot follow leaves the model
    uncompiled with a warning, as Keras does."""
    if not isinstance(config, dict) or not config:
        return
    try:
        translated = {k: _keras_object(config.get(k), source)
                      for k in ("optimizer", "loss", "loss_weights", "metrics", "weighted_metrics")}
        optimizer = translated["optimizer"]
        if isinstance(optimizer, dict) and isinstance(optimizer.get("config"), dict):
            inner = optimizer["config"]
            optimizer["config"] = {k: v for k, v in inner.items()
                                   if not (k in _OPTIMIZER_DROPPED and v in (None, False, 0.99))}
        translated["steps_per_execution"] = config.get("steps_per_execution", 1)
        compile_from_config(model, translated)
    except Exception as err:  # noqa: BLE001 - Keras's behaviour: the model loads, uncompiled, with a warning
        warnings.warn(f"{source}: the model was loaded but not compiled: its compile_config could not be followed "
                      f"({type(err).__name__}: {err}). Call model.compile(...) yourself.", stacklevel=4)


def load_keras_model(path: str, custom_objects: dict[str, Any] | None = None, compile: bool = True) -> Any:
    """Reads a Keras 3 `.keras` file into a plait model with the same weights (and compile configuration)."""
    h5py_module()
    with Archive(path, MEMBER_LIMITS, ("config.json", WEIGHTS)) as archive:
        _check_metadata(archive)
        config = _json(archive, "config.json")
        with custom_object_scope(custom_objects):
            model = _build(plait_spec(config, path), path, archive.size(WEIGHTS))
            data = archive.read(WEIGHTS)
        read_h5(model, data, f"{path}:{WEIGHTS}")
        if compile:
            with custom_object_scope(custom_objects):
                _compile(model, config.get("compile_config"), path)
    return model


def load_keras_weights(model: Any, path: str) -> None:
    """Reads Keras-layout weights (a `.weights.h5` file, or a `.keras` file's) into a built plait model; every
    dataset is checked against the model's weights before any is copied in."""
    h5py_module()
    shapes = expected_shapes(model)
    bound = h5_bound(shapes, 1 + OPTIMIZER_COPIES)
    if path.endswith(KERAS_SUFFIX):
        with Archive(path, MEMBER_LIMITS, (WEIGHTS,)) as archive:
            size = archive.size(WEIGHTS)
            if size > bound:
                raise FormatError(f"{path}: its weights declare {human_bytes(size)}, more than the "
                                  f"{human_bytes(bound)} model {model.name!r} can take.")
            data = archive.read(WEIGHTS)
        read_h5(model, data, f"{path}:{WEIGHTS}")
        return
    handle, size = open_regular(path, "a .weights.h5 file")
    with handle:
        if size > bound:
            raise FormatError(f"{path} holds {human_bytes(size)}, more than the {human_bytes(bound)} the weights of "
                              f"model {model.name!r} can take; it was saved from another model, or is hostile.")
        data = read_exactly(handle, size, path)
    read_h5(model, data, path)


__all__ = ["H5_WEIGHTS_SUFFIX", "KERAS_MODULES", "KERAS_SUFFIX", "keras_config_bytes", "load_keras_model",
           "load_keras_weights", "plait_spec", "save_keras_model", "save_keras_weights"]
