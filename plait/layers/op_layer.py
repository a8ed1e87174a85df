"""OpLayer: a `plait.ops` function called on symbolic tensors becomes a node of the functional graph.

Keras scripts build functional models with ops on `Input` tensors (`ops.expand_dims(inputs, -1)`,
`ops.concatenate([a, b], axis=1)`). `plait.ops` sits below the layers, so it hands such calls to the handler
registered here, which wraps the op and its constant arguments in an `OpLayer` and calls it on the symbolic
tensors. The layer saves the op by its name in `plait.ops` and the constants as JSON; loading finds the op in
`plait.ops` by that exact name (nothing else is looked up or imported).
"""
from __future__ import annotations

from typing import Any, Callable

from plait import tree
from plait.errors import FormatError
from plait.layers.layer import LAYERS, Layer
from plait.layers.symbolic import KerasTensor
from plait.ops import core as ops_core

_SLOT = "__plait_tensor__"


@LAYERS.register()
class OpLayer(Layer):
    """Calls the `plait.ops` function `op` with `arguments`, its tensors taken from the layer's inputs in order.

    Args:
        op: The name of a `plait.ops` function.
        arguments: `[args, kwargs]` of the call, each tensor replaced by `{"__plait_tensor__": index}`.
        **kwargs: Base layer arguments.

    Example:
        >>> import plait, numpy as np
        >>> inputs = plait.Input((3,))
        >>> model = plait.Model(inputs, plait.ops.expand_dims(inputs, -1))
        >>> model.output_shape, type(model.layers[0]).__name__
        ((None, 3, 1), 'OpLayer')
    """

    def __init__(self, op: str, arguments: list[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.op, self.arguments = op, arguments
        self._fn = _op_named(op)

    def call(self, inputs: Any) -> Any:
        inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]  # one tensor: the op's only one

        def fill(value: Any) -> Any:
            return inputs[value[_SLOT]] if isinstance(value, dict) and set(value) == {_SLOT} else value

        args, kwargs = _fill(self.arguments, fill)
        return self._fn(*args, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "op": self.op, "arguments": self.arguments}


def _fill(structure: Any, fill: Callable[[Any], Any]) -> Any:
    """`structure` with each tensor slot (a one-key dict) replaced by `fill(slot)`; lists and dicts walked."""
    if isinstance(structure, dict):
        return fill(structure) if set(structure) == {_SLOT} else {k: _fill(v, fill) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_fill(v, fill) for v in structure)
    return structure


def _op_named(name: Any) -> Callable[..., Any]:
    import plait.ops as ops

    fn = getattr(ops, name, None) if isinstance(name, str) and name in ops.__all__ else None
    if not callable(fn):
        raise FormatError(f"OpLayer names {str(name)[:100]!r}, which is not a plait.ops function.")
    return fn


def _symbolic_op(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """What `plait.ops.<fn>(...)` returns when an argument is a KerasTensor: the output of an OpLayer node."""
    tensors: list[KerasTensor] = []

    def slot(value: Any) -> Any:
        if isinstance(value, KerasTensor):
            tensors.append(value)
            return {_SLOT: len(tensors) - 1}
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"plait.ops.{fn.__name__} on symbolic tensors takes tensors, numbers and strings as "
                        f"arguments (so that the model can be saved), got {type(value).__name__}. Compute it "
                        "inside a Layer subclass instead.")

    arguments = tree.map_structure(slot, [list(args), dict(kwargs)])
    return OpLayer(fn.__name__, arguments)(tensors)


ops_core.set_symbolic_handler(KerasTensor, _symbolic_op)
