"""Sequential and functional models: building, shapes, summary, weights, calls."""
import io
import sys

import numpy as np
import pytest
import torch

import plait
from plait.layers import Dense, Dropout, Flatten


def _summary_text(model, **kwargs):
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    return "\n".join(lines)


def test_output_shape_from_input_shape_kwarg():
    model = plait.Sequential([Dense(10, input_shape=(5,)), Dense(3)])
    assert model.built and model.output_shape == (None, 3) and model.input_shape == (None, 5)
    assert model.count_params() == 5 * 10 + 10 + 10 * 3 + 3


def test_input_first_and_add_pop():
    model = plait.Sequential()
    model.add(plait.Input(shape=(4,)))
    model.add(Dense(8))
    assert model.output_shape == (None, 8)
    model.add(Dense(2))
    assert model.output_shape == (None, 2) and len(model.layers) == 2
    popped = model.pop()
    assert popped.units == 2 and model.output_shape == (None, 8)
    with pytest.raises(AttributeError, match="read-only"):
        model.layers = []


def test_deferred_build_on_first_call():
    model = plait.Sequential([Dense(4), Dense(1)])
    assert not model.built
    with pytest.raises(ValueError, match="not been built"):
        model.summary()
    with pytest.raises(AttributeError, match="no defined output shape"):
        model.output_shape  # noqa: B018 - the property raises
    out = model(np.zeros((3, 6), dtype="float32"))
    assert out.shape == (3, 1) and model.output_shape == (None, 1)
    assert model.count_params() == 6 * 4 + 4 + 4 + 1


def test_explicit_build():
    model = plait.Sequential([Dense(4)])
    model.build((None, 16))
    assert model.output_shape == (None, 4) and model.count_params() == 68


def test_summary_table_matches_keras_layout():
    model = plait.Sequential([Dense(2, input_shape=(4,), name="dense_x")], name="seq")
    text = _summary_text(model)
    assert text.splitlines()[0] == 'Model: "seq"'
    assert "Layer (type)" in text and "Output Shape" in text and "Param #" in text
    assert "dense_x (Dense)" in text and "(None, 2)" in text
    assert " Total params: 10 (40.00 B)" in text
    assert " Trainable params: 10 (40.00 B)" in text
    assert " Non-trainable params: 0 (0.00 B)" in text
    row = next(line for line in text.splitlines() if "dense_x" in line)
    assert row.rstrip("│|").rstrip().endswith("10")  # params right-aligned
    assert "Trainable" in _summary_text(model, show_trainable=True)


def test_summary_counts_optimizer_params_after_training():
    model = plait.Sequential([Dense(2, input_shape=(4,))])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.zeros((4, 4)), np.zeros((4, 2)), verbose=0)
    text = _summary_text(model)
    assert "Optimizer params:" in text


def test_summary_falls_back_to_ascii(monkeypatch):
    class AsciiOut(io.StringIO):
        encoding = "ascii"

    out = AsciiOut()
    monkeypatch.setattr(sys, "stdout", out)
    plait.Sequential([Dense(2, input_shape=(4,))]).summary()
    out.getvalue().encode("ascii")  # no glyph the console cannot print
    assert "Param #" in out.getvalue()


def test_get_set_weights_and_weight_lists():
    model = plait.Sequential([Dense(3, input_shape=(2,)), Dense(1)])
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(2, 3), (3,), (3, 1), (1,)]
    model.set_weights([np.ones_like(w) for w in weights])
    np.testing.assert_allclose(model.predict(np.ones((1, 2)), verbose=0), [[3 * (2 + 1) + 1]])
    assert len(model.trainable_variables) == 4 and model.non_trainable_weights == []
    assert all(hasattr(v, "numpy") for v in model.trainable_variables)
    assert len(list(model.parameters())) == 4  # a torch.nn.Module underneath


def test_model_call_on_numpy_and_torch_is_inference():
    model = plait.Sequential([Dense(8, input_shape=(4,)), Dropout(0.5), Dense(2)])
    x = np.random.rand(3, 4).astype("float32")
    a = model(x)
    b = model(torch.from_numpy(x))
    torch.testing.assert_close(a, b)  # dropout off on direct calls
    assert not torch.equal(model(x, training=True), a)


def test_sequential_errors():
    with pytest.raises(TypeError, match="list"):
        plait.Sequential(Dense(1))
    with pytest.raises(TypeError, match="Only plait layers and torch modules"):
        plait.Sequential([lambda x: x])
    assert type(plait.Sequential([torch.nn.Linear(2, 2)]).layers[0]).__name__ == "TorchModuleWrapper"
    with pytest.raises(ValueError, match="unique names"):
        plait.Sequential([Dense(1, name="a"), Dense(1, name="a")])
    with pytest.raises(IndexError):
        plait.Sequential().pop()


def test_get_layer():
    model = plait.Sequential([Dense(3, input_shape=(2,), name="hidden"), Dense(1, name="out")])
    assert model.get_layer("out").units == 1 and model.get_layer(index=0).name == "hidden"
    with pytest.raises(ValueError, match="No layer named"):
        model.get_layer("nope")


def test_functional_model_multi_input_multi_output():
    a = plait.Input(shape=(3,), name="a")
    b = plait.Input(shape=(2,), name="b")
    ha = Dense(4, activation="relu", name="ha")(a)
    hb = Dense(4, activation="relu", name="hb")(b)

    class Add(plait.Layer):
        def call(self, inputs):
            return inputs[0] + inputs[1]

    merged = Add(name="add")([ha, hb])
    out1 = Dense(1, name="reg")(merged)
    out2 = Dense(3, activation="softmax", name="cls")(merged)
    model = plait.Model([a, b], [out1, out2])
    assert model.output_shape == [(None, 1), (None, 3)]
    assert model.output_names == ["reg", "cls"]
    xa, xb = np.random.rand(6, 3).astype("float32"), np.random.rand(6, 2).astype("float32")
    p1, p2 = model.predict([xa, xb], verbose=0)
    assert p1.shape == (6, 1) and p2.shape == (6, 3)
    # Same maths by hand with the layers' weights.
    hidden = np.maximum(xa @ model.get_layer("ha").kernel.numpy(), 0) + np.maximum(
        xb @ model.get_layer("hb").kernel.numpy(), 0)
    np.testing.assert_allclose(p1, hidden @ model.get_layer("reg").kernel.numpy(), rtol=1e-5, atol=1e-6)
    model.compile(optimizer="adam", loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[1.0, 0.5],
                  metrics=[[], ["accuracy"]])
    history = model.fit([xa, xb], [np.random.rand(6, 1), np.random.randint(0, 3, 6)], epochs=2, verbose=0)
    assert {"loss", "reg_loss", "cls_loss", "cls_accuracy"} <= set(history.history)
    h = history.history
    assert np.isclose(h["loss"][0], h["reg_loss"][0] + 0.5 * h["cls_loss"][0], rtol=1e-5)


def test_functional_single_io_and_errors():
    inputs = plait.Input(shape=(28, 28))
    x = Flatten()(inputs)
    outputs = Dense(10)(x)
    model = plait.Model(inputs=inputs, outputs=outputs)
    assert model.output_shape == (None, 10) and len(model.layers) == 2
    assert model(np.zeros((2, 28, 28))).shape == (2, 10)
    with pytest.raises(ValueError, match="both inputs and outputs"):
        plait.Model(inputs=inputs)
    other = plait.Input(shape=(3,))
    with pytest.raises(ValueError, match="not among the model's inputs"):
        plait.Model(inputs, Dense(1)(other))


def test_subclassed_model_trains():
    class TwoLayer(plait.Model):
        def __init__(self):
            super().__init__()
            self.hidden = Dense(8, activation="relu")
            self.out = Dense(1)

        def call(self, x, training=None):
            return self.out(self.hidden(x))

    plait.set_random_seed(0)
    model = TwoLayer()
    model.compile(optimizer="adam", loss="mse")
    x = np.random.rand(64, 3).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    history = model.fit(x, y, epochs=20, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert [layer.name for layer in model.layers] == [model.hidden.name, model.out.name]
    with pytest.raises(NotImplementedError, match="call"):
        plait.Model()(np.zeros((1, 2)))
