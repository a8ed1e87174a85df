"""Recurrent cells: one time step of SimpleRNN, LSTM and GRU with Keras's weight layout, and StackedRNNCells.

Weights are Keras's: `kernel` `(input_dim, gates * units)`, `recurrent_kernel` `(units, gates * units)` and
`bias`, with Keras's gate order (LSTM: i, f, c, o; GRU: z, r, h, and with `reset_after` a `(2, 3 * units)` bias
of input and recurrent biases), so weights from Keras files map by shape. The cell API, dropout and the fused
kernels' hooks are described in `rnn_cell_base`.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from plait import activations
from plait.layers.layer import LAYERS, Layer
from plait.layers.rnn_cell_base import RecurrentCell, as_list, cell_initial_state, own_arguments


def _is(fn: Any, *candidates: Callable[..., Any]) -> bool:
    return any(fn is c for c in candidates)


@LAYERS.register()
class SimpleRNNCell(RecurrentCell):
    """One step of a fully connected RNN: `h = activation(x @ kernel + h_prev @ recurrent_kernel + bias)`.

    Args:
        units: Size of the output and the state (positive integer).
        activation: Activation name or function (default 'tanh'); None means linear.
        use_bias: Whether to add a bias vector.
        kernel_initializer, recurrent_initializer, bias_initializer: Initializer names or instances.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Penalties on the weights, joined to the loss.
        kernel_constraint, recurrent_constraint, bias_constraint: Callables `w -> w` applied after each update.
        dropout: Fraction of the inputs' units to drop (one mask per sequence), in [0, 1).
        recurrent_dropout: Fraction of the state's units to drop (one mask per sequence), in [0, 1).
        seed: Seed of the dropout masks.

    Example:
        >>> cell = SimpleRNNCell(4)
        >>> out, states = cell(torch.ones(2, 3), [torch.zeros(2, 4)])
        >>> out.shape, len(states)
        (torch.Size([2, 4]), 1)
    """

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**own_arguments(locals()))

    def call(self, inputs: torch.Tensor, states: Any, training: bool | None = False) -> tuple[torch.Tensor, Any]:
        prev = states[0] if isinstance(states, (list, tuple)) else states
        inputs, prev = self._dropped(inputs, prev, training)
        h = inputs @ self.kernel
        if self.bias is not None:
            h = h + self.bias
        output = self.activation(h + prev @ self.recurrent_kernel)
        return output, [output] if isinstance(states, (list, tuple)) else output

    def fused_kernel(self, training: bool | None) -> str | None:
        if self._recurrent_only(training):
            return None
        if _is(self.activation, activations.tanh, torch.tanh):
            return "rnn_tanh"
        return "rnn_relu" if _is(self.activation, activations.relu, torch.relu) else None

    def torch_weights(self) -> list[torch.Tensor]:
        return self._keras_to_torch()


@LAYERS.register()
class LSTMCell(RecurrentCell):
    """One step of an LSTM (Hochreiter 1997), Keras's equations and weight layout (gate order i, f, c, o).

    `z = x @ kernel + h @ recurrent_kernel + bias`; `i, f, o = recurrent_activation(z_i, z_f, z_o)`;
    `c' = f * c + i * activation(z_c)`; `h' = o * activation(c')`. The states are `[h, c]`.

    Args:
        units: Size of the output and of each state (positive integer).
        activation: Activation of the candidate and the output (default 'tanh').
        recurrent_activation: Activation of the gates (default 'sigmoid').
        use_bias: Whether to add a bias vector.
        kernel_initializer, recurrent_initializer, bias_initializer: Initializer names or instances.
        unit_forget_bias: Start the forget gate's bias at 1 (the rest from `bias_initializer`), as Keras.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Penalties on the weights, joined to the loss.
        kernel_constraint, recurrent_constraint, bias_constraint: Callables `w -> w` applied after each update.
        dropout, recurrent_dropout: Fractions of the input and state units to drop, in [0, 1).
        seed: Seed of the dropout masks.

    Example:
        >>> cell = LSTMCell(4)
        >>> out, (h, c) = cell(torch.ones(2, 3), [torch.zeros(2, 4), torch.zeros(2, 4)])
        >>> out.shape, c.shape, cell.bias.shape
        (torch.Size([2, 4]), torch.Size([2, 4]), torch.Size([16]))
    """

    gates = 4

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any) -> None:
        args = own_arguments(locals())
        self_args = {k: args.pop(k) for k in ("recurrent_activation", "unit_forget_bias")}
        super().__init__(**args)
        self.recurrent_activation = activations.get(self_args["recurrent_activation"])
        self.unit_forget_bias = bool(self_args["unit_forget_bias"])

    @property
    def state_size(self) -> list[int]:
        return [self.units, self.units]

    def _bias_init(self) -> Any:
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, init = self.units, self.bias_initializer

        def forget_gate_at_one(shape: Any, dtype: Any = None) -> torch.Tensor:
            parts = [init((units,), dtype=dtype), torch.ones(units), init((2 * units,), dtype=dtype)]
            return torch.cat([torch.as_tensor(p, dtype=dtype) for p in parts])

        return forget_gate_at_one

    def call(self, inputs: torch.Tensor, states: Any, training: bool | None = False) -> tuple[torch.Tensor, Any]:
        h_prev, c_prev = states[0], states[1]
        inputs, h_prev = self._dropped(inputs, h_prev, training)
        z = inputs @ self.kernel + h_prev @ self.recurrent_kernel
        if self.bias is not None:
            z = z + self.bias
        z_i, z_f, z_c, z_o = z.chunk(4, dim=-1)
        i, f, o = self.recurrent_activation(z_i), self.recurrent_activation(z_f), self.recurrent_activation(z_o)
        c = f * c_prev + i * self.activation(z_c)
        h = o * self.activation(c)
        return h, [h, c]

    def fused_kernel(self, training: bool | None) -> str | None:
        gated = _is(self.activation, activations.tanh, torch.tanh) and _is(
            self.recurrent_activation, activations.sigmoid, torch.sigmoid)
        return "lstm" if gated and not self._recurrent_only(training) else None

    def torch_weights(self) -> list[torch.Tensor]:
        return self._keras_to_torch()  # torch's gate order i, f, g, o is Keras's i, f, c, o

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "recurrent_activation": activations.serialize(self.recurrent_activation),
                "unit_forget_bias": self.unit_forget_bias}


@LAYERS.register()
class GRUCell(RecurrentCell):
    """One step of a GRU (Cho et al. 2014), Keras's equations and weight layout (gate order z, r, h).

    `z, r = recurrent_activation(x W_z + h U_z, x W_r + h U_r)`; with `reset_after` (Keras 3's default, torch's
    and cuDNN's convention) `hh = activation(x W_h + r * (h U_h + b_rh))`, else `activation(x W_h + (r * h) U_h)`;
    `h' = z * h + (1 - z) * hh`. With `reset_after` the bias has shape `(2, 3 * units)`: input and recurrent biases.

    Args:
        units: Size of the output and the state (positive integer).
        activation: Activation of the candidate (default 'tanh').
        recurrent_activation: Activation of the gates (default 'sigmoid').
        use_bias: Whether to add biases.
        kernel_initializer, recurrent_initializer, bias_initializer: Initializer names or instances.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Penalties on the weights, joined to the loss.
        kernel_constraint, recurrent_constraint, bias_constraint: Callables `w -> w` applied after each update.
        dropout, recurrent_dropout: Fractions of the input and state units to drop, in [0, 1).
        reset_after: Apply the reset gate after the recurrent matrix product (True) or before.
        seed: Seed of the dropout masks.

    Example:
        >>> cell = GRUCell(4)
        >>> out, states = cell(torch.ones(2, 3), [torch.zeros(2, 4)])
        >>> out.shape, cell.bias.shape
        (torch.Size([2, 4]), torch.Size([2, 12]))
    """

    gates = 3

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None, bias_regularizer: Any = None,
                 kernel_constraint: Any = None, recurrent_constraint: Any = None, bias_constraint: Any = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, reset_after: bool = True,
                 seed: int | None = None, **kwargs: Any) -> None:
        args = own_arguments(locals())
        self_args = {k: args.pop(k) for k in ("recurrent_activation", "reset_after")}
        super().__init__(**args)
        self.recurrent_activation = activations.get(self_args["recurrent_activation"])
        self.reset_after = bool(self_args["reset_after"])

    def _bias_shape(self) -> tuple[int, ...]:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def call(self, inputs: torch.Tensor, states: Any, training: bool | None = False) -> tuple[torch.Tensor, Any]:
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        inputs, h_dropped = self._dropped(inputs, h_prev, training)
        u = self.units
        x = inputs @ self.kernel
        input_bias = recurrent_bias = None
        if self.bias is not None:
            input_bias, recurrent_bias = (self.bias[0], self.bias[1]) if self.reset_after else (self.bias, None)
            x = x + input_bias
        x_z, x_r, x_h = x.chunk(3, dim=-1)
        if self.reset_after:
            inner = h_dropped @ self.recurrent_kernel
            if recurrent_bias is not None:
                inner = inner + recurrent_bias
        else:
            inner = h_dropped @ self.recurrent_kernel[:, : 2 * u]
        z = self.recurrent_activation(x_z + inner[:, :u])
        r = self.recurrent_activation(x_r + inner[:, u: 2 * u])
        if self.reset_after:
            recurrent_h = r * inner[:, 2 * u:]
        else:
            recurrent_h = (r * h_dropped) @ self.recurrent_kernel[:, 2 * u:]
        hh = self.activation(x_h + recurrent_h)
        h = z * h_prev + (1 - z) * hh  # the undropped state, as Keras's per-gate implementation
        return h, [h] if isinstance(states, (list, tuple)) else h

    def fused_kernel(self, training: bool | None) -> str | None:
        gated = _is(self.activation, activations.tanh, torch.tanh) and _is(
            self.recurrent_activation, activations.sigmoid, torch.sigmoid)
        return "gru" if gated and self.reset_after and not self._recurrent_only(training) else None

    def torch_weights(self) -> list[torch.Tensor]:
        u = self.units

        def z_r_h_to_r_z_n(w: torch.Tensor) -> torch.Tensor:
            return torch.cat([w[..., u: 2 * u], w[..., :u], w[..., 2 * u:]], dim=-1)

        return self._keras_to_torch(z_r_h_to_r_z_n)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "recurrent_activation": activations.serialize(self.recurrent_activation),
                "reset_after": self.reset_after}


@LAYERS.register()
class StackedRNNCells(Layer):
    """Several cells as one: each step feeds a cell's output to the next cell (what `RNN([cell, cell])` builds).

    Its `state_size` lists each cell's; its states are the cells' states in order.

    Args:
        cells: A list of cells (layers following the cell API), or their serialized configs.

    Example:
        >>> cells = StackedRNNCells([LSTMCell(4), GRUCell(2)])
        >>> out, states = cells(torch.ones(2, 3), cells.get_initial_state(2))
        >>> out.shape, cells.state_size
        (torch.Size([2, 2]), [[4, 4], 2])
    """

    def __init__(self, cells: list[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        cells = [LAYERS.deserialize(c) if isinstance(c, dict) else c for c in cells]
        for cell in cells:
            if not isinstance(cell, Layer) or not hasattr(cell, "state_size"):
                raise ValueError(f"StackedRNNCells takes cells: layers with a `state_size` and a call(inputs, "
                                 f"states) method, got {cell!r}. Pass e.g. [LSTMCell(32), LSTMCell(32)].")
        self.cells = torch.nn.ModuleList(cells)

    @property
    def state_size(self) -> list[Any]:
        return [cell.state_size for cell in self.cells]

    @property
    def output_size(self) -> int:
        last = self.cells[-1]
        size = getattr(last, "output_size", None)
        return size if size is not None else as_list(last.state_size)[0]

    def build(self, input_shape: Any) -> None:
        for cell in self.cells:
            cell._maybe_build(tuple(input_shape))
            size = getattr(cell, "output_size", None)
            input_shape = (input_shape[0], size if size is not None else as_list(cell.state_size)[0])

    def get_initial_state(self, batch_size: int | None = None) -> list[Any]:
        """Each cell's initial states (a list for a cell with several states, else the one tensor)."""
        out = []
        for cell in self.cells:
            states = cell_initial_state(cell, batch_size)
            out.append(states if isinstance(cell.state_size, (list, tuple)) else states[0])
        return out

    def call(self, inputs: torch.Tensor, states: Any, training: bool | None = False) -> tuple[torch.Tensor, list]:
        new_states = []
        for cell, cell_states in zip(self.cells, states):
            several = isinstance(cell_states, (list, tuple))
            inputs, cell_states = cell(inputs, as_list(cell_states), training=training)
            cell_states = as_list(cell_states)
            new_states.append(cell_states if several else cell_states[0])
        return inputs, new_states

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cells": [LAYERS.serialize(cell) for cell in self.cells]}
