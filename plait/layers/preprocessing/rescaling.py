"""Rescaling: `inputs * scale + offset`, e.g. pixels from [0, 255] to [0, 1] (`scale=1/255`) inside the model."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from plait.layers.layer import LAYERS, Layer


def _number_or_list(value: Any, name: str) -> float | list:
    """A number, or a list of numbers (one per channel, broadcast against the last axis)."""
    if isinstance(value, bool):
        raise TypeError(f"Rescaling {name} must be a number or a list of numbers, got {value!r}.")
    if isinstance(value, (int, float, np.number)):
        return float(value)
    try:
        arr = np.asarray(value, dtype="float64")
    except (TypeError, ValueError):
        raise TypeError(f"Rescaling {name} must be a number or a list of numbers, got {value!r}.") from None
    return arr.tolist()


@LAYERS.register()
class Rescaling(Layer):
    """Multiplies inputs by `scale` and adds `offset`: `x * scale + offset`, computed in `floatx`.

    `scale` and `offset` may be lists broadcast against the trailing axes (one value per channel), as in Keras.

    Args:
        scale: The scale (a number or a list); `1 / 255` maps [0, 255] to [0, 1], `1 / 127.5` with
            `offset=-1` maps it to [-1, 1].
        offset: The offset added after scaling.

    Example:
        >>> Rescaling(1 / 127.5, offset=-1.0)(torch.tensor([[0.0, 127.5, 255.0]]))
        tensor([[-1.,  0.,  1.]])
    """

    def __init__(self, scale: float | list, offset: float | list = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = _number_or_list(scale, "scale")
        self.offset = _number_or_list(offset, "offset")

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs if inputs.dtype == self.dtype else inputs.to(self.dtype)
        scale, offset = self.scale, self.offset
        if isinstance(scale, list):
            scale = torch.tensor(scale, dtype=x.dtype, device=x.device)
        if isinstance(offset, list):
            offset = torch.tensor(offset, dtype=x.dtype, device=x.device)
        return x * scale + offset

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
