"""Cells and RNN: the built-in cells on their own, stacked cells, and user cells following Keras's cell API."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

import plait
from plait.layers import GRU, LSTM, RNN, GRUCell, Layer, LSTMCell, SimpleRNN, SimpleRNNCell, StackedRNNCells


def _x(*shape, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype("float32"))


@pytest.mark.parametrize("cell_cls,layer_cls", [(SimpleRNNCell, SimpleRNN), (LSTMCell, LSTM), (GRUCell, GRU)])
def test_rnn_of_a_cell_equals_the_layer_with_the_same_weights(cell_cls, layer_cls):
    x = _x(2, 5, 3)
    layer = layer_cls(4, return_sequences=True, return_state=True)
    rnn = RNN(cell_cls(4), return_sequences=True, return_state=True)
    layer(x)
    rnn(x)
    rnn.set_weights(layer.get_weights())
    for a, b in zip(rnn(x), layer(x)):
        assert torch.equal(a, b)  # the same kernel on the same inputs and weights
    # stepping the cell by hand is the loop RNN runs
    states = rnn.cell.get_initial_state(2)
    for t in range(5):
        out, states = rnn.cell(x[:, t], states)
    torch.testing.assert_close(out, layer(x)[0][:, -1], rtol=1e-5, atol=1e-6)


def test_cells_config_round_trip_and_defaults():
    for cell in (SimpleRNNCell(3), LSTMCell(3, unit_forget_bias=False, dropout=0.2), GRUCell(3, reset_after=False)):
        config = json.loads(json.dumps(cell.get_config()))
        assert type(cell).from_config(config).get_config() == config
    config = LSTMCell(2).get_config()
    assert (config["activation"], config["recurrent_activation"], config["unit_forget_bias"]) == ("tanh", "sigmoid",
                                                                                                   True)
    assert LSTMCell(2).state_size == [2, 2] and GRUCell(2).state_size == 2 and SimpleRNNCell(2).output_size == 2


def test_a_list_of_cells_stacks_them_like_layers_on_layers():
    x = _x(2, 5, 3)
    stacked = RNN([LSTMCell(4), GRUCell(3)], return_sequences=True, return_state=True)
    out, (h1, c1), h2 = stacked(x)
    assert isinstance(stacked.cell, StackedRNNCells) and stacked.state_size == [[4, 4], 3]
    first, second = LSTM(4, return_sequences=True, return_state=True), GRU(3, return_sequences=True)
    first(x)
    first.set_weights(stacked.cell.cells[0].get_weights())
    seq, h, c = first(x)
    second(seq)
    second.set_weights(stacked.cell.cells[1].get_weights())
    torch.testing.assert_close(out, second(seq), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h1, h, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h2, out[:, -1], rtol=1e-5, atol=1e-6)
    assert stacked.compute_output_shape((None, 5, 3)) == [(None, 5, 3), [(None, 4), (None, 4)], (None, 3)]
    # the loop gives what the fused kernels give, masks and all
    loop = RNN.from_config({**stacked.get_config(), "unroll": True, "name": "loop"})
    loop(x)
    loop.set_weights(stacked.get_weights())
    for a, b in zip(plait.tree.flatten(loop(x)), plait.tree.flatten(stacked(x))):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    restored = RNN.from_config(json.loads(json.dumps(stacked.get_config())))
    assert restored.get_config() == stacked.get_config()


@plait.saving.register_serializable(package="test_recurrent")
class MinimalRNNCell(Layer):
    """The cell of Keras's RNN docstring, unchanged but for the import."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                name="recurrent_kernel")

    def call(self, inputs, states):
        prev_output = states[0]
        h = inputs @ self.kernel
        output = h + prev_output @ self.recurrent_kernel
        return output, [output]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_a_user_cell_runs_in_rnn_fits_and_saves(tmp_path):
    x = _x(3, 4, 5)
    layer = RNN(MinimalRNNCell(6), return_sequences=True)
    out = layer(x)
    k, rk = layer.cell.kernel.detach(), layer.cell.recurrent_kernel.detach()
    h, expected = torch.zeros(3, 6), []
    for t in range(4):
        h = x[:, t] @ k + h @ rk
        expected.append(h)
    torch.testing.assert_close(out, torch.stack(expected, 1))
    stacked = RNN([MinimalRNNCell(6), MinimalRNNCell(2)])
    model = plait.Sequential([plait.Input((4, 5)), stacked])
    model.compile("sgd", "mse")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fit's pitfall notices are not this test's subject
        model.fit(x.numpy(), np.zeros((3, 2), "float32"), verbose=0)
    model.save(tmp_path / "cell.plait")
    restored = plait.load_model(tmp_path / "cell.plait")
    np.testing.assert_array_equal(restored.predict(x.numpy(), verbose=0), model.predict(x.numpy(), verbose=0))


def test_a_subclassed_cell_with_its_own_call_never_takes_the_fused_kernel(monkeypatch):
    import plait.layers.rnn as rnn_module
    calls = []
    fused = rnn_module.fused_sequence
    monkeypatch.setattr(rnn_module, "fused_sequence", lambda *a: calls.append(a[0]) or fused(*a))

    class Peephole(LSTMCell):
        def call(self, inputs, states, training=False):
            out, new = super().call(inputs, states, training)
            return out * 0.5, new

    x = _x(2, 3, 2)
    RNN(Peephole(3))(x)
    assert calls == []
    RNN(LSTMCell(3))(x)
    assert calls == ["lstm"]


def test_stacked_cells_refuse_what_is_not_a_cell():
    with pytest.raises(ValueError, match="StackedRNNCells takes cells"):
        StackedRNNCells([LSTMCell(2), "lstm"])
    cells = StackedRNNCells([LSTMCell(4), SimpleRNNCell(2)])
    out, states = cells(torch.ones(2, 3), cells.get_initial_state(2))
    assert out.shape == (2, 2) and [len(s) if isinstance(s, list) else s.shape for s in states] == [2, (2, 2)]
