"""RMSprop and Adagrad (epsilon inside the square root) against float64 re-derivations of Keras's rules."""
import numpy as np
import pytest
import torch

from optimizers_reference import assert_close, keras_adagrad, keras_rmsprop, make_problem, run, to_params
from plait.optimizers import Adagrad, RMSprop


@pytest.mark.parametrize("momentum", [0.0, 0.7])
@pytest.mark.parametrize("centered", [False, True])
def test_rmsprop_matches_keras_formula(momentum, centered):
    params, grads = make_problem(0, steps=6)
    opt = RMSprop(learning_rate=0.01, rho=0.8, momentum=momentum, epsilon=1e-3, centered=centered)
    ours = run(opt, params, grads)
    expected, vel = keras_rmsprop(params, grads, lr=0.01, rho=0.8, momentum=momentum, epsilon=1e-3,
                                  centered=centered)
    assert_close(ours, expected)
    assert_close([opt.state_dict()[f"velocity/{i}"] for i in range(3)], vel)
    assert ("momentum/0" in opt.state_dict()) == (momentum > 0)
    assert ("average_gradient/0" in opt.state_dict()) == centered


def test_rmsprop_differs_from_torch_where_epsilon_placement_matters():
    params, grads = make_problem(1, steps=3, scale=1e-3)
    ours = run(RMSprop(learning_rate=0.01, epsilon=1e-6), params, grads)
    ps = to_params(params)
    opt = torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-6)
    for gs in grads:
        for p, g in zip(ps, gs):
            p.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
    assert not np.allclose(ours[0].detach().numpy(), ps[0].detach().numpy(), rtol=1e-5)
    assert_close(ours, keras_rmsprop(params, grads, lr=0.01, epsilon=1e-6)[0])


def test_rmsprop_defaults_and_weight_decay():
    opt = RMSprop()
    assert (opt.learning_rate, opt.rho, opt.momentum, opt.epsilon, opt.centered, opt.name) == \
        (0.001, 0.9, 0.0, 1e-07, False, "rmsprop")
    params, grads = make_problem(2, steps=4)
    ours = run(RMSprop(learning_rate=0.01, weight_decay=0.3), params, grads)
    assert_close(ours, keras_rmsprop(params, grads, lr=0.01, weight_decay=0.3)[0])
    with pytest.raises(ValueError, match="rho"):
        RMSprop(rho=1.0)


@pytest.mark.parametrize("initial", [0.1, 0.0, 2.0])
def test_adagrad_matches_keras_formula(initial):
    params, grads = make_problem(3, steps=6)
    opt = Adagrad(learning_rate=0.05, initial_accumulator_value=initial, epsilon=1e-4)
    ours = run(opt, params, grads)
    expected, acc = keras_adagrad(params, grads, lr=0.05, initial_accumulator_value=initial, epsilon=1e-4)
    assert_close(ours, expected)
    assert_close([opt.state_dict()[f"accumulator/{i}"] for i in range(3)], acc)


def test_adagrad_defaults_weight_decay_and_validation():
    opt = Adagrad()
    assert (opt.learning_rate, opt.initial_accumulator_value, opt.epsilon) == (0.001, 0.1, 1e-07)
    params, grads = make_problem(4, steps=3)
    ours = run(Adagrad(learning_rate=0.1, weight_decay=0.2), params, grads)
    assert_close(ours, keras_adagrad(params, grads, lr=0.1, weight_decay=0.2)[0])
    with pytest.raises(ValueError, match="initial_accumulator_value"):
        Adagrad(initial_accumulator_value=-1.0)
