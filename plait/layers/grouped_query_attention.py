"""GroupedQueryAttention (Keras 3's `GroupQueryAttention`): query heads share fewer key/value heads."""
from __future__ import annotations

from typing import Any

import torch

from plait.layers.layer import LAYERS
from plait.layers.conv_utils import positive_int
from plait.layers.multi_head_attention import ProjectedAttention


@LAYERS.register("GroupQueryAttention")
class GroupedQueryAttention(ProjectedAttention):
    """Grouped-query attention (Ainslie et al., 2023): `num_query_heads` query heads, each group of
    `num_query_heads // num_key_value_heads` of them attending through one shared key/value head.

    Called as `MultiHeadAttention`: `layer(query, value, key=None, attention_mask=None, use_causal_mask=False,
    return_attention_scores=False, training=None)` (and `query_mask`/`value_mask`/`key_mask`). Query `(B, T, dim)`,
    value and key `(B, S, dim_v)`; output `(B, T, dim)`; scores `(B, num_query_heads, T, S)`. Weights in Keras's
    layout: query kernel `(dim, num_query_heads, head_dim)`, key/value kernels `(dim_v, num_key_value_heads,
    head_dim)`, output kernel `(num_query_heads, head_dim, dim)`, each with its bias.

    Args:
        head_dim: Size of each attention head.
        num_query_heads: Number of query heads.
        num_key_value_heads: Number of key/value heads; must divide `num_query_heads`.
        dropout: Fraction of attention probabilities dropped while training.
        use_bias: Whether the projections have biases.
        kernel_initializer, bias_initializer: Initializers of the four projections.
        kernel_regularizer, bias_regularizer: Regularizers of the projections' kernels and biases.
        kernel_constraint, bias_constraint: Callables `w -> w` applied after each optimizer update.
        seed: Seed of the dropout masks.

    Example:
        >>> gqa = GroupedQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2)
        >>> x = torch.randn(3, 5, 8)
        >>> gqa(x, x).shape, [tuple(w.shape) for w in gqa.weights[::2]]
        (torch.Size([3, 5, 8]), [(8, 4, 4), (8, 2, 4), (8, 2, 4), (4, 4, 8)])
    """

    def __init__(self, head_dim: int, num_query_heads: int, num_key_value_heads: int, dropout: float = 0.0,
                 use_bias: bool = True, **kwargs: Any) -> None:
        kwargs.pop("flash_attention", None)  # Keras's switch; torch picks the fused kernel itself
        super().__init__(dropout=dropout, use_bias=use_bias, **kwargs)
        name = type(self).__name__
        self.head_dim = positive_int(head_dim, "head_dim", name)
        self.num_query_heads = positive_int(num_query_heads, "num_query_heads", name)
        self.num_key_value_heads = positive_int(num_key_value_heads, "num_key_value_heads", name)
        if num_query_heads % num_key_value_heads:
            raise ValueError(f"num_query_heads must be divisible by num_key_value_heads, got {num_query_heads} and "
                             f"{num_key_value_heads}.")
        self.num_repeats = num_query_heads // num_key_value_heads

    def _build_weights(self, query_shape: tuple, value_shape: tuple, key_shape: tuple) -> None:
        if len(query_shape) != 3:
            raise ValueError(f"{type(self).__name__} needs (batch, sequence, features) inputs, got a query of shape "
                             f"{query_shape}.")
        heads, kv_heads, dim = self.num_query_heads, self.num_key_value_heads, self.head_dim
        self.query_kernel, self.query_bias = self._projection("query", (query_shape[-1], heads, dim), (heads, dim))
        self.key_kernel, self.key_bias = self._projection("key", (key_shape[-1], kv_heads, dim), (kv_heads, dim))
        self.value_kernel, self.value_bias = self._projection("value", (value_shape[-1], kv_heads, dim),
                                                              (kv_heads, dim))
        self.output_kernel, self.output_bias = self._projection("attention_output", (heads, dim, query_shape[-1]),
                                                                (query_shape[-1],))

    def _attend_heads(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None,
                      training: bool | None, scores_wanted: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        # Keras's ops.repeat on the head axis: query head j reads key/value head j // num_repeats.
        k, v = k.repeat_interleave(self.num_repeats, dim=2), v.repeat_interleave(self.num_repeats, dim=2)
        return self._attend(q, k, v, mask, training, scores_wanted)

    def compute_output_shape(self, query_shape: Any, value_shape: Any = None, key_shape: Any = None) -> tuple:
        return self._split_shapes(query_shape, value_shape, key_shape)[0]

    def get_config(self) -> dict[str, Any]:
        return {**self._config(), "head_dim": self.head_dim, "num_query_heads": self.num_query_heads,
                "num_key_value_heads": self.num_key_value_heads}


GroupQueryAttention = GroupedQueryAttention
