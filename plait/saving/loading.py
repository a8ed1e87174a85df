"""Reading a model or its weights from a file that may be hostile, in an order that bounds what it costs.

`load_model` checks, before the step after it:

1. the path is a regular file, and the zip directory (names, methods, sizes, compression ratios);
2. `metadata.json` and `config.json` (bounded reads), then every dtype string and count in the config
   (`limits.check_config_values`: allow-lists, nothing imported);
3. the model the config describes, built on the meta device (no memory): its weights' shapes give the
   bytes the weights member may declare, and what building it asked for must fit `allocation_budget`;
4. the weights member's safetensors header, against its declared size and the skeleton's weights, each
   mismatch named by layer;
5. only then the real build (tensor factories held to the same budget), the weights read tensor by tensor
   straight into their own memory, the compile and the optimizer state (at most `OPTIMIZER_COPIES`
   copies of the trainable weights).

Every refusal is a `FormatError` that says what the file holds, what was expected, and the fix.
"""
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import IO, Any

from plait.custom_objects import custom_object_scope
from plait.errors import FormatError
from plait.layers.layer import LAYERS
from plait.layers.symbolic import map_shapes
from plait.saving import safetensors_format as st
from plait.saving.allocation import on_meta, within
from plait.saving.archive import Archive
from plait.saving.limits import (ALLOCATION_FACTOR, MAX_CONFIG_BYTES, MAX_EXTRA_BYTES, MAX_METADATA_BYTES,
                                 MAX_SAMPLE_ELEMENTS, MAX_TENSOR_FILE_BYTES, OPTIMIZER_COPIES, allocation_budget,
                                 check_config_values, header_bound, human_bytes, weights_bound)
from plait.saving.serialization import compile_from_config, deserialize_model
from plait.saving.untrusted import open_regular
from plait.saving.weights import check_weight_shapes, copy_weights, weight_shapes
from plait.tree import flatten
from plait.version import __version__

FORMAT_VERSION = 1
WEIGHTS = "model.weights.safetensors"
OPTIMIZER = "optimizer.safetensors"
MEMBER_LIMITS = {"metadata.json": MAX_METADATA_BYTES, "config.json": MAX_CONFIG_BYTES,
                 WEIGHTS: MAX_TENSOR_FILE_BYTES, OPTIMIZER: MAX_TENSOR_FILE_BYTES}
"""Member name -> largest declared size read; the weights members are further bounded by the model."""
REQUIRED = ("metadata.json", "config.json", WEIGHTS)
CONSTRUCTOR_FIX = ("Accept **kwargs in __init__ and pass them on, `def __init__(self, ..., **kwargs): "
                   "super().__init__(**kwargs)`, and return your own constructor arguments from get_config() "
                   "(`return {**super().get_config(), 'units': self.units}`), as in Keras; or define from_config.")

_DISAGREE = ("The file's config and its weights disagree: the file is damaged, was edited, or is hostile; save "
             "the model again from code.")


def check_built(model: Any, action: str) -> None:
    if not getattr(model, "built", False) or any(not getattr(layer, "built", True) for layer in model.layers):
        raise ValueError(f"Cannot {action}: model {model.name!r} has not created its weights yet. Give the first "
                         "layer input_shape=..., start with plait.Input(shape), or call the model on data first.")


def _json_member(archive: Archive, name: str) -> Any:
    try:
        return json.loads(archive.read(name).decode("utf-8"))
    except (UnicodeDecodeError, RecursionError) as err:
        raise FormatError(f"{archive.path}: {name} is not valid JSON ({type(err).__name__}).") from None
    except FormatError:
        raise
    except ValueError as err:
        raise FormatError(f"{archive.path}: {name} is not valid JSON ({type(err).__name__}).") from None


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


def _weight_bytes(model: Any) -> int:
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def _check_declared(size: int, shapes: dict[str, tuple[int, ...]], source: str, what: str, copies: int = 1) -> None:
    """Refuses a safetensors member or file that declares more bytes than `copies` x the tensors `shapes` take."""
    bound = weights_bound(shapes, copies)
    if size > bound:
        raise FormatError(f"{source} declares {human_bytes(size)}, more than the {human_bytes(bound)} that {what} "
                          f"({len(shapes)} tensors) can take; the file is damaged or hostile, or was saved from "
                          "another model.")


def _skeleton(config: dict[str, Any], compile_config: Any) -> tuple[Any, Any] | None:
    """The model `config` describes, built (and compiled) on the meta device, and the mode that counted the bytes
    building it asked for; None when some code cannot run on the meta device (the real build is then held to
    the budget). Refuses a layer whose output for one sample is over `MAX_SAMPLE_ELEMENTS`."""
    try:
        with on_meta() as mode:
            model = deserialize_model(config)
            check_built(model, "load its weights")
            for layer, shape in _layer_outputs(model):
                _check_sample_size(layer, shape)
            if compile_config is not None:
                compile_from_config(model, compile_config)
    except FormatError:
        raise
    except Exception:  # noqa: BLE001 - not a verdict on the file: the real build below repeats it and says why
        return None
    return model, mode


def _layer_outputs(model: Any) -> Iterator[tuple[Any, Any]]:
    """(layer, output shape) of every layer of `model`, nested models included: a functional model's from its
    graph, a Sequential's by `compute_output_shape` from its input shape."""
    graph = getattr(model, "_graph", None)
    if graph is not None:
        for node in graph.nodes:
            for tensor in flatten(node.outputs):
                yield node.layer, tensor.shape
            yield from _layer_outputs(node.layer)
    elif isinstance(model, LAYERS.registered("Sequential")) and model.built:
        shape = model._build_shape
        for layer in model.layers:
            shape = layer.compute_output_shape(shape)
            yield layer, shape
            yield from _layer_outputs(layer)


def _check_sample_size(layer: Any, shape: Any) -> None:
    shapes: list[Any] = []
    map_shapes(shapes.append, shape)
    for one in shapes:
        elements = 1
        for dim in list(one)[1:]:
            elements *= dim or 1
        if elements > MAX_SAMPLE_ELEMENTS:
            raise FormatError(f"layer {layer.name!r} ({type(layer).__name__}) outputs {elements} elements per sample "
                              f"(shape {tuple(one)}), over the limit of {MAX_SAMPLE_ELEMENTS} a loaded model may ask "
                              "for; its config is damaged or hostile.")


def load_model_file(path: str, custom_objects: dict[str, Any] | None, compile: bool) -> Any:
    """`load_model`'s work (see the module docstring for the order of the checks)."""
    with Archive(path, MEMBER_LIMITS, REQUIRED) as archive:
        _check_metadata(_json_member(archive, "metadata.json"), path)
        config = _json_member(archive, "config.json")
        if not isinstance(config, dict):
            raise FormatError(f"{path}: config.json must hold a JSON object.")
        check_config_values(config, path)
        progress: dict[str, Any] = {"model": None}
        try:
            with custom_object_scope(custom_objects):
                _rebuild(archive, config, config.get("compile_config") if compile else None, progress)
        except FormatError as err:
            raise err if str(err).startswith(path) else FormatError(f"{path}: {err}") from None
        except Exception as err:  # a constructor refusing the config's values, a state that does not fit, ...
            # A TypeError while rebuilding: a class whose __init__ does not take its saved config (no **kwargs).
            fix = f". {CONSTRUCTOR_FIX} Then save the model again." if progress["model"] is None and \
                isinstance(err, TypeError) else ""
            raise FormatError(f"{path}: could not rebuild the model from the file ({type(err).__name__}: {err})"
                              f"{fix}") from err
    return progress["model"]


def _rebuild(archive: Archive, config: dict[str, Any], compile_config: Any, progress: dict[str, Any]) -> None:
    source = f"{archive.path}:{WEIGHTS}"
    skeleton = _skeleton(config, compile_config)
    header_limit = st.MAX_HEADER_BYTES
    if skeleton is not None:
        shapes = weight_shapes(skeleton[0])
        _check_declared(archive.size(WEIGHTS), shapes, source, "the weights of the model its config describes")
        header_limit = header_bound(shapes)
    with archive.member(WEIGHTS) as stream:
        header = st.read_header(stream, archive.size(WEIGHTS), source=source, max_header_bytes=header_limit)
        budget = allocation_budget(header.data_bytes)
        if skeleton is not None:
            check_weight_shapes(skeleton[0], header.shapes(), source=source, error=FormatError, fix=_DISAGREE)
            weight_bytes = _weight_bytes(skeleton[0])
            budget = allocation_budget(weight_bytes)
            if skeleton[1].requested > budget:
                raise FormatError(f"building the model its config describes asks for "
                                  f"{human_bytes(skeleton[1].requested)} ({skeleton[1].describe_largest()}), over the "
                                  f"{human_bytes(budget)} its weights allow ({ALLOCATION_FACTOR} x their "
                                  f"{human_bytes(weight_bytes)} + {human_bytes(MAX_EXTRA_BYTES)} for metric states, "
                                  "buffers and shape inference); the config is damaged or hostile.")
        with within(budget):
            model = progress["model"] = deserialize_model(config)
            check_built(model, "load its weights")
            if skeleton is None:  # the skeleton checked these already
                for layer, shape in _layer_outputs(model):
                    _check_sample_size(layer, shape)
            check_weight_shapes(model, header.shapes(), source=source, error=FormatError, fix=_DISAGREE)
            if compile_config is not None:
                compile_from_config(model, compile_config)
        copy_weights(model, st.read_tensors(stream, header, source=source))
    if compile_config is not None and OPTIMIZER in archive:
        _load_optimizer_state(model, archive, f"{archive.path}:{OPTIMIZER}")


def _load_optimizer_state(model: Any, archive: Archive, source: str) -> None:
    trainable = {f"{i}": tuple(v.shape) for i, v in enumerate(model.trainable_variables)}
    _check_declared(archive.size(OPTIMIZER), trainable, source,
                    f"{OPTIMIZER_COPIES} copies of the model's trainable weights", copies=OPTIMIZER_COPIES)
    with archive.member(OPTIMIZER) as stream:
        header = st.read_header(stream, archive.size(OPTIMIZER), source=source,
                                max_header_bytes=header_bound(list(trainable) * OPTIMIZER_COPIES))
        state = st.read_tensors(stream, header, source=source)
    model.optimizer.build(model.trainable_variables)
    model.optimizer.load_state_dict(state)


def load_weights_file(model: Any, path: str, skip_mismatch: bool, *, model_suffix: str) -> None:
    """`load_weights`'s work: the file's header is checked against `model`'s weights before any data is read,
    and only the tensors that will be loaded are read."""
    shapes = weight_shapes(model)
    with _weights_stream(path, model_suffix) as (stream, size, source):
        if not skip_mismatch:
            _check_declared(size, shapes, source, f"the weights of model {model.name!r}")
        header = st.read_header(stream, size, source=source,
                                max_header_bytes=st.MAX_HEADER_BYTES if skip_mismatch else header_bound(shapes))
        skipped = check_weight_shapes(model, header.shapes(), skip_mismatch=skip_mismatch, source=path)
        wanted = set(header.shapes()) - set(skipped)
        tensors = st.read_tensors(stream, header, source=source, names=wanted)
    copy_weights(model, tensors)


@contextlib.contextmanager
def _weights_stream(path: str, model_suffix: str) -> Iterator[tuple[IO[bytes], int, str]]:
    if path.endswith(model_suffix):
        with Archive(path, MEMBER_LIMITS, REQUIRED) as archive, archive.member(WEIGHTS) as stream:
            yield stream, archive.size(WEIGHTS), f"{path}:{WEIGHTS}"
        return
    handle, size = open_regular(path, "a .safetensors weights file")
    with handle:
        yield handle, size, path


def model_from_config_text(json_string: str, custom_objects: dict[str, Any] | None) -> Any:
    """`model_from_json`'s work: the config's strings and counts are checked as a file's are."""
    try:
        config = json.loads(json_string)
    except (ValueError, RecursionError) as err:
        raise FormatError(f"model_from_json got invalid JSON ({err}).") from None
    check_config_values(config, "model_from_json")
    with custom_object_scope(custom_objects):
        return deserialize_model(config)
