"""save_model / load_model (the `.plait` file) and save_weights / load_weights (`.safetensors`).

A `.plait` file is a zip archive holding:

- `metadata.json`: `{"format": "plait.model", "format_version": 1, "plait_version", "date_saved"}`;
- `config.json`: the architecture (`class_name`, `config`, `build_config`) and `compile_config`;
- `model.weights.safetensors`: every weight, keyed by its path in the model (`_stack.0.kernel`);
- `optimizer.safetensors`: the optimizer state (`iterations`, slots), when the optimizer has been built.

Keras writes `.keras` and `.weights.h5`; plait writes `.plait` and `.weights.safetensors` (any name ending
in `.safetensors` is accepted for weights), and refuses other suffixes with a message saying so.
"""
from __future__ import annotations

import datetime
import inspect
import json
import os
from typing import Any

from plait.custom_objects import custom_object_scope
from plait.errors import FormatError
from plait.layers.layer import LAYERS, Layer
from plait.saving import safetensors_format as st
from plait.saving.archive import read_archive, write_archive
from plait.saving.serialization import compile_from_config, deserialize_model, serialize_compile_config, \
    serialize_model
from plait.saving.weights import assign_weights, weight_tensors
from plait.version import __version__

FORMAT_VERSION = 1
MODEL_SUFFIX = ".plait"
WEIGHTS_SUFFIX = ".safetensors"
MAX_JSON_BYTES = 64 << 20
MAX_TENSOR_BYTES = 1 << 40
_LIMITS = {"metadata.json": 1 << 20, "config.json": MAX_JSON_BYTES, "model.weights.safetensors": MAX_TENSOR_BYTES,
           "optimizer.safetensors": MAX_TENSOR_BYTES}
_REQUIRED = ("metadata.json", "config.json", "model.weights.safetensors")


def _path(filepath: Any) -> str:
    try:
        return os.fspath(filepath)
    except TypeError:
        raise TypeError(f"filepath must be a str or os.PathLike, got {type(filepath).__name__}.") from None


def _check_suffix(path: str, suffix: str, what: str, example: str) -> None:
    if path.endswith(suffix):
        return
    hint = ""
    if path.endswith((".keras", ".h5", ".hdf5", ".pt", ".pth", ".pkl")):
        hint = " plait does not write Keras/HDF5/pickle files."
    raise ValueError(f"{what} must end in '{suffix}', got {path!r}.{hint} Use e.g. {example!r}.")


# ---------------------------------------------------------------------------------------------------- weights
def _check_built(model: Any, action: str) -> None:
    if not getattr(model, "built", False) or any(not getattr(layer, "built", True) for layer in model.layers):
        raise ValueError(f"Cannot {action}: model {model.name!r} has not created its weights yet. Give the first "
                         "layer input_shape=..., start with plait.Input(shape), or call the model on data first.")


def save_weights(model: Any, filepath: Any, overwrite: bool = True) -> None:
    """Writes `model`'s weights to a `.safetensors` file (atomically; readable by the `safetensors` package).

    Args:
        model: A built model.
        filepath: Ends in `.safetensors`; `.weights.safetensors` is the conventional name.
        overwrite: If False and the file exists, raise `FileExistsError`.

    Example:
        >>> import os, tempfile, plait
        >>> model = plait.Sequential([plait.layers.Dense(2, input_shape=(3,))])
        >>> path = os.path.join(tempfile.mkdtemp(), "m.weights.safetensors")
        >>> model.save_weights(path)
        >>> model.load_weights(path)
    """
    path = _path(filepath)
    _check_suffix(path, WEIGHTS_SUFFIX, "The weights file name", "model.weights.safetensors")
    _check_built(model, "save its weights")
    metadata = {"format": "plait.weights", "format_version": str(FORMAT_VERSION), "plait_version": __version__}
    st.save_file(weight_tensors(model), path, metadata, overwrite=overwrite)


def load_weights(model: Any, filepath: Any, skip_mismatch: bool = False) -> None:
    """Loads weights from a `.safetensors` file (or the weights of a `.plait` file) into a built model.

    Raises:
        ValueError: naming every weight whose name or shape does not match (unless `skip_mismatch`).
        FormatError: if the file is not a valid safetensors / .plait file.
    """
    path = _path(filepath)
    _check_built(model, "load weights")
    if path.endswith(MODEL_SUFFIX):
        members = read_archive(path, _LIMITS, _REQUIRED)
        tensors, _ = st.decode(members["model.weights.safetensors"], source=f"{path}:model.weights.safetensors")
    else:
        _check_suffix(path, WEIGHTS_SUFFIX, "The weights file name", "model.weights.safetensors")
        tensors, _ = st.load_file(path, max_bytes=MAX_TENSOR_BYTES)
    assign_weights(model, tensors, skip_mismatch=skip_mismatch, source=path)


# ---------------------------------------------------------------------------------------------------- models
_CONSTRUCTOR_FIX = ("Accept **kwargs in __init__ and pass them on, `def __init__(self, ..., **kwargs): "
                    "super().__init__(**kwargs)`, and return your own constructor arguments from get_config() "
                    "(`return {**super().get_config(), 'units': self.units}`), as in Keras; or define from_config.")


def _rebuild_problem(obj: Any) -> str | None:
    """Why `load_model` could not call `type(obj)(**obj.get_config())` (what the default `from_config` does) for
    a class of the user's, or None when it can (or the class rebuilds itself another way)."""
    model_class = LAYERS.registered("Model")  # through the registry: saving imports no model class
    cls = type(obj)
    defaults = (Layer.from_config.__func__, model_class.from_config.__func__)  # type: ignore[union-attr]
    if cls.__module__.split(".")[0] == "plait" or getattr(cls.from_config, "__func__", None) not in defaults:
        return None
    if isinstance(obj, model_class) and getattr(obj, "_graph", None) is not None:
        return None  # a functional model is rebuilt from its graph
    config = obj.get_config()
    try:
        inspect.signature(cls).bind(**config)
    except TypeError as err:
        return (f"load_model rebuilds {cls.__name__} {getattr(obj, 'name', '')!r} by calling "
                f"{cls.__name__}(**config) with config keys {sorted(config)}, which fails ({err})")
    return None


def _check_rebuildable(model: Any) -> None:
    parts = [model]
    if isinstance(model, LAYERS.registered("Sequential")) or getattr(model, "_graph", None) is not None:
        parts += list(model.layers)  # rebuilt from their configs too
    for obj in parts:
        problem = _rebuild_problem(obj)
        if problem:
            raise ValueError(f"Cannot save model {model.name!r} to a .plait file: {problem}. {_CONSTRUCTOR_FIX} "
                             "To keep only the weights, use model.save_weights('model.weights.safetensors').")


def save_model(model: Any, filepath: Any, overwrite: bool = True) -> None:
    """Saves a model to one `.plait` file: architecture, weights, compile configuration and optimizer state.

    The file is written to a temporary file and renamed into place, so a crash or a full disk never leaves
    a half-written model (the previous file, if any, stays intact).

    Args:
        model: A built plait model.
        filepath: Path ending in `.plait`.
        overwrite: If False and the file exists, raise `FileExistsError`.

    Example:
        >>> import os, tempfile, plait
        >>> model = plait.Sequential([plait.layers.Dense(2, input_shape=(3,))])
        >>> model.compile(optimizer="adam", loss="mse")
        >>> path = os.path.join(tempfile.mkdtemp(), "model.plait")
        >>> model.save(path)
        >>> plait.load_model(path).output_shape
        (None, 2)
    """
    path = _path(filepath)
    _check_suffix(path, MODEL_SUFFIX, "The model file name", "model.plait")
    _check_built(model, "save it")
    _check_rebuildable(model)
    with custom_object_scope(bare_names=False):
        config = serialize_model(model)
        config["compile_config"] = serialize_compile_config(model)
    try:
        config_bytes = json.dumps(config, indent=1).encode("utf-8")
    except (TypeError, ValueError) as err:
        raise ValueError(f"The configuration of model {model.name!r} is not JSON-serializable ({err}). Make each "
                         "custom layer's get_config() return only numbers, strings, lists and dicts.") from err
    metadata = {"format": "plait.model", "format_version": FORMAT_VERSION, "plait_version": __version__,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    weights = weight_tensors(model)
    members: list[tuple[str, Any, bool]] = [
        ("metadata.json", json.dumps(metadata).encode("utf-8"), True),
        ("config.json", config_bytes, True),
        ("model.weights.safetensors", lambda f: st.write(f, weights, {"format": "plait.weights"}), False)]
    optimizer = getattr(model, "optimizer", None)
    if getattr(model, "compiled", False) and optimizer is not None and getattr(optimizer, "built", False):
        state = optimizer.state_dict()
        members.append(("optimizer.safetensors", lambda f: st.write(f, state, {"format": "plait.optimizer"}), False))
    write_archive(path, members, overwrite=overwrite)


def _json_member(members: dict[str, bytes], name: str, path: str) -> Any:
    try:
        return json.loads(members[name].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise FormatError(f"{path}: {name} is not valid JSON ({type(err).__name__}).") from None


def _check_metadata(metadata: Any, path: str) -> None:
    if not isinstance(metadata, dict) or metadata.get("format") != "plait.model":
        raise FormatError(f"{path}: metadata.json does not describe a plait model file.")
    version = metadata.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise FormatError(f"{path}: invalid format_version {str(version)[:40]!r} in metadata.json.")
    if version > FORMAT_VERSION:
        raise FormatError(f"{path} was written in .plait format {version} by plait "
                          f"{str(metadata.get('plait_version'))[:40]}; this plait ({__version__}) reads up to format "
                          f"{FORMAT_VERSION}. Upgrade plait to load it.")


def load_model(filepath: Any, custom_objects: dict[str, Any] | None = None, compile: bool = True,
               safe_mode: bool = True) -> Any:
    """Loads a model saved with `model.save('....plait')`.

    The model predicts exactly as the saved one did and, when `compile=True`, is compiled as it was with
    the optimizer state restored, so `fit` continues where it stopped. Loading never unpickles and never
    imports anything a file names: classes come only from plait's registries, from
    `plait.saving.register_serializable()` and from `custom_objects`; anything else is refused.

    Args:
        filepath: A `.plait` file.
        custom_objects: Your own classes and functions by name (layers, losses, metrics, activations, ...).
        compile: Whether to compile the model as it was saved (and restore the optimizer state).
        safe_mode: Accepted for Keras compatibility; plait's loading is always safe.

    Returns:
        The model.

    Raises:
        FormatError: for a damaged, hostile or incompatible file, or one naming an unknown class.
    """
    path = _path(filepath)
    members = read_archive(path, _LIMITS, _REQUIRED)
    _check_metadata(_json_member(members, "metadata.json", path), path)
    config = _json_member(members, "config.json", path)
    weights, _ = st.decode(members["model.weights.safetensors"], source=f"{path}:model.weights.safetensors")
    optimizer_state = None
    if "optimizer.safetensors" in members:
        optimizer_state, _ = st.decode(members["optimizer.safetensors"], source=f"{path}:optimizer.safetensors")
    if not isinstance(config, dict):
        raise FormatError(f"{path}: config.json must hold a JSON object.")
    model = None
    with custom_object_scope(custom_objects):
        try:
            model = deserialize_model(config)
            _check_built(model, "load its weights")
            assign_weights(model, weights, source=path, error=FormatError)
            if compile and config.get("compile_config") is not None:
                compile_from_config(model, config["compile_config"])
                if optimizer_state is not None:
                    model.optimizer.build(model.trainable_variables)
                    model.optimizer.load_state_dict(optimizer_state)
        except FormatError:
            raise
        except Exception as err:  # a constructor refusing the config's values, a state that does not fit, ...
            # A TypeError while rebuilding: a class whose __init__ does not take its saved config (no **kwargs).
            fix = f". {_CONSTRUCTOR_FIX} Then save the model again." if model is None and isinstance(err, TypeError) \
                else ""
            raise FormatError(f"{path}: could not rebuild the model from the file ({type(err).__name__}: {err})"
                              f"{fix}") from err
    return model


def model_from_json(json_string: str, custom_objects: dict[str, Any] | None = None) -> Any:
    """Rebuilds a model (fresh weights) from `model.to_json()`; classes resolve as in `load_model`."""
    try:
        config = json.loads(json_string)
    except (ValueError, RecursionError) as err:
        raise FormatError(f"model_from_json got invalid JSON ({err}).") from None
    with custom_object_scope(custom_objects):
        return deserialize_model(config)
