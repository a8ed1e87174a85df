"""Execution options: jit_compile (torch.compile) keeps eager results; steps_per_execution groups batch hooks."""
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
    assert model._cuda_graphs == (jit_compile is True and model._device().type == "cuda")
    return history.history, model.get_weights()


@pytest.mark.parametrize("output", ["logits", "softmax"])
def test_compiled_train_step_reaches_the_eager_loss_curve(output):
    eager, w_eager = _run(False, output=output)
    compiled, w_compiled = _run(True, output=output)
    np.testing.assert_allclose(compiled["loss"], eager["loss"], rtol=1e-5)
    assert compiled["accuracy"] == eager["accuracy"]
    for a, b in zip(w_eager, w_compiled):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


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
