"""Scaled dot-product attention with Keras's layout `(batch, length, heads, head_dim)`, on torch's fused kernel.

`dot_product_attention` runs `torch.nn.functional.scaled_dot_product_attention` (flash or memory-efficient
attention where the inputs allow). Masks follow Keras: `True` marks the keys a query may attend to. A masked
key gets a large negative logit rather than -inf, so a query with no visible key attends uniformly (as in
Keras on JAX) instead of giving NaN.

Example:
    >>> import torch
    >>> from plait import ops
    >>> q = k = v = torch.ones(2, 5, 4, 8)
    >>> ops.dot_product_attention(q, k, v, is_causal=True).shape
    torch.Size([2, 5, 4, 8])
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from plait.ops.core import float_tensor, operands, to_tensor


def _heads_first(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.ndim != 4:
        raise ValueError(f"dot_product_attention needs {name} of shape (batch, length, heads, head_dim) or "
                         f"(length, heads, head_dim), got {tuple(x.shape)}.")
    return x.transpose(1, 2)


def _additive_mask(bias: Any, mask: Any, is_causal: bool, length: int, source: int, like: torch.Tensor
                   ) -> torch.Tensor | None:
    """bias + a large negative number where `mask` (or causality) hides a key; None when nothing is added."""
    out = None if bias is None else to_tensor(bias, like.dtype, device=like.device)
    visible = None if mask is None else to_tensor(mask, "bool", device=like.device)
    if is_causal:
        causal = torch.ones(length, source, dtype=torch.bool, device=like.device).tril()
        visible = causal if visible is None else visible & causal
    if visible is not None:
        # -0.7 * max (Keras's choice on JAX): finite, so a fully masked row stays finite when a bias is added.
        hidden = torch.full((), -0.7 * torch.finfo(like.dtype).max, dtype=like.dtype, device=like.device)
        masked = torch.where(visible, 0.0, hidden)
        out = masked if out is None else out + masked
    return out


def dot_product_attention(query: Any, key: Any, value: Any, bias: Any = None, mask: Any = None,
                          scale: float | None = None, is_causal: bool = False, flash_attention: bool | None = None,
                          attn_logits_soft_cap: float | None = None) -> torch.Tensor:
    """`softmax(query @ key^T * scale + bias) @ value` per head.

    Args:
        query: `(batch, T, num_heads, head_dim)` (or without the batch axis).
        key: `(batch, S, num_kv_heads, head_dim)`; `num_kv_heads` must divide `num_heads` (grouped-query
            attention shares each key/value head among `num_heads / num_kv_heads` query heads).
        value: `(batch, S, num_kv_heads, head_dim_v)`.
        bias: Added to the logits; broadcastable to `(batch, num_heads, T, S)`.
        mask: Bool, broadcastable to `(batch, num_heads, T, S)`; `True` where a query may attend to a key.
        scale: Logit scale; default `1 / sqrt(head_dim)`.
        is_causal: Hide keys after each query (position `i` sees keys `0..i`).
        flash_attention: Accepted for Keras; torch picks its fastest kernel (flash where the inputs allow).
            `True` with `attn_logits_soft_cap` raises, as in Keras.
        attn_logits_soft_cap: If given, logits become `cap * tanh(logits / cap)` (computed without the
            fused kernel).

    Returns:
        `(batch, T, num_heads, head_dim_v)`, without the batch axis if `query` had none.
    """
    q, k, v = (float_tensor(t) for t in operands(query, key, value))
    common = torch.promote_types(torch.promote_types(q.dtype, k.dtype), v.dtype)
    unbatched = q.ndim == 3
    if unbatched:
        q, k, v = q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0)
    q, k, v = (_heads_first(t.to(common), name) for t, name in ((q, "query"), (k, "key"), (v, "value")))
    heads, kv_heads = q.shape[1], k.shape[1]
    if heads % kv_heads or v.shape[1] != kv_heads:
        raise ValueError(f"dot_product_attention: key and value need the same number of heads, dividing the "
                         f"query's {heads}; got key heads {kv_heads} and value heads {v.shape[1]}.")
    if kv_heads != heads:
        k, v = k.repeat_interleave(heads // kv_heads, dim=1), v.repeat_interleave(heads // kv_heads, dim=1)
    if flash_attention and attn_logits_soft_cap is not None:
        raise ValueError("attn_logits_soft_cap is not supported with flash_attention=True; pass one or the other.")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    if attn_logits_soft_cap is None and bias is None and mask is None:
        # torch's causal mask is Keras's (query i sees keys 0..i, also when T != S).
        out = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal, scale=scale)
    else:
        added = _additive_mask(bias, mask, is_causal, q.shape[2], k.shape[2], q)
        if attn_logits_soft_cap is None:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=added, scale=scale)
        else:
            cap = float(attn_logits_soft_cap)
            logits = cap * torch.tanh(torch.matmul(q, k.transpose(-1, -2)) * scale / cap)
            out = torch.matmul(torch.softmax(logits if added is None else logits + added, dim=-1), v)
    out = out.transpose(1, 2)
    return out.squeeze(0) if unbatched else out
