"""Input, InputLayer and KerasTensor: the symbolic values from which functional models are traced."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from plait.layers.layer import LAYERS, Layer, normalize_shape


@dataclass(eq=False)
class Node:
    """One call of a layer on symbolic inputs: the edge list of a functional graph."""

    layer: Layer
    inputs: Any  # the (possibly nested) KerasTensor inputs, as passed
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    outputs: Any = None

    def input_tensors(self) -> list["KerasTensor"]:
        return flatten(self.inputs)


class KerasTensor:
    """A symbolic tensor: a shape (batch first, `None` where unknown), a dtype, and the node that made it."""

    def __init__(self, shape: tuple, dtype: torch.dtype | None = None, name: str | None = None,
                 node: Node | None = None) -> None:
        self.shape = tuple(shape)
        self.dtype = dtype or torch.float32
        self.name = name
        self.node = node

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={str(self.dtype).replace('torch.', '')}, name={self.name}>"

    def __array__(self, *args: Any) -> Any:
        raise TypeError("A symbolic KerasTensor (from plait.Input) has no values. Build a model with "
                        "plait.Model(inputs, outputs) and call it on real data.")


def flatten(x: Any) -> list:
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in flatten(item)]
    if isinstance(x, dict):
        return [v for key in sorted(x) for v in flatten(x[key])]
    return [x]


def _map_structure(fn: Any, x: Any) -> Any:
    if isinstance(x, (list, tuple)):
        return type(x)(_map_structure(fn, v) for v in x)
    if isinstance(x, dict):
        return {k: _map_structure(fn, v) for k, v in x.items()}
    return fn(x)


def adjust_input_rank(x: Any, expected: tuple) -> Any:
    """Keras's input rank fix-up: a (batch,) array fed to an Input of shape (1,) becomes (batch, 1)."""
    if isinstance(x, torch.Tensor) and x.dim() == len(expected) - 1 and expected[-1] == 1:
        return x.unsqueeze(-1)
    if isinstance(x, torch.Tensor) and x.dim() == len(expected) + 1 and x.shape[-1] == 1:
        return x.squeeze(-1)
    return x


def symbolic_call(layer: Layer, inputs: Any, args: tuple, kwargs: dict) -> Any:
    """Calls `layer` on KerasTensors: builds it, infers the output shape, and records a Node."""
    in_shape = _map_structure(lambda t: t.shape, inputs)
    if isinstance(in_shape, tuple) and not isinstance(inputs, KerasTensor):
        in_shape = list(in_shape)
    layer._maybe_build(in_shape)
    out_shape = layer.compute_output_shape(in_shape)
    node = Node(layer=layer, inputs=inputs, args=args, kwargs=dict(kwargs))

    def make(shape: Any) -> Any:
        if isinstance(shape, list) and shape and isinstance(shape[0], (tuple, list)):
            return [make(s) for s in shape]
        if isinstance(shape, dict):
            return {k: make(s) for k, s in shape.items()}
        return KerasTensor(tuple(shape), layer.dtype, name=layer.name, node=node)

    node.outputs = make(out_shape)
    layer._inbound_nodes.append(node)
    return node.outputs


@LAYERS.register()
class InputLayer(Layer):
    """The entry point of a model: holds the expected input shape; `call` is the identity."""

    def __init__(self, shape: Any = None, batch_size: int | None = None, dtype: Any = None,
                 batch_shape: Any = None, name: str | None = None, **kwargs: Any) -> None:
        input_shape = kwargs.pop("input_shape", None)
        if batch_shape is None and kwargs.get("batch_input_shape") is not None:
            batch_shape = kwargs.pop("batch_input_shape")
        if shape is None:
            shape = input_shape
        if shape is not None and batch_shape is not None:
            raise ValueError("Give InputLayer either `shape` or `batch_shape`, not both.")
        if shape is None and batch_shape is None:
            raise ValueError("InputLayer needs a `shape`, e.g. Input(shape=(784,)).")
        super().__init__(name=name, dtype=dtype, **kwargs)
        if batch_shape is not None:
            self.batch_shape = normalize_shape(batch_shape, "batch_shape")
        else:
            self.batch_shape = (batch_size,) + normalize_shape(shape, "shape")
        self._build_shape = self.batch_shape
        self.built = True
        self.output = KerasTensor(self.batch_shape, self.dtype, name=self.name, node=Node(self, inputs=[]))
        self.output.node.outputs = self.output

    def call(self, inputs: Any) -> Any:
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {"batch_shape": list(self.batch_shape), "dtype": str(self.dtype).replace("torch.", ""),
                "name": self.name}


def Input(shape: Any = None, batch_size: int | None = None, dtype: Any = None, batch_shape: Any = None,
          name: str | None = None) -> KerasTensor:
    """A symbolic input for a model: `Input(shape=(784,))` (the batch dimension is left out).

    Example:
        >>> x = Input(shape=(4,))
        >>> x.shape
        (None, 4)
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape, name=name).output
