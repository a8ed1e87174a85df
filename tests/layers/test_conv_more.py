"""Conv3D, transposed, depthwise and separable convolutions and 3-D pooling against torch.nn.functional with
copied weights (forward and gradients), float64 NumPy, and TensorFlow's gradient-of-convolution definition."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import plait
from plait.layers import (AveragePooling3D, Conv1D, Conv1DTranspose, Conv2DTranspose, Conv3D, Conv3DTranspose,
                          DepthwiseConv1D, DepthwiseConv2D, GlobalAveragePooling3D, GlobalMaxPooling3D, MaxPooling3D,
                          SeparableConv1D, SeparableConv2D)
from plait.ops.conv import pad_same

TOL = {"rtol": 1e-5, "atol": 1e-5}


def _grads(out, *tensors):
    """Gradients of a fixed random projection of `out`, the same for both sides of a comparison."""
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(7), dtype=out.dtype)
    return torch.autograd.grad((out * g).sum(), tensors)


def _cl(x):  # channels-last -> channels-first
    return x.movedim(-1, 1)


def _keras_transpose_length(size, kernel, stride, padding, output_padding, dilation):
    """Keras's `_get_output_shape_given_tf_padding` (keras/src/backend/common/backend_utils.py), restated."""
    kernel = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(kernel, stride) - kernel if output_padding is None else output_padding
        return (size - 1) * stride + kernel + extra
    return size * stride if output_padding is None else (size - 1) * stride + kernel % 2 + output_padding


@pytest.mark.parametrize("kwargs", [
    {"kernel_size": 3},
    {"kernel_size": (2, 3, 2), "strides": (1, 2, 2), "padding": "same"},
    {"kernel_size": (2, 3, 4), "padding": "same"},  # even kernels: the odd pixel padded at the end, as TensorFlow
    {"kernel_size": 2, "dilation_rate": 2, "use_bias": False},
    {"kernel_size": 1, "groups": 2},
])
def test_conv3d_forward_and_gradients_match_torch(kwargs):
    plait.set_random_seed(0)
    layer = Conv3D(4, bias_initializer="glorot_uniform", **kwargs)
    x = torch.randn(2, 6, 7, 5, 4, requires_grad=True)
    out = layer(x)
    weight = layer.kernel.detach().clone().permute(4, 3, 0, 1, 2).requires_grad_()  # (k, k, k, in, out) -> torch
    xr = _cl(x)
    if layer.padding == "same":
        xr = pad_same(xr, layer.kernel_size, layer.strides, layer.dilation_rate)
    bias = None if layer.bias is None else layer.bias.detach()
    ref = F.conv3d(xr, weight, bias, layer.strides, 0, layer.dilation_rate, layer.groups).movedim(1, -1)
    torch.testing.assert_close(out, ref, **TOL)
    assert layer.compute_output_shape((None, 6, 7, 5, 4)) == (None,) + tuple(ref.shape[1:])
    gx, gk = _grads(out, x, layer.kernel)
    rx, rw = _grads(ref, x, weight)
    torch.testing.assert_close(gx, rx, **TOL)
    torch.testing.assert_close(gk, rw.permute(2, 3, 4, 1, 0), **TOL)


def test_conv3d_channels_first_and_causal_conv1d():
    plait.set_random_seed(1)
    layer = Conv3D(3, 2, data_format="channels_first")
    x = torch.randn(1, 2, 4, 4, 4)
    out = layer(x)
    ref = F.conv3d(x, layer.kernel.detach().permute(4, 3, 0, 1, 2), layer.bias.detach())
    torch.testing.assert_close(out, ref, **TOL)
    causal = Conv1D(2, 3, dilation_rate=2, padding="causal")
    seq = torch.randn(2, 9, 3)
    out = causal(seq)
    ref = F.conv1d(F.pad(_cl(seq), [4, 0]), causal.kernel.detach().permute(2, 1, 0), causal.bias.detach(),
                   dilation=2).movedim(1, -1)
    torch.testing.assert_close(out, ref, **TOL)
    assert out.shape == (2, 9, 2) and causal.get_config()["padding"] == "causal"
    with pytest.raises(ValueError, match="'causal'"):
        Conv3D(2, 3, padding="causal")


@pytest.mark.parametrize("k, s, d, op", [(3, 1, 1, None), (3, 2, 1, None), (4, 2, 1, None), (2, 3, 1, None),
                                         (3, 1, 2, None), (3, 2, 1, 1), (3, 3, 1, 2)])
def test_conv2d_transpose_valid_matches_torch_conv_transpose(k, s, d, op):
    # 'valid' is torch's conv_transpose with padding 0 and Keras's output_padding (default max(k, s) - k).
    plait.set_random_seed(2)
    layer = Conv2DTranspose(3, k, strides=s, dilation_rate=d, output_padding=op, bias_initializer="ones")
    x = torch.randn(2, 4, 5, 2, requires_grad=True)
    out = layer(x)
    weight = layer.kernel.detach().clone().permute(3, 2, 0, 1).requires_grad_()  # (k, k, out, in) -> (in, out, k, k)
    keff = (k - 1) * d + 1
    extra = max(keff, s) - keff if op is None else op
    ref = F.conv_transpose2d(_cl(x), weight, layer.bias.detach(), s, 0, extra, 1, d).movedim(1, -1)
    torch.testing.assert_close(out, ref, **TOL)
    expected = tuple(_keras_transpose_length(n, k, s, "valid", op, d) for n in (4, 5))
    assert tuple(out.shape[1:3]) == expected == layer.compute_output_shape((None, 4, 5, 2))[1:3]
    gx, gk = _grads(out, x, layer.kernel)
    rx, rw = _grads(ref, x, weight)
    torch.testing.assert_close(gx, rx, **TOL)
    torch.testing.assert_close(gk, rw.permute(2, 3, 1, 0), **TOL)


@pytest.mark.parametrize("k, s, padding, n",
                         list(itertools.product([1, 2, 3, 4, 5], [1, 2, 3], ["valid", "same"], [1, 4])))
def test_conv1d_transpose_is_the_gradient_of_the_convolution_as_tensorflow_defines_it(k, s, padding, n):
    # TensorFlow's conv_transpose is the gradient of a convolution with respect to its input; with Keras's default
    # output size, that convolution maps the transposed output's length back to the input's `n`.
    plait.set_random_seed(3)
    layer = Conv1DTranspose(2, k, strides=s, padding=padding, use_bias=False, dtype="float64")
    x = torch.randn(1, n, 3, dtype=torch.float64)
    out = layer(x)
    z = torch.zeros(1, 2, out.shape[1], dtype=torch.float64, requires_grad=True)
    forward_weight = layer.kernel.detach().permute(2, 1, 0)  # Keras (k, filters, in) -> conv (in, filters, k)
    zz = pad_same(z, (k,), (s,), (1,)) if padding == "same" else z
    y = F.conv1d(zz, forward_weight, stride=s)
    assert y.shape[-1] == n
    (grad,) = torch.autograd.grad(y, z, _cl(x))
    torch.testing.assert_close(out, grad.movedim(1, -1), rtol=1e-10, atol=1e-10)


def _numpy_conv_transpose_1d(x, kernel, stride, dilation, left_crop, length):
    """float64 scatter definition: every input step adds `x * kernel` at `i * stride + j * dilation` of the full
    output; the window [left_crop, left_crop + length) is returned (zeros outside the full output)."""
    n, k = x.shape[0], kernel.shape[0]
    full = np.zeros(((n - 1) * stride + (k - 1) * dilation + 1, kernel.shape[1]))
    for i in range(n):
        for j in range(k):
            full[i * stride + j * dilation] += kernel[j] @ x[i]
    padded = np.concatenate([np.zeros((max(-left_crop, 0), full.shape[1])), full, np.zeros((length, full.shape[1]))])
    start = max(left_crop, 0)
    return padded[start:start + length]


@pytest.mark.parametrize("k, s, d, padding, op", [
    (3, 2, 1, "same", None), (3, 2, 1, "same", 1), (4, 2, 1, "same", 0), (4, 2, 1, "same", 1), (5, 3, 1, "same", 2),
    (3, 1, 2, "same", None), (2, 3, 1, "valid", 1), (1, 2, 1, "same", None), (1, 3, 1, "valid", 2)])
def test_conv1d_transpose_output_padding_matches_a_float64_scatter(k, s, d, padding, op):
    plait.set_random_seed(4)
    layer = Conv1DTranspose(2, k, strides=s, padding=padding, output_padding=op, dilation_rate=d,
                            bias_initializer="ones")
    x = torch.randn(2, 5, 3)
    out = layer(x)
    length = _keras_transpose_length(5, k, s, padding, op, d)
    assert out.shape == (2, length, 2) and layer.compute_output_shape((None, 5, 3)) == (None, length, 2)
    # The window Keras's JAX backend takes (left pad of the stride-dilated input, from Keras's own formula).
    keff = (k - 1) * d + 1
    if padding == "valid":
        left = keff - 1
    else:
        total = s + keff - 2 if op is None else keff + keff % 2 - 2 + op
        left = min(total // 2 + total % 2, keff - 1)
    kernel = layer.kernel.detach().double().numpy()  # (k, filters, in)
    for b in range(2):
        ref = _numpy_conv_transpose_1d(x[b].double().numpy(), kernel, s, d, keff - 1 - left, length) + 1.0
        np.testing.assert_allclose(out[b].detach().numpy(), ref, rtol=1e-5, atol=1e-5)


def test_conv3d_transpose_and_channels_first():
    plait.set_random_seed(5)
    layer = Conv3DTranspose(2, 2, strides=2, data_format="channels_first")
    x = torch.randn(1, 3, 2, 3, 2)
    out = layer(x)
    ref = F.conv_transpose3d(x, layer.kernel.detach().permute(4, 3, 0, 1, 2), layer.bias.detach(), 2)
    torch.testing.assert_close(out, ref, **TOL)
    assert out.shape == (1, 2, 4, 6, 4) and tuple(layer.kernel.shape) == (2, 2, 2, 2, 3)  # (k, k, k, out, in)


def test_transpose_arguments_are_checked_and_kept_in_the_config():
    with pytest.raises(ValueError, match=r"output_padding must be smaller than strides.*\(2, 2\).*\(2, 2\)"):
        Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="filters must be a positive integer, got 0"):
        Conv2DTranspose(0, 3)
    layer = Conv2DTranspose(2, 3, strides=2, output_padding=(1, 0), padding="same")
    config = layer.get_config()
    assert config["output_padding"] == [1, 0] and config["filters"] == 2
    assert Conv2DTranspose.from_config(config).output_padding == (1, 0)
    with pytest.raises(ValueError, match="rank 4"):
        layer(torch.ones(2, 5, 3))


def _depthwise_reference_weight(kernel):
    """torch grouped weight (in * m, 1, *k) from Keras's (*k, in, m), filled channel by channel (no reshape)."""
    *k, cin, mult = kernel.shape
    weight = torch.empty(cin * mult, 1, *k, dtype=kernel.dtype)
    for c in range(cin):
        for m in range(mult):
            weight[c * mult + m, 0] = kernel[..., c, m]
    return weight


@pytest.mark.parametrize("kwargs", [{"depth_multiplier": 2}, {"strides": 2, "padding": "same"},
                                    {"dilation_rate": 2, "use_bias": False}])
def test_depthwise_conv2d_matches_grouped_torch_conv(kwargs):
    plait.set_random_seed(6)
    layer = DepthwiseConv2D(3, bias_initializer="glorot_uniform", **kwargs)
    x = torch.randn(2, 7, 6, 3, requires_grad=True)
    out = layer(x)
    mult = layer.depth_multiplier
    assert tuple(layer.kernel.shape) == (3, 3, 3, mult) and out.shape[-1] == 3 * mult
    weight = _depthwise_reference_weight(layer.kernel.detach()).requires_grad_()
    xr = _cl(x)
    if layer.padding == "same":
        xr = pad_same(xr, layer.kernel_size, layer.strides, layer.dilation_rate)
    bias = None if layer.bias is None else layer.bias.detach()
    ref = F.conv2d(xr, weight, bias, layer.strides, 0, layer.dilation_rate, groups=3).movedim(1, -1)
    torch.testing.assert_close(out, ref, **TOL)
    gx, gk = _grads(out, x, layer.kernel)
    rx, rw = _grads(ref, x, weight)
    torch.testing.assert_close(gx, rx, **TOL)
    torch.testing.assert_close(gk, rw.reshape(3, mult, 3, 3).permute(2, 3, 0, 1), **TOL)


def test_depthwise_conv1d_against_float64_numpy():
    plait.set_random_seed(7)
    layer = DepthwiseConv1D(2, depth_multiplier=3)
    x = torch.randn(2, 5, 2)
    out = layer(x).detach().numpy()
    xn, kn, bn = x.double().numpy(), layer.kernel.detach().double().numpy(), layer.bias.detach().double().numpy()
    ref = np.zeros((2, 4, 6))
    for t in range(4):
        for c in range(2):
            for m in range(3):
                ref[:, t, c * 3 + m] = (xn[:, t:t + 2, c] * kn[:, c, m]).sum(axis=1) + bn[c * 3 + m]
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="depth_multiplier must be a positive integer"):
        DepthwiseConv1D(3, depth_multiplier=0)


@pytest.mark.parametrize("cls, shape", [(SeparableConv2D, (2, 6, 7, 3)), (SeparableConv1D, (2, 8, 3))])
def test_separable_conv_is_depthwise_then_pointwise(cls, shape):
    plait.set_random_seed(8)
    layer = cls(5, 3, depth_multiplier=2, padding="same", strides=2, bias_initializer="glorot_uniform")
    x = torch.randn(*shape, requires_grad=True)
    out = layer(x)
    rank = len(shape) - 2
    assert [w.path.split("/")[-1] for w in layer.weights] == ["depthwise_kernel", "pointwise_kernel", "bias"]
    assert tuple(layer.pointwise_kernel.shape) == (1,) * rank + (6, 5)
    depthwise = _depthwise_reference_weight(layer.depthwise_kernel.detach()).requires_grad_()
    pointwise = layer.pointwise_kernel.detach().clone().requires_grad_()
    conv = {1: F.conv1d, 2: F.conv2d}[rank]
    xr = pad_same(_cl(x), layer.kernel_size, layer.strides, layer.dilation_rate)
    mid = conv(xr, depthwise, None, layer.strides, groups=3)
    ref = conv(mid, pointwise.reshape(6, 5).T.reshape(5, 6, *(1,) * rank), layer.bias.detach()).movedim(1, -1)
    torch.testing.assert_close(out, ref, **TOL)
    gx, gd, gp = _grads(out, x, layer.depthwise_kernel, layer.pointwise_kernel)
    rx, rd, rp = _grads(ref, x, depthwise, pointwise)
    torch.testing.assert_close(gx, rx, **TOL)
    torch.testing.assert_close(gd, rd.reshape(3, 2, *layer.kernel_size).movedim(0, -1).movedim(0, -1), **TOL)
    torch.testing.assert_close(gp, rp, **TOL)
    config = layer.get_config()
    assert config["depth_multiplier"] == 2 and "pointwise_initializer" in config and "depthwise_initializer" in config


def test_3d_pooling_matches_torch():
    x = torch.randn(2, 5, 6, 7, 3, requires_grad=True)
    out = MaxPooling3D()(x)
    ref = F.max_pool3d(_cl(x), 2).movedim(1, -1)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(_grads(out, x)[0], _grads(ref, x)[0])
    avg = AveragePooling3D(pool_size=(1, 2, 3), strides=1)(x)
    torch.testing.assert_close(avg, F.avg_pool3d(_cl(x), (1, 2, 3), 1).movedim(1, -1), **TOL)
    same = AveragePooling3D(padding="same")(x)
    assert same.shape == (2, 3, 3, 4, 3)
    torch.testing.assert_close(same[:, 2, 2, 3], x[:, 4, 4:6, 6].mean(dim=1), **TOL)  # padding not counted
    xn = x.detach().double().numpy()
    np.testing.assert_allclose(GlobalAveragePooling3D()(x).detach().numpy(), xn.mean(axis=(1, 2, 3)), **TOL)
    np.testing.assert_allclose(GlobalMaxPooling3D(data_format="channels_first")(x).detach().numpy(),
                               xn.max(axis=(2, 3, 4)), **TOL)
    assert plait.layers.MaxPool3D is MaxPooling3D and plait.layers.LAYERS.lookup("AvgPool3D") is AveragePooling3D


def test_a_small_conv_autoencoder_trains_and_reloads(tmp_path):
    plait.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 8, 8, 1)).astype("float32")
    model = plait.Sequential([
        plait.Input(shape=(8, 8, 1)),
        SeparableConv2D(4, 3, padding="same", activation="relu"),
        DepthwiseConv2D(3, strides=2, padding="same"),
        Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu"),
        plait.layers.Conv2D(1, 1),
    ])
    assert model.output_shape == (None, 8, 8, 1)
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, x, epochs=8, batch_size=8, verbose=0, validation_split=0.25)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "ae.plait")
    restored = plait.load_model(tmp_path / "ae.plait")
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
