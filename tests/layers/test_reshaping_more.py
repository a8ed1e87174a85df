"""UpSampling, ZeroPadding, Cropping, Permute, RepeatVector, Identity, Dot and the merge functions against NumPy
(float64 where arithmetic is involved), on real tensors and in functional models."""
import numpy as np
import pytest
import torch

import plait
from plait import layers
from plait.layers import (Cropping1D, Cropping2D, Cropping3D, Dot, Identity, Permute, RepeatVector, UpSampling1D,
                          UpSampling2D, UpSampling3D, ZeroPadding1D, ZeroPadding2D, ZeroPadding3D)


def _np(t):
    return t.detach().numpy()


def test_upsampling_nearest_repeats_like_numpy():
    x = torch.randn(2, 3, 4)
    np.testing.assert_array_equal(_np(UpSampling1D(3)(x)), np.repeat(_np(x), 3, axis=1))
    img = torch.randn(2, 3, 4, 5)
    expected = np.repeat(np.repeat(_np(img), 2, axis=1), 3, axis=2)
    np.testing.assert_array_equal(_np(UpSampling2D((2, 3))(img)), expected)
    first = UpSampling2D(2, data_format="channels_first")(img)  # (batch, channels=3, 4, 5)
    np.testing.assert_array_equal(_np(first), np.repeat(np.repeat(_np(img), 2, axis=2), 2, axis=3))
    vol = torch.randn(1, 2, 3, 2, 2)
    expected = np.repeat(np.repeat(np.repeat(_np(vol), 2, axis=1), 1, axis=2), 3, axis=3)
    np.testing.assert_array_equal(_np(UpSampling3D((2, 1, 3))(vol)), expected)
    assert UpSampling1D(3).get_config()["size"] == 3 and "data_format" not in UpSampling1D().get_config()
    with pytest.raises(ValueError, match="interpolation must be one of"):
        UpSampling2D(interpolation="lanczos3")


def _bilinear_1d_weights(n_in, factor):
    """Half-pixel-centre linear interpolation matrix (out x in), edges clamped: Keras's image resize upsampling."""
    n_out = n_in * factor
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        src = min(max((o + 0.5) / factor - 0.5, 0.0), n_in - 1)
        lo = int(np.floor(src))
        hi = min(lo + 1, n_in - 1)
        m[o, lo] += 1 - (src - lo)
        m[o, hi] += src - lo
    return m


def test_upsampling2d_bilinear_against_float64_half_pixel_interpolation():
    x = torch.randn(2, 3, 4, 2)
    out = _np(UpSampling2D((2, 3), interpolation="bilinear")(x))
    rows, cols = _bilinear_1d_weights(3, 2), _bilinear_1d_weights(4, 3)
    expected = np.einsum("ah,bw,nhwc->nabc", rows, cols, x.double().numpy())
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_zero_padding_matches_numpy_pad():
    x = torch.randn(2, 3, 4)
    np.testing.assert_array_equal(_np(ZeroPadding1D((1, 2))(x)), np.pad(_np(x), ((0, 0), (1, 2), (0, 0))))
    np.testing.assert_array_equal(_np(ZeroPadding1D(1, data_format="channels_first")(x)),
                                  np.pad(_np(x), ((0, 0), (0, 0), (1, 1))))
    img = torch.randn(2, 3, 4, 2)
    np.testing.assert_array_equal(_np(ZeroPadding2D(((1, 0), (2, 3)))(img)),
                                  np.pad(_np(img), ((0, 0), (1, 0), (2, 3), (0, 0))))
    np.testing.assert_array_equal(_np(ZeroPadding2D((1, 2), data_format="channels_first")(img)),
                                  np.pad(_np(img), ((0, 0), (0, 0), (1, 1), (2, 2))))
    vol = torch.randn(1, 2, 2, 2, 3)
    np.testing.assert_array_equal(_np(ZeroPadding3D((1, 0, 2))(vol)),
                                  np.pad(_np(vol), ((0, 0), (1, 1), (0, 0), (2, 2), (0, 0))))
    config = ZeroPadding2D(((1, 0), (2, 3))).get_config()
    assert config["padding"] == [[1, 0], [2, 3]]
    assert ZeroPadding2D.from_config(config).edges == ((1, 0), (2, 3))
    with pytest.raises(ValueError, match=r"padding must be an int, a tuple of 2 ints, or a tuple of 2 \(before, "
                                         r"after\) pairs, got \(1, 2, 3\)"):
        ZeroPadding2D((1, 2, 3))
    with pytest.raises(ValueError, match="must not be negative"):
        ZeroPadding1D(-1)


def test_cropping_matches_numpy_slicing():
    x = torch.randn(2, 6, 3)
    np.testing.assert_array_equal(_np(Cropping1D((1, 2))(x)), _np(x)[:, 1:4])
    img = torch.randn(2, 5, 6, 3)
    np.testing.assert_array_equal(_np(Cropping2D(((1, 2), (0, 3)))(img)), _np(img)[:, 1:3, 0:3])
    np.testing.assert_array_equal(_np(Cropping2D(1, data_format="channels_first")(img)), _np(img)[:, :, 1:5, 1:2])
    vol = torch.randn(1, 4, 5, 6, 2)
    np.testing.assert_array_equal(_np(Cropping3D((1, 2, 0))(vol)), _np(vol)[:, 1:3, 2:3, :])
    assert Cropping1D().get_config()["cropping"] == [1, 1] and "data_format" not in Cropping1D().get_config()
    with pytest.raises(ValueError, match=r"Cropping2D cropping=\[\[3, 3\], \[0, 0\]\] removes all of axis 1 "
                                         r"\(size 5\).*crop less"):
        Cropping2D(((3, 3), (0, 0)))(img)


def test_permute_repeat_vector_and_identity():
    x = torch.randn(2, 3, 4, 5)
    np.testing.assert_array_equal(_np(Permute((3, 1, 2))(x)), np.transpose(_np(x), (0, 3, 1, 2)))
    assert Permute((3, 1, 2)).compute_output_shape((None, 3, 4, 5)) == (None, 5, 3, 4)
    with pytest.raises(ValueError, match=r"each of 1\.\.2 once.*dims=\(0, 1\)"):
        Permute((0, 1))
    with pytest.raises(ValueError, match="expects inputs of rank 3, got rank 4"):
        Permute((2, 1))(x)
    v = torch.randn(2, 4)
    np.testing.assert_array_equal(_np(RepeatVector(3)(v)), np.repeat(_np(v)[:, None], 3, axis=1))
    with pytest.raises(ValueError, match="rank 2"):
        RepeatVector(3)(x)
    with pytest.raises(ValueError, match="positive integer, got 0"):
        RepeatVector(0)
    assert Identity()(x) is x
    pair = [torch.ones(1), torch.zeros(1)]
    assert Identity()(pair) == pair


@pytest.mark.parametrize("axes, shapes", [
    (1, [(3, 4), (3, 4)]),
    (-1, [(3, 2, 4), (3, 5, 4)]),
    ((1, 2), [(3, 4, 5), (3, 6, 4)]),
    ((2, 1), [(3, 2, 4), (3, 4)]),
    ((1, 1), [(3, 4), (3, 4, 2, 5)]),
])
def test_dot_matches_float64_einsum(axes, shapes):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s) for s in shapes)
    for normalize in (False, True):
        layer = Dot(axes, normalize=normalize)
        out = _np(layer([torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)]))
        i, j = (axes, axes) if isinstance(axes, int) else axes
        i, j = i % a.ndim, j % b.ndim
        an = a / np.linalg.norm(a, axis=i, keepdims=True) if normalize else a
        bn = b / np.linalg.norm(b, axis=j, keepdims=True) if normalize else b
        ref = np.stack([np.tensordot(an[n], bn[n], axes=(i - 1, j - 1)) for n in range(a.shape[0])])
        ref = ref.reshape(a.shape[0], -1) if ref.ndim == 1 else ref
        np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
        assert layer.compute_output_shape([(None,) + s[1:] for s in shapes]) == (None,) + ref.shape[1:]


def test_dot_gradients_match_torch_einsum_and_errors():
    a = torch.randn(3, 4, requires_grad=True)
    b = torch.randn(3, 4, requires_grad=True)
    out = Dot(axes=1)([a, b])
    ref = torch.einsum("ni,ni->n", a, b)[:, None]
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(torch.autograd.grad(out.sum(), [a, b]), torch.autograd.grad(ref.sum(), [a, b]))
    with pytest.raises(ValueError, match=r"pairs axis 1 of size 4 with axis 1 of size 5"):
        Dot(axes=1)([plait.Input(shape=(4,)), plait.Input(shape=(5,))])
    with pytest.raises(ValueError, match="batch axis 0"):
        Dot(axes=0)([a, b])
    with pytest.raises(ValueError, match="exactly 2 inputs, got 3 inputs"):
        Dot(axes=1)([a, b, a])
    with pytest.raises(TypeError, match="int or a pair of ints"):
        Dot(axes="last")


def test_merge_functions_on_tensors_and_keras_tensors(tmp_path):
    a, b = torch.randn(2, 3), torch.randn(2, 3)
    torch.testing.assert_close(layers.add([a, b]), a + b)
    torch.testing.assert_close(layers.subtract([a, b]), a - b)
    torch.testing.assert_close(layers.multiply([a, b]), a * b)
    torch.testing.assert_close(layers.average([a, b]), (a + b) / 2)
    torch.testing.assert_close(layers.maximum([a, b]), torch.maximum(a, b))
    torch.testing.assert_close(layers.minimum([a, b]), torch.minimum(a, b))
    torch.testing.assert_close(layers.concatenate([a, b], axis=0), torch.cat([a, b]))
    torch.testing.assert_close(layers.dot([a, b], axes=1), (a * b).sum(1, keepdim=True))
    assert layers.add([a, b], name="my_add") is not None

    left, right = plait.Input(shape=(3,), name="left"), plait.Input(shape=(3,), name="right")
    joined = layers.concatenate([layers.add([left, right]), layers.subtract([left, right]),
                                 layers.multiply([left, right]), layers.average([left, right]),
                                 layers.maximum([left, right]), layers.minimum([left, right]),
                                 layers.dot([left, right], axes=1, normalize=True)])
    assert joined.shape == (None, 19)
    model = plait.Model([left, right], joined)
    x = [np.ones((2, 3), "float32"), np.full((2, 3), 2.0, "float32")]
    expected = np.concatenate([x[0] + x[1], x[0] - x[1], x[0] * x[1], (x[0] + x[1]) / 2, x[1], x[0],
                               np.ones((2, 1))], axis=1)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-6)
    model.save(tmp_path / "merge.plait")
    np.testing.assert_allclose(plait.load_model(tmp_path / "merge.plait").predict(x, verbose=0), expected, rtol=1e-6)


def test_reshaping_layers_in_a_saved_model(tmp_path):
    inputs = plait.Input(shape=(4, 4, 2))
    x = ZeroPadding2D(1)(inputs)
    x = Cropping2D(((1, 0), (0, 1)))(x)
    x = UpSampling2D(interpolation="bilinear")(x)
    x = Permute((3, 1, 2))(x)
    x = Identity()(x)
    outputs = plait.layers.Flatten()(x)
    model = plait.Model(inputs, outputs)
    assert model.output_shape == (None, 2 * 10 * 10)
    data = np.random.default_rng(1).normal(size=(3, 4, 4, 2)).astype("float32")
    model.save(tmp_path / "reshape.plait")
    np.testing.assert_array_equal(plait.load_model(tmp_path / "reshape.plait").predict(data, verbose=0),
                                  model.predict(data, verbose=0))
