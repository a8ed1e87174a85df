"""GradientTape against torch.autograd and hand derivatives."""
import numpy as np
import pytest
import torch

import plait
from plait.layers import Dense


def test_gradient_matches_autograd_for_model_variables():
    plait.set_random_seed(0)
    model = plait.Sequential([Dense(4, activation="tanh", input_shape=(3,)), Dense(1)])
    x = torch.randn(5, 3)
    y = torch.randn(5, 1)
    with plait.GradientTape() as tape:
        loss = torch.mean((model(x) - y) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    ref = torch.autograd.grad(torch.mean((model(x) - y) ** 2), model.trainable_variables)
    for g, r in zip(grads, ref):
        torch.testing.assert_close(g, r)
    assert all(v.grad is None for v in model.trainable_variables)  # nothing accumulated


def test_unconnected_sources_give_none_or_zero():
    a = plait.Variable(torch.tensor(2.0))
    b = plait.Variable(torch.tensor(5.0))
    with plait.GradientTape(persistent=True) as tape:
        y = a * a
    assert tape.gradient(y, [a, b]) == [pytest.approx(4.0), None]
    assert float(tape.gradient(y, {"b": b}, unconnected_gradients="zero")["b"]) == 0.0


def test_non_persistent_tape_allows_one_gradient_call():
    a = plait.Variable(torch.tensor(3.0))
    with plait.GradientTape() as tape:
        y = a ** 3
    assert float(tape.gradient(y, a)) == pytest.approx(27.0)
    with pytest.raises(RuntimeError, match="persistent=True"):
        tape.gradient(y, a)


def test_persistent_tape_and_watch():
    x = torch.tensor([1.0, 2.0])
    with plait.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = (x ** 2).sum()
        z = (x ** 3).sum()
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [2.0, 4.0])
    np.testing.assert_allclose(tape.gradient(z, x).numpy(), [3.0, 12.0])
    with pytest.raises(TypeError, match="floating-point"):
        with plait.GradientTape() as t2:
            t2.watch(torch.tensor([1, 2]))


def test_tape_works_under_no_grad_context():
    a = plait.Variable(torch.tensor(1.5))
    with torch.no_grad():
        with plait.GradientTape() as tape:
            y = 4 * a
    assert float(tape.gradient(y, a)) == pytest.approx(4.0)


def test_custom_loop_with_apply_gradients_matches_fit_step():
    plait.set_random_seed(0)
    x = np.random.rand(8, 3).astype("float32")
    y = np.random.rand(8, 1).astype("float32")
    a = plait.Sequential([Dense(1, input_shape=(3,))])
    b = plait.Sequential([Dense(1, input_shape=(3,))])
    b.set_weights(a.get_weights())
    opt = plait.optimizers.Adam(0.01)
    loss_fn = plait.losses.MeanSquaredError()
    for _ in range(3):
        with plait.GradientTape() as tape:
            loss = loss_fn(y, a(x, training=True))
        grads = tape.gradient(loss, a.trainable_variables)
        opt.apply_gradients(zip(grads, a.trainable_variables))
    b.compile(optimizer=plait.optimizers.Adam(0.01), loss="mse")
    for _ in range(3):
        b.train_on_batch(x, y)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)
    assert int(opt.iterations) == 3
