"""MultiHeadAttention and GroupedQueryAttention against a float64 NumPy re-derivation of Keras's math.

The reference below is written from Keras's equations (einsum projections, a masked softmax that fills -1e9 and
zeroes masked entries after) and shares no code with plait: plait projects with one matmul per weight and attends
with `scaled_dot_product_attention` (the fast path) or a matmul softmax (the explicit path, taken when the scores are
returned). Gradients are the reference's central differences in float64. plait runs in float64 here (layers built
with dtype="float64"), so 1e-5 tolerances are loose bounds, not float32 rounding allowances.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pytest
import torch

import plait
from plait.layers import GroupedQueryAttention, GroupQueryAttention, MultiHeadAttention


def softmax(scores: np.ndarray, mask: np.ndarray | None = None, axes: int = 1) -> np.ndarray:
    """Keras's `Softmax(axis=last axes)(scores, mask)`."""
    if mask is not None:
        scores = np.where(mask, scores, -1e9)
    flat = scores.reshape(scores.shape[:scores.ndim - axes] + (-1,))
    e = np.exp(flat - flat.max(-1, keepdims=True))
    probs = (e / e.sum(-1, keepdims=True)).reshape(scores.shape)
    return probs if mask is None else probs * mask


def keras_mask(query: np.ndarray, value: np.ndarray, *, query_mask=None, value_mask=None, attention_mask=None,
               use_causal_mask: bool = False) -> np.ndarray | None:
    """Keras's `_compute_attention_mask` for (B, T, ...) query and (B, S, ...) value."""
    parts = []
    if query_mask is not None:
        parts.append(np.asarray(query_mask, bool)[:, :, None])
    if value_mask is not None:
        parts.append(np.asarray(value_mask, bool)[:, None, :])
    if use_causal_mask:
        t, s = query.shape[1], value.shape[1]
        parts.append((np.arange(t)[:, None] >= np.arange(s)[None, :])[None])
    if attention_mask is not None:
        parts.append(np.asarray(attention_mask, bool))
    if not parts:
        return None
    out = parts[0]
    for p in parts[1:]:
        out = out & p
    return out


def project(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """Keras's EinsumDense of MultiHeadAttention's query/key/value: `...d,dhk->...hk`."""
    out = np.einsum("...d,dhk->...hk", x, kernel)
    return out if bias is None else out + bias


def attend_axes(q: np.ndarray, k: np.ndarray, v: np.ndarray, axes: Sequence[int], mask: np.ndarray | None):
    """Attention of projected `(B, ..., H, D)` tensors over `axes`, by moving them next to the head dim: scores come
    back in Keras's layout `(<other dims and heads>, <query axes>, <key axes>)`."""
    rank, n = q.ndim, len(axes)
    batch = [i for i in range(rank - 1) if i not in axes]
    perm = batch + list(axes) + [rank - 1]
    qp, kp, vp = (np.transpose(t, perm) for t in (q, k, v))
    lead, tq, tk = qp.shape[:len(batch)], qp.shape[len(batch):-1], kp.shape[len(batch):-1]
    scores = (qp.reshape(lead + (-1, q.shape[-1])) / np.sqrt(q.shape[-1])) @ \
        np.swapaxes(kp.reshape(lead + (-1, k.shape[-1])), -1, -2)
    scores = scores.reshape(lead + tq + tk)
    if mask is not None:
        while mask.ndim < scores.ndim:  # Keras inserts the missing dims before the attention dims
            mask = np.expand_dims(mask, -2 * n - 1)
        mask = np.broadcast_to(mask, scores.shape)
    probs = softmax(scores, mask, axes=n)
    out = probs.reshape(lead + (int(np.prod(tq)), -1)) @ vp.reshape(lead + (-1, v.shape[-1]))
    out = out.reshape(lead + tq + (v.shape[-1],))
    return np.transpose(out, np.argsort(perm)), probs


def mha(weights: Sequence[np.ndarray], query, value, key=None, mask=None, axes=None, kv_repeats: int = 1):
    """Keras's MultiHeadAttention (and, with `kv_repeats`, GroupedQueryAttention) forward: (output, scores)."""
    wq, bq, wk, bk, wv, bv, wo, bo = weights
    key = value if key is None else key
    q, k, v = project(query, wq, bq), project(key, wk, bk), project(value, wv, bv)
    if kv_repeats > 1:
        k, v = np.repeat(k, kv_repeats, axis=-2), np.repeat(v, kv_repeats, axis=-2)
    axes = tuple(range(1, query.ndim - 1)) if axes is None else tuple(axes)
    out, probs = attend_axes(q, k, v, axes, mask)
    out_dims = "".join("xyz"[: wo.ndim - 2])
    return np.einsum(f"...hk,hk{out_dims}->...{out_dims}", out, wo) + bo, probs


def numeric_grads(loss: Callable[[list[np.ndarray]], float], arrays: list[np.ndarray], h: float = 1e-6
                  ) -> list[np.ndarray]:
    """Central-difference gradients of `loss(arrays)` with respect to every array (float64: error ~h^2)."""
    grads = []
    for i, a in enumerate(arrays):
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            plus, minus = [x.copy() for x in arrays], [x.copy() for x in arrays]
            plus[i][idx] += h
            minus[i][idx] -= h
            g[idx] = (loss(plus) - loss(minus)) / (2 * h)
        grads.append(g)
    return grads


# ---------------------------------------------------------------------------------------------------- helpers
RTOL = ATOL = 1e-5


def _weights(layer, rng, *inputs) -> list[np.ndarray]:
    """Builds `layer` for `inputs` (Keras's `build(query_shape, value_shape, key_shape)`) and writes random weights
    into it (biases too: the initializer's zeros would hide them)."""
    if not layer.built:
        layer.build(*[(None,) + a.shape[1:] for a in inputs if a is not None])
    arrays = [rng.standard_normal(tuple(w.shape)) * 0.5 for w in layer.weights]
    layer.set_weights(arrays)
    return arrays


def _tensor(a: np.ndarray | None, grad: bool = False) -> torch.Tensor | None:
    return None if a is None else torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def _run(layer, query, value, key, call_kwargs, return_scores, upstream):
    """plait's output, scores and the gradients of `sum(output * upstream)` for the inputs and the weights."""
    q, v, k = _tensor(query, True), _tensor(value, True), _tensor(key, True)
    for w in layer.weights:
        w.grad = None
    result = layer(q, v, k, return_attention_scores=return_scores, **call_kwargs)
    out, scores = result if return_scores else (result, None)
    (out * torch.as_tensor(upstream)).sum().backward()
    inputs = [t for t in (q, v, k) if t is not None]
    return (out.detach().numpy(), None if scores is None else scores.detach().numpy(),
            [t.grad.numpy() for t in inputs] + [w.grad.numpy() for w in layer.weights])


def _check_against_reference(layer, query, value, key=None, call_kwargs=None, ref_mask=None, axes=None,
                             kv_repeats=1, grads=True):
    call_kwargs = call_kwargs or {}
    rng = np.random.default_rng(7)
    weights = _weights(layer, rng, query, value, key)
    ref_out, ref_scores = mha(weights, query, value, key, ref_mask, axes, kv_repeats)
    upstream = rng.standard_normal(ref_out.shape)
    inputs = [a for a in (query, value, key) if a is not None]

    def loss(arrays):
        q, v, *rest = arrays[:len(inputs)]
        k = rest[0] if rest else None
        return float((mha(arrays[len(inputs):], q, v, k, ref_mask, axes, kv_repeats)[0] * upstream).sum())

    ref_grads = numeric_grads(loss, inputs + weights) if grads else None
    runs = {}
    for scores_wanted in (False, True):  # the fused path, then the explicit softmax
        out, scores, got_grads = _run(layer, query, value, key, call_kwargs, scores_wanted, upstream)
        np.testing.assert_allclose(out, ref_out, rtol=RTOL, atol=ATOL)
        if scores_wanted:
            np.testing.assert_allclose(scores, ref_scores, rtol=RTOL, atol=ATOL)
        if grads:
            for got, want in zip(got_grads, ref_grads):
                np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
        runs[scores_wanted] = (out, got_grads)
    # The two paths against each other, tighter than against the reference.
    np.testing.assert_allclose(runs[False][0], runs[True][0], rtol=1e-10, atol=1e-12)
    for a, b in zip(runs[False][1], runs[True][1]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


def _data(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


# ---------------------------------------------------------------------------------------------------- MHA math
def _masks(b, t, s, seed=3):
    rng = np.random.default_rng(seed)
    attention = rng.random((b, t, s)) > 0.4
    attention[0, 1] = False  # a query that may attend nothing: Keras's masked softmax gives it zero weights
    attention[:, :, 0] = True
    return attention, rng.random((b, t)) > 0.3, np.array([[True] * (s - 1) + [False]] * b)


@pytest.mark.parametrize("masking", ["none", "attention_mask", "causal", "query_value_masks", "all"])
def test_multi_head_attention_matches_keras_math_on_both_paths(masking):
    query, value = _data((2, 3, 5), (2, 4, 6))
    attention, query_mask, value_mask = _masks(2, 3, 4)
    kwargs = {"none": {}, "attention_mask": {"attention_mask": attention}, "causal": {"use_causal_mask": True},
              "query_value_masks": {"query_mask": query_mask, "value_mask": value_mask},
              "all": {"attention_mask": attention, "use_causal_mask": True, "query_mask": query_mask,
                      "value_mask": value_mask}}[masking]
    mask = keras_mask(query, value, **kwargs)
    layer = MultiHeadAttention(num_heads=2, key_dim=3, dtype="float64")
    _check_against_reference(layer, query, value, call_kwargs=kwargs, ref_mask=mask)


def test_multi_head_attention_with_key_value_dim_and_output_shape():
    query, value, key = _data((2, 3, 5), (2, 4, 6), (2, 4, 7))
    layer = MultiHeadAttention(num_heads=3, key_dim=2, value_dim=4, output_shape=(2, 3), dtype="float64")
    attention = _masks(2, 3, 4)[0]
    _check_against_reference(layer, query, value, key, {"attention_mask": attention}, attention)
    assert [tuple(w.shape) for w in layer.weights] == [(5, 3, 2), (3, 2), (7, 3, 2), (3, 2), (6, 3, 4), (3, 4),
                                                        (3, 4, 2, 3), (2, 3)]
    assert layer.compute_output_shape((None, 3, 5), (None, 4, 6), (None, 4, 7)) == (None, 3, 2, 3)


def test_multi_head_attention_over_two_axes_flattens_them_for_the_fused_path():
    (x,) = _data((2, 3, 2, 4))
    mask = np.random.default_rng(1).random((2, 3, 2, 3, 2)) > 0.3  # (B, X, Y, X', Y'), as Keras takes it
    for axes in (None, (1, 2), (-3, -2)):
        layer = MultiHeadAttention(num_heads=2, key_dim=2, attention_axes=axes, dtype="float64")
        _check_against_reference(layer, x, x, call_kwargs={"attention_mask": mask}, ref_mask=mask, axes=(1, 2),
                                 grads=axes is None)
    out, scores = layer(torch.tensor(x), torch.tensor(x), return_attention_scores=True)
    assert tuple(scores.shape) == (2, 2, 3, 2, 3, 2)  # (B, heads, X, Y, X', Y')


@pytest.mark.parametrize("axes", [(2,), (1,)])
def test_multi_head_attention_over_chosen_axes_uses_keras_einsum_layout(axes):
    (x,) = _data((2, 3, 4, 5))
    layer = MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=axes, dtype="float64")
    rng = np.random.default_rng(5)
    weights = _weights(layer, rng, x, x)
    mask = rng.random((2, 3, 4, 4) if axes == (2,) else (2, 4, 3, 3)) > 0.3
    ref_out, ref_scores = mha(weights, x, x, mask=mask, axes=axes)
    out, scores = layer(torch.tensor(x), torch.tensor(x), attention_mask=torch.tensor(mask),
                        return_attention_scores=True)
    np.testing.assert_allclose(out.detach().numpy(), ref_out, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(scores.detach().numpy(), ref_scores, rtol=RTOL, atol=ATOL)
    # Keras's scores layout: the other middle axis stays a batch-like axis before the heads.
    assert scores.shape == ((2, 3, 2, 4, 4) if axes == (2,) else (2, 4, 2, 3, 3))


def test_fast_and_explicit_paths_agree_in_float32():
    plait.set_random_seed(0)
    layer = MultiHeadAttention(num_heads=4, key_dim=8, value_dim=6)
    q, v = torch.randn(8, 10, 16), torch.randn(8, 12, 16)
    mask = torch.rand(8, 10, 12) > 0.2
    fast = layer(q, v, attention_mask=mask, use_causal_mask=False)
    explicit, _ = layer(q, v, attention_mask=mask, return_attention_scores=True)
    torch.testing.assert_close(fast, explicit, rtol=1e-5, atol=1e-5)


def test_fully_masked_query_rows_give_the_output_bias_on_both_paths():
    layer = MultiHeadAttention(num_heads=2, key_dim=3, bias_initializer="ones")
    q = torch.randn(2, 3, 4)
    mask = torch.ones(2, 3, 3, dtype=torch.bool)
    mask[:, 1] = False
    for scores_wanted in (False, True):
        out = layer(q, q, attention_mask=mask, return_attention_scores=scores_wanted)
        out = out[0] if scores_wanted else out
        torch.testing.assert_close(out[:, 1], torch.ones(2, 4), rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------------------------------- GQA
@pytest.mark.parametrize("kv_heads", [1, 2, 4])
def test_grouped_query_attention_matches_keras_math(kv_heads):
    query, value = _data((2, 3, 5), (2, 4, 6))
    attention = _masks(2, 3, 4)[0]
    layer = GroupedQueryAttention(head_dim=2, num_query_heads=4, num_key_value_heads=kv_heads, dtype="float64")
    mask = keras_mask(query, value, attention_mask=attention, use_causal_mask=True)
    _check_against_reference(layer, query, value, None, {"attention_mask": attention, "use_causal_mask": True},
                             mask, kv_repeats=4 // kv_heads)
    assert [tuple(w.shape) for w in layer.weights] == [(5, 4, 2), (4, 2), (6, kv_heads, 2), (kv_heads, 2),
                                                        (6, kv_heads, 2), (kv_heads, 2), (4, 2, 5), (5,)]


def test_grouped_query_attention_with_as_many_kv_heads_is_multi_head_attention():
    plait.set_random_seed(1)
    gqa = GroupQueryAttention(head_dim=3, num_query_heads=2, num_key_value_heads=2)
    mha_layer = MultiHeadAttention(num_heads=2, key_dim=3)
    x = torch.randn(3, 5, 4)
    gqa(x, x), mha_layer(x, x)
    mha_layer.set_weights(gqa.get_weights())  # the same Keras layout, so the weights carry over as they are
    # Not bit-exact: the two layers run the same ops, but through different Python, so allow float32 rounding.
    torch.testing.assert_close(gqa(x, x, use_causal_mask=True), mha_layer(x, x, use_causal_mask=True),
                               rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("cls, kwargs", [(MultiHeadAttention, {"num_heads": 2, "key_dim": 4}),
                                         (GroupedQueryAttention, {"head_dim": 4, "num_query_heads": 2,
                                                                  "num_key_value_heads": 1})])
def test_dropout_acts_only_in_training(cls, kwargs):
    layer = cls(dropout=0.5, **kwargs)
    x = torch.randn(4, 6, 8)
    inferred = layer(x, x)
    torch.testing.assert_close(layer(x, x, training=False), inferred, rtol=0, atol=0)
    assert not torch.allclose(layer(x, x, training=True), inferred)
    seeded = cls(dropout=0.5, seed=3, **kwargs)
    seeded(x, x)
    seeded.set_weights(layer.get_weights())
    torch.testing.assert_close(seeded(x, x), inferred, rtol=1e-6, atol=1e-6)
    first, _ = seeded(x, x, training=True, return_attention_scores=True)
    again = cls.from_config(seeded.get_config())
    again(x, x)
    again.set_weights(layer.get_weights())
    torch.testing.assert_close(again(x, x, training=True), first, rtol=1e-6, atol=1e-6)  # seeded masks repeat
