"""RNN: a cell run over the time axis of `(batch, time, features)` inputs, on a torch kernel where one fits.

Two ways to run a sequence, same equations:

- fused: where every cell says which torch kernel computes its recurrence (`cell.fused_kernel`: LSTM, GRU with
  `reset_after`, SimpleRNN with tanh or relu; default activations; no recurrent dropout in training), the whole
  sequence runs in `torch.lstm`/`torch.gru`/`torch.rnn_tanh`/`torch.rnn_relu` (MKL-DNN on CPU, cuDNN on CUDA),
  given the Keras-layout weights as transposed and reordered views (no copy per step);
- loop: otherwise (a mask, `unroll=True`, `use_cudnn=False`, other activations, recurrent dropout, user cells,
  torch.export), a Python loop over time steps calls the cell, as Keras's backend `rnn` does.

Keras's masking semantics: at a masked step the states keep their previous values and the output repeats the
last output (zeros with `zero_output_for_mask`, which Bidirectional sets for sequences).

Under `jit_compile=True` (torch.compile) the fused kernels cannot be traced: the graph breaks around them and they
run as in eager mode, with the same numbers, but fit's compiled step then costs more than the eager one (about 5x
per step for a small LSTM on CPU), so keep jit_compile='auto' for such models. The step loop, by contrast, is
traced and compiled, in a time that grows with the sequence length. torch.export traces the step loop.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from plait import tree
from plait.layers.layer import LAYERS, Layer
from plait.layers.rnn_cell_base import DropoutRNNCell, RecurrentCell, as_list, cell_initial_state
from plait.layers.rnn_cells import StackedRNNCells
from plait.layers.symbolic import is_shape, is_symbolic

_FUSED = {"gru": torch.gru, "rnn_tanh": torch.rnn_tanh, "rnn_relu": torch.rnn_relu}


def fused_sequence(kernel: str, sequences: torch.Tensor, states: list[torch.Tensor],
                   weights: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One cell over a batch-major sequence on torch's kernel: `(outputs (batch, time, units), final states)`."""
    if torch.compiler.is_compiling():
        # torch.compile cannot trace these kernels (on CPU it fails on mkldnn_rnn_layer): the graph breaks here and
        # the kernel runs as in eager mode. (Wrapped here, not decorated: `disable` imports torch._dynamo, seconds.)
        return torch.compiler.disable(_fused_sequence)(kernel, sequences, states, weights)
    return _fused_sequence(kernel, sequences, states, weights)


def _fused_sequence(kernel: str, sequences: torch.Tensor, states: list[torch.Tensor],
                    weights: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    if not sequences.is_cuda:
        return _run_kernel(kernel, sequences, states, weights)
    with warnings.catch_warnings():
        # cuDNN would rather have the weights in one flat buffer (nn.LSTM's flatten_parameters); plait's are views
        # of the Keras-layout weights, which cuDNN packs on each call, as intended, so its warning says nothing new.
        warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous")
        return _run_kernel(kernel, sequences, states, weights)


def _run_kernel(kernel: str, sequences: torch.Tensor, states: list[torch.Tensor],
                weights: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    hx = [s.unsqueeze(0) for s in states]  # torch's (num_layers, batch, units)
    has_biases = len(weights) == 4
    if kernel == "lstm":
        outputs, h, c = torch.lstm(sequences, hx, weights, has_biases, 1, 0.0, False, False, True)
        return outputs, [h[0], c[0]]
    outputs, h = _FUSED[kernel](sequences, hx[0], weights, has_biases, 1, 0.0, False, False, True)
    return outputs, [h[0]]


def _fused_kernel_of(cell: Any, training: bool | None) -> str | None:
    """The cell's torch kernel, unless a subclass replaced the `call` whose equations that kernel computes."""
    if not isinstance(cell, RecurrentCell):
        return None
    mro = type(cell).__mro__
    owner_of = {name: next(k for k in mro if name in vars(k)) for name in ("call", "fused_kernel")}
    return cell.fused_kernel(training) if owner_of["call"] is owner_of["fused_kernel"] else None


def _leaf_cells(cell: Any) -> list[Any]:
    return list(cell.cells) if isinstance(cell, StackedRNNCells) else [cell]


def _reset_dropout_masks(cell: Any) -> None:
    for leaf in _leaf_cells(cell):
        if isinstance(leaf, DropoutRNNCell):
            leaf.reset_dropout_mask()
            leaf.reset_recurrent_dropout_mask()


def _where(keep: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    return torch.where(keep.view(-1, *([1] * (new.dim() - 1))), new, old)


def fold_symbolic_states(inputs: Any, kwargs: dict[str, Any]) -> Any:
    """Symbolic `initial_state=` tensors moved into the inputs (`[sequences, *states]`), since a functional
    graph follows (and saves) a call's inputs, not its keyword arguments; `split_states` undoes it in `call`."""
    states = kwargs.get("initial_state")
    if states is not None and is_symbolic(states):
        del kwargs["initial_state"]
        return [inputs, *tree.flatten(states)]
    return inputs


def split_states(inputs: Any, initial_state: Any) -> tuple[torch.Tensor, Any]:
    """`(sequences, initial_state)` from a call's inputs, which may be `[sequences, *states]`."""
    if isinstance(inputs, (list, tuple)):
        if initial_state is not None:
            raise ValueError("Initial states were given twice: in the inputs list and as initial_state=. Pass "
                             "them once, as initial_state=[...].")
        return inputs[0], (list(inputs[1:]) or None)
    return inputs, initial_state


def sequence_shape(input_shape: Any) -> tuple:
    """The sequences' shape out of a call's input shapes (which may hold the initial states' too)."""
    return tuple(input_shape if is_shape(input_shape) else input_shape[0])


@LAYERS.register()
class RNN(Layer):
    """Runs a cell (or a list of cells, stacked) over the time axis of `(batch, time, features)` inputs.

    Args:
        cell: A cell (a layer with `state_size` and `call(inputs, states) -> (output, new_states)`, such as
            `LSTMCell`), a list of cells, or a serialized cell config.
        return_sequences: Return every step's output `(batch, time, units)`, not only the last `(batch, units)`.
        return_state: Also return the final states: `[output, *states]`.
        go_backwards: Process the sequence backwards (and return the reversed sequence).
        stateful: Carry each batch's final states into the next batch as its initial states (batch `i`'s sample
            `j` continues batch `i - 1`'s sample `j`); the batch size must stay the same; `reset_state()` clears.
        unroll: Run the Python step loop instead of a fused kernel (same equations, as Keras's unrolled loop).
        zero_output_for_mask: With a mask and `return_sequences`, output zeros at masked steps (else the last
            output is repeated, as Keras).

    Call arguments: `sequences`; `initial_state` (a list of tensors, one per state); `mask` (a `(batch, time)`
    boolean tensor, True for the steps to use); `training`.

    Example:
        >>> from plait.layers import LSTMCell
        >>> rnn = RNN(LSTMCell(4), return_sequences=True, return_state=True)
        >>> outputs, h, c = rnn(torch.ones(2, 5, 3))
        >>> outputs.shape, h.shape
        (torch.Size([2, 5, 4]), torch.Size([2, 4]))
    """

    supports_masking = True
    use_cudnn: Any = "auto"

    def __init__(self, cell: Any, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs: Any) -> None:
        if isinstance(cell, dict):
            cell = LAYERS.deserialize(cell)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(list(cell))
        if not callable(cell) or getattr(cell, "state_size", None) is None:
            raise ValueError(f"RNN needs a cell: a layer with a `state_size` attribute (an integer, or one per state) "
                             f"and a call(inputs, states) method returning (output, new_states), got {cell!r}. Use "
                             "e.g. RNN(LSTMCell(32)), or the LSTM/GRU/SimpleRNN layers.")
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful, self.unroll = bool(go_backwards), bool(stateful), bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.states: list[torch.Tensor] | None = None  # a stateful layer's carried states (flat)

    @property
    def state_size(self) -> list[Any]:
        """One entry per state: a size, or for a stacked cell the list of its states' sizes."""
        return as_list(self.cell.state_size)

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        return super().__call__(fold_symbolic_states(inputs, kwargs), *args, **kwargs)

    def build(self, input_shape: Any) -> None:
        shape = sequence_shape(input_shape)
        if len(shape) < 3:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects inputs of shape (batch, timesteps, "
                             f"features), got shape {shape}. Add a time axis, e.g. x[:, None, :] or "
                             "plait.layers.Reshape((timesteps, features)).")
        if isinstance(self.cell, Layer):
            self.cell._maybe_build((shape[0],) + shape[2:])

    def compute_output_shape(self, input_shape: Any) -> Any:
        batch, length = sequence_shape(input_shape)[:2]
        size = getattr(self.cell, "output_size", None)
        size = size if size is not None else tree.flatten(self.state_size)[0]
        output = (batch, length, size) if self.return_sequences else (batch, size)
        if not self.return_state:
            return output
        return [output] + [[(batch, s) for s in entry] if isinstance(entry, (list, tuple)) else (batch, entry)
                           for entry in self.state_size]

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """Keras's output mask: the input mask for returned sequences, none for a last output or the states."""
        mask = tree.flatten(mask)[0] if mask is not None else None
        output_mask = mask if self.return_sequences else None
        return [output_mask] + [None] * len(self.state_size) if self.return_state else output_mask

    # ------------------------------------------------------------------ the call
    def call(self, sequences: Any, initial_state: Any = None, mask: Any = None,
             training: bool | None = None) -> Any:
        sequences, initial_state = split_states(sequences, initial_state)
        if sequences.dim() < 3:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects inputs of shape (batch, timesteps, "
                             f"features), got shape {tuple(sequences.shape)}.")
        if sequences.dtype != self.dtype:
            sequences = sequences.to(self.dtype)
        if sequences.shape[1] == 0:
            raise ValueError(f"{type(self).__name__} {self.name!r} got a sequence of 0 timesteps; it needs at "
                             "least one.")
        states = self._initial_states(initial_state, sequences)
        mask = self._check_mask(mask, sequences)
        if self.go_backwards:
            sequences = sequences.flip(1)
            mask = None if mask is None else mask.flip(1)
        _reset_dropout_masks(self.cell)
        try:
            kernels = self._fused_kernels(training, mask)
            if kernels is not None:
                outputs, states = self._run_fused(kernels, sequences, states, training)
                last = outputs[:, -1]
            else:
                outputs, last, states = self._run_loop(sequences, states, mask, training)
        finally:
            _reset_dropout_masks(self.cell)
        if self.stateful:
            self.states = [s.detach() for s in tree.flatten(states)]
        output = outputs if self.return_sequences else last
        return [output, *states] if self.return_state else output

    def _fused_kernels(self, training: bool | None, mask: torch.Tensor | None) -> list[str] | None:
        """Each cell's torch kernel, or None where the step loop must run."""
        kernels = [_fused_kernel_of(cell, training) for cell in _leaf_cells(self.cell)]
        possible = None not in kernels and mask is None and not self.unroll and not torch.compiler.is_exporting()
        if self.use_cudnn is True and not possible:
            raise ValueError(f"use_cudnn=True was given to {self.name!r}, but its configuration needs the step loop "
                             "(a mask, unroll=True, an activation other than tanh/sigmoid, reset_after=False or "
                             "recurrent_dropout in training). Pass use_cudnn='auto' to fall back to the loop.")
        return kernels if possible and self.use_cudnn is not False else None

    def _run_fused(self, kernels: list[str], sequences: torch.Tensor, states: list,
                   training: bool | None) -> tuple[torch.Tensor, list]:
        stacked = isinstance(self.cell, StackedRNNCells)
        cells, per_cell = (list(self.cell.cells), states) if stacked else ([self.cell], [states])
        new_states = []
        for cell, kernel, cell_states in zip(cells, kernels, per_cell):
            mask = cell.get_dropout_mask(sequences[:, 0]) if training else None
            if mask is not None:  # Keras's cuDNN path: the step mask, the same at every step
                sequences = sequences * mask.unsqueeze(1)
            sequences, final = fused_sequence(kernel, sequences, as_list(cell_states), cell.torch_weights())
            several = isinstance(cell.state_size, (list, tuple))
            new_states.append(final if several or not stacked else final[0])
        return sequences, (new_states if stacked else new_states[0])

    def _run_loop(self, sequences: torch.Tensor, states: list, mask: torch.Tensor | None,
                  training: bool | None) -> tuple[torch.Tensor | None, torch.Tensor, list]:
        outputs: list[torch.Tensor] = []
        output = carried = None
        for t, step_input in enumerate(sequences.unbind(1)):
            if isinstance(self.cell, Layer):
                output, new_states = self.cell(step_input, states, training=training)
            else:
                output, new_states = self.cell(step_input, states)
            new_states = as_list(new_states)
            if mask is not None:
                keep = mask[:, t]
                fill = carried if carried is not None and not self.zero_output_for_mask else torch.zeros_like(output)
                output = carried = _where(keep, output, fill)
                kept = [_where(keep, n, s) for n, s in zip(tree.flatten(new_states), tree.flatten(states))]
                new_states = tree.pack_sequence_as(states, kept)
            states = new_states
            if self.return_sequences:
                outputs.append(output)
        return (torch.stack(outputs, 1) if outputs else None), output, states

    # ------------------------------------------------------------------ states and masks
    def get_initial_state(self, batch_size: int) -> list:
        """The cell's initial states for `batch_size` sequences (zeros for plait's cells)."""
        return cell_initial_state(self.cell, batch_size)

    def _initial_states(self, initial_state: Any, sequences: torch.Tensor) -> list:
        batch = sequences.shape[0]
        if initial_state is None and self.stateful and self.states is not None:
            if self.states[0].shape[0] != batch:
                raise ValueError(f"Stateful layer {self.name!r} carries states for batches of "
                                 f"{self.states[0].shape[0]} sequences but got a batch of {batch}. Keep every batch "
                                 "the same size (a batch_size that divides the number of samples), or call "
                                 "reset_state() first.")
            initial_state = self.states
        if initial_state is None:
            return cell_initial_state(self.cell, batch, sequences)
        given = [s if isinstance(s, torch.Tensor) else torch.as_tensor(np.asarray(s))
                 for s in tree.flatten(initial_state)]
        sizes = tree.flatten(self.state_size)
        if len(given) != len(sizes):
            raise ValueError(f"{type(self).__name__} {self.name!r} has {len(sizes)} states of sizes {sizes}, got "
                             f"{len(given)} initial state tensors. Pass initial_state=[...] with one (batch, size) "
                             "tensor per state (an LSTM's are [h, c]).")
        for s, size in zip(given, sizes):
            if s.dim() != 2 or s.shape[0] != batch or s.shape[1] != size:
                raise ValueError(f"{type(self).__name__} {self.name!r} expects initial states of shape "
                                 f"({batch}, {size}), got {tuple(s.shape)}.")
        given = [s.to(device=sequences.device, dtype=sequences.dtype) for s in given]
        return tree.pack_sequence_as(self.state_size, given)

    def _check_mask(self, mask: Any, sequences: torch.Tensor) -> torch.Tensor | None:
        if isinstance(mask, (list, tuple)):
            mask = mask[0]  # Keras passes one mask per input; the states' are None
        if mask is None:
            return None
        mask = torch.as_tensor(np.asarray(mask) if not isinstance(mask, torch.Tensor) else mask,
                               device=sequences.device)
        if tuple(mask.shape) != tuple(sequences.shape[:2]):
            raise ValueError(f"{type(self).__name__} {self.name!r} expects a mask of shape (batch, timesteps) = "
                             f"{tuple(sequences.shape[:2])}, got {tuple(mask.shape)}.")
        return mask.bool()

    def reset_state(self) -> None:
        """Forgets a stateful layer's carried states (the next batch starts from zeros)."""
        self.states = None

    reset_states = reset_state  # Keras's older name

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards, "stateful": self.stateful,
                "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask,
                "cell": LAYERS.serialize(self.cell)}
