"""The base of plait's recurrent cells: Keras's dropout-mask mixin and what SimpleRNNCell, LSTMCell and GRUCell share.

A cell follows Keras's cell API: `state_size`, `output_size`, `get_initial_state(batch_size)` and
`call(inputs, states, training=False) -> (output, new_states)`, `inputs` being one time step
`(batch, features)`. `plait.layers.RNN` runs a cell over a sequence, with a Python loop or, where the cell
says its recurrence is one of torch's fused kernels (`fused_kernel`), on that kernel (`torch_weights` gives its
weights in torch's layout, as views of the Keras-layout ones).

Dropout masks follow Keras: one mask per sequence (drawn at the first step, reused for every step, cleared by
the RNN at the end of its call), on the inputs (`dropout`) and on the recurrent state (`recurrent_dropout`).
Keras draws one mask per gate when `recurrent_dropout` is set; plait shares one mask between the gates, the
same rate on every connection.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from plait import activations, config, initializers, regularizers
from plait.layers.layer import Layer


def own_arguments(local_vars: dict[str, Any]) -> dict[str, Any]:
    """A constructor's own arguments from its `locals()`, `**kwargs` merged in: what it hands to its base."""
    args = {k: v for k, v in local_vars.items() if k not in ("self", "kwargs", "__class__")}
    return {**args, **local_vars.get("kwargs", {})}


def _rate(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}.")
    return float(value)


class DropoutRNNCell:
    """Keras's dropout-mask mixin for cells: one cached mask per sequence for inputs and for states.

    A mask holds `0` for a dropped unit and `1 / (1 - rate)` for a kept one (inverted dropout).
    """

    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    seed: int | None = None
    _dropout_mask: torch.Tensor | None = None
    _recurrent_dropout_mask: torch.Tensor | None = None
    _generator: torch.Generator | None = None

    def _new_mask(self, like: torch.Tensor, rate: float) -> torch.Tensor:
        if self.seed is not None and (self._generator is None or self._generator.device != like.device):
            self._generator = torch.Generator(device=like.device).manual_seed(self.seed)
        keep = torch.rand(like.shape, device=like.device, generator=self._generator) >= rate
        return keep.to(like.dtype) / (1.0 - rate)

    def get_dropout_mask(self, step_input: torch.Tensor) -> torch.Tensor | None:
        """The inputs' mask for this sequence (drawn on first use), or None without `dropout`."""
        if self._dropout_mask is None and self.dropout > 0:
            self._dropout_mask = self._new_mask(step_input, self.dropout)
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, state: torch.Tensor) -> torch.Tensor | None:
        """The recurrent state's mask for this sequence (drawn on first use), or None without it."""
        if self._recurrent_dropout_mask is None and self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = self._new_mask(state, self.recurrent_dropout)
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self) -> None:
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self) -> None:
        self._recurrent_dropout_mask = None


class RecurrentCell(Layer, DropoutRNNCell):
    """What SimpleRNNCell, LSTMCell and GRUCell share: arguments, weights, config, dropout, initial state.

    Subclasses set `gates` (how many `units`-wide blocks the kernels hold) and implement `call`,
    `fused_kernel` and `torch_weights`.
    """

    gates = 1

    def __init__(self, units: int, activation: Any, use_bias: bool, kernel_initializer: Any,
                 recurrent_initializer: Any, bias_initializer: Any, kernel_regularizer: Any,
                 recurrent_regularizer: Any, bias_regularizer: Any, kernel_constraint: Any, recurrent_constraint: Any,
                 bias_constraint: Any, dropout: float, recurrent_dropout: float, seed: int | None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(f"{type(self).__name__} units must be a positive integer, got {units!r}.")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint, self.recurrent_constraint = kernel_constraint, recurrent_constraint
        self.bias_constraint = bias_constraint
        self.dropout = _rate("dropout", dropout)
        self.recurrent_dropout = _rate("recurrent_dropout", recurrent_dropout)
        self.seed = seed

    @property
    def state_size(self) -> Any:
        return self.units

    @property
    def output_size(self) -> int:
        return self.units

    def build(self, input_shape: Any) -> None:
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"{type(self).__name__} {self.name!r} needs a known feature dimension, got input shape "
                             f"{tuple(input_shape)}; give the Input a shape such as (timesteps, features).")
        width = self.gates * self.units
        self.kernel = self.add_weight((input_dim, width), self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight((self.units, width), self.recurrent_initializer,
                                                name="recurrent_kernel", regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        self.bias = self.add_weight(self._bias_shape(), self._bias_init(), name="bias",
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def _bias_shape(self) -> tuple[int, ...]:
        return (self.gates * self.units,)

    def _bias_init(self) -> Any:
        return self.bias_initializer

    def get_initial_state(self, batch_size: int | None = None) -> list[torch.Tensor]:
        """Zero states, one `(batch_size, size)` tensor per entry of `state_size`."""
        like = self.kernel if self.built else torch.zeros((), dtype=self.dtype, device=config.get_device())
        return [like.new_zeros((batch_size, size)) for size in as_list(self.state_size)]

    def _dropped(self, inputs: torch.Tensor, state: torch.Tensor, training: bool | None) -> tuple:
        """`inputs` and `state` with this sequence's dropout masks applied (in training only)."""
        if training:
            mask = self.get_dropout_mask(inputs)
            inputs = inputs if mask is None else inputs * mask
            mask = self.get_recurrent_dropout_mask(state)
            state = state if mask is None else state * mask
        return inputs, state

    def fused_kernel(self, training: bool | None) -> str | None:
        """The torch kernel ('lstm', 'gru', 'rnn_tanh', 'rnn_relu') that computes this cell's recurrence over a
        whole sequence, or None where only the step loop does (other activations, recurrent dropout)."""
        return None

    def torch_weights(self) -> list[torch.Tensor]:
        """`[w_ih, w_hh(, b_ih, b_hh)]` in torch's layout for `fused_kernel`, as views of the Keras weights."""
        raise NotImplementedError

    def _keras_to_torch(self, reorder: Callable[[torch.Tensor], torch.Tensor] = lambda w: w) -> list[torch.Tensor]:
        weights = [reorder(self.kernel).t(), reorder(self.recurrent_kernel).t()]
        if self.bias is None:
            return weights
        if self.bias.dim() == 2:  # GRU's (input bias, recurrent bias)
            return weights + [reorder(self.bias[0]), reorder(self.bias[1])]
        return weights + [reorder(self.bias), self.bias.new_zeros(self.bias.shape)]  # torch adds a second bias

    def _recurrent_only(self, training: bool | None) -> bool:
        return bool(training) and self.recurrent_dropout > 0

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed}


def as_list(states: Any) -> list:
    """Keras's rule for a cell's states: a list or tuple as a list, one tensor as a list of one."""
    return list(states) if isinstance(states, (list, tuple)) else [states]


def cell_initial_state(cell: Any, batch_size: int, like: torch.Tensor | None = None) -> list:
    """A cell's initial states, as a list: its `get_initial_state`, else zeros (of `like`'s dtype and device, or
    the cell's weights') for each entry of its `state_size`, as Keras's RNN does for user cells."""
    fn = getattr(cell, "get_initial_state", None)
    if fn is not None:
        return as_list(fn(batch_size=batch_size))
    if like is None:
        weight = next(cell.parameters(), None) if isinstance(cell, torch.nn.Module) else None
        like = weight if weight is not None else torch.zeros((), device=config.get_device(),
                                                             dtype=config.float_dtype())
    return [like.new_zeros((batch_size, size)) for size in as_list(cell.state_size)]
