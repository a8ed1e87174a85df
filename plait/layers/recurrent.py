"""SimpleRNN, LSTM and GRU: an `RNN` around its cell, with Keras's arguments, defaults and config.

Each layer builds its cell (`simple_rnn_cell`, `lstm_cell`, `gru_cell`, named as Keras does) from the cell's
arguments, hands the rest to `RNN`, and reads the cell's arguments back as its own attributes and config. The
weights live in the cell, in Keras's layout; `RNN` runs them on torch's fused kernel where it can (see `rnn`).
"""
from __future__ import annotations

import inspect
from typing import Any

from plait.layers.layer import LAYERS
from plait.layers.rnn import RNN
from plait.layers.rnn_cell_base import own_arguments
from plait.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell
from plait.registry import to_snake_case

_CELL_ATTRIBUTES = ("units", "activation", "recurrent_activation", "use_bias", "unit_forget_bias", "reset_after",
                    "kernel_initializer", "recurrent_initializer", "bias_initializer", "kernel_regularizer",
                    "recurrent_regularizer", "bias_regularizer", "kernel_constraint", "recurrent_constraint",
                    "bias_constraint", "dropout", "recurrent_dropout", "seed")
_LAYER_ONLY = ("name", "trainable", "dtype", "input_shape", "input_dim", "batch_input_shape")


class CellLayer(RNN):
    """An RNN whose cell it builds from its own arguments (the base of SimpleRNN, LSTM and GRU)."""

    cell_class: type = SimpleRNNCell

    def __init__(self, arguments: dict[str, Any]) -> None:
        use_cudnn = arguments.pop("use_cudnn", "auto")
        if use_cudnn not in ("auto", True, False):
            raise ValueError(f"use_cudnn must be 'auto', True or False, got {use_cudnn!r}.")
        accepted = inspect.signature(self.cell_class.__init__).parameters
        cell_args = {k: arguments.pop(k) for k in list(arguments) if k in accepted and k not in _LAYER_ONLY}
        cell = self.cell_class(name=to_snake_case(self.cell_class.__name__), dtype=arguments.get("dtype"),
                               trainable=arguments.get("trainable", True), **cell_args)
        super().__init__(cell, **arguments)
        self.use_cudnn = use_cudnn

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["cell"]
        cell = {k: v for k, v in self.cell.get_config().items() if k not in _LAYER_ONLY}
        return {**config, **cell}


for _name in _CELL_ATTRIBUTES:  # Keras's read-only views of the cell's arguments (`lstm.units`, `lstm.dropout`)
    setattr(CellLayer, _name, property(lambda self, _n=_name: getattr(self.cell, _n),
                                       doc=f"The cell's `{_name}`."))


@LAYERS.register()
class SimpleRNN(CellLayer):
    """A fully connected RNN, the output fed back as the state: `h_t = activation(x_t W + h_{t-1} U + b)`.

    Args:
        units: Size of the output and the state (positive integer).
        activation: Activation (default 'tanh'; 'tanh' and 'relu' run on torch's fused kernel).
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer: As Keras.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Penalties on the weights, joined to the loss.
        kernel_constraint, recurrent_constraint, bias_constraint: Callables `w -> w` applied after each update.
        dropout, recurrent_dropout: Fractions of input and state units to drop, one mask per sequence.
        seed: Seed of the dropout masks.
        return_sequences, return_state, go_backwards, stateful, unroll: See `RNN`.

    Example:
        >>> import torch
        >>> SimpleRNN(4)(torch.ones(2, 5, 3)).shape
        torch.Size([2, 4])
    """

    cell_class = SimpleRNNCell

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(own_arguments(locals()))


@LAYERS.register()
class LSTM(CellLayer):
    """Long Short-Term Memory (Hochreiter 1997) with Keras's equations, defaults and weight layout.

    Weights (in `layer.cell`): `kernel` `(features, 4 * units)`, `recurrent_kernel` `(units, 4 * units)`, `bias`
    `(4 * units,)`, gates in Keras's order i, f, c, o. With the default activations and no recurrent dropout in
    training it runs on `torch.lstm` (cuDNN on CUDA); otherwise on a step loop (see `RNN`).

    Args:
        units: Size of the output and of each state (positive integer).
        activation, recurrent_activation: Default 'tanh' and 'sigmoid'.
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer: As Keras.
        unit_forget_bias: Start the forget gate's bias at 1 (default True).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Penalties on the weights, joined to the loss.
        kernel_constraint, recurrent_constraint, bias_constraint: Callables `w -> w` applied after each update.
        dropout, recurrent_dropout: Fractions of input and state units to drop, one mask per sequence.
        seed: Seed of the dropout masks.
        return_sequences, return_state, go_backwards, stateful, unroll: See `RNN`; the states are `[h, c]`.
        use_cudnn: 'auto' (the fused kernel where the configuration allows), True (raise where it does not),
            False (always the step loop).

    Example:
        >>> import torch
        >>> out, h, c = LSTM(4, return_sequences=True, return_state=True)(torch.ones(2, 5, 3))
        >>> out.shape, h.shape, c.shape
        (torch.Size([2, 5, 4]), torch.Size([2, 4]), torch.Size([2, 4]))
    """

    cell_class = LSTMCell

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False, use_cudnn: Any = "auto",
                 **kwargs: Any) -> None:
        super().__init__(own_arguments(locals()))


@LAYERS.register()
class GRU(CellLayer):
    """Gated Recurrent Unit (Cho et al. 2014) with Keras's equations, defaults and weight layout.

    Weights (in `layer.cell`): `kernel` `(features, 3 * units)`, `recurrent_kernel` `(units, 3 * units)`, gates in
    Keras's order z, r, h; `bias` `(2, 3 * units)` (input and recurrent biases) with `reset_after=True`, Keras 3's
    default and torch's formulation, which runs on `torch.gru`; `reset_after=False` runs on the step loop.

    Args:
        units: Size of the output and the state (positive integer).
        activation, recurrent_activation: Default 'tanh' and 'sigmoid'.
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer: As Keras.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Penalties on the weights, joined to the loss.
        kernel_constraint, recurrent_constraint, bias_constraint: Callables `w -> w` applied after each update.
        dropout, recurrent_dropout: Fractions of input and state units to drop, one mask per sequence.
        seed: Seed of the dropout masks.
        return_sequences, return_state, go_backwards, stateful, unroll: See `RNN`.
        reset_after: Apply the reset gate after the recurrent matrix product (default True).
        use_cudnn: 'auto', True or False, as for `LSTM`.

    Example:
        >>> import torch
        >>> GRU(4, return_sequences=True)(torch.ones(2, 5, 3)).shape
        torch.Size([2, 5, 4])
    """

    cell_class = GRUCell

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None, bias_regularizer: Any = None,
                 kernel_constraint: Any = None, recurrent_constraint: Any = None, bias_constraint: Any = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed: int | None = None,
                 return_sequences: bool = False, return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, unroll: bool = False, reset_after: bool = True, use_cudnn: Any = "auto",
                 **kwargs: Any) -> None:
        super().__init__(own_arguments(locals()))
