"""SpatialDropout, GaussianNoise, GaussianDropout and AlphaDropout: identity in inference, Keras's formulas and
statistics in training, seeded repeatability, argument checks, and fit; ActivityRegularization's penalty in the
loss, against float64 NumPy."""
import math

import numpy as np
import pytest
import torch

import plait
from plait.layers import (ActivityRegularization, AlphaDropout, Dropout, GaussianDropout, GaussianNoise,
                          SpatialDropout1D, SpatialDropout2D, SpatialDropout3D)

NOISE = [SpatialDropout1D(0.4), SpatialDropout2D(0.4), SpatialDropout3D(0.4), GaussianNoise(0.3),
         GaussianDropout(0.3), AlphaDropout(0.3)]


@pytest.mark.parametrize("layer", NOISE, ids=lambda layer: type(layer).__name__)
def test_inference_is_the_identity(layer):
    x = torch.randn(*{SpatialDropout2D: (2, 3, 3, 4), SpatialDropout3D: (2, 2, 2, 2, 4)}.get(type(layer), (2, 3, 4)))
    assert torch.equal(layer(x), x) and torch.equal(layer(x, training=False), x)


def test_spatial_dropout_drops_whole_channels_and_scales_the_rest():
    plait.set_random_seed(0)
    x = torch.rand(200, 6, 8) + 1.0  # no zeros of its own
    out = SpatialDropout1D(0.25)(x, training=True)
    dropped = out == 0
    assert torch.equal(dropped.all(dim=1), dropped.any(dim=1))  # a channel is dropped at every step or none
    assert abs(dropped.all(dim=1).float().mean().item() - 0.25) < 0.05
    torch.testing.assert_close(out[~dropped], (x / 0.75)[~dropped])
    images = torch.rand(100, 3, 3, 5) + 1.0
    first = SpatialDropout2D(0.5, data_format="channels_first")(images, training=True)  # channels on axis 1
    zeros = first == 0
    assert torch.equal(zeros.all(dim=(2, 3)), zeros.any(dim=(2, 3)))
    with pytest.raises(ValueError, match="expects inputs of rank 4"):
        SpatialDropout2D(0.5)(torch.ones(2, 3, 4), training=True)
    config = SpatialDropout2D(0.5, seed=3).get_config()
    assert config["rate"] == 0.5 and config["seed"] == 3 and config["data_format"] == "channels_last"
    assert "noise_shape" not in config and "data_format" not in SpatialDropout1D(0.1).get_config()


def test_seeded_layers_repeat_their_draws():
    x = torch.ones(4, 6)
    for make in (lambda: Dropout(0.5, seed=3), lambda: GaussianNoise(1.0, seed=3), lambda: AlphaDropout(0.5, seed=3)):
        a, b = make(), make()
        assert torch.equal(a(x, training=True), b(x, training=True))
    layer = GaussianNoise(1.0, seed=3)
    assert not torch.equal(layer(x, training=True), layer(x, training=True))  # the generator moves on
    with pytest.raises(TypeError, match="seed must be an int or None"):
        GaussianNoise(1.0, seed="3")


def test_gaussian_noise_and_dropout_statistics():
    plait.set_random_seed(1)
    x = torch.full((20000, 10), 2.0)
    noisy = GaussianNoise(0.5)(x, training=True)
    assert abs(noisy.mean().item() - 2.0) < 0.01 and abs(noisy.std().item() - 0.5) < 0.01
    out = GaussianDropout(0.2)(x, training=True)  # x * N(1, sqrt(0.2 / 0.8))
    assert abs(out.mean().item() - 2.0) < 0.01 and abs(out.std().item() - 2.0 * math.sqrt(0.25)) < 0.01
    with pytest.raises(ValueError, match="stddev must be a non-negative number, got -1"):
        GaussianNoise(-1)
    with pytest.raises(ValueError, match=r"GaussianDropout rate must be a number in \[0, 1\), got 1.5"):
        GaussianDropout(1.5)


ALPHA_P = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946  # -SELU alpha * scale


def _affine(rate):
    """Keras's AlphaDropout: kept values become `a * x + b`, dropped ones `a * ALPHA_P + b`."""
    a = ((1 - rate) * (1 + rate * ALPHA_P ** 2)) ** -0.5
    return a, -a * ALPHA_P * rate


def test_alpha_dropout_follows_keras_affine_formula():
    plait.set_random_seed(2)
    rate = 0.3
    x = torch.randn(4000, 20)
    out = AlphaDropout(rate)(x, training=True).double()
    a, b = _affine(rate)
    alpha_p = ALPHA_P
    kept = (out - (a * x.double() + b)).abs() < 1e-5
    dropped = (out - (a * alpha_p + b)).abs() < 1e-5
    assert torch.all(kept | dropped)
    assert abs(dropped.double().mean().item() - rate) < 0.02
    assert abs(out.mean().item()) < 0.05 and abs(out.std().item() - 1.0) < 0.05  # SELU's fixed point kept
    inputs = torch.randn(50, 8)
    shared = AlphaDropout(0.5, noise_shape=(None, 1))(inputs, training=True)  # one draw per row
    a, b = _affine(0.5)
    dropped_rows = ((shared - (a * ALPHA_P + b)).abs() < 1e-5).all(dim=1)
    kept_rows = ((shared - (a * inputs + b)).abs() < 1e-5).all(dim=1)
    assert torch.all(dropped_rows ^ kept_rows) and dropped_rows.any() and kept_rows.any()
    assert AlphaDropout(0.2, noise_shape=(None, 1)).get_config()["noise_shape"] == [None, 1]


def test_noise_layers_train_and_save(tmp_path):
    plait.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6, 4)).astype("float32")
    y = (x.mean(axis=(1, 2)) > 0).astype("float32")
    model = plait.Sequential([plait.Input(shape=(6, 4)), GaussianNoise(0.1), SpatialDropout1D(0.2),
                              plait.layers.Flatten(), GaussianDropout(0.1), AlphaDropout(0.05),
                              plait.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0, validation_split=0.25)
    assert np.isfinite(history.history["loss"]).all()
    model.save(tmp_path / "noise.plait")
    restored = plait.load_model(tmp_path / "noise.plait")
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))  # inference: no noise


def test_activity_regularization_adds_its_penalty_to_the_loss():
    plait.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    hidden = plait.layers.Dense(4, name="hidden")
    model = plait.Sequential([plait.Input(shape=(3,)), hidden, ActivityRegularization(l1=0.01, l2=0.1),
                              plait.layers.Dense(1, name="out")])
    model.compile(optimizer=plait.optimizers.SGD(learning_rate=0.0), loss="mse")
    k1, b1, k2, b2 = (w.astype("float64") for w in model.get_weights())
    h = x @ k1 + b1
    penalty = 0.01 * np.abs(h).sum() + 0.1 * (h ** 2).sum()  # summed over the batch, as Keras 3
    expected = (((h @ k2 + b2) - y) ** 2).mean() + penalty
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=8, verbose=0), expected, rtol=1e-5)
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-5)
    model(x)
    np.testing.assert_allclose([float(v.detach()) for v in model.losses], [penalty], rtol=1e-5)
    # The penalty's gradient reaches the layer below: it shrinks the hidden activations.
    model.compile(optimizer=plait.optimizers.SGD(learning_rate=0.05), loss="mse")
    model.fit(x, y, batch_size=8, epochs=20, verbose=0, shuffle=False)
    assert np.abs(hidden(torch.from_numpy(x)).detach().numpy()).sum() < np.abs(h).sum()
    assert ActivityRegularization(l1=0.5).get_config()["l1"] == 0.5
    with pytest.raises(ValueError, match="non-negative number, got -1"):
        ActivityRegularization(l2=-1)
