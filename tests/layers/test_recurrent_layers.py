"""SimpleRNN, LSTM and GRU as Keras users meet them: defaults, weight layout, shapes, configs, states, masks,
dropout, errors, saving, jit_compile, and an LSTM that learns a planted rule.

The equations themselves are checked against NumPy in test_recurrent_reference.py.
"""
from __future__ import annotations

import json
import time
import warnings

import numpy as np
import pytest
import torch

import plait
from plait.layers import GRU, LSTM, RNN, Dense, Masking, SimpleRNN


def _x(*shape, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype("float32"))


# ------------------------------------------------------------------------------------------- defaults and weights
def test_keras_weight_layout_and_initializers():
    plait.set_random_seed(0)
    lstm, gru, gru_before, rnn = LSTM(4), GRU(4), GRU(4, reset_after=False), SimpleRNN(4)
    for layer in (lstm, gru, gru_before, rnn):
        layer(_x(2, 5, 3))
    assert [tuple(w.shape) for w in lstm.weights] == [(3, 16), (4, 16), (16,)]
    assert [tuple(w.shape) for w in gru.weights] == [(3, 12), (4, 12), (2, 12)]
    assert [tuple(w.shape) for w in gru_before.weights] == [(3, 12), (4, 12), (12,)]
    assert [tuple(w.shape) for w in rnn.weights] == [(3, 4), (4, 4), (4,)]
    assert [w.path for w in lstm.weights] == ["lstm_cell/kernel", "lstm_cell/recurrent_kernel", "lstm_cell/bias"]
    # unit_forget_bias: the forget gate (Keras's gate order i, f, c, o) starts at 1, the rest at 0
    np.testing.assert_array_equal(lstm.cell.bias.detach().numpy(), [0] * 4 + [1] * 4 + [0] * 8)
    assert not LSTM(4, unit_forget_bias=False).cell.built
    plain = LSTM(4, unit_forget_bias=False)
    plain(_x(1, 2, 3))
    assert not plain.cell.bias.detach().any()
    rk = rnn.cell.recurrent_kernel.detach()  # orthogonal
    torch.testing.assert_close(rk @ rk.T, torch.eye(4), atol=1e-5, rtol=0)
    assert lstm.count_params() == 3 * 16 + 4 * 16 + 16
    assert (lstm.units, lstm.dropout, lstm.unit_forget_bias, gru.reset_after) == (4, 0.0, True, True)


@pytest.mark.parametrize("cls,n_states", [(SimpleRNN, 1), (LSTM, 2), (GRU, 1)])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("return_state", [False, True])
def test_output_shapes_eager_symbolic_and_computed(cls, n_states, return_sequences, return_state):
    layer = cls(4, return_sequences=return_sequences, return_state=return_state)
    out = layer(_x(2, 5, 3))
    expected = [(2, 5, 4) if return_sequences else (2, 4)] + [(2, 4)] * (n_states if return_state else 0)
    got = [tuple(t.shape) for t in out] if return_state else [tuple(out.shape)]
    assert got == expected
    symbolic = cls(4, return_sequences=return_sequences, return_state=return_state)(plait.Input((5, 3)))
    shapes = [t.shape for t in symbolic] if return_state else [symbolic.shape]
    assert shapes == [(None,) + s[1:] for s in expected]
    computed = layer.compute_output_shape((None, 5, 3))
    assert (computed if return_state else [computed]) == [(None,) + s[1:] for s in expected]


def test_go_backwards_processes_the_reversed_sequence_and_returns_it_reversed():
    x = _x(2, 5, 3)
    forward = LSTM(4, return_sequences=True)
    forward(x)
    backward = LSTM.from_config({**forward.get_config(), "go_backwards": True, "name": "back"})
    backward(x)
    backward.set_weights(forward.get_weights())
    torch.testing.assert_close(backward(x), forward(x.flip(1)))


# ------------------------------------------------------------------------------------------- config and saving
def test_config_round_trip_keeps_every_argument():
    layer = GRU(3, activation="relu", recurrent_activation="hard_sigmoid", use_bias=False, dropout=0.25,
                recurrent_dropout=0.5, seed=3, return_sequences=True, return_state=True, go_backwards=True,
                unroll=True, reset_after=False, kernel_regularizer=plait.regularizers.L2(1e-3),
                kernel_initializer="he_normal", name="g")
    config = json.loads(json.dumps(layer.get_config()))
    for key, value in {"units": 3, "activation": "relu", "recurrent_activation": "hard_sigmoid", "use_bias": False,
                       "dropout": 0.25, "recurrent_dropout": 0.5, "seed": 3, "return_sequences": True,
                       "return_state": True, "go_backwards": True, "unroll": True, "reset_after": False,
                       "stateful": False, "zero_output_for_mask": False, "name": "g"}.items():
        assert config[key] == value, key
    assert config["kernel_initializer"]["class_name"] == "HeNormal"
    assert config["kernel_regularizer"]["class_name"] == "L2"
    assert "cell" not in config  # as Keras: an LSTM's config is its cell's arguments, flat
    assert GRU.from_config(config).get_config() == config
    assert LSTM.from_config(LSTM(2).get_config()).get_config()["unit_forget_bias"] is True


def test_models_with_recurrent_layers_save_and_load(tmp_path):
    plait.set_random_seed(0)
    model = plait.Sequential([
        plait.Input((6, 3)),
        LSTM(5, return_sequences=True, dropout=0.1, kernel_regularizer="l2"),
        GRU(4, return_sequences=True, go_backwards=True, reset_after=False),
        SimpleRNN(3, activation="relu"),
        Dense(2),
    ])
    model.compile("adam", "mse")
    x, y = np.random.default_rng(0).standard_normal((16, 6, 3)), np.random.default_rng(1).standard_normal((16, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.plait")
    restored = plait.load_model(tmp_path / "m.plait")
    # bit-exact: the loaded weights are the saved bytes and predict runs the same kernels on the same batch
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [type(layer).__name__ for layer in restored.layers] == ["LSTM", "GRU", "SimpleRNN", "Dense"]


def test_functional_encoder_decoder_with_symbolic_initial_states(tmp_path):
    plait.set_random_seed(0)
    encoder_in, decoder_in = plait.Input((6, 3)), plait.Input((4, 2))
    _, h, c = LSTM(5, return_state=True)(encoder_in)
    decoded = LSTM(5, return_sequences=True)(decoder_in, initial_state=[h, c])
    model = plait.Model([encoder_in, decoder_in], Dense(2)(decoded))
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((8, 6, 3)).astype("float32"), rng.standard_normal((8, 4, 2)).astype("float32")]
    out = model.predict(x, verbose=0)
    # the decoder really starts from the encoder's states
    enc, dec = model.layers[-3], model.layers[-2]
    _, h_, c_ = enc(torch.from_numpy(x[0]))
    expected = model.layers[-1](dec(torch.from_numpy(x[1]), initial_state=[h_, c_]))
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "s2s.plait")
    np.testing.assert_array_equal(plait.load_model(tmp_path / "s2s.plait").predict(x, verbose=0), out)


# ------------------------------------------------------------------------------------------- states
def test_initial_state_from_numpy_and_its_errors():
    layer = LSTM(4, return_state=True)
    x = _x(2, 5, 3)
    h0, c0 = np.ones((2, 4), "float32"), np.zeros((2, 4), "float32")
    with_numpy = layer(x, initial_state=[h0, c0])
    with_tensors = layer(x, initial_state=[torch.from_numpy(h0), torch.from_numpy(c0)])
    for a, b in zip(with_numpy, with_tensors):
        assert torch.equal(a, b)
    assert not torch.equal(layer(x)[0], with_numpy[0])
    with pytest.raises(ValueError, match=r"2 states .* got 1 initial state"):
        layer(x, initial_state=[h0])
    with pytest.raises(ValueError, match=r"initial states of shape \(2, 4\), got \(2, 3\)"):
        layer(x, initial_state=[h0[:, :3], c0])


def test_stateful_layers_carry_states_across_batches_until_reset():
    x = _x(2, 6, 3)
    whole = GRU(4, return_sequences=True)
    whole(x)
    stateful = GRU.from_config({**whole.get_config(), "stateful": True, "name": "s"})
    stateful(x[:, :1])
    stateful.reset_state()
    stateful.set_weights(whole.get_weights())
    halves = torch.cat([stateful(x[:, :3]), stateful(x[:, 3:])], dim=1)
    torch.testing.assert_close(halves, whole(x))
    with pytest.raises(ValueError, match="batches of 2 sequences but got a batch of 1"):
        stateful(x[:1])
    stateful.reset_states()
    torch.testing.assert_close(stateful(x[:, :3]), whole(x[:, :3]))
    assert stateful.states is not None and not stateful.states[0].requires_grad


# ------------------------------------------------------------------------------------------- masks
@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_a_right_padded_mask_gives_the_unpadded_sequences_result(cls):
    x = _x(3, 6, 2)
    lengths = [6, 4, 1]
    for i, n in enumerate(lengths):
        x[i, n:] = 0.0
    masking = Masking()
    mask = masking.compute_mask(masking(x))
    assert mask.sum(1).tolist() == lengths
    layer = cls(4, return_state=True)
    out, *states = layer(x, mask=mask)
    for i, n in enumerate(lengths):
        alone, *alone_states = layer(x[i:i + 1, :n])
        torch.testing.assert_close(out[i:i + 1], alone, rtol=1e-5, atol=1e-6)
        for s, a in zip(states, alone_states):
            torch.testing.assert_close(s[i:i + 1], a, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"mask of shape \(batch, timesteps\) = \(3, 6\), got \(3, 5\)"):
        layer(x, mask=mask[:, :5])


# ------------------------------------------------------------------------------------------- dropout
def test_dropout_is_training_only_and_the_same_mask_on_both_paths():
    x = _x(4, 5, 3)
    fused = LSTM(4, dropout=0.5, seed=1, return_sequences=True)
    loop = LSTM(4, dropout=0.5, seed=1, return_sequences=True, use_cudnn=False)
    fused(x)
    loop(x)
    loop.set_weights(fused.get_weights())
    assert torch.equal(fused(x), fused(x, training=False))
    trained = fused(x, training=True)
    assert not torch.allclose(trained, fused(x))
    # a seeded layer draws its masks from its own generator: the fused and the loop path see the same mask
    fresh = LSTM.from_config(fused.get_config())
    fresh(x)
    fresh.set_weights(fused.get_weights())
    torch.testing.assert_close(fresh(x, training=True), loop(x, training=True), rtol=1e-5, atol=1e-6)
    # one mask for the whole sequence: with a zero recurrent kernel each step sees x_t * mask alone
    rnn = SimpleRNN(3, dropout=0.5, seed=0, activation=None, use_bias=False, recurrent_initializer="zeros",
                    return_sequences=True)
    ones = torch.ones(1, 4, 3)
    rnn(ones)
    with torch.no_grad():
        rnn.cell.kernel.copy_(torch.eye(3))
    outs = rnn(ones, training=True)
    assert all(torch.equal(outs[0, 0], outs[0, t]) for t in range(4))
    assert set(outs.unique().tolist()) <= {0.0, 2.0}


def test_recurrent_dropout_runs_the_loop_in_training_and_the_fused_kernel_in_inference(monkeypatch):
    import plait.layers.rnn as rnn_module
    calls = []
    fused = rnn_module.fused_sequence
    monkeypatch.setattr(rnn_module, "fused_sequence", lambda *a: calls.append(a[0]) or fused(*a))
    layer = GRU(4, recurrent_dropout=0.5)
    x = _x(2, 5, 3)
    layer(x, training=True)
    assert calls == []
    layer(x)
    assert calls == ["gru"]
    with pytest.raises(ValueError, match="use_cudnn=True .* needs the step loop"):
        GRU(4, recurrent_dropout=0.5, use_cudnn=True)(x, training=True)


# ------------------------------------------------------------------------------------------- errors
def test_errors_say_what_was_received_and_how_to_fix_it():
    with pytest.raises(ValueError, match="units must be a positive integer, got 0"):
        LSTM(0)
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\), got 1.5"):
        GRU(2, dropout=1.5)
    with pytest.raises(ValueError, match=r"expects inputs of shape \(batch, timesteps, features\), got shape"):
        LSTM(2)(torch.ones(2, 3))
    with pytest.raises(ValueError, match="use_cudnn must be 'auto', True or False"):
        LSTM(2, use_cudnn="yes")
    with pytest.raises(ValueError, match="Unrecognized keyword arguments"):
        LSTM(2, return_sequence=True)
    with pytest.raises(ValueError, match="RNN needs a cell"):
        RNN(Dense(3))


# ------------------------------------------------------------------------------------------- fit
def test_torch_export_traces_the_step_loop_with_a_dynamic_batch():
    model = plait.Sequential([plait.Input((6, 3)), plait.layers.Bidirectional(LSTM(4, return_sequences=True)),
                              GRU(3), Dense(2)])
    x = _x(8, 6, 3)
    program = torch.export.export(model, (x[:4],), dynamic_shapes=({0: torch.export.Dim("batch")},))
    # the exported loop and the eager fused kernels compute the same equations in another order
    torch.testing.assert_close(program.module()(x), model(x), rtol=1e-5, atol=1e-6)


def _fit_losses(make_layer, jit_compile, steps=6):
    plait.set_random_seed(0)
    inputs = plait.Input((5, 3))
    model = plait.Model(inputs, Dense(1)(make_layer()(inputs)))
    model.compile(plait.optimizers.SGD(learning_rate=0.1), "mse", jit_compile=jit_compile)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16 * steps, 5, 3)), rng.standard_normal((16 * steps, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fit's pitfall notices are not this test's subject
        return model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history["loss"]


@pytest.mark.parametrize("make_layer", [lambda: LSTM(4), lambda: SimpleRNN(3, activation="sigmoid")],
                         ids=["fused", "loop"])
def test_jit_compile_gives_the_eager_loss_curve(make_layer):
    # The fused kernel cannot be traced: the compiled step breaks its graph there and runs the kernel eagerly;
    # the loop path is traced and compiled. Either way the numbers are eager's, to float rounding.
    np.testing.assert_allclose(_fit_losses(make_layer, True), _fit_losses(make_layer, False), rtol=1e-5)


def test_lstm_learns_a_planted_sequence_rule():
    """The label is whether the first of 20 steps is positive; the other 19 steps are noise."""
    plait.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1200, 20, 1)).astype("float32")
    y = (x[:, 0, 0] > 0).astype("float32")
    model = plait.Sequential([plait.Input((20, 1)), LSTM(16), Dense(1, activation="sigmoid")])
    model.compile(plait.optimizers.Adam(learning_rate=0.02), "binary_crossentropy", metrics=["accuracy"])

    def stop_when_learned(epoch, logs):
        model.stop_training = logs["val_accuracy"] >= 0.95

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as conftest does under xdist: on a shared 2-core machine more threads only contend
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            history = model.fit(x[:1000], y[:1000], batch_size=32, epochs=20, validation_data=(x[1000:], y[1000:]),
                                verbose=0, callbacks=[plait.callbacks.LambdaCallback(on_epoch_end=stop_when_learned)])
    finally:
        torch.set_num_threads(threads)
    assert history.history["val_accuracy"][-1] >= 0.95, history.history["val_accuracy"]
    assert time.perf_counter() - start < 30  # about one second on an idle CPU
