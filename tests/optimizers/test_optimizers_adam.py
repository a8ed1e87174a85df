"""Adam, AdamW, Adamax and Nadam against float64 re-derivations of Keras's rules and against torch.optim."""
import math

import numpy as np
import pytest
import torch

from optimizers_reference import (assert_close, keras_adam, keras_adamax, keras_nadam, make_problem, run,
                                  to_params)
from plait.optimizers import Adam, Adamax, AdamW, Nadam


def torch_run(params, grads, make, per_step=None):
    ps = to_params(params)
    opt = make(ps)
    for t, gs in enumerate(grads, start=1):
        for p, g in zip(ps, gs):
            p.grad = torch.tensor(g, dtype=torch.float32)
        if per_step:
            per_step(opt, t)
        opt.step()
    return [p.detach().double().numpy() for p in ps]


def keras_eps(eps, beta_2):
    # Keras's epsilon-hat Adam is torch's Adam with eps_t = eps / sqrt(1 - beta_2**t).
    def set_eps(opt, t):
        opt.param_groups[0]["eps"] = eps / math.sqrt(1 - beta_2**t)
    return set_eps


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_matches_keras_formula(fused, amsgrad):
    params, grads = make_problem(0, steps=6)
    opt = Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.95, epsilon=1e-3, amsgrad=amsgrad)
    opt.use_fused = fused
    ours = run(opt, params, grads)
    expected, m, v = keras_adam(params, grads, lr=0.01, beta_1=0.8, beta_2=0.95, epsilon=1e-3, amsgrad=amsgrad)
    assert_close(ours, expected)
    state = opt.state_dict()
    assert_close([state[f"momentum/{i}"] for i in range(3)], m)
    assert_close([state[f"velocity/{i}"] for i in range(3)], v)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_equals_torch_adam_with_step_adjusted_eps(fused, amsgrad):
    params, grads = make_problem(1, steps=5, scale=1e-3)  # small grads make epsilon matter
    opt = Adam(learning_rate=0.01, amsgrad=amsgrad)
    opt.use_fused = fused
    ours = run(opt, params, grads)
    ref = torch_run(params, grads, lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.999), amsgrad=amsgrad,
                                                               foreach=False), keras_eps(1e-7, 0.999))
    assert_close(ours, ref)
    # and the unadjusted torch Adam is measurably different at this gradient scale
    plain = torch_run(params, grads, lambda ps: torch.optim.Adam(ps, lr=0.01, eps=1e-7, foreach=False))
    assert not np.allclose(ours[0].detach().numpy(), plain[0], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("fused", [True, False])
def test_adamw_matches_keras_and_torch_adamw(fused):
    params, grads = make_problem(2, steps=5)
    opt = AdamW(learning_rate=0.02, weight_decay=0.1)
    opt.use_fused = fused
    ours = run(opt, params, grads)
    assert_close(ours, keras_adam(params, grads, lr=0.02, weight_decay=0.1)[0])
    ref = torch_run(params, grads, lambda ps: torch.optim.AdamW(ps, lr=0.02, weight_decay=0.1, foreach=False),
                    keras_eps(1e-7, 0.999))
    assert_close(ours, ref)


def test_adamw_defaults_and_exclusion():
    opt = AdamW()
    assert (opt.weight_decay, opt.learning_rate, opt.beta_1, opt.beta_2, opt.epsilon, opt.amsgrad, opt.name) == \
        (0.004, 0.001, 0.9, 0.999, 1e-07, False, "adamw")
    with pytest.raises(ValueError, match="weight_decay"):
        AdamW(weight_decay=None)
    params, grads = make_problem(3, steps=3)
    opt = AdamW(learning_rate=0.05, weight_decay=0.2)
    ps = to_params(params)
    opt.exclude_from_weight_decay(var_list=[ps[1]])
    for gs in grads:
        opt.apply_gradients(zip([torch.tensor(g, dtype=torch.float32) for g in gs], ps))
    decayed = keras_adam(params, grads, lr=0.05, weight_decay=0.2)[0]
    plain = keras_adam(params, grads, lr=0.05)[0]
    assert_close(ps, [decayed[0], plain[1], decayed[2]])
    with pytest.raises(ValueError, match="before the optimizer is built"):
        opt.exclude_from_weight_decay(var_names=["bias"])


def test_adam_weight_decay_on_adam_and_mixed_groups():
    # float64 and float32 variables land in separate kernel groups; both follow the same rule.
    params, grads = make_problem(4, steps=4)
    opt = Adam(learning_rate=0.01, weight_decay=0.05)
    ps = [torch.nn.Parameter(torch.tensor(p, dtype=dt)) for p, dt in zip(params, [torch.float64, torch.float32,
                                                                               torch.float64])]
    for gs in grads:
        opt.apply_gradients(zip([torch.tensor(g) for g in gs], ps))
    assert ps[0].dtype == torch.float64 and opt.state_dict()["momentum/0"].dtype == torch.float64
    assert_close(ps, keras_adam(params, grads, lr=0.01, weight_decay=0.05)[0])


def test_adam_non_contiguous_gradient_and_variable():
    params, grads = make_problem(5, steps=3, shapes=[(4, 3)])
    base = torch.tensor(params[0].T.copy(), dtype=torch.float32)
    w = torch.nn.Parameter(base.t())  # a transposed (non-contiguous) variable takes the foreach path
    v = torch.nn.Parameter(torch.tensor(params[0], dtype=torch.float32))
    opt = Adam(learning_rate=0.1)
    for gs in grads:
        g = torch.tensor(gs[0].T.copy(), dtype=torch.float32).t()  # non-contiguous gradient
        opt.apply_gradients([(g, w), (g, v)])
    expected = keras_adam(params, grads, lr=0.1)[0]
    assert_close([w, v], [expected[0], expected[0]])


@pytest.mark.parametrize("weight_decay", [None, 0.1])
def test_adamax_matches_keras_formula(weight_decay):
    params, grads = make_problem(6, steps=6)
    opt = Adamax(learning_rate=0.02, beta_1=0.85, beta_2=0.9, epsilon=1e-4, weight_decay=weight_decay)
    ours = run(opt, params, grads)
    expected, m, u = keras_adamax(params, grads, lr=0.02, beta_1=0.85, beta_2=0.9, epsilon=1e-4,
                                  weight_decay=weight_decay)
    assert_close(ours, expected)
    assert_close([opt.state_dict()[f"norm/{i}"] for i in range(3)], u)


@pytest.mark.parametrize("weight_decay", [None, 0.1])
def test_nadam_matches_keras_formula_and_torch_nadam(weight_decay):
    params, grads = make_problem(7, steps=6)
    opt = Nadam(learning_rate=0.01, weight_decay=weight_decay)
    ours = run(opt, params, grads)
    expected, m, v = keras_nadam(params, grads, lr=0.01, weight_decay=weight_decay)
    assert_close(ours, expected)
    assert_close([opt.state_dict()[f"velocity/{i}"] for i in range(3)], v)
    if weight_decay is None:
        # Keras's momentum cache 0.96**t is torch's NAdam with momentum_decay=1.
        ref = torch_run(params, grads, lambda ps: torch.optim.NAdam(ps, lr=0.01, eps=1e-7, momentum_decay=1.0,
                                                                    foreach=False))
        assert_close(ours, ref)
    product = np.prod([0.9 * (1 - 0.5 * 0.96**t) for t in range(1, 7)])
    assert float(opt.state_dict()["scalars/u_product"]) == pytest.approx(product, rel=1e-14)


@pytest.mark.parametrize("cls", [Adam, AdamW, Adamax, Nadam])
@pytest.mark.parametrize("arg,value", [("beta_1", 1.0), ("beta_1", -0.1), ("beta_2", 1.0), ("epsilon", -1e-7)])
def test_adam_family_validation(cls, arg, value):
    with pytest.raises(ValueError, match=arg):
        cls(**{arg: value})


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_fused_kernel_agrees_with_foreach_path_in_half_precision(dtype, amsgrad):
    params, grads = make_problem(8, steps=4)
    # |g| >= 0.1: (1 - beta_2) * g*g of a tinier gradient underflows in float16 and epsilon alone divides m
    # (as in Keras with float16 variables); the fused kernel's float32 internals hide that, the foreach path not.
    grads = [[np.sign(g) * (0.1 + np.abs(g)) for g in gs] for gs in grads]
    fused, plain = Adam(0.01, amsgrad=amsgrad, weight_decay=0.1), Adam(0.01, amsgrad=amsgrad, weight_decay=0.1)
    plain.use_fused = False
    a, b = run(fused, params, grads, dtype=dtype), run(plain, params, grads, dtype=dtype)
    assert a[0].dtype == dtype and fused.state_dict()["velocity/0"].dtype == dtype
    expected = keras_adam(params, grads, lr=0.01, amsgrad=amsgrad, weight_decay=0.1)[0]
    tol = 1e-2 if dtype == torch.bfloat16 else 2e-3  # half-precision storage, not the rule, sets the tolerance
    for x, y, e in zip(a, b, expected):
        np.testing.assert_allclose(x.double().detach().numpy(), e, rtol=tol, atol=tol)
        np.testing.assert_allclose(y.double().detach().numpy(), e, rtol=tol, atol=tol)
