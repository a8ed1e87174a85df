"""Harness cases for the recurrent layers, their wrappers and Masking (merged into test_every_layer's CASES).

Inputs are (batch 4, time 5, features 3). Wrappers take the wrapped layer as its serialized config, which is
also what their own config holds, so the harness builds them from kwargs alone.
"""
from __future__ import annotations

from layer_harness import case

CASES = {
    "SimpleRNN": case({"units": 3}, (4, 5, 3), (4, 3)),
    "LSTM": case({"units": 3, "return_sequences": True}, (4, 5, 3), (4, 5, 3)),
    "GRU": case({"units": 2, "go_backwards": True}, (4, 5, 3), (4, 2)),
    "RNN": case({"cell": [{"class_name": "LSTMCell", "config": {"units": 3}},
                          {"class_name": "SimpleRNNCell", "config": {"units": 2}}], "return_sequences": True},
                (4, 5, 3), (4, 5, 2)),
    # concat of two directions of 2 units
    "Bidirectional": case({"layer": {"class_name": "GRU", "config": {"units": 2, "return_sequences": True}}},
                          (4, 5, 3), (4, 5, 4)),
    "TimeDistributed": case({"layer": {"class_name": "Dense", "config": {"units": 2}}}, (4, 5, 3), (4, 5, 2)),
    "Masking": case({"mask_value": 0.0}, (4, 5, 3), (4, 5, 3)),
}

_CELL = ("called one time step at a time with (inputs, states), not on a tensor alone; the harness runs it inside "
         "RNN (its RNN case), and tests/layers/test_recurrent_cells.py checks it on its own")
NOT_HARNESSED = {
    "SimpleRNNCell": _CELL,
    "LSTMCell": _CELL,
    "GRUCell": _CELL,
    "StackedRNNCells": _CELL,
}
