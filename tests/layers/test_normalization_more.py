"""GroupNormalization against `torch.nn.functional.group_norm` and UnitNormalization against
`torch.nn.functional.normalize`, forward and gradients, with copied weights.

plait computes Keras's formulas (group moments of a reshaped tensor; `x * min(rsqrt(sum x^2), 1e12)`), the
references are torch's own kernels on channels-first copies, so each comparison has two independent sides; float32
with 1e-5 tolerances.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import plait
from plait.layers import GroupNormalization, UnitNormalization


def _group_norm_reference(x, groups, axis, gamma, beta, eps):
    moved = x.movedim(axis, 1)
    # Constant ones/zeros for a missing gamma/beta: torch's backward fails on a bias without a weight.
    gamma = torch.ones(moved.shape[1]) if gamma is None else gamma
    beta = torch.zeros(moved.shape[1]) if beta is None else beta
    return F.group_norm(moved, groups, gamma, beta, eps).movedim(1, axis)


@pytest.mark.parametrize("shape, kwargs", [
    ((4, 6), {"groups": 3}),
    ((3, 5, 8), {"groups": 4}),
    ((2, 4, 5, 6), {"groups": 2}),
    ((2, 4, 5, 6), {"groups": -1}),  # one group per channel: instance normalization
    ((2, 4, 5, 6), {"groups": 1, "epsilon": 1e-5}),
    ((2, 6, 5, 4), {"groups": 3, "axis": 1}),  # channels-first
    ((2, 5, 6, 4), {"groups": 2, "axis": -2}),
    ((3, 5, 8), {"groups": 4, "center": False}),
    ((3, 5, 8), {"groups": 2, "scale": False}),
])
def test_group_normalization_matches_torch_group_norm(shape, kwargs):
    plait.set_random_seed(0)
    layer = GroupNormalization(**kwargs)
    x = (torch.randn(shape) * 3 + 1).requires_grad_()
    out = layer(x)
    channels = shape[layer._axis]
    groups = channels if kwargs["groups"] == -1 else kwargs["groups"]
    with torch.no_grad():
        for w in layer.weights:
            w.copy_(torch.randn(channels))
    out = layer(x)
    x_ref = x.detach().clone().requires_grad_()
    gamma = layer.gamma.detach().clone().requires_grad_() if layer.gamma is not None else None
    beta = layer.beta.detach().clone().requires_grad_() if layer.beta is not None else None
    ref = _group_norm_reference(x_ref, groups, layer._axis, gamma, beta, layer.epsilon)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    upstream = torch.randn(shape)
    (out * upstream).sum().backward()
    (ref * upstream).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-4, atol=1e-5)
    for w, w_ref in zip(layer.weights, [t for t in (gamma, beta) if t is not None]):
        torch.testing.assert_close(w.grad, w_ref.grad, rtol=1e-4, atol=1e-4)
    assert [tuple(w.shape) for w in layer.weights] == [(channels,)] * (layer.scale + layer.center)


def test_group_normalization_keeps_half_precision_inputs_accurate():
    layer = GroupNormalization(groups=2)
    x = torch.randn(2, 3, 8) * 100
    out = layer(x.half())
    assert out.dtype == torch.float16
    torch.testing.assert_close(out.float(), layer(x), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("kwargs, shape, message", [
    ({"groups": 3}, (2, 8), "must divide the number of channels \\(8\\)"),
    ({"groups": 0}, (2, 8), "positive integer or -1"),
    ({"groups": 2, "axis": 0}, (2, 8), "non-batch axis"),
    ({"groups": 16}, (2, 8), "must divide"),
])
def test_group_normalization_errors(kwargs, shape, message):
    with pytest.raises(ValueError, match=message):
        GroupNormalization(**kwargs)(torch.randn(shape))


@pytest.mark.parametrize("shape, axis", [((4, 6), -1), ((3, 5, 7), 1), ((3, 5, 7), [1, 2]), ((2, 3, 4, 5), (1, 3))])
def test_unit_normalization_matches_torch_normalize(shape, axis):
    x = torch.randn(shape).requires_grad_()
    layer = UnitNormalization(axis=axis)
    out = layer(x)
    x_ref = x.detach().clone().requires_grad_()
    dims = [axis] if isinstance(axis, int) else list(axis)
    norm = x_ref.norm(dim=dims, keepdim=True)
    ref = F.normalize(x_ref, dim=dims[0]) if len(dims) == 1 else x_ref / norm.clamp_min(1e-12)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    upstream = torch.randn(shape)
    (out * upstream).sum().backward()
    (ref * upstream).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-4, atol=1e-5)
    assert layer.weights == []


def test_unit_normalization_leaves_zero_vectors_at_zero():
    out = UnitNormalization()(torch.tensor([[0.0, 0.0], [3.0, 4.0]]))
    np.testing.assert_allclose(out.numpy(), [[0.0, 0.0], [0.6, 0.8]], rtol=1e-6)


def test_unit_normalization_errors_and_config():
    with pytest.raises(TypeError, match="axis must be an int or a list"):
        UnitNormalization(axis="last")
    with pytest.raises(ValueError, match="out of range"):
        UnitNormalization(axis=3)(torch.randn(2, 3))
    layer = UnitNormalization(axis=(1, 2))
    assert layer.get_config()["axis"] == [1, 2]
