"""Bidirectional, TimeDistributed and Masking against what they stand for, computed another way."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

import plait
from plait.layers import GRU, LSTM, Bidirectional, Conv2D, Dense, Masking, SimpleRNN, TimeDistributed


def _x(*shape, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype("float32"))


def _directions(bi, x):
    """The wrapped layer's two directions run by hand: forward, and backward on the flipped sequence."""
    forward = type(bi.forward_layer).from_config({**bi.forward_layer.get_config(), "name": "f"})
    backward = type(bi.forward_layer).from_config({**bi.forward_layer.get_config(), "name": "b"})
    forward(x)
    backward(x)
    forward.set_weights(bi.forward_layer.get_weights())
    backward.set_weights(bi.backward_layer.get_weights())
    return forward(x), backward(x.flip(1))


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_merges_a_forward_and_a_flipped_backward_pass(merge_mode):
    x = _x(2, 5, 3)
    bi = Bidirectional(GRU(4, return_sequences=True), merge_mode=merge_mode)
    out = bi(x)
    y, y_rev = _directions(bi, x)
    y_rev = y_rev.flip(1)  # back to forward time
    expected = {"concat": torch.cat([y, y_rev], -1), "sum": y + y_rev, "mul": y * y_rev, "ave": (y + y_rev) / 2,
                None: [y, y_rev]}[merge_mode]
    for a, b in zip(plait.tree.flatten(out), plait.tree.flatten(expected)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    shape = bi.compute_output_shape((None, 5, 3))
    assert shape == ([(None, 5, 4)] * 2 if merge_mode is None else (None, 5, 8 if merge_mode == "concat" else 4))
    assert bi.forward_layer.name.startswith("forward_gru") and bi.backward_layer.go_backwards


def test_bidirectional_states_initial_states_and_last_outputs():
    x = _x(2, 5, 3)
    bi = Bidirectional(LSTM(4, return_state=True))
    out, h_f, c_f, h_b, c_b = bi(x)
    y, y_rev = (outputs[0] for outputs in _directions(bi, x))
    torch.testing.assert_close(out, torch.cat([y, y_rev], -1), rtol=1e-5, atol=1e-6)  # last outputs, no flip
    torch.testing.assert_close(h_b, y_rev, rtol=1e-5, atol=1e-6)
    states = [torch.ones(2, 4), torch.zeros(2, 4), torch.zeros(2, 4), torch.ones(2, 4)]
    started = bi(x, initial_state=states)
    assert torch.equal(started[1], bi.forward_layer(x, initial_state=states[:2])[1])
    assert torch.equal(started[3], bi.backward_layer(x, initial_state=states[2:])[1])
    assert bi.compute_output_shape((None, 5, 3)) == [(None, 8)] + [(None, 4)] * 4
    symbolic = Bidirectional(LSTM(4, return_state=True))(plait.Input((5, 3)))
    assert [t.shape for t in symbolic] == [(None, 8)] + [(None, 4)] * 4


def test_bidirectional_with_a_mask_zeroes_padded_steps_of_both_directions():
    x = _x(2, 5, 3)
    x[1, 3:] = 0.0
    mask = Masking().compute_mask(x)
    bi = Bidirectional(SimpleRNN(3, return_sequences=True))
    out = bi(x, mask=mask)
    assert not out[1, 3:].any() and out[0].all()
    alone = bi(x[1:, :3])  # the unpadded sequence, both directions
    torch.testing.assert_close(out[1:, :3], alone, rtol=1e-5, atol=1e-6)


def test_bidirectional_backward_layer_config_and_errors(tmp_path):
    bi = Bidirectional(LSTM(3, return_sequences=True),
                       backward_layer=GRU(3, return_sequences=True, go_backwards=True, name="back"))
    x = _x(2, 4, 2)
    assert bi(x).shape == (2, 4, 6) and isinstance(bi.backward_layer, GRU)
    config = json.loads(json.dumps(bi.get_config()))
    clone = Bidirectional.from_config(config)
    assert clone.get_config() == config and clone.backward_layer.name == "back"
    model = plait.Sequential([plait.Input((4, 2)), bi, Bidirectional(GRU(2)), Dense(1)])
    model.compile("adam", "mse")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x.numpy(), np.ones((2, 1), "float32"), verbose=0)
    model.save(tmp_path / "bi.plait")
    np.testing.assert_array_equal(plait.load_model(tmp_path / "bi.plait").predict(x.numpy(), verbose=0),
                                  model.predict(x.numpy(), verbose=0))
    with pytest.raises(ValueError, match="need different go_backwards values"):
        Bidirectional(LSTM(3), backward_layer=LSTM(3))
    with pytest.raises(ValueError, match="need the same return_sequences"):
        Bidirectional(LSTM(3), backward_layer=LSTM(3, go_backwards=True, return_sequences=True))
    with pytest.raises(ValueError, match=r"merge_mode must be one of .* got 'max'"):
        Bidirectional(LSTM(3), merge_mode="max")
    with pytest.raises(ValueError, match="must be a plait layer"):
        Bidirectional("lstm")


def test_bidirectional_initial_weights_are_set_at_build():
    source = Bidirectional(GRU(2))
    source(_x(1, 3, 2))
    copy = Bidirectional(GRU(2), weights=source.get_weights())
    for a, b in zip(copy(_x(2, 3, 2)), source(_x(2, 3, 2))):
        assert torch.equal(a, b)


def test_time_distributed_applies_one_layer_to_every_step():
    x = _x(2, 5, 3)
    td = TimeDistributed(Dense(4, activation="relu"))
    out = td(x)
    expected = torch.stack([td.layer(x[:, t]) for t in range(5)], 1)
    torch.testing.assert_close(out, expected)
    images = _x(2, 3, 6, 6, 1)
    conv = TimeDistributed(Conv2D(2, 3))
    assert conv(images).shape == (2, 3, 4, 4, 2)
    assert conv.compute_output_shape((None, 3, 6, 6, 1)) == (None, 3, 4, 4, 2)
    assert TimeDistributed(Dense(2))(plait.Input((7, 3))).shape == (None, 7, 2)
    config = json.loads(json.dumps(td.get_config()))
    assert TimeDistributed.from_config(config).get_config() == config
    with pytest.raises(ValueError, match=r"expects inputs of shape \(batch, time, ...\), at least rank 3"):
        TimeDistributed(Dense(2))(torch.ones(2, 3))


def test_masking_zeroes_padded_steps_and_gives_their_mask():
    x = torch.tensor([[[1.0, 0.0], [0.0, 0.0], [-1.0, 2.0]], [[5.0, 5.0], [5.0, 5.0], [0.0, 1.0]]])
    assert Masking().compute_mask(x).tolist() == [[True, False, True], [True, True, True]]
    masking = Masking(mask_value=5.0)
    assert masking.compute_mask(x).tolist() == [[True, True, True], [False, False, True]]
    assert torch.equal(masking(x)[1], torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 1.0]]))
    assert masking.get_config()["mask_value"] == 5.0
    with pytest.raises(ValueError, match="mask_value must be a number"):
        Masking("0")
