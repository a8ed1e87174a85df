"""SGD against torch.optim.SGD (where the maths agree) and a float64 re-derivation of Keras's rule."""
import numpy as np
import pytest
import torch

from optimizers_reference import assert_close, keras_sgd, make_problem, run, to_params
from plait.optimizers import SGD, schedules


def torch_sgd(params, grads, **kwargs):
    ps = to_params(params)
    opt = torch.optim.SGD(ps, **kwargs)
    for gs in grads:
        for p, g in zip(ps, gs):
            p.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
    return ps


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True), (0.5, True)])
def test_sgd_matches_torch_sgd_with_constant_lr(fused, momentum, nesterov):
    params, grads = make_problem(0, steps=6)
    opt = SGD(learning_rate=0.05, momentum=momentum, nesterov=nesterov)
    opt.use_fused = fused
    ours = run(opt, params, grads)
    ref = torch_sgd(params, grads, lr=0.05, momentum=momentum, nesterov=nesterov)
    assert_close(ours, [p.detach().double().numpy() for p in ref])
    assert_close(ours, keras_sgd(params, grads, lr=0.05, momentum=momentum, nesterov=nesterov)[0])
    assert int(opt.iterations) == 6


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_keeps_keras_form_when_lr_changes(fused, nesterov):
    # With a changing rate Keras's velocity (which carries lr) differs from torch's; follow Keras.
    params, grads = make_problem(1, steps=6)
    sched = schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    opt = SGD(learning_rate=sched, momentum=0.9, nesterov=nesterov)
    opt.use_fused = fused
    ours = run(opt, params, grads)
    expected, m = keras_sgd(params, grads, lr=sched, momentum=0.9, nesterov=nesterov)
    assert_close(ours, expected)
    assert_close(opt.variables[1:], m)  # iterations, then one momentum per variable (no lr variable: schedule)
    torch_ref = torch_sgd(params, grads[:1], lr=0.1, momentum=0.9, nesterov=nesterov)  # step 1 agrees with torch
    assert_close(run(SGD(0.1, 0.9, nesterov), params, grads[:1]), [p.detach().double().numpy() for p in torch_ref])


def test_sgd_weight_decay_is_decoupled():
    params, grads = make_problem(2, steps=4)
    ours = run(SGD(learning_rate=0.1, momentum=0.8, weight_decay=0.05), params, grads)
    assert_close(ours, keras_sgd(params, grads, lr=0.1, momentum=0.8, weight_decay=0.05)[0])
    # Decoupled decay differs from torch's coupled L2 (weight_decay added to the gradient) once momentum is on.
    coupled = torch_sgd(params, grads, lr=0.1, momentum=0.8, weight_decay=0.05)
    assert not np.allclose(ours[0].detach().numpy(), coupled[0].detach().numpy(), rtol=1e-4)


def test_sgd_defaults_and_validation():
    opt = SGD()
    assert (opt.learning_rate, opt.momentum, opt.nesterov, opt.name) == (0.01, 0.0, False, "SGD")
    with pytest.raises(ValueError, match="momentum"):
        SGD(momentum=-0.1)
    with pytest.raises(ValueError, match="momentum"):
        SGD(momentum=1.5)
    with pytest.raises(ValueError, match="learning_rate"):
        SGD(learning_rate=-1.0)
