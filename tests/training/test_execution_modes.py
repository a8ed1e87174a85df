"""Execution options: jit_compile (torch.compile) keeps eager results; steps_per_execution groups batch hooks."""
import warnings

import numpy as np
import pytest
import torch

import plait
from plait.layers import Dense, Dropout


def _run(jit_compile, epochs=3, output="logits", samples=96, device=None):
    plait.set_random_seed(11)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(samples, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0)
    # A softmax output is scored from its logits in both modes, so both report the same (unclipped) loss.
    x[:4] *= 1000.0 if output == "softmax" else 1.0  # a few saturated predictions, where a clip would differ
    model = plait.Sequential([plait.Input(shape=(6,)), Dense(16, activation="relu"),
                              Dense(3, activation=None if output == "logits" else "softmax")])
    if device is not None:
        model.to(device)
    model.compile(optimizer="adam", loss=plait.losses.SparseCategoricalCrossentropy(from_logits=output == "logits"),
                  metrics=["accuracy"], jit_compile=jit_compile)
    history = model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, shuffle=False)
    step = model._compiled_step
    assert (step is not None) == (jit_compile is True)
    assert (step is not None and step.cuda_graphs) == (jit_compile is True and model._device().type == "cuda")
    return history.history, model.get_weights()


@pytest.mark.parametrize("output", ["logits", "softmax"])
def test_compiled_train_step_reaches_the_eager_loss_curve(output):
    eager, w_eager = _run(False, output=output)
    compiled, w_compiled = _run(True, output=output)
    np.testing.assert_allclose(compiled["loss"], eager["loss"], rtol=1e-5)
    assert compiled["accuracy"] == eager["accuracy"]
    for a, b in zip(w_eager, w_compiled):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def _two_heads(jit_compile):
    """An L2-regularized trunk, a scored head and a head without a loss (its variables get no gradient)."""
    plait.set_random_seed(5)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 4)).astype("float32")
    y = np.stack([x[:, 0] - x[:, 1], x[:, 2] * 0.5], axis=1).astype("float32")
    inputs = plait.Input(shape=(4,))
    trunk = Dense(8, activation="tanh", kernel_regularizer=plait.regularizers.L2(0.01), name="trunk")(inputs)
    model = plait.Model(inputs, [Dense(2, name="scored")(trunk), Dense(1, name="unscored")(trunk)])
    # AdamW decays every variable it updates: a zero gradient in place of None would move the unscored head.
    model.compile(optimizer=plait.optimizers.AdamW(0.01, weight_decay=0.1), loss=["mse", None],
                  jit_compile=jit_compile)
    start = model.get_layer("unscored").get_weights()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(x, [y, np.zeros((40, 1), "float32")], batch_size=8, epochs=3, verbose=0, shuffle=False)
    return history.history["loss"], model, start


def test_compiled_step_keeps_regularizers_and_unused_variables_as_eager():
    eager, eager_model, start = _two_heads(False)
    compiled, compiled_model, _ = _two_heads(True)
    np.testing.assert_allclose(compiled, eager, rtol=1e-5)
    for a, b in zip(eager_model.get_weights(), compiled_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    for model in (eager_model, compiled_model):
        for before, after in zip(start, model.get_layer("unscored").get_weights()):
            np.testing.assert_array_equal(before, after)


def test_compiled_step_follows_a_change_of_trainable_variables():
    plait.set_random_seed(3)
    x = np.random.default_rng(2).normal(size=(32, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    first, last = Dense(4, name="first"), Dense(1, name="last")
    model = plait.Sequential([plait.Input(shape=(3,)), first, last])
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    fit = lambda: model.fit(x, y, batch_size=8, epochs=2, verbose=0, diagnostics=False)  # noqa: E731
    fit()
    first.trainable = False
    frozen, moving = first.get_weights(), last.get_weights()
    fit()
    for a, b in zip(frozen, first.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(moving[0], last.get_weights()[0])


def _conv_batchnorm(jit_compile):
    plait.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 10, 10, 1)).astype("float32"), rng.integers(0, 3, 64)
    L = plait.layers
    model = plait.Sequential([plait.Input(shape=(10, 10, 1)), L.Conv2D(4, 3, activation="relu"),
                              L.BatchNormalization(), L.MaxPooling2D(), L.Flatten(), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile=jit_compile)
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False, diagnostics=False)
    return history.history["loss"], model.get_weights()


def test_compiled_step_updates_batchnorm_moving_statistics_as_eager():
    eager, w_eager = _conv_batchnorm(False)
    compiled, w_compiled = _conv_batchnorm(True)
    np.testing.assert_allclose(compiled, eager, rtol=1e-5)
    assert len(w_eager) == 8  # conv kernel and bias; gamma, beta, moving mean and variance; dense kernel and bias
    for a, b in zip(w_eager, w_compiled):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


class _CountingDense(Dense):
    """Counts its calls in a plain tensor attribute: a mutation that a gradient transform cannot trace."""

    def build(self, input_shape):
        super().build(input_shape)
        self.calls = torch.zeros(())

    def call(self, inputs):
        self.calls.add_(1)
        return super().call(inputs)


def test_a_model_the_compiled_step_cannot_trace_trains_eagerly_with_a_warning():
    def run(jit_compile):
        plait.set_random_seed(4)
        x = np.random.default_rng(3).normal(size=(24, 3)).astype("float32")
        layer = _CountingDense(2)
        model = plait.Sequential([plait.Input(shape=(3,)), layer])
        model.compile(optimizer="adam", loss="mse", jit_compile=jit_compile)
        history = model.fit(x, x[:, :2], batch_size=8, epochs=2, verbose=0, shuffle=False, diagnostics=False)
        return history.history["loss"], model, layer

    eager, _, _ = run(False)
    with pytest.warns(RuntimeWarning, match="jit_compile=True could not compile"):
        compiled, model, layer = run(True)
    np.testing.assert_allclose(compiled, eager, rtol=1e-6)
    assert model.jit_compile is True  # the setting (and a saved model's config) keeps what the user asked
    # Every step ran once, eagerly (the failed trace did not count), plus fit's first inference pass over one
    # batch, which resolves the losses to check the targets before training.
    assert float(layer.calls) == 7


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
def test_on_cuda_the_compiled_step_replays_cuda_graphs_and_keeps_the_eager_curve(monkeypatch):
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    from torch._dynamo.utils import counters

    counters.clear()
    # 100 samples: the last batch of 4 records a second graph, as a new shape must.
    eager, w_eager = _run(False, samples=100, device="cuda")
    compiled, w_compiled = _run(True, samples=100, device="cuda")
    assert counters["inductor"]["cudagraph_skips"] == 0
    np.testing.assert_allclose(compiled["loss"], eager["loss"], rtol=1e-5)
    for a, b in zip(w_eager, w_compiled):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_steps_per_execution_fires_batch_hooks_every_n_steps():
    model = plait.Sequential([Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse", steps_per_execution=3)
    seen = []
    cb = plait.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    model.fit(np.zeros((16, 2)), np.zeros((16, 1)), batch_size=2, epochs=1, callbacks=[cb], verbose=0)
    assert seen == [2, 5, 7]


def test_execution_option_errors():
    model = plait.Sequential([Dense(1, input_shape=(2,)), Dropout(0.1)])
    with pytest.raises(ValueError, match="jit_compile"):
        model.compile(loss="mse", jit_compile="yes")
    with pytest.raises(ValueError, match="steps_per_execution"):
        model.compile(loss="mse", steps_per_execution=0)
    model.compile(loss="mse", run_eagerly=True, jit_compile=True)
    assert model.jit_compile is False
