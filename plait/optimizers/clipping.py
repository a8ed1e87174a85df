"""Gradient clipping as Keras defines it, over lists of tensors with multi-tensor kernels and no host reads."""
from __future__ import annotations

import torch


def clip_by_norm(grads: list[torch.Tensor], clipnorm: float) -> list[torch.Tensor]:
    """Each gradient times `clipnorm / max(norm, clipnorm)` (Keras's per-tensor clip; zero gradients unchanged)."""
    factors = list(torch._foreach_norm(grads))
    torch._foreach_clamp_min_(factors, clipnorm)
    torch._foreach_reciprocal_(factors)
    torch._foreach_mul_(factors, clipnorm)
    return list(torch._foreach_mul(grads, factors))


def clip_by_global_norm(grads: list[torch.Tensor], clipnorm: float) -> list[torch.Tensor]:
    """All gradients times `min(1, clipnorm / global_norm)`; a non-finite global norm makes them NaN, as in Keras."""
    norms = torch._foreach_norm(grads)
    device = grads[0].device
    total = torch.linalg.vector_norm(torch.stack([n.to(device=device, dtype=torch.float32) for n in norms]))
    # clipnorm * min(1/total, 1/clipnorm), written without a host-made tensor; (total - total) turns inf/NaN to NaN
    scale = clipnorm / torch.clamp(total, min=clipnorm) + (total - total)
    if all(g.device == device and g.dtype == grads[0].dtype for g in grads):
        return list(torch._foreach_mul(grads, scale.to(grads[0].dtype)))
    return [g * scale.to(device=g.device, dtype=g.dtype) for g in grads]


def clip_by_value(grads: list[torch.Tensor], clipvalue: float) -> list[torch.Tensor]:
    """Each element clamped to `[-clipvalue, clipvalue]`."""
    clipped = list(torch._foreach_clamp_min(grads, -clipvalue))
    torch._foreach_clamp_max_(clipped, clipvalue)
    return clipped


def clip_gradients(grads: list[torch.Tensor], clipnorm: float | None, global_clipnorm: float | None,
                   clipvalue: float | None) -> list[torch.Tensor]:
    """The optimizer's clip, in Keras's priority: per-tensor norm, else global norm, else value, else none."""
    if clipnorm and clipnorm > 0:
        return clip_by_norm(grads, clipnorm)
    if global_clipnorm and global_clipnorm > 0:
        return clip_by_global_norm(grads, global_clipnorm)
    if clipvalue and clipvalue > 0:
        return clip_by_value(grads, clipvalue)
    return grads
