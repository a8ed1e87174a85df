"""Dot-product and additive attention over `[query, value]` or `[query, value, key]`, and the attention masks
that every attention layer shares (Keras's `_compute_attention_mask`, causal masks, masked softmax).

Masks are boolean with True meaning "may attend", as in Keras. plait has no implicit Keras masks yet, so the
query/value/key masks Keras reads from an `Embedding(mask_zero=True)` are passed explicitly: `mask=[query_mask,
value_mask]` here, `query_mask=`/`value_mask=`/`key_mask=` on the multi-head layers.

Example:
    >>> causal_mask(3, 3)[0].int()
    tensor([[1, 0, 0],
            [1, 1, 0],
            [1, 1, 1]], dtype=torch.int32)
"""
from __future__ import annotations

from typing import Any

import torch

from plait.layers.dropout import Dropout
from plait.layers.layer import LAYERS, Layer
from plait.layers.symbolic import is_shape, is_symbolic


def large_negative(dtype: torch.dtype) -> float:
    """Keras's stand-in for -inf before a softmax: finite, so a fully masked row gives no NaN."""
    return -3e4 if dtype == torch.float16 else -1e9


def as_mask(mask: Any, device: torch.device) -> torch.Tensor | None:
    """A user's mask (tensor, array, nested lists; bool or 0/1) as a bool tensor on `device`, or None."""
    if mask is None:
        return None
    mask = mask if isinstance(mask, torch.Tensor) else torch.as_tensor(mask)
    return mask.to(device=device, dtype=torch.bool)


def causal_mask(query_length: int, value_length: int, device: torch.device | None = None) -> torch.Tensor:
    """`(1, T, S)` bool, True where query position i may attend value position j, i.e. `j <= i` (Keras's rule)."""
    return torch.ones(query_length, value_length, dtype=torch.bool, device=device).tril().unsqueeze(0)


def combine_masks(query: torch.Tensor, value: torch.Tensor, *, query_mask: Any = None, value_mask: Any = None,
                  key_mask: Any = None, attention_mask: Any = None, use_causal_mask: bool = False
                  ) -> torch.Tensor | None:
    """The one `(B, T, S)` bool mask (or a broadcastable one) that Keras's multi-head layers attend through.

    `query_mask` `(B, T)` becomes `(B, T, 1)`, `value_mask`/`key_mask` `(B, S)` become `(B, 1, S)`, the causal
    mask is `(1, T, S)`; all of them and `attention_mask` are combined with a logical and.
    """
    device = query.device
    parts = []
    if query_mask is not None:
        parts.append(as_mask(query_mask, device).unsqueeze(-1))
    for mask in (value_mask, key_mask):
        if mask is not None:
            parts.append(as_mask(mask, device).unsqueeze(-2))
    if use_causal_mask:
        if query.dim() != 3:
            raise ValueError(f"use_causal_mask=True needs (batch, sequence, features) inputs, got a query of shape "
                             f"{tuple(query.shape)}; pass an explicit attention_mask for other ranks.")
        parts.append(causal_mask(query.shape[1], value.shape[1], device))
    if attention_mask is not None:
        parts.append(as_mask(attention_mask, device))
    if not parts:
        return None
    out = parts[0]
    for part in parts[1:]:
        out = out & part
    return out


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None, axes: int = 1) -> torch.Tensor:
    """Keras's `Softmax(axis=last axes)(scores, mask)`: jointly over the last `axes` axes, masked entries set to
    a large negative number first and to 0 after, so a fully masked row is all zeros (not a uniform average)."""
    if mask is not None:
        scores = scores.masked_fill(~mask, large_negative(scores.dtype))
    if axes == 1:
        probs = torch.softmax(scores, dim=-1)
    else:
        probs = torch.softmax(scores.flatten(-axes), dim=-1).reshape(scores.shape)
    return probs if mask is None else probs * mask


def check_dropout(layer: str, dropout: Any) -> float:
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"{layer} dropout must be a number in [0, 1), got {dropout!r}.")
    return float(dropout)


def attention_dropout(owner: Layer, rate: float, seed: int | None) -> Dropout | None:
    """The Dropout applied to attention probabilities while training (None for rate 0), named after `owner` so
    that it takes no name from the user's own Dropout layers."""
    return Dropout(rate, seed=seed, name=f"{owner.name}_dropout") if rate > 0 else None


def _split_inputs(layer: str, inputs: Any) -> list:
    """`[query, value]` or `[query, value, key]` (a shape or a tensor each), else an error that shows the call."""
    if not isinstance(inputs, (list, tuple)) or is_shape(inputs) or not 2 <= len(inputs) <= 3:
        got = f"a list of {len(inputs)}" if isinstance(inputs, (list, tuple)) and not is_shape(inputs) else \
            f"a single {type(inputs).__name__}"
        raise ValueError(f"{layer} must be called on a list of inputs, [query, value] or [query, value, key]; "
                         f"got {got}. Call it as {layer}()([query, value]).")
    return list(inputs)


@LAYERS.register()
class Attention(Layer):
    """Dot-product attention (Luong-style): `softmax(query @ key^T) @ value`, over `[query, value(, key)]`.

    Shapes: query `(B, Tq, dim)`, value `(B, Tv, dim_v)`, key `(B, Tv, dim)` (default: value); output
    `(B, Tq, dim_v)`. Called with `mask=[query_mask, value_mask]` (bool, True = keep), `use_causal_mask=True` for
    decoder self-attention, `return_attention_scores=True` for `(output, scores)` with scores `(B, Tq, Tv)`.

    As Keras, masked scores get -1e9 added (a fully masked row averages uniformly), a `(B, Tv)` value mask applies
    to every query (as `(B, 1, Tv)`), and the query mask zeroes the output rows. `seed` is part of the config.

    Args:
        use_scale: Learn a scalar that multiplies the scores (`concat` mode: scales `query + key`).
        score_mode: `"dot"` (`query @ key^T`) or `"concat"` (`sum(tanh(query + key))`, times a learned scalar).
        dropout: Fraction of attention probabilities dropped while training.
        seed: Seed of the dropout masks.

    Example:
        >>> q, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4)
        >>> out, scores = Attention()([q, v], return_attention_scores=True)
        >>> out.shape, scores.shape
        (torch.Size([2, 3, 4]), torch.Size([2, 3, 5]))
    """

    _SCORE_MODES = ("dot", "concat")

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if score_mode not in self._SCORE_MODES:
            raise ValueError(f"Invalid value for argument score_mode. Expected one of {self._SCORE_MODES}, got "
                             f"score_mode={score_mode!r}.")
        self.use_scale, self.score_mode = bool(use_scale), score_mode
        self.dropout = check_dropout(type(self).__name__, dropout)
        self.seed = seed
        self._dropout_layer = attention_dropout(self, self.dropout, seed)

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if not (kwargs.get("return_attention_scores") and is_symbolic(inputs)):
            return super().__call__(inputs, *args, **kwargs)
        # compute_output_shape sees only the input shapes: for this one symbolic call it also gives the scores'
        # (Keras's `_return_attention_scores` flag, here cleared right after).
        self._scores_wanted = True
        try:
            return super().__call__(inputs, *args, **kwargs)
        finally:
            self._scores_wanted = False

    def build(self, input_shape: Any) -> None:
        shapes = _split_inputs(type(self).__name__, input_shape)
        key_dim = shapes[-1][-1]
        if self.score_mode == "dot" and None not in (shapes[0][-1], key_dim) and shapes[0][-1] != key_dim:
            raise ValueError(f"{type(self).__name__} with score_mode='dot' needs query and key of the same last "
                             f"dimension, got query {tuple(shapes[0])} and key {tuple(shapes[-1])}.")
        self.scale = self.add_weight((), "ones", name="scale") if self.use_scale else None
        self.concat_score_weight = self.add_weight((), "ones", name="concat_score_weight") \
            if self.score_mode == "concat" else None

    def _scores(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        if self.score_mode == "dot":
            scores = query @ key.transpose(-1, -2)
            return scores * self.scale if self.scale is not None else scores
        summed = query.unsqueeze(-2) + key.unsqueeze(-3)  # (B, Tq, Tv, dim)
        if self.scale is not None:
            summed = self.scale * summed
        return self.concat_score_weight * torch.tanh(summed).sum(-1)

    def call(self, inputs: Any, mask: Any = None, training: bool | None = None,
             return_attention_scores: bool = False, use_causal_mask: bool = False) -> Any:
        query, value, *rest = _split_inputs(type(self).__name__, inputs)
        key = rest[0] if rest else value
        if mask is not None and (not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3):
            raise ValueError(f"{type(self).__name__} mask must be a list [query_mask, value_mask], got {mask!r}.")
        query_mask, value_mask = (as_mask(m, query.device) for m in mask[:2]) if mask is not None else (None, None)
        scores = self._scores(query, key)
        scores_mask = None if value_mask is None else value_mask.unsqueeze(-2)  # (B, 1, Tv)
        if use_causal_mask:
            causal = causal_mask(scores.shape[-2], scores.shape[-1], scores.device)
            scores_mask = causal if scores_mask is None else scores_mask & causal
        if scores_mask is not None:
            # Keras subtracts (rather than masks) here: a fully masked row averages uniformly, as in Keras. 65504 is
            # float16's largest value.
            penalty = 65504.0 if scores.dtype == torch.float16 else 1e9
            scores = scores - penalty * (~scores_mask).to(scores.dtype)
        weights = torch.softmax(scores, dim=-1)
        dropped = self._dropout_layer(weights, training=training) if self._dropout_layer is not None else weights
        out = dropped @ value
        if query_mask is not None:
            out = out * query_mask.unsqueeze(-1).to(out.dtype)
        return (out, weights) if return_attention_scores else out

    def compute_output_shape(self, input_shape: Any) -> tuple:
        query, value, *rest = (tuple(s) for s in _split_inputs(type(self).__name__, input_shape))
        out = query[:-1] + (value[-1],)
        if self.__dict__.get("_scores_wanted"):
            return [out, (query[0], query[1], (rest[0] if rest else value)[1])]
        return out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}


@LAYERS.register()
class AdditiveAttention(Attention):
    """Additive (Bahdanau-style) attention: scores `sum(scale * tanh(query + key), -1)` over `[query, value(, key)]`.

    Same call as `Attention`; query and key must have the same last dimension.

    Args:
        use_scale: Learn a per-dimension scale vector (glorot-uniform initialized); else the scale is 1.
        dropout: Fraction of attention probabilities dropped while training.
        seed: Seed of the dropout masks.

    Example:
        >>> q, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4)
        >>> AdditiveAttention()([q, v], mask=[None, torch.tensor([[1, 1, 1, 0, 0]] * 2)]).shape
        torch.Size([2, 3, 4])
    """

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(use_scale=use_scale, dropout=dropout, seed=seed, **kwargs)

    def build(self, input_shape: Any) -> None:
        shapes = _split_inputs(type(self).__name__, input_shape)
        dim, key_dim = shapes[0][-1], shapes[-1][-1]
        if dim is None or (key_dim is not None and key_dim != dim):
            raise ValueError(f"AdditiveAttention needs query and key with the same known last dimension, got query "
                             f"{tuple(shapes[0])} and key {tuple(shapes[-1])}.")
        self.scale = self.add_weight((dim,), "glorot_uniform", name="scale") if self.use_scale else None

    def _scores(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        summed = torch.tanh(query.unsqueeze(-2) + key.unsqueeze(-3))  # (B, Tq, Tv, dim)
        return (summed * self.scale).sum(-1) if self.scale is not None else summed.sum(-1)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["score_mode"]  # Keras's config has none: the mode is what makes the layer additive
        return config
