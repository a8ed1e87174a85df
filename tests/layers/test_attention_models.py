"""The attention layers in models: Keras's call forms in functional graphs, config and save/load round trips,
`jit_compile=True` against eager, and a small transformer that learns a planted token-order rule."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch._dynamo.utils import counters

import plait
from plait import layers as L


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread (and a loaded machine's other threads cost the most)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ---------------------------------------------------------------------------------------------------- graphs
def test_keras_call_forms_trace_a_functional_graph_and_save(tmp_path):
    query_in, value_in, key_in = plait.Input((5, 8)), plait.Input((6, 4)), plait.Input((6, 3))
    mask_in = plait.Input((5, 6), dtype="bool")
    mha = L.MultiHeadAttention(num_heads=2, key_dim=4, value_dim=3, output_shape=7)
    out, scores = mha(query_in, value_in, key=key_in, attention_mask=mask_in, return_attention_scores=True)
    assert out.shape == (None, 5, 7) and scores.shape == (None, 2, 5, 6)
    self_att = L.MultiHeadAttention(num_heads=2, key_dim=4)(query_in, query_in, use_causal_mask=True)
    gqa = L.GroupQueryAttention(head_dim=2, num_query_heads=4, num_key_value_heads=2)(self_att, value_in)
    assert self_att.shape == gqa.shape == (None, 5, 8)
    model = plait.Model([query_in, value_in, key_in, mask_in], [L.Concatenate()([out, gqa]), scores])
    rng = np.random.default_rng(0)
    data = [rng.standard_normal((3, 5, 8)), rng.standard_normal((3, 6, 4)), rng.standard_normal((3, 6, 3)),
            rng.random((3, 5, 6)) > 0.3]
    data = [a.astype("float32") if a.dtype == np.float64 else a for a in data]
    got = model.predict(data, verbose=0)
    assert [a.shape for a in got] == [(3, 5, 15), (3, 2, 5, 6)]
    # The mask reached the layer: masked entries have zero probability.
    assert np.all(got[1][~np.broadcast_to(data[3][:, None], got[1].shape)] == 0)

    model.save(tmp_path / "m.plait")
    restored = plait.load_model(tmp_path / "m.plait")
    assert [type(layer).__name__ for layer in restored.layers].count("MultiHeadAttention") == 2
    for a, b in zip(restored.predict(data, verbose=0), got):
        np.testing.assert_array_equal(a, b)  # bit-exact: the saved weights, the same kernels on the same batch
    restored_mha = restored.get_layer(mha.name)
    assert restored_mha.get_config() == mha.get_config()


@pytest.mark.parametrize("layer", [
    L.MultiHeadAttention(3, 4, value_dim=2, dropout=0.1, use_bias=False, output_shape=(2, 3), attention_axes=2,
                         kernel_initializer="he_normal", kernel_regularizer="l2", seed=4),
    L.GroupedQueryAttention(4, 6, 3, dropout=0.2, bias_initializer="ones"),
    L.GroupNormalization(groups=-1, axis=1, epsilon=1e-5, center=False),
    L.UnitNormalization(axis=(1, 2)),
])
def test_config_round_trips_through_json(layer):
    import json
    config = json.loads(json.dumps(layer.get_config()))
    assert type(layer).from_config(config).get_config() == config


def test_keras_configs_load():
    """A config as Keras 3 writes it (with the keys plait ignores or keeps at their defaults) builds the layer."""
    keras_mha = {"name": "mha", "trainable": True, "num_heads": 2, "key_dim": 4, "value_dim": 4, "dropout": 0.0,
                 "use_bias": True, "output_shape": None, "attention_axes": None, "flash_attention": None,
                 "kernel_initializer": "glorot_uniform", "bias_initializer": "zeros", "kernel_regularizer": None,
                 "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
                 "bias_constraint": None, "seed": None}
    layer = L.LAYERS.lookup("MultiHeadAttention").from_config(keras_mha)
    assert layer(torch.randn(2, 3, 8), torch.randn(2, 3, 8)).shape == (2, 3, 8)
    keras_gqa = {k: v for k, v in keras_mha.items() if k not in {"num_heads", "key_dim", "value_dim", "output_shape",
                                                                 "attention_axes"}}
    keras_gqa.update(name="gqa", head_dim=4, num_query_heads=2, num_key_value_heads=1)
    for name in ("GroupQueryAttention", "GroupedQueryAttention"):
        assert L.LAYERS.lookup(name).from_config(keras_gqa).num_repeats == 2


@pytest.mark.parametrize("call, error, message", [
    (lambda: L.MultiHeadAttention(2, 4)(torch.randn(2, 3, 8)), TypeError, "needs a query and a value"),
    (lambda: L.MultiHeadAttention(0, 4), ValueError, "num_heads must be a positive integer, got 0"),
    (lambda: L.MultiHeadAttention(2, 4, attention_axes=3)(torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)),
     ValueError, "attention_axes"),
    (lambda: L.MultiHeadAttention(2, 4)(torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5), use_causal_mask=True),
     ValueError, "use_causal_mask=True needs"),
    (lambda: L.MultiHeadAttention(2, 4)(torch.randn(2, 3, 8), torch.randn(2, 4, 8), torch.randn(2, 5, 8)),
     ValueError, "value and key except the last must be equal"),
    (lambda: L.MultiHeadAttention(2, 4, activity_regularizer="l2"), ValueError, "activity_regularizer"),
    (lambda: L.GroupedQueryAttention(4, 6, 4), ValueError, "divisible by num_key_value_heads"),
    (lambda: L.GroupedQueryAttention(4, 4, 2)(torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)), ValueError,
     "needs \\(batch, sequence, features\\)"),
])
def test_errors_say_what_was_received_and_how_to_fix_it(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------------------------------------------- fit
def _every_new_layer_model(jit_compile: bool):
    plait.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 6, 8)).astype("float32")
    y = (x[:, 0, 0] > 0).astype("int64")
    inp = plait.Input((6, 8))
    h = L.MultiHeadAttention(2, 4)(inp, inp, use_causal_mask=True)
    h = L.GroupedQueryAttention(4, 4, 2)(h, inp)
    h = L.GroupNormalization(groups=4)(L.LayerNormalization()(L.Add()([inp, h])))
    h = L.AdditiveAttention()([L.Attention(use_scale=True)([L.UnitNormalization()(h), inp]), inp])
    model = plait.Model(inp, L.Dense(2, activation="softmax")(L.GlobalAveragePooling1D()(h)))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile=jit_compile)
    return model.fit(x, y, batch_size=32, epochs=3, verbose=0, shuffle=False, diagnostics=False).history["loss"]


def test_jit_compile_traces_every_new_layer_into_one_graph_with_the_eager_loss_curve(one_thread):
    eager = _every_new_layer_model(False)
    counters.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the eager fallback warns: it must not happen
        compiled = _every_new_layer_model(True)
    assert not counters["graph_break"], dict(counters["graph_break"])
    assert counters["stats"]["unique_graphs"] >= 1  # it compiled (a failed trace leaves no graph)
    # Not bit-exact: the compiled graph fuses and reorders float32 operations.
    np.testing.assert_allclose(compiled, eager, rtol=1e-5)


def _token_order_data(n: int, length: int, vocab: int, rng: np.random.Generator):
    """Random tokens with one 7 and one 3 planted at random places; label: the 7 comes first."""
    x = rng.integers(1, vocab, size=(n, length))
    x[(x == 7) | (x == 3)] = 1
    first = rng.integers(0, length, n)
    second = (first + rng.integers(1, length, n)) % length
    x[np.arange(n), first], x[np.arange(n), second] = 7, 3
    return x, (first < second).astype("int64")


class TokenAndPositionEmbedding(L.Layer):
    """The Keras text-classification example's layer: token embeddings plus learned position embeddings."""

    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.maxlen, self.vocab_size, self.embed_dim = maxlen, vocab_size, embed_dim
        self.token_emb = L.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = L.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        positions = torch.arange(x.shape[-1], device=x.device)
        return self.token_emb(x) + self.pos_emb(positions)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.embed_dim,)


def test_a_small_transformer_learns_which_token_comes_first(one_thread):
    plait.set_random_seed(0)
    length, vocab = 8, 10
    x, y = _token_order_data(2000, length, vocab, np.random.default_rng(0))
    inputs = plait.Input((length,), dtype="int64")
    h = TokenAndPositionEmbedding(length, vocab, 32)(inputs)
    h = L.LayerNormalization()(L.Add()([h, L.MultiHeadAttention(num_heads=4, key_dim=8)(h, h)]))
    outputs = L.Dense(2, activation="softmax")(L.GlobalAveragePooling1D()(h))
    model = plait.Model(inputs, outputs)
    model.compile(optimizer=plait.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=64, epochs=8, validation_split=0.25, verbose=0, diagnostics=False)
    assert history.history["val_accuracy"][-1] >= 0.95, history.history["val_accuracy"]
