"""Weight regularizers join the training loss; constraints apply after each update."""
import numpy as np
import pytest
import torch

import plait
from plait import regularizers
from plait.layers import Dense


def test_regularizer_values_vs_numpy():
    w = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    wn = w.double().numpy()
    assert float(regularizers.L1(0.1)(w)) == pytest.approx(0.1 * np.abs(wn).sum())
    assert float(regularizers.L2(0.01)(w)) == pytest.approx(0.01 * (wn ** 2).sum())
    assert float(regularizers.L1L2(0.1, 0.01)(w)) == pytest.approx(0.1 * np.abs(wn).sum() + 0.01 * (wn ** 2).sum())
    assert isinstance(regularizers.get("l2"), regularizers.L2)
    with pytest.raises(ValueError, match="non-negative"):
        regularizers.L2(-1.0)


def test_penalty_is_added_to_fit_and_evaluate_loss():
    plait.set_random_seed(0)
    model = plait.Sequential([Dense(2, input_shape=(3,), kernel_regularizer=regularizers.L2(0.5))])
    model.compile(optimizer=plait.optimizers.SGD(0.0), loss="mse")
    x = np.random.rand(8, 3).astype("float32")
    y = np.random.rand(8, 2).astype("float32")
    kernel, bias = model.get_weights()
    data_loss = ((x @ kernel + bias - y) ** 2).mean()
    expected = data_loss + 0.5 * (kernel.astype("float64") ** 2).sum()
    assert len(model.losses) == 1
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), expected, rtol=1e-5)
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-5)


def test_regularized_gradient_step_matches_manual_derivative():
    plait.set_random_seed(1)
    model = plait.Sequential([Dense(1, input_shape=(2,), kernel_regularizer=regularizers.L2(0.1), use_bias=False)])
    model.compile(optimizer=plait.optimizers.SGD(0.1), loss="mse")
    x = np.array([[1.0, 2.0]], dtype="float32")
    y = np.array([[0.0]], dtype="float32")
    (k,) = model.get_weights()
    grad = 2 * (x @ k - y) * x.T + 0.2 * k  # d/dk [(xk - y)^2 + 0.1 * k^2]
    model.train_on_batch(x, y)
    np.testing.assert_allclose(model.get_weights()[0], k - 0.1 * grad, rtol=1e-5)


def test_kernel_constraint_applied_after_update():
    model = plait.Sequential([Dense(3, input_shape=(2,), kernel_constraint=lambda w: w.clamp(min=0.0))])
    model.compile(optimizer=plait.optimizers.SGD(1.0), loss="mse")
    model.fit(np.random.rand(16, 2), np.random.rand(16, 3) - 5, epochs=2, verbose=0)
    assert (model.layers[0].kernel.numpy() >= 0).all()
    with pytest.raises(TypeError, match="constraint must be a callable"):
        Dense(1, kernel_constraint="nonneg")(torch.ones(1, 2))


def test_penalty_counts_for_a_model_built_on_its_first_batch():
    plait.set_random_seed(2)
    model = plait.Sequential([Dense(2, kernel_regularizer=regularizers.L1(0.3))])  # no input shape: deferred build
    model.compile(optimizer=plait.optimizers.SGD(0.0), loss="mse")
    x = np.random.rand(8, 3).astype("float32")
    y = np.random.rand(8, 2).astype("float32")
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    kernel, bias = model.get_weights()
    expected = ((x @ kernel + bias - y) ** 2).mean() + 0.3 * np.abs(kernel.astype("float64")).sum()
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-5)
