"""The functional API's graph: layers called on symbolic tensors, run in topological order."""
from __future__ import annotations

from typing import Any

from plait.layers.input_layer import InputLayer, KerasTensor, Node, adjust_input_rank, flatten
from plait.layers.layer import Layer


def serialize_layer(layer: Layer) -> dict[str, Any]:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


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

    def run(self, inputs: Any, training: bool | None = None) -> Any:
        values: dict[int, Any] = {}
        if isinstance(self.inputs_structure, dict) and isinstance(inputs, dict):
            flat_in = [inputs[k] for k in sorted(self.inputs_structure)]
        else:
            flat_in = flatten(inputs) if isinstance(inputs, (list, tuple, dict)) else [inputs]
        if len(flat_in) != len(self.inputs):
            raise ValueError(f"The model expects {len(self.inputs)} inputs, got {len(flat_in)}.")
        for t, v in zip(self.inputs, flat_in):
            values[id(t)] = adjust_input_rank(v, t.shape)

        def lookup(x: Any) -> Any:
            if isinstance(x, KerasTensor):
                return values[id(x)]
            if isinstance(x, (list, tuple)):
                return type(x)(lookup(v) for v in x)
            if isinstance(x, dict):
                return {k: lookup(v) for k, v in x.items()}
            return x

        for node in self.nodes:
            layer = node.layer
            kwargs = dict(node.kwargs)
            if layer._call_takes_training:
                kwargs["training"] = training
            out = layer(lookup(node.inputs), *node.args, **kwargs)
            outs = flatten(node.outputs)
            got = flatten(out) if isinstance(out, (list, tuple, dict)) else [out]
            for t, v in zip(outs, got):
                values[id(t)] = v

        result = lookup(self.outputs_structure)
        return list(result) if isinstance(result, tuple) else result
