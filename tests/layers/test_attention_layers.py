"""Attention and AdditiveAttention against a float64 NumPy re-derivation of Keras's math, forward and gradients.

The reference follows Keras's `Attention._calculate_scores` / `_apply_scores` (scores minus 1e9 where masked, a
softmax, the query mask applied to the output) with NumPy broadcasting; plait runs in float64 here
(dtype="float64"), and gradients are checked against float64 torch autograd of the same NumPy-shaped formulas
written in torch (`_reference(xp=torch)`), so both sides of every comparison are computed independently.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import plait
from plait.layers import AdditiveAttention, Attention


def _reference(xp, q, v, k, *, mode, scale=None, concat_weight=None, query_mask=None, value_mask=None,
               causal=False):
    """Keras's attention in `xp` (numpy or torch, float64): returns (output, weights)."""
    k = v if k is None else k
    if mode == "dot":
        scores = q @ xp.swapaxes(k, -1, -2) if xp is np else q @ k.transpose(-1, -2)
        scores = scores if scale is None else scores * scale
    else:
        summed = q[:, :, None, :] + k[:, None, :, :]
        if mode == "additive":
            scores = (xp.tanh(summed) * (1.0 if scale is None else scale)).sum(-1)
        else:
            scores = concat_weight * xp.tanh(summed if scale is None else scale * summed).sum(-1)
    keep = None
    if value_mask is not None:
        keep = value_mask[:, None, :]
    if causal:
        tri = np.tril(np.ones(scores.shape[-2:], bool))[None]
        keep = tri if keep is None else keep & tri
    if keep is not None:
        penalty = 1e9 * (~keep).astype(np.float64)
        scores = scores - (penalty if xp is np else torch.as_tensor(penalty))
    e = xp.exp(scores - (scores.max(-1, keepdims=True) if xp is np else scores.max(-1, keepdim=True).values))
    weights = e / e.sum(-1, **({"keepdims": True} if xp is np else {"keepdim": True}))
    out = weights @ v
    if query_mask is not None:
        out = out * (query_mask[:, :, None] if xp is np else torch.as_tensor(query_mask[:, :, None]))
    return out, weights


CASES = {
    "dot": (Attention, {}, {"mode": "dot"}),
    "dot_scaled": (Attention, {"use_scale": True}, {"mode": "dot"}),
    "concat": (Attention, {"score_mode": "concat"}, {"mode": "concat"}),
    "concat_scaled": (Attention, {"score_mode": "concat", "use_scale": True}, {"mode": "concat"}),
    "additive": (AdditiveAttention, {}, {"mode": "additive"}),
    "additive_unscaled": (AdditiveAttention, {"use_scale": False}, {"mode": "additive"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("masking", ["none", "masks", "causal_and_masks"])
@pytest.mark.parametrize("with_key", [False, True])
def test_attention_layers_match_keras_math(name, masking, with_key):
    cls, kwargs, ref_kwargs = CASES[name]
    rng = np.random.default_rng(0)
    q, v, k = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 6)), rng.standard_normal((2, 5, 4))
    if not with_key:
        v = rng.standard_normal((2, 5, 4))  # the value is the key: same last dim as the query
    query_mask = np.array([[True, True, False], [True, False, True]])
    value_mask = np.array([[True, True, True, False, False], [False, True, True, True, True]])
    call_masks = {} if masking == "none" else {"mask": [query_mask, value_mask]}
    layer = cls(dtype="float64", **kwargs)
    inputs = [torch.tensor(a, requires_grad=True) for a in ([q, v, k] if with_key else [q, v])]
    layer(inputs)
    params = {}
    for w in layer.weights:  # non-trivial values, so that a missing scale would show
        with torch.no_grad():
            w.copy_(torch.as_tensor(rng.uniform(0.5, 1.5, tuple(w.shape))))
        params[w._plait_path.rsplit("/", 1)[1]] = w.detach().numpy().copy()
    ref_args = dict(ref_kwargs, scale=params.get("scale"), concat_weight=params.get("concat_score_weight"),
                    causal=masking == "causal_and_masks")
    if masking != "none":
        ref_args.update(query_mask=query_mask, value_mask=value_mask)
    out, weights = layer(inputs, return_attention_scores=True, use_causal_mask=masking == "causal_and_masks",
                         **call_masks)
    ref_out, ref_weights = _reference(np, q, v, k if with_key else None, **ref_args)
    np.testing.assert_allclose(out.detach().numpy(), ref_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(weights.detach().numpy(), ref_weights, rtol=1e-5, atol=1e-6)
    assert tuple(out.shape) == layer.compute_output_shape([tuple(t.shape) for t in inputs])

    upstream = torch.as_tensor(rng.standard_normal(ref_out.shape))
    (out * upstream).sum().backward()
    ref_inputs = [torch.tensor(t.detach().numpy(), requires_grad=True) for t in inputs]
    ref_params = {n: torch.tensor(p, requires_grad=True) for n, p in params.items()}
    ref_args.update(scale=ref_params.get("scale"), concat_weight=ref_params.get("concat_score_weight"))
    torch_out, _ = _reference(torch, ref_inputs[0], ref_inputs[1], ref_inputs[2] if with_key else None, **ref_args)
    (torch_out * upstream).sum().backward()
    for got, want in zip(inputs, ref_inputs):
        np.testing.assert_allclose(got.grad.numpy(), want.grad.numpy(), rtol=1e-5, atol=1e-6)
    for w in layer.weights:
        want = ref_params[w._plait_path.rsplit("/", 1)[1]].grad
        np.testing.assert_allclose(w.grad.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


def test_attention_weights_and_config_follow_keras():
    layer = AdditiveAttention()
    layer([torch.randn(2, 3, 4), torch.randn(2, 5, 4)])
    assert [tuple(w.shape) for w in layer.weights] == [(4,)]
    assert "score_mode" not in layer.get_config()
    assert {"use_scale": True, "dropout": 0.0}.items() <= layer.get_config().items()
    layer = Attention(use_scale=True, score_mode="concat")
    layer([torch.randn(2, 3, 4), torch.randn(2, 5, 4)])
    assert [w._plait_path.rsplit("/", 1)[1] for w in layer.weights] == ["scale", "concat_score_weight"]
    assert Attention.from_config(layer.get_config()).get_config() == layer.get_config()


def test_attention_dropout_only_in_training():
    layer = Attention(dropout=0.5, seed=2)
    q, v = torch.randn(4, 6, 8), torch.randn(4, 7, 8)
    inferred = layer([q, v])
    torch.testing.assert_close(layer([q, v], training=False), inferred, rtol=0, atol=0)
    assert not torch.allclose(layer([q, v], training=True), inferred)


def test_attention_in_a_functional_model_returns_scores_and_saves(tmp_path):
    q_in, v_in = plait.Input((3, 4)), plait.Input((5, 4))
    out, scores = Attention(use_scale=True)([q_in, v_in], return_attention_scores=True)
    assert out.shape == (None, 3, 4) and scores.shape == (None, 3, 5)
    model = plait.Model([q_in, v_in], [out, scores])
    rng = np.random.default_rng(0)
    q, v = rng.standard_normal((2, 3, 4)).astype("float32"), rng.standard_normal((2, 5, 4)).astype("float32")
    got = model.predict([q, v], verbose=0)
    assert [a.shape for a in got] == [(2, 3, 4), (2, 3, 5)]
    model.save(tmp_path / "m.plait")
    restored = plait.load_model(tmp_path / "m.plait")
    for a, b in zip(restored.predict([q, v], verbose=0), got):
        np.testing.assert_array_equal(a, b)  # bit-exact: the saved weights, the same kernels on the same batch


@pytest.mark.parametrize("call, message", [
    (lambda: Attention()(torch.randn(2, 3, 4)), "must be called on a list of inputs"),
    (lambda: Attention()([torch.randn(2, 3, 4)] * 4), "list of 4"),
    (lambda: Attention()([torch.randn(2, 3, 4), torch.randn(2, 5, 6)]), "same last dimension"),
    (lambda: Attention()([torch.randn(2, 3, 4)] * 2, mask=torch.ones(2, 3)), "mask must be a list"),
    (lambda: Attention(score_mode="cosine"), "score_mode"),
    (lambda: Attention(dropout=1.5), "dropout must be a number in"),
])
def test_attention_errors_say_what_to_do(call, message):
    with pytest.raises(ValueError, match=message):
        call()
