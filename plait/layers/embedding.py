"""Embedding: integer ids -> dense vectors."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from plait import initializers
from plait.layers.layer import LAYERS, Layer, use_masks


@LAYERS.register()
class Embedding(Layer):
    """Maps each integer id in `[0, input_dim)` to a trainable vector of size `output_dim`.

    Args:
        input_dim: The number of ids (the vocabulary size).
        output_dim: The size of each vector.
        embeddings_initializer: How the vectors start. Default 'uniform', as Keras.
        mask_zero: Whether id 0 is padding: the output then carries a mask that the layers after it follow
            (recurrent layers skip those steps), as in Keras. Default False.

    Example:
        >>> Embedding(100, 8)(torch.tensor([[1, 2, 3]])).shape
        torch.Size([1, 3, 8])
    """

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer: Any = "uniform",
                 mask_zero: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Keras's mask_zero: id 0 is padding; the mask (True where the id is not 0) goes with the output to the
        # layers after it (recurrent layers skip those steps, GlobalAveragePooling1D leaves them out).
        self.mask_zero = bool(mask_zero)
        if self.mask_zero:
            use_masks()
        for name, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"Embedding {name} must be a positive integer, got {value!r}.")
        self.input_dim, self.output_dim = input_dim, output_dim
        self.embeddings_initializer = initializers.get(embeddings_initializer)

    def build(self, input_shape: Any) -> None:
        self.embeddings = self.add_weight((self.input_dim, self.output_dim), self.embeddings_initializer,
                                          name="embeddings")

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        ids = inputs.long() if inputs.dtype != torch.long else inputs
        if ids.device.type == "cpu" and ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.input_dim):
            raise ValueError(f"Embedding {self.name!r} got ids outside [0, {self.input_dim}) "
                             f"(min {int(ids.min())}, max {int(ids.max())}); raise input_dim or fix the ids.")
        return F.embedding(ids, self.embeddings)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return inputs != 0 if self.mask_zero else None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                **({"mask_zero": True} if self.mask_zero else {})}
