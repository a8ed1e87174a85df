"""Conv, pooling, normalization and embedding layers against torch references and float64 NumPy."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import plait
from plait.layers import (AveragePooling2D, BatchNormalization, Conv1D, Conv2D, Embedding, GlobalAveragePooling2D,
                          GlobalMaxPooling1D, LayerNormalization, MaxPooling1D, MaxPooling2D)


def _torch_conv2d_ref(layer, x_nhwc, padding):
    weight = torch.from_numpy(layer.kernel.numpy()).permute(3, 2, 0, 1)
    bias = None if layer.bias is None else torch.from_numpy(layer.bias.numpy())
    x = x_nhwc.permute(0, 3, 1, 2).double()
    out = F.conv2d(x, weight.double(), None if bias is None else bias.double(), layer.strides, padding,
                   layer.dilation_rate, layer.groups)
    return out.permute(0, 2, 3, 1)


@pytest.mark.parametrize("kwargs", [
    {"kernel_size": 3},
    {"kernel_size": (3, 2), "strides": (2, 1)},
    {"kernel_size": 3, "dilation_rate": 2, "use_bias": False},
    {"kernel_size": 1, "groups": 2},
])
def test_conv2d_valid_matches_torch(kwargs):
    plait.set_random_seed(0)
    layer = Conv2D(4, **kwargs)
    x = torch.randn(2, 9, 8, 6)
    out = layer(x)
    ref = _torch_conv2d_ref(layer, x, 0)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out.detach().numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)
    assert layer.compute_output_shape((None, 9, 8, 6))[1:] == tuple(ref.shape[1:])


@pytest.mark.parametrize("size, stride", [(9, 2), (8, 2), (7, 3)])
def test_conv2d_same_padding_follows_tensorflow(size, stride):
    plait.set_random_seed(1)
    layer = Conv2D(3, 3, strides=stride, padding="same")
    x = torch.randn(1, size, size, 2)
    out = layer(x)
    expected = -(-size // stride)
    assert out.shape == (1, expected, expected, 3)
    total = max((expected - 1) * stride + 3 - size, 0)
    before, after = total // 2, total - total // 2  # TF puts the odd pixel at the end
    padded = F.pad(x.permute(0, 3, 1, 2), [before, after, before, after]).permute(0, 2, 3, 1)
    ref = _torch_conv2d_ref(layer, padded, 0)
    np.testing.assert_allclose(out.detach().numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)


def test_conv1d_and_channels_first():
    plait.set_random_seed(2)
    layer = Conv1D(5, 3, padding="same")
    x = torch.randn(2, 10, 4)
    out = layer(x)
    w = torch.from_numpy(layer.kernel.numpy()).permute(2, 1, 0)
    ref = F.conv1d(x.permute(0, 2, 1), w, torch.from_numpy(layer.bias.numpy()), padding="same").permute(0, 2, 1)
    np.testing.assert_allclose(out.detach().numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)
    cf = Conv2D(2, 3, data_format="channels_first")
    assert cf(torch.randn(1, 3, 8, 8)).shape == (1, 2, 6, 6)
    with pytest.raises(ValueError, match="rank 4"):
        Conv2D(2, 3)(torch.randn(3, 8, 8))
    with pytest.raises(ValueError, match="padding"):
        Conv2D(2, 3, padding="full")


def test_pooling_matches_torch_and_tf_same_semantics():
    x = torch.randn(2, 7, 7, 3)
    out = MaxPooling2D()(x)
    ref = F.max_pool2d(x.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
    torch.testing.assert_close(out, ref)
    same = MaxPooling2D(padding="same")(x)
    assert same.shape == (2, 4, 4, 3)
    torch.testing.assert_close(same[:, 3, 3], x[:, 6, 6])  # the padded window holds one real pixel
    avg = AveragePooling2D(padding="same")(x)
    torch.testing.assert_close(avg[:, 3, 3], x[:, 6, 6])  # padding does not count in the mean
    torch.testing.assert_close(avg[:, 0, 0], x[:, :2, :2].mean(dim=(1, 2)))
    np.testing.assert_allclose(GlobalAveragePooling2D()(x).numpy(), x.numpy().mean(axis=(1, 2)), rtol=1e-6)
    assert GlobalAveragePooling2D(keepdims=True)(x).shape == (2, 1, 1, 3)
    seq = torch.randn(2, 9, 4)
    torch.testing.assert_close(GlobalMaxPooling1D()(seq), seq.amax(dim=1))
    assert MaxPooling1D(3)(seq).shape == (2, 3, 4)


def test_batch_normalization_training_and_inference_vs_numpy():
    plait.set_random_seed(3)
    bn = BatchNormalization(momentum=0.9)
    x = torch.randn(16, 5) * 3 + 1
    out = bn(x, training=True)
    xn = x.double().numpy()
    mean, var = xn.mean(axis=0), xn.var(axis=0)
    np.testing.assert_allclose(out.detach().numpy(), (xn - mean) / np.sqrt(var + 1e-3), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.1 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.9 + 0.1 * var, rtol=1e-5)
    inf = bn(x)  # inference uses the moving statistics
    expected = (xn - 0.1 * mean) / np.sqrt(0.9 + 0.1 * var + 1e-3)
    np.testing.assert_allclose(inf.detach().numpy(), expected, rtol=1e-5, atol=1e-5)
    assert len(bn.trainable_weights) == 2 and len(bn.non_trainable_weights) == 2
    img = BatchNormalization()(torch.randn(4, 3, 3, 2), training=True)
    np.testing.assert_allclose(img.mean(dim=(0, 1, 2)).detach().numpy(), 0, atol=1e-5)


def test_layer_normalization_matches_torch():
    x = torch.randn(4, 6)
    ln = LayerNormalization()
    torch.testing.assert_close(ln(x), F.layer_norm(x, (6,), eps=1e-3), rtol=1e-5, atol=1e-5)


def test_embedding_matches_functional_and_checks_ids():
    emb = Embedding(10, 3)
    ids = torch.tensor([[1, 2], [9, 0]])
    torch.testing.assert_close(emb(ids), F.embedding(ids, emb.embeddings.detach()))
    assert np.abs(emb.embeddings.numpy()).max() <= 0.05  # Keras's 'uniform' initializer
    with pytest.raises(ValueError, match=r"outside \[0, 10\)"):
        emb(torch.tensor([[10]]))
    masked = Embedding(5, 2, mask_zero=True)  # masking is supported now (tests/layers/test_masking.py)
    assert masked.compute_mask(torch.tensor([[0, 3]])).tolist() == [[False, True]]


def test_small_cnn_trains_on_images():
    plait.set_random_seed(0)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 64)
    x = rng.normal(size=(64, 8, 8, 1)).astype("float32") * 0.3
    x[y == 1, 2:6, 2:6, 0] += 1.0  # a bright square marks class 1
    model = plait.Sequential([plait.Input(shape=(8, 8, 1)), Conv2D(4, 3, activation="relu"), MaxPooling2D(),
                              plait.layers.Flatten(), plait.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history.history["accuracy"][-1] >= 0.9


def test_merging_layers_and_functional_join():
    from plait.layers import Add, Average, Concatenate, Maximum, Multiply, Subtract
    a, b = torch.randn(3, 4), torch.randn(3, 4)
    torch.testing.assert_close(Add()([a, b]), a + b)
    torch.testing.assert_close(Subtract()([a, b]), a - b)
    torch.testing.assert_close(Multiply()([a, b]), a * b)
    torch.testing.assert_close(Average()([a, b, a]), (2 * a + b) / 3)
    torch.testing.assert_close(Maximum()([a, b]), torch.maximum(a, b))
    torch.testing.assert_close(Concatenate()([a, b[:, :2]]), torch.cat([a, b[:, :2]], dim=1))
    with pytest.raises(ValueError, match="at least 2"):
        Add()(a)
    left, right = plait.Input(shape=(4,)), plait.Input(shape=(2,))
    joined = Concatenate()([plait.layers.Dense(3)(left), right])
    assert joined.shape == (None, 5)
    model = plait.Model([left, right], plait.layers.Dense(1)(joined))
    assert model.predict([np.ones((2, 4)), np.ones((2, 2))], verbose=0).shape == (2, 1)
    with pytest.raises(ValueError, match="matching other dimensions"):
        Concatenate(axis=1)([plait.Input(shape=(2, 3)), plait.Input(shape=(4, 5))])


def test_a_window_larger_than_the_input_is_refused_at_build_with_the_channels_last_hint():
    # PyTorch's NCHW habit: 1 channel of 8x8 read as 1 row of 8 columns with 8 channels.
    with pytest.raises(ValueError, match=r"Conv2D 'c'.*zero or negative.*\(None, 1, 8, 8\).*channels-first.*"
                                         r"np.moveaxis\(x, 1, -1\)"):
        plait.Sequential([plait.Input(shape=(1, 8, 8)), Conv2D(4, 3, name="c")])
    with pytest.raises(ValueError, match=r"MaxPooling2D.*zero or negative.*smaller kernel or pool size"):
        MaxPooling2D(pool_size=4)(torch.ones(2, 3, 3, 16))
    assert plait.Sequential([plait.Input(shape=(8, 8, 1)), Conv2D(4, 3)]).output_shape == (None, 6, 6, 4)
    channels_first = Conv2D(4, 3, data_format="channels_first")
    assert channels_first(torch.ones(2, 1, 8, 8)).shape == (2, 4, 6, 6)
