"""Bidirectional and TimeDistributed: layers that wrap another layer, with Keras's arguments, shapes and config.

A wrapped layer may be given as an instance or as its serialized config (what `get_config` writes), so a wrapper
rebuilds from its config alone.
"""
from __future__ import annotations

import inspect
from typing import Any

import torch

from plait.layers.layer import LAYERS, Layer
from plait.layers.rnn import fold_symbolic_states, sequence_shape, split_states

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _as_layer(layer: Any, what: str, owner: str) -> Layer:
    if isinstance(layer, dict):
        layer = LAYERS.deserialize(layer)
    if not isinstance(layer, Layer):
        raise ValueError(f"{owner}'s {what} must be a plait layer (or its serialized config), got {layer!r}. "
                         f"Pass e.g. {owner}(plait.layers.LSTM(32)).")
    return layer


def _takes(layer: Layer, argument: str) -> bool:
    params = inspect.signature(layer.call).parameters
    return argument in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _copy(layer: Layer, **changes: Any) -> Layer:
    """A fresh layer from `layer`'s config (not its weights), with `changes` to that config."""
    spec = LAYERS.serialize(layer)
    spec["config"] = {**spec["config"], **changes}
    return LAYERS.deserialize(spec)


@LAYERS.register()
class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards over the sequence, and merges the two.

    The backward layer is a fresh copy of `layer`'s config with `go_backwards=True` (fresh weights, as Keras);
    its sequence output is flipped back to forward time before the merge. With `return_sequences`, masked steps
    output zeros in both directions (Keras's `zero_output_for_mask`).

    Args:
        layer: A recurrent layer (`LSTM`, `GRU`, `SimpleRNN`, `RNN`), or its serialized config.
        merge_mode: 'concat' (default), 'sum', 'mul', 'ave', or None for the list `[forward, backward]`.
        weights: Optional initial weights: the forward layer's then the backward layer's, set at build.
        backward_layer: Optional layer for the backward direction (it must have `go_backwards=True` and the same
            `return_sequences`, `return_state` and `stateful` as `layer`).

    Call arguments: as the wrapped layer's; `initial_state` lists the forward states, then the backward ones.

    Example:
        >>> from plait.layers import LSTM
        >>> Bidirectional(LSTM(4, return_sequences=True))(torch.ones(2, 5, 3)).shape
        torch.Size([2, 5, 8])
    """

    supports_masking = True

    def __init__(self, layer: Any, merge_mode: str | None = "concat", weights: list[Any] | None = None,
                 backward_layer: Any = None, **kwargs: Any) -> None:
        layer = _as_layer(layer, "layer", "Bidirectional")
        if backward_layer is not None:
            backward_layer = _as_layer(backward_layer, "backward_layer", "Bidirectional")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional merge_mode must be one of {list(_MERGE_MODES)}, got {merge_mode!r}.")
        super().__init__(**kwargs)
        self.forward_layer = _copy(layer, name="forward_" + layer.name.removeprefix("forward_"))
        self.backward_layer = backward_layer if backward_layer is not None else _copy(
            layer, name="backward_" + layer.name.removeprefix("backward_"), go_backwards=True)
        self._check_directions()
        for direction in (self.forward_layer, self.backward_layer):
            if hasattr(direction, "zero_output_for_mask"):
                direction.zero_output_for_mask = direction.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = self.forward_layer.return_sequences
        self.return_state = self.forward_layer.return_state
        self.stateful = getattr(self.forward_layer, "stateful", False)
        self._initial_weights = weights

    def _check_directions(self) -> None:
        forward, backward = self.forward_layer, self.backward_layer
        if getattr(forward, "go_backwards", None) == getattr(backward, "go_backwards", None):
            raise ValueError("Bidirectional's forward and backward layers need different go_backwards values, got "
                             f"{getattr(forward, 'go_backwards', None)} for both. Give the backward_layer "
                             "go_backwards=True.")
        for attribute in ("stateful", "return_sequences", "return_state"):
            if getattr(forward, attribute, None) != getattr(backward, attribute, None):
                raise ValueError(f"Bidirectional's forward and backward layers need the same {attribute}, got "
                                 f"{getattr(forward, attribute, None)} and {getattr(backward, attribute, None)}.")

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        return super().__call__(fold_symbolic_states(inputs, kwargs), *args, **kwargs)

    def build(self, input_shape: Any) -> None:
        shape = sequence_shape(input_shape)
        self.forward_layer._maybe_build(shape)
        self.backward_layer._maybe_build(shape)
        if self._initial_weights:
            half = len(self._initial_weights) // 2
            self.forward_layer.set_weights(self._initial_weights[:half])
            self.backward_layer.set_weights(self._initial_weights[half:])
            self._initial_weights = None

    def compute_output_shape(self, input_shape: Any) -> Any:
        output = self.forward_layer.compute_output_shape(sequence_shape(input_shape))
        states: list = []
        if self.return_state:
            output, states = output[0], list(output[1:])
        if self.merge_mode == "concat":
            output = tuple(output[:-1]) + (output[-1] * 2,)
        outputs = [output, output] if self.merge_mode is None else [output]
        if self.return_state:
            return outputs + states + states
        return outputs if self.merge_mode is None else output

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        mask = mask[0] if isinstance(mask, (list, tuple)) else mask
        output_mask = mask if self.return_sequences else None
        masks = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if self.return_state:
            return masks + [None] * 2 * len(getattr(self.forward_layer, "state_size", []))
        return masks if self.merge_mode is None else output_mask

    def call(self, sequences: Any, initial_state: Any = None, mask: Any = None,
             training: bool | None = None) -> Any:
        sequences, initial_state = split_states(sequences, initial_state)
        halves: list[Any] = [None, None]
        if initial_state is not None:
            half = len(initial_state) // 2
            halves = [list(initial_state[:half]), list(initial_state[half:])]
        results = []
        for direction, state in zip((self.forward_layer, self.backward_layer), halves):
            kwargs: dict[str, Any] = {"training": training}
            if mask is not None and _takes(direction, "mask"):
                kwargs["mask"] = mask
            if state is not None:
                kwargs["initial_state"] = state
            results.append(direction(sequences, **kwargs))
        y, y_rev = results
        states: list = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev.flip(1)
        output = _merge(self.merge_mode, y, y_rev)
        if self.return_state:
            return output + states if self.merge_mode is None else [output, *states]
        return output

    def reset_state(self) -> None:
        """Forgets both directions' carried states (stateful layers only)."""
        if not self.stateful:
            raise AttributeError(f"Bidirectional {self.name!r} is not stateful, so it has no states to reset.")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    reset_states = reset_state

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "merge_mode": self.merge_mode, "layer": LAYERS.serialize(self.forward_layer),
                "backward_layer": LAYERS.serialize(self.backward_layer)}


def _merge(mode: str | None, y: torch.Tensor, y_rev: torch.Tensor) -> Any:
    if mode == "concat":
        return torch.cat([y, y_rev], dim=-1)
    if mode == "sum":
        return y + y_rev
    if mode == "ave":
        return (y + y_rev) / 2
    if mode == "mul":
        return y * y_rev
    return [y, y_rev]


@LAYERS.register()
class TimeDistributed(Layer):
    """Applies a layer to every time step of `(batch, time, ...)` inputs: the same weights at each step.

    The steps go through the layer as one batch of `batch * time` samples, which is what a per-step loop
    computes for any layer that treats samples independently. (A BatchNormalization inside normalizes over all
    steps at once in training, where Keras 3 normalizes each step's batch on its own.)

    Args:
        layer: The layer to apply (or its serialized config).

    Example:
        >>> from plait.layers import Dense
        >>> TimeDistributed(Dense(8))(torch.ones(2, 5, 3)).shape
        torch.Size([2, 5, 8])
    """

    supports_masking = True

    def __init__(self, layer: Any, **kwargs: Any) -> None:
        layer = _as_layer(layer, "layer", "TimeDistributed")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        if len(shape) < 3:
            raise ValueError(f"TimeDistributed {self.name!r} expects inputs of shape (batch, time, ...), at least "
                             f"rank 3, got {shape}.")
        self.layer._maybe_build((None,) + shape[2:])

    def compute_output_shape(self, input_shape: Any) -> Any:
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return tuple(input_shape[:2]) + tuple(inner[1:])

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return mask

    def call(self, inputs: torch.Tensor, training: bool | None = None, mask: Any = None) -> torch.Tensor:
        batch, steps = inputs.shape[:2]
        kwargs: dict[str, Any] = {"training": training}
        if mask is not None and _takes(self.layer, "mask"):
            kwargs["mask"] = torch.as_tensor(mask).reshape(batch * steps, *torch.as_tensor(mask).shape[2:])
        out = self.layer(inputs.reshape(batch * steps, *inputs.shape[2:]), **kwargs)
        return out.reshape(batch, steps, *out.shape[1:])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "layer": LAYERS.serialize(self.layer)}
