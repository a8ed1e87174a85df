"""Identity: a layer that returns its input unchanged (a placeholder, or a named point in a graph)."""
from __future__ import annotations

from typing import Any

from plait.layers.layer import LAYERS, Layer


@LAYERS.register()
class Identity(Layer):
    """Returns its inputs as they are (a tensor or a structure of tensors).

    Example:
        >>> import torch
        >>> x = torch.ones(2, 3)
        >>> Identity()(x) is x
        True
    """

    def call(self, inputs: Any) -> Any:
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape
