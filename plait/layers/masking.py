"""Masking: marks the time steps whose features all equal `mask_value` as padding, and zeroes them.

The mask goes with the output (`_keras_mask`, as in Keras) to the layers after it: a recurrent layer skips the
masked steps, a layer that `supports_masking` passes the mask on.
"""
from __future__ import annotations

from typing import Any

import torch

from plait.layers.layer import LAYERS, Layer, use_masks


@LAYERS.register()
class Masking(Layer):
    """Zeroes the time steps of `(batch, time, features)` inputs whose features all equal `mask_value`.

    `compute_mask(inputs)` gives the `(batch, time)` boolean mask (True for the steps to keep) that recurrent
    layers take as `mask=`.

    Args:
        mask_value: The padding value (default 0.0).

    Example:
        >>> x = torch.tensor([[[1.0, 2.0], [0.0, 0.0]]])
        >>> Masking()(x).shape, Masking().compute_mask(x)
        (torch.Size([1, 2, 2]), tensor([[ True, False]]))
    """

    supports_masking = True

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float)):
            raise ValueError(f"Masking mask_value must be a number, got {mask_value!r}.")
        self.mask_value = float(mask_value)
        use_masks()

    def compute_mask(self, inputs: torch.Tensor, mask: Any = None) -> torch.Tensor:
        """True where a step has a feature other than `mask_value`: `(batch, time)`."""
        return (inputs != self.mask_value).any(dim=-1)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        keep = self.compute_mask(inputs).unsqueeze(-1)
        return inputs * keep.to(inputs.dtype)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mask_value": self.mask_value}
