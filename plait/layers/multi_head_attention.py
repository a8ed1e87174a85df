"""MultiHeadAttention, and the base it shares with GroupedQueryAttention: query/key/value projections into heads
with Keras's weight layout, the call convention `layer(query, value, key=None, ...)`, and the attention itself.

Weights are Keras's EinsumDense kernels, in Keras's order and shapes, so `set_weights(keras_layer.get_weights())`
ports a trained Keras layer: query/key/value kernels `(dim, heads, head_dim)` with biases `(heads, head_dim)`, the
output kernel `(heads, value_dim, *output_shape)` with bias `output_shape`. They are applied as one matmul each.

The attention runs on `torch.nn.functional.scaled_dot_product_attention` (fused kernels, dropout inside) unless the
scores are requested, the dropout has a seed, or `attention_axes` is not the default; then an explicit softmax does
the same math (Keras's masked softmax: a fully masked query row attends to nothing and outputs the bias).

Deliberate differences from Keras 3: `flash_attention` is accepted and ignored (torch picks its kernels);
`activity_regularizer` must be None; `get_config` keeps `attention_axes` as given (Keras writes the resolved axes
once built); a symbolic call's scores have their real shape `(B, heads, T, S)` (Keras's spec says `(B, heads, T,
T)`); `use_causal_mask` needs 3-D inputs (Keras builds a mask of the wrong rank for others); the query/value/key
masks that Keras reads from `Embedding(mask_zero=True)` are passed explicitly, as `query_mask=` etc.
"""
from __future__ import annotations

import math
import string
from typing import Any

import torch
import torch.nn.functional as F

from plait import initializers, regularizers
from plait.layers.attention import attention_dropout, check_dropout, combine_masks, masked_softmax
from plait.layers.conv_utils import positive_int
from plait.layers.layer import LAYERS, Layer
from plait.layers.symbolic import KerasTensor, is_shape, is_symbolic
from plait.tensors import convert_to_tensor


def _shape_of(t: Any) -> tuple:
    return tuple(t.shape) if isinstance(t, KerasTensor) else (None,) + tuple(t.shape[1:])


def project(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor | None, in_axes: int = 1) -> torch.Tensor:
    """Keras's EinsumDense as one matmul: contracts the last `in_axes` axes of `x` with the first ones of `kernel`."""
    if x.dtype != kernel.dtype:
        x = x.to(kernel.dtype)
    size = math.prod(kernel.shape[:in_axes])
    flat = x.flatten(-in_axes) if in_axes > 1 else x
    out = F.linear(flat, kernel.reshape(size, -1).t(), None if bias is None else bias.reshape(-1))
    return out.unflatten(-1, kernel.shape[in_axes:])


class ProjectedAttention(Layer):
    """Base of the attention layers that project query, key and value into heads before attending.

    Subclasses create the weights `query_kernel`, `query_bias`, ..., `output_kernel`, `output_bias` in
    `_build_weights(query_shape, value_shape, key_shape)` and attend over the projected heads in `_attend_heads`.
    This base gives them Keras's call (also accepted as one list `[query, value(, key)]`), building from all three
    shapes, the masks, the projections, and the attention on `(B, T, heads, dim)`.
    """

    def __init__(self, *, dropout: float = 0.0, use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None, bias_constraint: Any = None,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if activity_regularizer is not None:
            raise ValueError(f"{type(self).__name__} does not support activity_regularizer yet, got "
                             f"{activity_regularizer!r}; regularize the kernels with kernel_regularizer instead.")
        self.dropout = check_dropout(type(self).__name__, dropout)
        self.use_bias, self.seed = bool(use_bias), seed
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint
        self._dropout_layer = attention_dropout(self, self.dropout, seed)

    # ------------------------------------------------------------------ calling and building
    def __call__(self, query: Any, value: Any = None, key: Any = None, **kwargs: Any) -> Any:
        name = type(self).__name__
        if value is None and isinstance(query, (list, tuple)) and not is_shape(query) and 2 <= len(query) <= 3:
            query, value, *rest = query
            key = rest[0] if rest else key
        if value is None:
            raise TypeError(f"{name} needs a query and a value: call it as layer(query, value) or "
                            f"layer(query, value, key) (value is also the key by default), got only a query.")
        if not is_symbolic((query, value, key)):
            query, value, key = (t if t is None or isinstance(t, torch.Tensor) else convert_to_tensor(t, name=n)
                                 for t, n in ((query, "query"), (value, "value"), (key, "key")))
        if not self.built:
            self._maybe_build([_shape_of(t) for t in (query, value, key) if t is not None])
        return super().__call__(query, value, *(() if key is None else (key,)), **kwargs)

    @staticmethod
    def _split_shapes(query_shape: Any, value_shape: Any, key_shape: Any) -> tuple[tuple, tuple | None, tuple]:
        if value_shape is None and not is_shape(query_shape):  # one list of shapes, as `_maybe_build` passes
            query_shape, value_shape, *rest = query_shape
            key_shape = rest[0] if rest else None
        value_shape = None if value_shape is None else tuple(value_shape)
        return tuple(query_shape), value_shape, value_shape if key_shape is None else tuple(key_shape)

    def build(self, query_shape: Any, value_shape: Any = None, key_shape: Any = None) -> None:
        """Creates the projections for inputs of these shapes (Keras's `build(query_shape, value_shape, key_shape)`;
        one list of the shapes works too)."""
        query_shape, value_shape, key_shape = self._split_shapes(query_shape, value_shape, key_shape)
        if value_shape is None:
            raise ValueError(f"{type(self).__name__}.build needs the value's shape too: build(query_shape, "
                             "value_shape).")
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(f"All dimensions of value and key except the last must be equal, got value shape "
                             f"{value_shape} and key shape {key_shape}.")
        for what, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) < 3 or shape[-1] is None:
                raise ValueError(f"{type(self).__name__} needs a {what} of shape (batch, ..., features) with a known "
                                 f"feature size, got {shape}.")
        self._build_weights(query_shape, value_shape, key_shape)
        if self._build_shape is None:  # built directly (Keras-style), not through a first call
            self._build_shape = [query_shape, value_shape, key_shape]
        self.built = True

    def _build_weights(self, query_shape: tuple, value_shape: tuple, key_shape: tuple) -> None:
        raise NotImplementedError

    def _projection(self, name: str, kernel_shape: tuple, bias_shape: tuple) -> tuple[Any, Any]:
        kernel = self.add_weight(kernel_shape, self.kernel_initializer, name=f"{name}_kernel",
                                 regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        bias = self.add_weight(bias_shape, self.bias_initializer, name=f"{name}_bias",
                               regularizer=self.bias_regularizer, constraint=self.bias_constraint) \
            if self.use_bias else None
        return kernel, bias

    def call(self, query: torch.Tensor, value: torch.Tensor, key: torch.Tensor | None = None, *,
             query_mask: Any = None, value_mask: Any = None, key_mask: Any = None, attention_mask: Any = None,
             return_attention_scores: bool = False, training: bool | None = None,
             use_causal_mask: bool = False) -> Any:
        key = value if key is None else key
        mask = combine_masks(query, value, query_mask=query_mask, value_mask=value_mask, key_mask=key_mask,
                             attention_mask=attention_mask, use_causal_mask=use_causal_mask)
        q = project(query, self.query_kernel, self.query_bias)
        k = project(key, self.key_kernel, self.key_bias)
        v = project(value, self.value_kernel, self.value_bias)
        out, scores = self._attend_heads(q, k, v, mask, training, return_attention_scores)
        out = project(out, self.output_kernel, self.output_bias, in_axes=2)
        return (out, scores) if return_attention_scores else out

    def _attend_heads(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None,
                      training: bool | None, scores_wanted: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attention of the projected `(B, ..., heads, dim)` tensors: (output, probabilities or None)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ attention
    def _attend(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None,
                training: bool | None, scores_wanted: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attention of `(B, T, H, D)` query over `(B, S, H, D)` key/value; mask `(B, T, S)` or broadcastable.

        Returns the output `(B, T, H, Dv)` and, when `scores_wanted`, the probabilities `(B, H, T, S)`.
        """
        scale = 1.0 / math.sqrt(query.shape[-1])
        if mask is not None:
            while mask.dim() < 4:  # Keras broadcasts the missing leading dims of the mask before the head dim
                mask = mask.unsqueeze(-3)
        q, k, v = (t.transpose(1, 2) for t in (query, key, value))
        dropping = bool(training) and self._dropout_layer is not None
        if not scores_wanted and not (dropping and self.seed is not None):
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale,
                                                 dropout_p=self.dropout if dropping else 0.0)
            return out.transpose(1, 2), None
        probs = masked_softmax((q * scale) @ k.transpose(-1, -2), mask)
        dropped = self._dropout_layer(probs, training=True) if dropping else probs
        return (dropped @ v).transpose(1, 2), probs

    def _config(self) -> dict[str, Any]:
        return {**super().get_config(), "dropout": self.dropout, "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer), "seed": self.seed}


def _attention_equations(rank: int, axes: tuple[int, ...]) -> tuple[str, str]:
    """Keras's einsum equations for attention over `axes` of projected tensors of `rank` (heads second to last):
    key x query -> scores `(<batch dims and heads>, <query axes>, <key axes>)`, and scores x value -> output."""
    target = string.ascii_lowercase[:rank]
    source, fresh = list(target), iter(string.ascii_lowercase[rank:])
    for axis in axes:
        source[axis] = next(fresh)
    batch = [target[i] for i in range(rank - 1) if i not in axes]
    product = "".join(batch + [target[i] for i in axes] + [source[i] for i in axes])
    source_str = "".join(source)
    return f"{source_str},{target}->{product}", f"{product},{source_str}->{target}"


@LAYERS.register()
class MultiHeadAttention(ProjectedAttention):
    """Multi-head attention (Vaswani et al., 2017), Keras 3's layer: `layer(query, value, key=None, ...)`.

    Query `(B, T, dim)`, value `(B, S, dim_v)`, key `(B, S, dim_k)` (default: value); output `(B, T, dim)` or
    `(B, T, *output_shape)`. Call arguments: `attention_mask` bool `(B, T, S)` (True = attend; leading dims may be
    missing), `use_causal_mask`, `return_attention_scores` (then `(output, scores)`, scores `(B, heads, T, S)`),
    `training`, and Keras's implicit masks given explicitly: `query_mask` `(B, T)`, `value_mask`/`key_mask` `(B, S)`.

    Args:
        num_heads: Number of attention heads.
        key_dim: Size of each head for query and key.
        value_dim: Size of each head for value (default `key_dim`).
        dropout: Fraction of attention probabilities dropped while training.
        use_bias: Whether the projections have biases.
        output_shape: Output size(s) besides the batch and attention dims (default: the query's last dim).
        attention_axes: Axes attention runs over (default: all but batch, heads and features).
        kernel_initializer, bias_initializer: Initializers of the four projections.
        kernel_regularizer, bias_regularizer: Regularizers of the projections' kernels and biases.
        kernel_constraint, bias_constraint: Callables `w -> w` applied after each optimizer update.
        seed: Seed of the dropout masks (a seeded dropout runs the explicit softmax path).

    Example:
        >>> mha = MultiHeadAttention(num_heads=2, key_dim=4)
        >>> x = torch.randn(3, 5, 8)
        >>> out, scores = mha(x, x, return_attention_scores=True, use_causal_mask=True)
        >>> out.shape, scores.shape, tuple(mha.weights[0].shape)
        (torch.Size([3, 5, 8]), torch.Size([3, 2, 5, 5]), (8, 2, 4))
    """

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None, dropout: float = 0.0,
                 use_bias: bool = True, output_shape: Any = None, attention_axes: Any = None,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros", **kwargs: Any) -> None:
        kwargs.pop("flash_attention", None)  # Keras's switch; torch picks the fused kernel itself
        super().__init__(dropout=dropout, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer, **kwargs)
        name = type(self).__name__
        self.num_heads = positive_int(num_heads, "num_heads", name)
        self.key_dim = positive_int(key_dim, "key_dim", name)
        self.value_dim = self.key_dim if value_dim is None else positive_int(value_dim, "value_dim", name)
        if isinstance(output_shape, int):
            output_shape = (output_shape,)
        if output_shape is not None and (not is_shape(output_shape) or not output_shape
                                         or any(d is None or d <= 0 for d in output_shape)):
            raise ValueError(f"{name} output_shape must be a positive int or a tuple of them, got {output_shape!r}.")
        self._output_shape = None if output_shape is None else tuple(int(d) for d in output_shape)
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        if attention_axes is not None and (not is_shape(attention_axes) or not attention_axes):
            raise ValueError(f"{name} attention_axes must be an int or a tuple of ints, got {attention_axes!r}.")
        self.attention_axes = None if attention_axes is None else tuple(int(a) for a in attention_axes)

    def _build_weights(self, query_shape: tuple, value_shape: tuple, key_shape: tuple) -> None:
        rank = len(query_shape)
        axes = tuple(range(1, rank - 1)) if self.attention_axes is None else tuple(
            a if a >= 0 else rank + a for a in self.attention_axes)
        if any(not 1 <= a <= rank - 2 for a in axes) or len(set(axes)) != len(axes):
            raise ValueError(f"attention_axes {self.attention_axes} must name distinct axes of the query other than "
                             f"the batch and feature axes (1 to {rank - 2} for rank {rank}), got {axes}.")
        self._axes, self._default_axes = axes, axes == tuple(range(1, rank - 1))
        heads = self.num_heads
        self.query_kernel, self.query_bias = self._projection("query", (query_shape[-1], heads, self.key_dim),
                                                              (heads, self.key_dim))
        self.key_kernel, self.key_bias = self._projection("key", (key_shape[-1], heads, self.key_dim),
                                                          (heads, self.key_dim))
        self.value_kernel, self.value_bias = self._projection("value", (value_shape[-1], heads, self.value_dim),
                                                              (heads, self.value_dim))
        out = self._output_shape or (query_shape[-1],)
        self.output_kernel, self.output_bias = self._projection("attention_output", (heads, self.value_dim, *out),
                                                                out)

    def _attend_heads(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None,
                      training: bool | None, scores_wanted: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self._default_axes:
            return self._attend_flat(q, k, v, mask, training, scores_wanted)
        return self._attend_axes(q, k, v, mask, training)

    def _attend_flat(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None,
                     training: bool | None, scores_wanted: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attention over all the middle axes at once: they are flattened into one sequence axis (for 3-D inputs
        there is nothing to flatten), so even images attend through the fused kernel."""
        n = q.dim() - 3
        q_axes, k_axes = q.shape[1:-2], k.shape[1:-2]
        if n > 1:
            q, k, v = q.flatten(1, n), k.flatten(1, n), v.flatten(1, n)
            if mask is not None:
                while mask.dim() < 2 + 2 * n:
                    mask = mask.unsqueeze(-2 * n - 1)
                lead = mask.shape[:-2 * n]
                mask = mask.expand(*lead, *q_axes, *k_axes).reshape(*lead, q.shape[1], k.shape[1])
        out, scores = self._attend(q, k, v, mask, training, scores_wanted)
        if n > 1:
            out = out.unflatten(1, q_axes)
            scores = None if scores is None else scores.unflatten(-1, k_axes).unflatten(-1 - n, q_axes)
        return out, scores

    def _attend_axes(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None,
                     training: bool | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Attention over chosen axes, with Keras's einsum equations (the other middle axes act as batch axes)."""
        n = len(self._axes)
        dot, combine = _attention_equations(q.dim(), self._axes)
        scores = torch.einsum(dot, k, q * (1.0 / math.sqrt(self.key_dim)))
        if mask is not None:
            while mask.dim() < scores.dim():
                mask = mask.unsqueeze(-2 * n - 1)
        probs = masked_softmax(scores, mask, axes=n)
        dropped = self._dropout_layer(probs, training=training) if self._dropout_layer is not None else probs
        return torch.einsum(combine, dropped, v), probs

    def compute_output_shape(self, query_shape: Any, value_shape: Any = None, key_shape: Any = None) -> tuple:
        query_shape, _, _ = self._split_shapes(query_shape, value_shape, key_shape)
        return query_shape[:-1] + (self._output_shape or query_shape[-1:])

    def get_config(self) -> dict[str, Any]:
        return {**self._config(), "num_heads": self.num_heads, "key_dim": self.key_dim, "value_dim": self.value_dim,
                "output_shape": None if self._output_shape is None else list(self._output_shape),
                "attention_axes": None if self.attention_axes is None else list(self.attention_axes)}
