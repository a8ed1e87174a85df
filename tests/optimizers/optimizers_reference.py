"""Float64 NumPy re-derivations of Keras 3's update rules, and helpers to run plait optimizers on the same data.

Each `keras_*` function takes lists of float64 arrays (params, and per-step gradient lists) and returns the
final params and slots, written from Keras's formulas line by line (keras/src/optimizers/*.py).
"""
from __future__ import annotations

import numpy as np
import torch

SHAPES = [(3, 4), (5,), (2, 3, 2)]


def make_problem(seed: int, steps: int, shapes=SHAPES, scale: float = 1.0):
    """Random float32 params and per-step grads, returned as float64 copies (exactly representable)."""
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(np.float32).astype(np.float64) for s in shapes]
    grads = [[(scale * rng.standard_normal(s)).astype(np.float32).astype(np.float64) for s in shapes]
             for _ in range(steps)]
    return params, grads


def to_params(params, dtype=torch.float32):
    return [torch.nn.Parameter(torch.tensor(p, dtype=dtype)) for p in params]


def run(opt, params, grads, dtype=torch.float32):
    """Applies `grads` step by step with plait optimizer `opt`; returns the torch params."""
    ps = to_params(params, dtype)
    for step_grads in grads:
        opt.apply_gradients(zip([torch.tensor(g, dtype=dtype) for g in step_grads], ps))
    return ps


def assert_close(actual, expected, rtol=1e-6):
    """Elementwise to `rtol`, with an absolute floor of `rtol` times the array's largest magnitude.

    The floor covers elements that cancel to near zero: float32 rounding of the O(1) terms that produced
    them is absolute, not relative to the small result.
    """
    for a, e in zip(actual, expected, strict=True):
        a = a.detach().double().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
        e = np.asarray(e, dtype=np.float64)
        np.testing.assert_allclose(a, e, rtol=rtol, atol=rtol * float(np.abs(e).max(initial=0.0)))


def _lr_at(lr, it):
    return lr(it) if callable(lr) else lr


def _decay(p, lr, weight_decay):
    if weight_decay:
        p -= p * weight_decay * lr


def keras_sgd(params, grads, lr=0.01, momentum=0.0, nesterov=False, weight_decay=None):
    params = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    for it, gs in enumerate(grads):
        a = _lr_at(lr, it)
        for i, g in enumerate(gs):
            _decay(params[i], a, weight_decay)
            if momentum == 0:
                params[i] -= g * a
                continue
            m[i] = m[i] * momentum - g * a
            params[i] += (m[i] * momentum - g * a) if nesterov else m[i]
    return params, m


def keras_adam(params, grads, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, weight_decay=None):
    params = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    vhat = [np.zeros_like(p) for p in params]
    for it, gs in enumerate(grads):
        a, t = _lr_at(lr, it), it + 1
        alpha = a * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        for i, g in enumerate(gs):
            _decay(params[i], a, weight_decay)
            m[i] += (g - m[i]) * (1 - beta_1)
            v[i] += (g * g - v[i]) * (1 - beta_2)
            vv = v[i]
            if amsgrad:
                vhat[i] = np.maximum(vhat[i], v[i])
                vv = vhat[i]
            params[i] -= m[i] * alpha / (np.sqrt(vv) + epsilon)
    return params, m, v


def keras_adamax(params, grads, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None):
    params = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    u = [np.zeros_like(p) for p in params]
    for it, gs in enumerate(grads):
        a, t = _lr_at(lr, it), it + 1
        for i, g in enumerate(gs):
            _decay(params[i], a, weight_decay)
            m[i] += (g - m[i]) * (1 - beta_1)
            u[i] = np.maximum(beta_2 * u[i], np.abs(g))
            params[i] -= a * m[i] / ((1 - beta_1**t) * (u[i] + epsilon))
    return params, m, u


def keras_nadam(params, grads, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None):
    params = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    u_product = 1.0
    for it, gs in enumerate(grads):
        a = _lr_at(lr, it)
        u_product = u_product * beta_1 * (1.0 - 0.5 * 0.96 ** (it + 1))  # _backend_update_step, before update_step
        u_t = beta_1 * (1.0 - 0.5 * 0.96 ** (it + 1))
        u_t_1 = beta_1 * (1.0 - 0.5 * 0.96 ** (it + 2))
        u_product_t_1 = u_product * u_t_1
        beta_2_power = beta_2 ** (it + 1)
        for i, g in enumerate(gs):
            _decay(params[i], a, weight_decay)
            m[i] += (g - m[i]) * (1 - beta_1)
            v[i] += (g * g - v[i]) * (1 - beta_2)
            m_hat = u_t_1 * m[i] / (1 - u_product_t_1) + (1 - u_t) * g / (1 - u_product)
            v_hat = v[i] / (1 - beta_2_power)
            params[i] -= m_hat * a / (np.sqrt(v_hat) + epsilon)
    return params, m, v


def keras_rmsprop(params, grads, lr=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, weight_decay=None):
    params = [p.copy() for p in params]
    vel = [np.zeros_like(p) for p in params]
    mom = [np.zeros_like(p) for p in params]
    avg = [np.zeros_like(p) for p in params]
    for it, gs in enumerate(grads):
        a = _lr_at(lr, it)
        for i, g in enumerate(gs):
            _decay(params[i], a, weight_decay)
            vel[i] = rho * vel[i] + (1 - rho) * g * g
            if centered:
                avg[i] = rho * avg[i] + (1 - rho) * g
                denominator = vel[i] - avg[i] ** 2 + epsilon
            else:
                denominator = vel[i] + epsilon
            increment = a * g / np.sqrt(denominator)
            if momentum > 0:
                mom[i] = momentum * mom[i] + increment
                params[i] -= mom[i]
            else:
                params[i] -= increment
    return params, vel


def keras_adagrad(params, grads, lr=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None):
    params = [p.copy() for p in params]
    acc = [np.full_like(p, initial_accumulator_value) for p in params]
    for it, gs in enumerate(grads):
        a = _lr_at(lr, it)
        for i, g in enumerate(gs):
            _decay(params[i], a, weight_decay)
            acc[i] += g * g
            params[i] -= a * g / np.sqrt(acc[i] + epsilon)
    return params, acc
