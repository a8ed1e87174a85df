"""Optimizer state for saving and exact resumption: iterations, learning rate, host scalars and per-variable slots.

Slots are keyed by the variable's position in the list given to `build`, so a model that rebuilds its
variables in the same order restores its optimizer exactly.
"""
from __future__ import annotations

from typing import Any

import torch

from plait.variables import Variable


class OptimizerState:
    """Mixin of `Optimizer`: the `variables` view and `state_dict` / `load_state_dict`."""

    _iterations: int
    _learning_rate: Any
    _scalars: dict[str, float]
    _slots: dict[str, list[Variable]]
    _variables: list[torch.Tensor]
    built: bool
    name: str

    @property
    def variables(self) -> list[torch.Tensor]:
        """The state as Keras lists it: iterations, learning rate (if a float), then each variable's slots."""
        out: list[torch.Tensor] = [Variable(torch.tensor(self._iterations, dtype=torch.int64), False, "iteration")]
        if isinstance(self._learning_rate, float):
            out.append(Variable(torch.tensor(self._learning_rate, dtype=torch.float32), False, "learning_rate"))
        for i in range(len(self._variables)):
            out.extend(slots[i] for slots in self._slots.values())
        return out

    def state_dict(self) -> dict[str, torch.Tensor]:
        """All state as a flat `{name: tensor}` dict (safetensors- and torch.save-ready).

        Keys: `iterations`, `learning_rate` (when a float), `scalars/<name>`, and `<slot>/<i>` where `i` is the
        variable's position in the list given to `build`. Slot tensors are the live state, not copies.
        """
        state = {"iterations": torch.tensor(self._iterations, dtype=torch.int64)}
        if isinstance(self._learning_rate, float):
            state["learning_rate"] = torch.tensor(self._learning_rate, dtype=torch.float64)
        for name, value in self._scalars.items():
            state[f"scalars/{name}"] = torch.tensor(value, dtype=torch.float64)
        for name, slots in self._slots.items():
            for i, s in enumerate(slots):
                state[f"{name}/{i}"] = s.detach()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores `state_dict()`'s output so training resumes exactly where it stopped; build first."""
        if not self.built:
            raise ValueError("load_state_dict needs a built optimizer: call "
                             "`optimizer.build(model.trainable_variables)` first, with the same variables in the "
                             "same order as when the state was saved.")
        expected = set(self.state_dict())
        expected.discard("learning_rate")
        given = set(state)
        given.discard("learning_rate")
        if expected != given:
            raise ValueError(f"Optimizer state does not match {type(self).__name__} '{self.name}': missing keys "
                             f"{sorted(expected - given)}, unexpected keys {sorted(given - expected)}. Was it "
                             "saved from the same optimizer class and options, built on the same variables?")
        for name, slots in self._slots.items():
            for i, s in enumerate(slots):
                value = torch.as_tensor(state[f"{name}/{i}"])
                if value.shape != s.shape:
                    raise ValueError(f"Saved slot '{name}/{i}' has shape {tuple(value.shape)}, expected "
                                     f"{tuple(s.shape)}; the variables differ from those the state was saved with.")
        with torch.no_grad():
            for name, slots in self._slots.items():
                for i, s in enumerate(slots):
                    s.copy_(torch.as_tensor(state[f"{name}/{i}"]).to(device=s.device, dtype=s.dtype))
        self._iterations = int(state["iterations"])
        for name in self._scalars:
            self._scalars[name] = float(state[f"scalars/{name}"])
        if "learning_rate" in state and isinstance(self._learning_rate, float):
            self._learning_rate = float(state["learning_rate"])
