"""ActivityRegularization: passes its input through and adds an L1/L2 penalty on it to the training loss."""
from __future__ import annotations

from typing import Any

import torch

from plait import regularizers
from plait.layers.layer import LAYERS, Layer


@LAYERS.register()
class ActivityRegularization(Layer):
    """Identity that adds `l1 * sum(|x|) + l2 * sum(x ** 2)` of its input to the loss (through `add_loss`).

    The penalty is summed over the batch, not averaged, as in Keras 3. It is recorded on every call, so it sits
    in `model.losses` after a model call and joins the loss `fit` minimizes and `evaluate` reports.

    Args:
        l1: L1 factor (non-negative).
        l2: L2 factor (non-negative).

    Example:
        >>> layer = ActivityRegularization(l1=0.1)
        >>> layer(torch.tensor([[1.0, -2.0]]))
        tensor([[ 1., -2.]])
        >>> [round(float(v), 4) for v in layer.losses]
        [0.3]
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0, **kwargs: Any) -> None:
        kwargs.pop("activity_regularizer", None)  # this layer's own, from l1 and l2 (a saved config repeats it)
        # The base layer adds the penalty of the output (here the input) on every call, as Keras 3 does.
        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1, self.l2 = float(l1), float(l2)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "l1": self.l1, "l2": self.l2}
        config.pop("activity_regularizer", None)
        return config
