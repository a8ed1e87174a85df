"""Core layers against torch.nn references with copied weights, plus shapes, configs and errors."""
import numpy as np
import pytest
import torch

import plait
from plait.layers import Activation, Dense, Dropout, Flatten, Input, InputLayer, Reshape


def test_dense_matches_torch_linear_with_copied_weights():
    torch.manual_seed(0)
    layer = Dense(7, activation="tanh")
    x = torch.randn(5, 4)
    out = layer(x)
    ref = torch.nn.Linear(4, 7)
    with torch.no_grad():
        ref.weight.copy_(layer.kernel.detach().T)  # Keras kernel is (in, out); torch weight is (out, in)
        ref.bias.copy_(layer.bias.detach())
    torch.testing.assert_close(out, torch.tanh(ref(x)), rtol=1e-6, atol=1e-6)


def test_dense_on_3d_input_and_numpy():
    layer = Dense(3, use_bias=False)
    x = np.random.default_rng(0).random((2, 5, 4)).astype("float32")
    out = layer(x)
    assert out.shape == (2, 5, 3)
    expected = x.astype("float64") @ layer.kernel.numpy().astype("float64")
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-6, atol=1e-6)
    assert layer.bias is None and len(layer.weights) == 1


def test_dense_keras_defaults_and_weights():
    plait.set_random_seed(1)
    layer = Dense(200)
    layer(torch.zeros(1, 300))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (300, 200) and bias.shape == (200,)
    assert np.all(bias == 0)
    limit = np.sqrt(6 / (300 + 200))  # glorot_uniform
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.95 * limit
    assert [w.path for w in layer.weights] == [f"{layer.name}/kernel", f"{layer.name}/bias"]
    assert isinstance(layer.kernel, torch.nn.Parameter)
    assert layer.count_params() == 300 * 200 + 200


def test_dense_rejects_bad_units_and_unknown_kwargs():
    with pytest.raises(ValueError, match="positive integer"):
        Dense(0)
    with pytest.raises(ValueError, match="Unrecognized keyword arguments"):
        Dense(3, activaton="relu")
    with pytest.raises(ValueError, match="Unknown activation"):
        Dense(3, activation="rleu")


def test_dense_wrong_input_width_after_build():
    layer = Dense(2)
    layer(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="last dimension 3"):
        layer(torch.zeros(1, 4))


def test_activation_layer_matches_functional():
    x = torch.randn(4, 6)
    torch.testing.assert_close(Activation("relu")(x), torch.relu(x))
    torch.testing.assert_close(Activation("softmax")(x), torch.softmax(x, dim=-1))


def test_dropout_inference_identity_and_training_statistics():
    plait.set_random_seed(0)
    layer = Dropout(0.3)
    x = torch.ones(2000, 50)
    torch.testing.assert_close(layer(x), x)  # direct call is inference, as in Keras
    out = layer(x, training=True)
    kept = (out != 0).float().mean().item()
    assert abs(kept - 0.7) < 0.01
    torch.testing.assert_close(out[out != 0], torch.full_like(out[out != 0], 1 / 0.7))
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dropout(1.5)


def test_dropout_noise_shape_and_seed():
    x = torch.ones(4, 3, 8)
    a = Dropout(0.5, noise_shape=(None, 1, 8), seed=3)(x, training=True)
    assert torch.equal(a[:, 0], a[:, 1]) and torch.equal(a[:, 1], a[:, 2])
    b = Dropout(0.5, noise_shape=(None, 1, 8), seed=3)(x, training=True)
    assert torch.equal(a, b)


def test_flatten_and_reshape():
    x = torch.arange(24.0).reshape(2, 3, 4)
    torch.testing.assert_close(Flatten()(x), x.reshape(2, 12))
    assert Flatten().compute_output_shape((None, 3, 4)) == (None, 12)
    assert Reshape((4, 3))(x).shape == (2, 4, 3)
    assert Reshape((-1, 2))(x).shape == (2, 6, 2)
    assert Reshape((-1, 2)).compute_output_shape((None, 3, 4)) == (None, 6, 2)
    with pytest.raises(ValueError, match="12 values"):
        Reshape((5, 5))(x)
    with pytest.raises(ValueError, match="at most one -1"):
        Reshape((-1, -1))


def test_input_and_input_layer():
    t = Input(shape=(3, 4))
    assert t.shape == (None, 3, 4)
    assert isinstance(t.node.layer, InputLayer)
    assert Input(batch_shape=(8, 2)).shape == (8, 2)
    with pytest.raises(ValueError, match="either"):
        InputLayer(shape=(2,), batch_shape=(None, 2))


def test_layer_names_are_unique_keras_style():
    a, b = Dense(1), Dense(1)
    assert a.name != b.name and b.name.startswith("dense")
    assert Dense(1, name="head").name == "head"


def test_layer_config_round_trip():
    layer = Dense(4, activation="relu", use_bias=False, name="d")
    clone = Dense.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert Dropout.from_config(Dropout(0.25, name="dr").get_config()).rate == 0.25
    assert Reshape.from_config(Reshape((2, 3)).get_config()).target_shape == (2, 3)


def test_custom_layer_lazy_build_and_trainable_flag():
    class Scale(plait.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
            self.moving = self.add_weight(shape=(), initializer="zeros", trainable=False, name="moving")

        def call(self, x):
            return x * self.w

    layer = Scale()
    assert not layer.built
    out = layer(np.ones((2, 3), dtype="float32"))
    assert layer.built and out.shape == (2, 3)
    assert [w.name for w in layer.trainable_weights] == ["w"]
    assert [w.name for w in layer.non_trainable_weights] == ["moving"]
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    layer.trainable = True
    assert [w.name for w in layer.trainable_weights] == ["w"]  # the moving stat stays non-trainable
    assert layer.compute_output_shape((None, 3)) == (None, 3)


def test_set_weights_checks_count_and_shapes():
    layer = Dense(2)
    layer(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="list of 2 arrays"):
        layer.set_weights([np.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"shape \(3, 2\)"):
        layer.set_weights([np.zeros((2, 2)), np.zeros(2)])
    layer.set_weights([np.ones((3, 2)), np.full(2, 0.5)])
    np.testing.assert_allclose(layer(torch.ones(1, 3)).detach().numpy(), [[3.5, 3.5]])


def test_variable_numpy_and_assign():
    layer = Dense(2)
    layer(torch.zeros(1, 3))
    v = layer.trainable_variables[0]
    assert isinstance(v, plait.Variable) and isinstance(v.numpy(), np.ndarray)
    v.assign(np.zeros((3, 2)))
    assert np.all(v.numpy() == 0)
    with pytest.raises(ValueError, match="shape"):
        v.assign(np.zeros((2, 2)))
