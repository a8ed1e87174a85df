"""Symbolic tensors and the calls that trace a functional model: the machinery below `Layer`.

`plait.Input(shape)` returns a `KerasTensor` (a shape, a dtype, no values). Calling a layer on KerasTensors
goes through `symbolic_call`, which builds the layer, infers its output shape and records a `Node` (an edge
of the model's graph). This module never imports `layer.py`: it takes any object with a layer's surface
(`name`, `dtype`, `_maybe_build`, `compute_output_shape`, `_inbound_nodes`), so `Layer` and `InputLayer`
both import it and neither imports the other's internals.

Shapes follow Keras's convention: one shape is a tuple of ints (`None` where unknown, the batch first);
several shapes are a list (or a dict) of them, so `build(input_shape)` tells a multi-input layer from a
single-input one by the type. `map_shapes` walks that structure.

Example:
    >>> t = KerasTensor((None, 4))
    >>> t.shape, t.ndim
    ((None, 4), 2)
    >>> map_shapes(lambda s: s[-1], [(None, 4), {"a": (None, 2, 3)}])
    [4, {'a': 3}]
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from plait import config, tree


def normalize_shape(shape: Any, what: str = "shape") -> tuple | None:
    """A shape given as an int, list or tuple -> tuple of ints/None (None stays None).

    Raises:
        TypeError: If `shape` is not an int or a sequence of ints and None.
        ValueError: If a dimension is negative.
    """
    if shape is None:
        return None
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        out = tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a tuple of integers (or None), got {shape!r}.") from None
    if any(d is not None and d < 0 for d in out):
        raise ValueError(f"{what} must not have negative dimensions, got {shape!r}.")
    return out


def is_shape(x: Any) -> bool:
    """Whether `x` is one shape: a tuple or list of ints and None (`()`, a scalar's shape, included)."""
    return isinstance(x, (tuple, list)) and all(d is None or isinstance(d, (int, np.integer)) for d in x)


def map_shapes(fn: Callable[[Any], Any], shapes: Any) -> Any:
    """`fn` applied to each shape of a shape structure (one shape, or lists, tuples and dicts of shapes).

    `plait.tree` cannot walk shapes, since it would take a shape's dimensions for leaves. Several shapes
    come back as a list, Keras's sign of several inputs; a dict keeps its keys. A leaf that is not a
    sequence (a tensor) is passed to `fn` too, which is how `shapes_of` reads a structure of tensors.
    """
    if isinstance(shapes, dict):
        return {k: map_shapes(fn, v) for k, v in shapes.items()}
    if isinstance(shapes, (list, tuple)) and not is_shape(shapes):
        return [map_shapes(fn, s) for s in shapes]
    return fn(shapes)


def shapes_of(x: Any) -> Any:
    """The shape structure of a tensor or a structure of tensors, with the batch dimension as None."""
    return map_shapes(lambda t: (None,) + tuple(t.shape[1:]), x)


@dataclass(eq=False)
class Node:
    """One call of a layer on symbolic inputs: the edge list of a functional graph."""

    layer: Any  # a Layer; typed loosely because this module sits below layer.py
    inputs: Any  # the (possibly nested) KerasTensor inputs, as passed
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    outputs: Any = None

    def input_tensors(self) -> list["KerasTensor"]:
        """Every KerasTensor the call read: in its inputs, and in its other arguments (`mha(query, value)`)."""
        return [t for t in tree.flatten((self.inputs, list(self.args), self.kwargs)) if isinstance(t, KerasTensor)]


class KerasTensor:
    """A symbolic tensor: a shape (batch first, `None` where unknown), a dtype, and the node that made it.

    As in Keras, `dtype` is the dtype's name ('float32'), so `x.dtype == "float32"` holds; `torch_dtype` is the
    torch dtype.

    Example:
        >>> import plait
        >>> x = plait.Input(shape=(3,))
        >>> plait.layers.Dense(2)(x).shape, x.dtype
        ((None, 2), 'float32')
    """

    def __init__(self, shape: tuple, dtype: torch.dtype | None = None, name: str | None = None,
                 node: Node | None = None) -> None:
        self.shape = tuple(shape)
        self.torch_dtype = dtype or torch.float32
        self.name = name
        self.node = node

    @property
    def dtype(self) -> str:
        return str(self.torch_dtype).replace("torch.", "")

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __array__(self, *args: Any) -> Any:
        raise TypeError("A symbolic KerasTensor (from plait.Input) has no values. Build a model with "
                        "plait.Model(inputs, outputs) and call it on real data.")


def is_symbolic(x: Any) -> bool:
    """Whether `x` (a value or a structure) holds a KerasTensor, so that a layer call on it traces a graph."""
    return any(isinstance(t, KerasTensor) for t in tree.flatten(x))


def symbolic_call(layer: Any, inputs: Any, args: tuple, kwargs: dict) -> Any:
    """Calls `layer` on KerasTensors: builds it, infers the output shape, and records a Node.

    When other arguments hold KerasTensors too (`attention(query, value)`), the output is inferred by calling the
    layer once on zeros of every symbolic argument's shape (batch 1), since `compute_output_shape` sees only the
    first input.
    """
    node = Node(layer=layer, inputs=inputs, args=args, kwargs=dict(kwargs))
    if is_symbolic((list(args), kwargs)):
        out = _call_on_zeros(layer, inputs, args, kwargs)
        node.outputs = tree.map_structure(
            lambda t: KerasTensor((None,) + tuple(t.shape[1:]), t.dtype, name=layer.name, node=node), out)
    else:
        in_shape = map_shapes(lambda t: t.shape, inputs)
        layer._maybe_build(in_shape)
        out_shape = layer.compute_output_shape(in_shape)
        node.outputs = map_shapes(lambda s: KerasTensor(tuple(s), layer.dtype, name=layer.name, node=node),
                                  out_shape)
    layer._inbound_nodes.append(node)
    return node.outputs


def _call_on_zeros(layer: Any, inputs: Any, args: tuple, kwargs: dict) -> Any:
    def zeros(value: Any) -> Any:
        if not isinstance(value, KerasTensor):
            return value
        return torch.zeros([1 if d is None else d for d in value.shape], dtype=value.torch_dtype,
                           device=config.get_device())

    was_training = layer.training
    layer.eval()
    try:
        with torch.no_grad():
            return layer(tree.map_structure(zeros, inputs), *tree.map_structure(zeros, list(args)),
                         **tree.map_structure(zeros, kwargs))
    finally:
        layer.train(was_training)
