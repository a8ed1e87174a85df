"""Activation: applies an activation function as a layer."""
from __future__ import annotations

from typing import Any

import torch

from plait import activations
from plait.layers.layer import LAYERS, Layer


@LAYERS.register()
class Activation(Layer):
    """Applies `activation` (a name such as 'relu' or a function) to its input.

    Example:
        >>> Activation("relu")(torch.tensor([[-1.0, 2.0]]))
        tensor([[0., 2.]])
    """

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.activation(inputs)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}
