"""The functional API's graph: layers called on symbolic tensors, run in topological order."""
from __future__ import annotations

import inspect
import warnings
from typing import Any

from plait.errors import FormatError
from plait.layers.input_layer import InputLayer, adjust_input_rank
from plait.layers.layer import LAYERS, Layer
from plait.layers.symbolic import KerasTensor, Node
from plait.tree import flatten, map_structure


def serialize_layer(layer: Layer) -> dict[str, Any]:
    """`{"class_name", "config"}` for a layer (the short layout `Sequential.get_config` writes)."""
    return LAYERS.serialize(layer, short=True)


class FunctionalGraph:
    """A DAG from `inputs` to `outputs` traced through the KerasTensors' nodes."""

    def __init__(self, inputs: Any, outputs: Any) -> None:
        self.inputs_structure = inputs
        self.outputs_structure = outputs
        self.inputs = flatten(inputs)
        self.outputs = flatten(outputs)
        for t in self.inputs + self.outputs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Model(inputs, outputs) needs symbolic tensors from plait.Input and layer calls, "
                                f"got {type(t).__name__}.")
        for t in self.inputs:
            if not isinstance(t.node.layer, InputLayer):
                raise ValueError("Model inputs must come straight from plait.Input(...), got the output of "
                                 f"layer {t.node.layer.name!r}.")
        self.nodes = self._topological_nodes()
        seen: dict[int, Layer] = {}
        for node in self.nodes:
            if not isinstance(node.layer, InputLayer):
                seen.setdefault(id(node.layer), node.layer)
        self.layers = list(seen.values())

    def _topological_nodes(self) -> list[Node]:
        order: list[Node] = []
        state: dict[int, int] = {}
        input_ids = {id(t) for t in self.inputs}

        def visit(tensor: KerasTensor) -> None:
            if id(tensor) in input_ids:
                return
            node = tensor.node
            if node is None or isinstance(node.layer, InputLayer):
                raise ValueError(f"Output {tensor} depends on an Input that is not among the model's inputs; "
                                 "pass every Input the outputs use to plait.Model(inputs=...).")
            mark = state.get(id(node))
            if mark == 2:
                return
            if mark == 1:
                raise ValueError("The layer graph has a cycle.")
            state[id(node)] = 1
            for parent in node.input_tensors():
                visit(parent)
            state[id(node)] = 2
            order.append(node)

        for t in self.outputs:
            visit(t)
        return order

    @property
    def output_names(self) -> list[str]:
        if isinstance(self.outputs_structure, dict):
            return sorted(self.outputs_structure)
        names = [t.node.layer.name for t in self.outputs]
        return names if len(set(names)) == len(names) else [f"output_{i}" for i in range(len(names))]

    @property
    def input_shapes(self) -> Any:
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shapes(self) -> Any:
        shapes = [t.shape for t in self.outputs]
        if isinstance(self.outputs_structure, dict):
            return {k: self.outputs_structure[k].shape for k in self.outputs_structure}
        return shapes[0] if isinstance(self.outputs_structure, KerasTensor) else shapes

    def _flat_inputs(self, inputs: Any) -> list:
        """The user's inputs as one value per model input, in `self.inputs` order."""
        if isinstance(inputs, dict):
            return _match_by_name(self.inputs_structure, inputs)
        return flatten(inputs) if isinstance(inputs, (list, tuple)) else [inputs]

    def run(self, inputs: Any, training: bool | None = None) -> Any:
        values: dict[int, Any] = {}
        flat_in = self._flat_inputs(inputs)
        if len(flat_in) != len(self.inputs):
            raise ValueError(f"The model expects {len(self.inputs)} inputs, got {len(flat_in)}.")
        for t, v in zip(self.inputs, flat_in):
            values[id(t)] = adjust_input_rank(v, t.shape)

        def lookup(structure: Any) -> Any:  # the computed value in place of each KerasTensor
            return map_structure(lambda v: values[id(v)] if isinstance(v, KerasTensor) else v, structure)

        for node in self.nodes:
            layer = node.layer
            kwargs = dict(node.kwargs)
            if layer._call_takes_training:
                kwargs["training"] = training
            out = layer(lookup(node.inputs), *lookup(list(node.args)), **lookup(kwargs))
            outs = flatten(node.outputs)
            got = flatten(out) if isinstance(out, (list, tuple, dict)) else [out]
            for t, v in zip(outs, got):
                values[id(t)] = v

        result = lookup(self.outputs_structure)
        return list(result) if isinstance(result, tuple) else result


def _match_by_name(structure: Any, data: dict) -> list:
    """The values of a data dict matched to the model's inputs by name, as Keras does, flattened in the order of
    `flatten(structure)`: the keys of a dict of Inputs (recursively for nested dicts), else each Input's name.

    A missing name raises Keras's error; keys that match no input are ignored with a warning (tf.keras's rule),
    since every input the model uses did get its data.
    """
    if isinstance(structure, dict):
        expected = list(structure)
        _check_keys(data, expected)
        out: list = []
        for key in sorted(structure):  # flatten's order
            value, sub = data[key], structure[key]
            if isinstance(value, dict):
                out += _match_by_name(sub, value)
            else:
                out += flatten(value) if isinstance(sub, (list, tuple, dict)) else [value]
        return out
    tensors = [structure] if isinstance(structure, KerasTensor) else list(structure)
    if not all(isinstance(t, KerasTensor) for t in tensors):
        raise TypeError("A data dict can only be matched to a flat list (or dict) of Inputs by name; this model's "
                        "inputs are nested lists. Pass the data as a list with the same nesting as the model's "
                        "inputs.")
    names = [t.node.layer.name for t in tensors]
    _check_keys(data, names)
    return [data[name] for name in names]


def _check_keys(data: dict, expected: list[str]) -> None:
    for name in expected:
        if name not in data:
            raise ValueError(f'Missing data for input "{name}". You passed a data dictionary with keys '
                             f"{list(data.keys())}. Expected the following keys: {expected}")
    unused = [k for k in data if k not in expected]
    if unused:
        warnings.warn(f"Input dict contained keys {unused} which did not match any model input. They will be "
                      f"ignored by the model. The model's inputs are named {expected}.", stacklevel=2)


# ---------------------------------------------------------------------------------------------------------------
# Graph (de)serialization: layers, and for each call of a layer (a node) the tensors it was called on, named by
# Keras's `keras_history` triple [layer name, node index, tensor index].
# ---------------------------------------------------------------------------------------------------------------
_TENSOR_TAG = "__keras_tensor__"


def serialize_layer_config(layer: Layer) -> dict[str, Any]:
    """`{"module", "class_name", "config", "registered_name"}` for a layer; custom classes carry their registered
    name."""
    return LAYERS.serialize(layer)


def deserialize_layer(config: Any, custom_objects: dict[str, Any] | None = None) -> Layer:
    """Rebuilds a layer (or a nested model: models are layers) from its serialized dict, resolving the class
    through the layer registry and the custom objects only."""
    return LAYERS.deserialize(config, custom_objects, base=Layer)


def _graph_nodes_by_layer(graph: FunctionalGraph) -> dict[int, list[Node]]:
    """Each layer's nodes that belong to this graph, in call order (a layer may also be used elsewhere)."""
    members = {id(node) for node in graph.nodes} | {id(t.node) for t in graph.inputs}
    out: dict[int, list[Node]] = {}
    for layer in [t.node.layer for t in graph.inputs] + graph.layers:
        out[id(layer)] = [n for n in layer._inbound_nodes if id(n) in members] or \
            ([layer.output.node] if isinstance(layer, InputLayer) else [])
    return out


def functional_config(model: Any) -> dict[str, Any]:
    """The functional model's architecture: its layers, each node's inbound tensors, the input/output tensors."""
    graph: FunctionalGraph = model._graph
    nodes_by_layer = _graph_nodes_by_layer(graph)
    names = [t.node.layer.name for t in graph.inputs] + [layer.name for layer in graph.layers]
    if len(set(names)) != len(names):
        raise ValueError(f"Cannot serialize model {model.name!r}: its layer names are not unique ({names}); "
                         "give each layer a distinct name=.")

    def history(tensor: KerasTensor) -> list[Any]:
        layer = tensor.node.layer
        nodes = nodes_by_layer.get(id(layer), [])
        node_index = next((i for i, n in enumerate(nodes) if n is tensor.node), None)
        if node_index is None:
            raise ValueError(f"Tensor {tensor} comes from outside model {model.name!r}'s graph.")
        outputs = flatten(tensor.node.outputs)
        tensor_index = next(i for i, t in enumerate(outputs) if t is tensor)
        return [layer.name, node_index, tensor_index]

    def encode(value: Any) -> Any:
        if isinstance(value, KerasTensor):
            return {"class_name": _TENSOR_TAG, "config": {"shape": list(value.shape),
                                                          "dtype": str(value.dtype).replace("torch.", ""),
                                                          "keras_history": history(value)}}
        if isinstance(value, (list, tuple)):
            return [encode(v) for v in value]
        if isinstance(value, dict):
            return {str(k): encode(v) for k, v in value.items()}
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise ValueError(f"Cannot serialize a layer call argument of type {type(value).__name__} in model "
                         f"{model.name!r}; only tensors, numbers, strings and lists/dicts of them are saved.")

    layers = []
    for layer in [t.node.layer for t in graph.inputs] + graph.layers:
        entry = serialize_layer_config(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = [] if isinstance(layer, InputLayer) else [
            {"args": [encode(node.inputs), *[encode(a) for a in node.args]], "kwargs": encode(dict(node.kwargs))}
            for node in nodes_by_layer[id(layer)]]
        layers.append(entry)
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": encode(graph.inputs_structure), "output_layers": encode(graph.outputs_structure)}


def functional_from_config(cls: type, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Any:
    """Rebuilds a functional model from `functional_config`'s output by replaying each layer call in order."""
    layer_specs = config.get("layers")
    if not isinstance(layer_specs, list):
        raise FormatError("A functional model config needs a 'layers' list.")
    produced: dict[str, list[Any]] = {}  # layer name -> outputs of each replayed node
    pending: list[tuple[str, Layer, list[Any]]] = []
    for spec in layer_specs:
        if not isinstance(spec, dict) or not isinstance(spec.get("inbound_nodes", []), list):
            raise FormatError("Each layer of a functional model config must be a dict with an 'inbound_nodes' list.")
        layer = deserialize_layer(spec, custom_objects)
        name = spec.get("name", layer.name)
        if not isinstance(name, str) or name in produced:
            raise FormatError(f"Layer name {str(name)[:100]!r} in the model config is missing or not unique.")
        # The graph refers to the layer by the entry's name; a custom layer whose get_config leaves out `name`
        # was built under a fresh one, so it takes the entry's.
        layer.name = name
        produced[name] = [layer.output] if isinstance(layer, InputLayer) else []
        pending.append((name, layer, list(spec.get("inbound_nodes", []))))

    def decode(value: Any) -> Any:
        if isinstance(value, dict) and value.get("class_name") == _TENSOR_TAG:
            hist = (value.get("config") or {}).get("keras_history")
            if not (isinstance(hist, list) and len(hist) == 3 and isinstance(hist[0], str)
                    and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in hist[1:])):
                raise FormatError(f"Malformed keras_history {str(hist)[:100]} in the model config.")
            outputs = produced.get(hist[0])
            if outputs is None:
                raise FormatError(f"The model config refers to an unknown layer {hist[0][:100]!r}.")
            if hist[1] >= len(outputs):
                raise _NotYet()
            flat = flatten(outputs[hist[1]])
            if hist[2] >= len(flat):
                raise FormatError(f"The model config refers to output {hist[2]} of layer {hist[0][:100]!r}, "
                                  f"which has {len(flat)}.")
            return flat[hist[2]]
        if isinstance(value, list):
            return [decode(v) for v in value]
        if isinstance(value, dict):
            return {k: decode(v) for k, v in value.items()}
        return value

    # Replay nodes in passes: a shared layer's later call may need tensors made by layers listed after it.
    progress = True
    while progress and any(nodes for _, _, nodes in pending):
        progress = False
        for name, layer, nodes in pending:
            while nodes:
                node = nodes[0]
                if not isinstance(node, dict) or not isinstance(node.get("args", []), list) or \
                        not node.get("args") or not isinstance(node.get("kwargs", {}), dict):
                    raise FormatError(f"Malformed inbound node of layer {layer.name!r} in the model config.")
                try:
                    args, kwargs = decode(node["args"]), decode(node.get("kwargs", {}))
                except _NotYet:
                    break
                _check_call_arguments(layer, args, kwargs)
                produced[name].append(layer(args[0], *args[1:], **kwargs))
                nodes.pop(0)
                progress = True
    if any(nodes for _, _, nodes in pending):
        raise FormatError("The model config's layer calls refer to tensors that are never produced (a cycle or a "
                          "missing layer).")
    try:
        inputs, outputs = decode(config.get("input_layers")), decode(config.get("output_layers"))
    except _NotYet:
        raise FormatError("The model config's inputs or outputs refer to layer calls that do not exist.") from None
    return cls(inputs=inputs, outputs=outputs, name=config.get("name"), trainable=config.get("trainable", True))


def _check_call_arguments(layer: Layer, args: list[Any], kwargs: dict[str, Any]) -> None:
    """Refuses a saved layer call whose arguments the layer's `call` does not take: replaying it symbolically
    would succeed and the model would fail only at its first predict."""
    try:
        inspect.signature(layer.call).bind(*args, **{k: v for k, v in kwargs.items() if k != "training"})
    except TypeError as err:
        raise FormatError(f"The model config calls layer {layer.name!r} ({type(layer).__name__}) with "
                          f"{len(args)} positional argument(s) and keyword(s) {sorted(kwargs)}, which its call() "
                          f"does not take ({err}). The config is damaged or was edited; save the model again from "
                          "code.") from None


class _NotYet(Exception):
    """A node's inbound tensor comes from a layer call not replayed yet."""
