"""Keras 3's extension points and graph accessors that ported scripts use (issue 17's defects list).

add_loss (with and without a compiled loss), per-output loss names with `loss=[None, X]`, custom layer configs
without a name, symbolic tensors passed as several positional arguments, `dtype` names, `layer.output`,
`model.input`/`model.output`, `plait.models.clone_model`.
"""
import numpy as np
import pytest
import torch

import plait
from plait.layers import Dense, Layer


class _Penalized(Layer):
    """Adds `rate * mean(|x|)` as an activity penalty, through add_loss."""

    def __init__(self, rate=0.01, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, x):
        self.add_loss(self.rate * x.abs().mean())
        return x

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


class _AutoEncoder(plait.Model):
    def __init__(self):
        super().__init__()
        self.encode = Dense(2)
        self.decode = Dense(4)

    def call(self, x):
        out = self.decode(self.encode(x))
        self.add_loss(((out - x) ** 2).mean())
        return out


def _x(n=64, seed=0):
    return np.random.default_rng(seed).random((n, 4)).astype("float32")


def test_a_model_compiled_without_a_loss_trains_on_its_add_loss_terms():
    plait.set_random_seed(0)
    model = _AutoEncoder()
    model.compile(optimizer=plait.optimizers.Adam(0.05))
    history = model.fit(_x(), epochs=8, verbose=0, diagnostics=False)
    assert list(history.history) == ["loss"]
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert isinstance(model.evaluate(_x(), verbose=0), float)


def test_add_loss_terms_join_the_compiled_loss_and_hold_only_the_latest_call():
    plait.set_random_seed(0)
    inputs = plait.Input((4,))
    model = plait.Model(inputs, Dense(1)(_Penalized(0.5)(inputs)))
    model.compile(optimizer="sgd", loss="mse")
    x, y = _x(8), np.zeros((8, 1), "float32")
    model(torch.from_numpy(x))
    model(torch.from_numpy(x))
    assert len(model.losses) == 1  # the second call replaced the first call's term
    logs = model.test_on_batch(x, y, return_dict=True)
    with torch.no_grad():
        pred = model(torch.from_numpy(x)).numpy()
    expected = np.mean((pred - y) ** 2) + 0.5 * np.abs(x).mean()  # the penalty sees the model's input rows
    np.testing.assert_allclose(logs["loss"], expected, rtol=1e-6)


def test_without_a_loss_or_add_loss_terms_fit_says_how_to_fix_it():
    model = plait.Sequential([plait.Input((4,)), Dense(4)])
    model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="No loss to optimize.*add_loss"):
        model.fit(_x(), _x(), verbose=0)
    with pytest.raises(ValueError, match="add_loss takes a scalar"):
        _Penalized().add_loss(torch.ones(3))


def test_per_output_losses_are_logged_under_their_own_output_with_a_none_loss():
    inputs = plait.Input((3,), name="a")
    model = plait.Model(inputs, [Dense(1, name="first")(inputs), Dense(1, name="second")(inputs)])
    model.compile(optimizer="sgd", loss=[None, "mse"])
    history = model.fit(np.ones((8, 3)), [np.zeros(8), np.ones(8)], verbose=0, diagnostics=False)
    assert list(history.history) == ["loss", "second_loss"]
    np.testing.assert_allclose(history.history["loss"], history.history["second_loss"], rtol=1e-6)


def test_a_custom_layer_config_without_a_name_rebuilds():
    class Scale(Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {"factor": self.factor}  # no name, as many user layers write it

    inputs = plait.Input((3,))
    model = plait.Model(inputs, Scale(3.0)(inputs))
    rebuilt = plait.Model.from_config(model.get_config(), custom_objects={"Scale": Scale})
    np.testing.assert_array_equal(rebuilt.predict(np.ones((2, 3)), verbose=0), np.full((2, 3), 3.0))


class _DotAttention(Layer):
    """Called as `layer(query, value)`: two symbolic tensors as positional arguments."""

    def call(self, query, value):
        return torch.softmax(query @ value.transpose(1, 2), dim=-1) @ value


def test_a_layer_called_on_two_positional_symbolic_tensors(tmp_path):
    query, value = plait.Input((5, 4)), plait.Input((6, 4))
    attended = _DotAttention()(query, value)
    assert attended.shape == (None, 5, 4)
    model = plait.Model([query, value], plait.layers.GlobalAveragePooling1D()(attended))
    q = np.random.default_rng(0).random((2, 5, 4)).astype("float32")
    v = np.random.default_rng(1).random((2, 6, 4)).astype("float32")
    with torch.no_grad():
        tq, tv = torch.from_numpy(q), torch.from_numpy(v)
        expected = (torch.softmax(tq @ tv.transpose(1, 2), -1) @ tv).mean(1).numpy()
    np.testing.assert_allclose(model.predict([q, v], verbose=0), expected, rtol=1e-6)
    path = tmp_path / "attention.plait"
    plait.saving.register_serializable(package="tests")(_DotAttention)
    model.save(path)
    # The same graph replayed from its config through the same kernels on the same inputs: the same bits.
    np.testing.assert_array_equal(plait.load_model(path).predict([q, v], verbose=0), model.predict([q, v], verbose=0))


def test_symbolic_accessors_as_in_keras():
    inputs = plait.Input((3,), dtype="float32")
    assert inputs.dtype == "float32" and inputs.torch_dtype is torch.float32
    hidden = Dense(4, name="hidden")
    features = hidden(inputs)
    model = plait.Model(inputs, Dense(2)(features))
    assert hidden.output is features and hidden.input is inputs
    assert model.input is inputs and model.inputs == [inputs] and model.outputs == [model.output]
    extractor = plait.Model(model.input, model.get_layer("hidden").output)
    assert extractor.predict(np.ones((2, 3)), verbose=0).shape == (2, 4)
    stack = plait.Sequential([plait.Input((3,)), Dense(4), Dense(2)])
    assert stack.input.shape == (None, 3) and stack.output.shape == (None, 2)
    assert plait.Model(stack.input, stack.layers[0].output).predict(np.ones((1, 3)), verbose=0).shape == (1, 4)
    with pytest.raises(AttributeError, match="never been called on a symbolic tensor"):
        Dense(2).output  # noqa: B018 - the property raises


def test_clone_model_has_the_architecture_and_new_weights():
    plait.set_random_seed(0)
    stack = plait.Sequential([plait.Input((3,)), Dense(4, activation="relu"), Dense(2)])
    clone = plait.models.clone_model(stack)
    assert clone.output_shape == (None, 2) and not clone.compiled
    assert all(a is not b for a, b in zip(clone.layers, stack.layers))
    assert not np.allclose(clone.get_weights()[0], stack.get_weights()[0])
    clone.set_weights(stack.get_weights())
    x = np.random.default_rng(0).random((5, 3)).astype("float32")
    # Copied weights, same layers, same inputs: the same kernels on the same values.
    np.testing.assert_array_equal(clone.predict(x, verbose=0), stack.predict(x, verbose=0))
    frozen = plait.models.clone_model(stack, clone_function=lambda layer: type(layer).from_config(
        {**layer.get_config(), "trainable": False}))
    assert frozen.trainable_weights == []
    inputs = plait.Input((3,))
    functional = plait.Model(inputs, Dense(2)(inputs))
    assert plait.models.clone_model(functional).output_shape == (None, 2)
    with pytest.raises(ValueError, match="input_tensors"):
        plait.models.clone_model(functional, input_tensors=[inputs])
    with pytest.raises(ValueError, match="clone_function is supported for Sequential"):
        plait.models.clone_model(functional, clone_function=lambda layer: layer)


def test_plait_models_namespace_matches_keras_models():
    for name in ("Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"):
        assert hasattr(plait.models, name), name


def test_activity_regularizer_is_a_base_layer_argument_as_in_keras():
    layer = Dense(2, activity_regularizer=plait.regularizers.L2(0.5), kernel_initializer="ones")
    out = layer(torch.ones(3, 4))
    np.testing.assert_allclose([float(v) for v in layer.losses], [0.5 * float(out.square().sum())], rtol=1e-6)
    config = layer.get_config()
    assert config["activity_regularizer"]["class_name"] == "L2"
    assert Dense.from_config(config).activity_regularizer.l2 == 0.5
    assert "activity_regularizer" not in Dense(2).get_config()  # configs without one stay as they were
