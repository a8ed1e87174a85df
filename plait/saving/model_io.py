"""save_model / load_model (the `.plait` file) and save_weights / load_weights (`.safetensors`).

A `.plait` file is a zip archive holding:

- `metadata.json`: `{"format": "plait.model", "format_version": 1, "plait_version", "date_saved"}`;
- `config.json`: the architecture (`class_name`, `config`, `build_config`) and `compile_config`;
- `model.weights.safetensors`: every weight, keyed by its path in the model (`_stack.0.kernel`);
- `optimizer.safetensors`: the optimizer state (`iterations`, slots), when the optimizer has been built.

plait's own formats are `.plait` and `.weights.safetensors` (any name ending in `.safetensors` is accepted for
weights). Keras 3's `.keras` and `.weights.h5` files are read and written too, by `keras_format` (h5py needed);
other suffixes are refused with a message saying so.
"""
from __future__ import annotations

import datetime
import inspect
import json
import os
from typing import Any

from plait.custom_objects import custom_object_scope
from plait.layers.layer import LAYERS, Layer
from plait.saving import safetensors_format as st
from plait.saving import keras_format
from plait.saving.archive import write_archive
from plait.saving.loading import (CONSTRUCTOR_FIX, FORMAT_VERSION, MEMBER_LIMITS, check_built, load_model_file,
                                  load_weights_file, model_from_config_text)
from plait.saving.serialization import serialize_compile_config, serialize_model
from plait.saving.weights import weight_tensors
from plait.version import __version__

MODEL_SUFFIX = ".plait"
WEIGHTS_SUFFIX = ".safetensors"
_LIMITS = MEMBER_LIMITS  # the name earlier versions exported


def _path(filepath: Any) -> str:
    try:
        return os.fspath(filepath)
    except TypeError:
        raise TypeError(f"filepath must be a str or os.PathLike, got {type(filepath).__name__}.") from None


def _check_suffix(path: str, suffix: str, what: str, example: str) -> None:
    if path.endswith(suffix):
        return
    hint = ""
    if path.endswith((".h5", ".hdf5", ".pt", ".pth", ".pkl")):
        hint = (" plait reads and writes Keras 3's '.keras' and '.weights.h5' files, but no other HDF5 (Keras 2) or "
                "pickle files.")
    raise ValueError(f"{what} must end in '{suffix}', got {path!r}.{hint} Use e.g. {example!r}.")


# ---------------------------------------------------------------------------------------------------- weights
def save_weights(model: Any, filepath: Any, overwrite: bool = True) -> None:
    """Writes `model`'s weights to a `.safetensors` file (atomically; readable by the `safetensors` package).

    Args:
        model: A built model.
        filepath: Ends in `.safetensors` (`.weights.safetensors` is the conventional name), or in `.weights.h5`
            for Keras 3's layout (needs h5py).
        overwrite: If False and the file exists, raise `FileExistsError`.

    Example:
        >>> import os, tempfile, plait
        >>> model = plait.Sequential([plait.layers.Dense(2, input_shape=(3,))])
        >>> path = os.path.join(tempfile.mkdtemp(), "m.weights.safetensors")
        >>> model.save_weights(path)
        >>> model.load_weights(path)
    """
    path = _path(filepath)
    if path.endswith(keras_format.H5_WEIGHTS_SUFFIX):
        check_built(model, "save its weights")
        keras_format.save_keras_weights(model, path, overwrite=overwrite)
        return
    _check_suffix(path, WEIGHTS_SUFFIX, "The weights file name", "model.weights.safetensors")
    check_built(model, "save its weights")
    metadata = {"format": "plait.weights", "format_version": str(FORMAT_VERSION), "plait_version": __version__}
    st.save_file(weight_tensors(model), path, metadata, overwrite=overwrite)


def load_weights(model: Any, filepath: Any, skip_mismatch: bool = False) -> None:
    """Loads weights from a `.safetensors` file (or the weights of a `.plait` file) into a built model.

    The file is untrusted: only a regular file is read (not a FIFO or device, even through a symlink); its
    safetensors header is validated against the file's own size and compared with the model's weights
    before any tensor is read, so loading allocates at most the model's own weights once more (8 bytes per
    element, the widest dtype) and a file declaring more bytes than that is refused. With `skip_mismatch`,
    only the matching tensors are read. A `.plait` file is opened with `load_model`'s archive checks.

    Raises:
        ValueError: naming every weight whose name or shape does not match (unless `skip_mismatch`).
        FormatError: if the file is not a valid safetensors / .plait file, or is larger than the model allows.
    """
    path = _path(filepath)
    check_built(model, "load weights")
    if path.endswith((keras_format.H5_WEIGHTS_SUFFIX, keras_format.KERAS_SUFFIX)):
        keras_format.load_keras_weights(model, path)
        return
    if not path.endswith(MODEL_SUFFIX):
        _check_suffix(path, WEIGHTS_SUFFIX, "The weights file name", "model.weights.safetensors")
    load_weights_file(model, path, skip_mismatch, model_suffix=MODEL_SUFFIX)


# ---------------------------------------------------------------------------------------------------- models
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
            raise ValueError(f"Cannot save model {model.name!r} to a .plait file: {problem}. {CONSTRUCTOR_FIX} "
                             "To keep only the weights, use model.save_weights('model.weights.safetensors').")


def save_model(model: Any, filepath: Any, overwrite: bool = True) -> None:
    """Saves a model to one `.plait` file: architecture, weights, compile configuration and optimizer state.

    The file is written to a temporary file and renamed into place, so a crash or a full disk never leaves
    a half-written model (the previous file, if any, stays intact).

    Args:
        model: A built plait model.
        filepath: Path ending in `.plait`, or in `.keras` for Keras 3's format (loadable by
            `keras.saving.load_model`; needs h5py; no optimizer state is written).
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
    if not path.endswith(keras_format.KERAS_SUFFIX):
        _check_suffix(path, MODEL_SUFFIX, "The model file name", "model.plait")
    check_built(model, "save it")
    _check_rebuildable(model)
    if path.endswith(keras_format.KERAS_SUFFIX):
        keras_format.save_keras_model(model, path, overwrite=overwrite)
        return
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


def load_model(filepath: Any, custom_objects: dict[str, Any] | None = None, compile: bool = True,
               safe_mode: bool = True) -> Any:
    """Loads a model saved with `model.save('....plait')`.

    The model predicts exactly as the saved one did and, when `compile=True`, is compiled as it was with
    the optimizer state restored, so `fit` continues where it stopped. Loading never unpickles and never
    imports anything a file names: classes come only from plait's registries, from
    `plait.saving.register_serializable()` and from `custom_objects`; anything else is refused.

    The file is untrusted, and what loading it costs is bounded before anything is read or allocated
    (`plait.saving.limits` holds the numbers):

    - only a regular file is read (a FIFO, device, socket or directory is refused, also through a symlink);
    - zip members are checked from the archive's directory: `metadata.json` up to 1 MiB, `config.json` up to
      64 MiB, members over 1 MiB inflating at most 200:1 (a zip bomb is refused without inflating it);
    - dtype strings in the config must be plait's dtype names, `num_thresholds`, `num_classes` and
      `num_labels` at most 2**20 (they cost memory that no weight shows), and the layers at most 10,000;
    - the model the config describes is first built on the meta device (no memory): the weights member may
      declare no more than its weights (8 bytes per element) plus a header, its safetensors header must
      list exactly those weights with the same shapes (a mismatch names the layer), building the model and
      its metrics may allocate at most 4x its weights plus 256 MiB, and no layer may output more than 2**30
      elements for one sample (a `RepeatVector(10**12)` is refused here, not at the first predict);
    - a layer call in a functional config must pass arguments the layer's `call` takes;
    - the optimizer state may hold at most 8 copies of the trainable weights.

    So a file costs at most a small multiple of the model it describes, and every refusal is a `FormatError`.

    Args:
        filepath: A `.plait` file, or a Keras 3 `.keras` file (needs h5py; read with the same care:
            modules checked against `keras_config.KERAS_MODULES`, classes from plait's registries only,
            the weights member bounded by the model its config describes, every dataset's shape checked).
        custom_objects: Your own classes and functions by name (layers, losses, metrics, activations, ...).
        compile: Whether to compile the model as it was saved (and restore the optimizer state).
        safe_mode: Accepted for Keras compatibility; plait's loading is always safe.

    Returns:
        The model.

    Raises:
        FormatError: for a damaged, hostile or incompatible file, or one naming an unknown class.
    """
    path = _path(filepath)
    if path.endswith(keras_format.KERAS_SUFFIX):
        return keras_format.load_keras_model(path, custom_objects, compile)
    return load_model_file(path, custom_objects, compile)


def model_from_json(json_string: str, custom_objects: dict[str, Any] | None = None) -> Any:
    """Rebuilds a model (fresh weights) from `model.to_json()`; classes resolve as in `load_model`, and dtype
    strings and counts are checked as in a file (the model is built as large as the config says)."""
    return model_from_config_text(json_string, custom_objects)
