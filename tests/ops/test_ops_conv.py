"""conv, depthwise/separable conv and pooling against a direct float64 NumPy loop over output positions, in both
layouts, with TensorFlow's 'same' padding (pooling never counting padded values), and gradients."""
import itertools
import math

import numpy as np
import pytest
import torch

from plait import ops

RNG = np.random.default_rng(8)


def per_axis(value, rank):
    return (value,) * rank if isinstance(value, int) else tuple(value)


def np_same(size, k, s, d=1):
    effective = (k - 1) * d + 1
    total = max((math.ceil(size / s) - 1) * s + effective - size, 0)
    return total // 2, total - total // 2


def np_windows(x, window, strides, dilation, padding, fill):
    """Yields (output index, patch (batch, *window, channels)) of a channels-last `x`, padded with `fill`."""
    rank = x.ndim - 2
    if padding == "same":
        pads = [(0, 0)] + [np_same(x.shape[1 + i], window[i], strides[i], dilation[i]) for i in range(rank)] + [(0, 0)]
        x = np.pad(x, pads, constant_values=fill)
    span = [(window[i] - 1) * dilation[i] + 1 for i in range(rank)]
    out_sizes = [(x.shape[1 + i] - span[i]) // strides[i] + 1 for i in range(rank)]
    for pos in itertools.product(*[range(n) for n in out_sizes]):
        index = tuple(p * s + np.arange(k) * d for p, s, k, d in zip(pos, strides, window, dilation))
        yield pos, out_sizes, x[(slice(None),) + np.ix_(*index) + (slice(None),)]


def np_conv(x, w, strides, padding, dilation):
    rank = x.ndim - 2
    groups = x.shape[-1] // w.shape[-2]
    per_in, per_out = w.shape[-2], w.shape[-1] // groups
    out = None
    for pos, sizes, patch in np_windows(x, w.shape[:rank], strides, dilation, padding, 0.0):
        if out is None:
            out = np.zeros((x.shape[0], *sizes, w.shape[-1]))
        for g in range(groups):
            part = patch[..., g * per_in:(g + 1) * per_in]
            kernel = w[..., g * per_out:(g + 1) * per_out]
            out[(slice(None),) + pos + (slice(g * per_out, (g + 1) * per_out),)] = np.tensordot(
                part, kernel, axes=(list(range(1, rank + 2)), list(range(rank + 1))))
    return out


def np_pool(x, window, strides, padding, mode):
    fill = -np.inf if mode == "max" else np.nan
    reduce = np.max if mode == "max" else np.nanmean
    out = None
    for pos, sizes, patch in np_windows(x, window, strides, (1,) * len(window), padding, fill):
        if out is None:
            out = np.zeros((x.shape[0], *sizes, x.shape[-1]))
        out[(slice(None),) + pos] = reduce(patch, axis=tuple(range(1, len(window) + 1)))
    return out


CONV_CASES = [  # spatial shape, window, strides, padding, dilation, channels in, groups
    ((9,), (3,), 1, "valid", 1, 2, 1), ((9,), (4,), 2, "same", 1, 2, 1), ((10,), (3,), 1, "same", 2, 4, 2),
    ((6, 7), (3, 2), 1, "valid", 1, 3, 1), ((6, 7), (3, 3), 2, "same", 1, 2, 1),
    ((5, 6), (2, 3), (2, 1), "same", 1, 4, 4), ((7, 7), (3, 3), 1, "same", (2, 1), 2, 1),
    ((4, 5, 6), (2, 3, 2), (1, 2, 2), "same", 1, 2, 1),
]


@pytest.mark.parametrize("layout", ["channels_last", "channels_first"])
@pytest.mark.parametrize("spatial, window, strides, padding, dilation, channels, groups", CONV_CASES)
def test_conv_against_numpy(spatial, window, strides, padding, dilation, channels, groups, layout):
    rank = len(spatial)
    x = RNG.normal(size=(2, *spatial, channels))
    w = RNG.normal(size=(*window, channels // groups, 3 * groups))
    want = np_conv(x, w, per_axis(strides, rank), padding, per_axis(dilation, rank))
    given = torch.from_numpy(x if layout == "channels_last" else np.moveaxis(x, -1, 1))
    out = ops.conv(given, w, strides=strides, padding=padding, data_format=layout, dilation_rate=dilation)
    got = out.numpy() if layout == "channels_last" else np.moveaxis(out.numpy(), 1, -1)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_depthwise_and_separable_conv():
    x = RNG.normal(size=(2, 6, 6, 3))
    depthwise = RNG.normal(size=(3, 3, 3, 2))  # (window, in, multiplier)
    pointwise = RNG.normal(size=(1, 1, 6, 4))
    # A depthwise kernel is a grouped kernel with one input channel per group, outputs ordered (channel, multiplier).
    grouped = depthwise.reshape(3, 3, 1, 6)
    want = np_conv(x, grouped, (1, 1), "same", (1, 1))
    np.testing.assert_allclose(ops.depthwise_conv(x, depthwise, padding="same").numpy(), want, rtol=1e-10)
    np.testing.assert_allclose(ops.separable_conv(x, depthwise, pointwise, padding="same").numpy(),
                               np_conv(want, pointwise, (1, 1), "valid", (1, 1)), rtol=1e-10)


def test_conv_errors_say_what_to_do():
    with pytest.raises(ValueError, match="rank 3, 4 or 5"):
        ops.conv(np.zeros((2, 3)), np.zeros((1, 1)))
    with pytest.raises(ValueError, match="do not divide"):
        ops.conv(np.zeros((1, 5, 3)), np.zeros((2, 2, 4)))
    with pytest.raises(ValueError, match="padding must be"):
        ops.conv(np.zeros((1, 5, 2)), np.zeros((2, 2, 4)), padding="causal")
    with pytest.raises(ValueError, match="strides must be"):
        ops.conv(np.zeros((1, 5, 5, 2)), np.zeros((2, 2, 2, 4)), strides=(1, 0))
    with pytest.raises(ValueError, match="kernel of rank 4"):
        ops.conv(np.zeros((1, 5, 5, 2)), np.zeros((2, 2, 4)))


POOL_CASES = [((9,), 2, None, "valid"), ((9,), 3, 2, "same"), ((8,), 2, 1, "same"), ((6, 7), 2, None, "same"),
              ((6, 7), (3, 2), (2, 1), "valid"), ((5, 5), 3, 2, "same"), ((4, 5, 3), 2, None, "same")]


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("layout", ["channels_last", "channels_first"])
@pytest.mark.parametrize("spatial, pool, strides, padding", POOL_CASES)
def test_pooling_against_numpy(spatial, pool, strides, padding, layout, mode):
    rank = len(spatial)
    x = RNG.normal(size=(2, *spatial, 3))
    window = per_axis(pool, rank)
    step = window if strides is None else per_axis(strides, rank)
    want = np_pool(x, window, step, padding, mode)
    given = torch.from_numpy(x if layout == "channels_last" else np.moveaxis(x, -1, 1))
    fn = ops.max_pool if mode == "max" else ops.average_pool
    out = fn(given, pool, strides=strides, padding=padding, data_format=layout)
    got = out.numpy() if layout == "channels_last" else np.moveaxis(out.numpy(), 1, -1)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fn", [
    lambda x, w: ops.conv(x, w, strides=2, padding="same"),
    lambda x, w: ops.conv(x, w, padding="same", dilation_rate=2),
    lambda x, w: ops.max_pool(ops.conv(x, w), 2, strides=1, padding="same"),
    lambda x, w: ops.average_pool(x * w.sum(), 3, strides=2, padding="same"),
])
def test_conv_and_pool_gradients(fn):
    x = torch.tensor(RNG.normal(size=(1, 5, 6, 2)), requires_grad=True)
    w = torch.tensor(RNG.normal(size=(3, 2, 2, 3)), requires_grad=True)
    assert torch.autograd.gradcheck(fn, (x, w))

