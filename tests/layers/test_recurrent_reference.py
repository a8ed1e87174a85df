"""SimpleRNN, LSTM and GRU against a float64 NumPy re-derivation of Keras's equations, on both of plait's paths.

The fused path (torch.lstm/gru/rnn_tanh/rnn_relu on the Keras weights, reordered) and the step loop (the cell's
`call`, forced with `unroll=True`) must each give the NumPy outputs and final states, and their gradients
(with respect to the kernels, biases, inputs and initial states) must match central finite differences of the
NumPy forward. Layers run in float64 so that 1e-5 measures the equations, not float32 rounding; a float32 run
is checked against the same reference at float32 tolerances.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from plait.layers import GRU, LSTM, SimpleRNN

B, T, FEATURES, UNITS = 3, 4, 3, 4
ACTIVATIONS = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0.0), "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
               "hard_sigmoid": lambda v: np.clip(v / 6 + 0.5, 0, 1)}


# ------------------------------------------------------------------------------------------- the NumPy reference
def _step(kind: str, x, states, w, opts):
    """One step of Keras's cell equations (keras/src/layers/rnn/{simple_rnn,lstm,gru}.py) in float64."""
    act, rec = ACTIVATIONS[opts.get("activation", "tanh")], ACTIVATIONS[opts.get("recurrent_activation", "sigmoid")]
    kernel, rkernel = w[0], w[1]
    bias = w[2] if len(w) > 2 else None
    h = states[0]
    if kind == "simple_rnn":
        out = act(x @ kernel + h @ rkernel + (0 if bias is None else bias))
        return out, [out]
    if kind == "lstm":
        z = x @ kernel + h @ rkernel + (0 if bias is None else bias)
        zi, zf, zc, zo = np.split(z, 4, axis=-1)
        c = rec(zf) * states[1] + rec(zi) * act(zc)
        out = rec(zo) * act(c)
        return out, [out, c]
    u = UNITS
    reset_after = opts.get("reset_after", True)
    ib, rb = (bias[0], bias[1]) if bias is not None and reset_after else (bias, None)
    xp = x @ kernel + (0 if ib is None else ib)
    if reset_after:
        inner = h @ rkernel + (0 if rb is None else rb)
    else:
        inner = h @ rkernel[:, :2 * u]
    z = rec(xp[:, :u] + inner[:, :u])
    r = rec(xp[:, u:2 * u] + inner[:, u:2 * u])
    rh = r * inner[:, 2 * u:] if reset_after else (r * h) @ rkernel[:, 2 * u:]
    hh = act(xp[:, 2 * u:] + rh)
    out = z * h + (1 - z) * hh
    return out, [out]


def numpy_rnn(kind, x, w, states, opts, mask=None, go_backwards=False, zero_output_for_mask=False):
    """Keras's backend `rnn` loop: (outputs in processing order (B, T, U), last output, final states)."""
    steps = list(range(x.shape[1]))[::-1] if go_backwards else list(range(x.shape[1]))
    outputs, prev = [], np.zeros((x.shape[0], UNITS))
    for t in steps:
        out, new = _step(kind, x[:, t], states, w, opts)
        if mask is not None:
            keep = mask[:, t][:, None]
            out = np.where(keep, out, 0.0 if zero_output_for_mask else prev)
            new = [np.where(keep, n, s) for n, s in zip(new, states)]
        prev, states = out, new
        outputs.append(out)
    return np.stack(outputs, 1), outputs[-1], states


def _weights(kind, rng, use_bias=True, reset_after=True):
    gates = {"simple_rnn": 1, "lstm": 4, "gru": 3}[kind]
    w = [rng.normal(0, 0.5, (FEATURES, gates * UNITS)), rng.normal(0, 0.5, (UNITS, gates * UNITS))]
    if use_bias:
        shape = (2, 3 * UNITS) if kind == "gru" and reset_after else (gates * UNITS,)
        w.append(rng.normal(0, 0.5, shape))
    return w


LAYERS = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}
N_STATES = {"simple_rnn": 1, "lstm": 2, "gru": 1}

# (kind, layer options, whether the fused kernel can run this configuration)
CONFIGS = [
    ("simple_rnn", {}, True),
    ("simple_rnn", {"activation": "relu"}, True),
    ("simple_rnn", {"use_bias": False}, True),
    ("lstm", {}, True),
    ("lstm", {"use_bias": False}, True),
    ("lstm", {"activation": "relu", "recurrent_activation": "hard_sigmoid"}, False),
    ("gru", {}, True),
    ("gru", {"use_bias": False}, True),
    ("gru", {"reset_after": False}, False),
]


def _layer(kind, opts, weights, *, unroll, dtype="float64", **flags):
    layer = LAYERS[kind](UNITS, dtype=dtype, return_sequences=True, return_state=True, unroll=unroll,
                         **opts, **flags)
    layer(torch.zeros(1, T, FEATURES, dtype=getattr(torch, dtype)))
    layer.set_weights(weights)
    return layer


def _loss_weights(rng, kind):
    return rng.normal(size=(B, T, UNITS)), [rng.normal(size=(B, UNITS)) for _ in range(N_STATES[kind])]


def _numpy_loss(kind, x, w, states, opts, out_w, state_w, **call):
    outputs, _, final = numpy_rnn(kind, x, w, states, opts, **call)
    return float((outputs * out_w).sum() + sum((s * sw).sum() for s, sw in zip(final, state_w)))


def _finite_difference(f, arrays, eps=1e-6):
    """Central differences of the scalar `f()` with respect to each array of `arrays` (changed in place)."""
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            keep = a[i]
            a[i] = keep + eps
            up = f()
            a[i] = keep - eps
            down = f()
            a[i] = keep
            g[i] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


def _run(layer, x, states, mask=None):
    """The layer's outputs and final states, and the gradients of the weighted loss w.r.t. weights, x, states."""
    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in states]
    out = layer(xt, initial_state=st, mask=None if mask is None else torch.tensor(mask))
    return out, xt, st


@pytest.mark.parametrize("kind,opts,fusable", CONFIGS, ids=[f"{k}-{o}" for k, o, _ in CONFIGS])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_fused_and_loop_paths_match_numpy_forward_and_gradients(kind, opts, fusable, go_backwards, monkeypatch):
    rng = np.random.default_rng(abs(hash((kind, str(opts), go_backwards))) % 2**32)
    w = _weights(kind, rng, opts.get("use_bias", True), opts.get("reset_after", True))
    x = rng.normal(size=(B, T, FEATURES))
    states = [rng.normal(0, 0.5, size=(B, UNITS)) for _ in range(N_STATES[kind])]
    out_w, state_w = _loss_weights(rng, kind)
    ref_outputs, ref_last, ref_states = numpy_rnn(kind, x, w, states, opts, go_backwards=go_backwards)
    ref_grads = _finite_difference(
        lambda: _numpy_loss(kind, x, w, states, opts, out_w, state_w, go_backwards=go_backwards),
        [*w, x, *states])

    import plait.layers.rnn as rnn_module
    calls = []
    fused = rnn_module.fused_sequence
    monkeypatch.setattr(rnn_module, "fused_sequence", lambda *a: calls.append(a[0]) or fused(*a))

    results = {}
    for unroll in (False, True):
        calls.clear()
        layer = _layer(kind, opts, w, unroll=unroll, go_backwards=go_backwards)
        (outputs, *final), xt, st = _run(layer, x, states)
        assert bool(calls) == (fusable and not unroll), f"fused kernel used: {calls}, expected {fusable}"
        loss = (outputs * torch.tensor(out_w)).sum() + sum((s * torch.tensor(sw)).sum()
                                                          for s, sw in zip(final, state_w))
        grads = torch.autograd.grad(loss, [*layer.weights, xt, *st])
        np.testing.assert_allclose(outputs.detach().numpy(), ref_outputs, rtol=1e-5, atol=1e-5)
        for got, ref in zip(final, ref_states):
            np.testing.assert_allclose(got.detach().numpy(), ref, rtol=1e-5, atol=1e-5)
        for got, ref in zip(grads, ref_grads):
            np.testing.assert_allclose(got.numpy(), ref, rtol=1e-5, atol=1e-5)
        results[unroll] = [outputs.detach(), *[s.detach() for s in final], *grads]
    for a, b in zip(results[False], results[True]):  # fused against loop, directly
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-9)
    assert np.allclose(ref_last, ref_outputs[:, -1])


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_masked_steps_keep_the_state_and_repeat_or_zero_the_output(kind, zero_output_for_mask):
    rng = np.random.default_rng(7)
    w = _weights(kind, rng)
    x = rng.normal(size=(B, T, FEATURES))
    states = [np.zeros((B, UNITS)) for _ in range(N_STATES[kind])]
    # left padding, a hole in the middle, right padding
    mask = np.array([[False, True, True, True], [True, False, True, False], [True, True, False, False]])
    out_w, state_w = _loss_weights(rng, kind)
    call = {"mask": mask, "zero_output_for_mask": zero_output_for_mask}
    ref_outputs, _, ref_states = numpy_rnn(kind, x, w, states, {}, **call)
    ref_grads = _finite_difference(lambda: _numpy_loss(kind, x, w, states, {}, out_w, state_w, **call), [*w, x])
    layer = _layer(kind, {}, w, unroll=False, zero_output_for_mask=zero_output_for_mask)
    (outputs, *final), xt, _ = _run(layer, x, states, mask)
    np.testing.assert_allclose(outputs.detach().numpy(), ref_outputs, rtol=1e-5, atol=1e-5)
    for got, ref in zip(final, ref_states):
        np.testing.assert_allclose(got.detach().numpy(), ref, rtol=1e-5, atol=1e-5)
    loss = (outputs * torch.tensor(out_w)).sum() + sum((s * torch.tensor(sw)).sum() for s, sw in zip(final, state_w))
    for got, ref in zip(torch.autograd.grad(loss, [*layer.weights, xt]), ref_grads):
        np.testing.assert_allclose(got.numpy(), ref, rtol=1e-5, atol=1e-5)
    # the last output (return_sequences=False) is the last unmasked step's
    last = LAYERS[kind](UNITS, dtype="float64")
    last(torch.zeros(1, T, FEATURES, dtype=torch.float64))
    last.set_weights(w)
    np.testing.assert_allclose(last(torch.tensor(x), mask=torch.tensor(mask)).detach().numpy(),
                               numpy_rnn(kind, x, w, states, {}, mask=mask)[1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru"])
def test_float32_layers_match_the_float64_reference(kind):
    rng = np.random.default_rng(3)
    w = _weights(kind, rng)
    x = rng.normal(size=(B, T, FEATURES))
    states = [np.zeros((B, UNITS)) for _ in range(N_STATES[kind])]
    ref_outputs = numpy_rnn(kind, x, w, states, {})[0]
    for unroll in (False, True):
        layer = _layer(kind, {}, [a.astype("float32") for a in w], unroll=unroll, dtype="float32")
        outputs = layer(torch.tensor(x, dtype=torch.float32))[0]
        # float32 weights and inputs: rounding of about 1e-7 relative per operation, over T steps
        np.testing.assert_allclose(outputs.detach().numpy(), ref_outputs, rtol=1e-5, atol=1e-5)
