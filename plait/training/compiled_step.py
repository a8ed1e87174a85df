"""The train step's gradients as one torch.compile'd graph: what `jit_compile=True` runs.

torch.compile traces `torch.func.grad_and_value` of the model's forward and loss, with the trainable
variables as inputs (`torch.func.functional_call`). Forward and backward then form a single graph, without
autograd's runtime wrappers, which on small steps cost more than they save. The optimizer stays outside,
with its fused kernels, so compiled and eager steps apply the same update rule.

- Non-trainable weights and buffers go in as plain inputs: a layer may update them in place (the moving
  statistics of BatchNormalization), which a gradient transform allows only on its inputs.
- The regularizers hold the model's own weights; the graph scores the traced ones in their place.
- A variable that the last eager step found unused keeps a None gradient, as in eager mode.
- On CUDA the graph is replayed as a CUDA graph (torch.compile's 'reduce-overhead' mode), which removes the
  per-kernel launch cost that dominates small steps. Its outputs live until the next step, which has used
  them (optimizer, loss tracker, metrics) by then.
- If the first call, which traces the step, fails, the model trains eagerly, with a warning.
"""
from __future__ import annotations

import warnings
from typing import Any

import torch

from plait.caller import user_stacklevel


class CompiledGradients:
    """`step(variables, x, y, sample_weight) -> (grads, loss, y_pred, parts)`, or None where tracing failed.

    Args:
        model: The plait Model (its losses and metrics resolved by a first, eager step).
        variables: The trainable variables, in the order the optimizer receives their gradients.
        unused: Indices of `variables` that get no gradient (found by an eager step).
    """

    def __init__(self, model: Any, variables: list[torch.nn.Parameter], unused: list[int]) -> None:
        names = {id(p): n for n, p in model.named_parameters()}  # trainable_weights are the model's parameters
        self.ids = tuple(map(id, variables))
        self.unused = unused
        self.failed = False
        self._traced = False
        self._model = model
        self._state_for: list[torch.nn.Parameter] | None = None  # the variable list `_state` was read for
        self._state: dict[str, torch.Tensor] = {}
        keys = [names[i] for i in self.ids]
        position = {i: k for k, i in enumerate(self.ids)}
        regularized = [(position.get(id(v)), v, reg) for v, reg in model._regularized_weights()]

        def loss_of(params: list[torch.Tensor], state: dict[str, torch.Tensor], x: Any, y: Any,
                    sample_weight: Any) -> Any:
            y_pred = torch.func.functional_call(model, {**dict(zip(keys, params)), **state}, (x,), {"training": True})
            penalties = [reg(v if k is None else params[k]) for k, v, reg in regularized]
            penalties += model._collect_added_losses()  # the add_loss terms of this traced forward pass
            total, parts = model._loss_and_parts(y, y_pred, sample_weight, penalties)
            return total, (y_pred, parts)

        self.cuda_graphs = model._device().type == "cuda"
        mode = "reduce-overhead" if self.cuda_graphs else None
        self._graph = torch.compile(torch.func.grad_and_value(loss_of, has_aux=True), mode=mode)

    def __call__(self, variables: list[torch.nn.Parameter], x: Any, y: Any, sample_weight: Any) -> Any:
        if self.cuda_graphs:  # the last step's graph outputs may be overwritten from here on
            torch.compiler.cudagraph_mark_step_begin()
        if variables is not self._state_for:  # once per fit (a new variable list): module.to() swaps buffers
            trainable = set(self.ids)
            self._state = {n: t for n, t in [*self._model.named_parameters(), *self._model.named_buffers()]
                           if id(t) not in trainable}
            self._state_for = variables
        args = ([v.detach() for v in variables], self._state, x, y, sample_weight)
        try:
            grads, (loss, (y_pred, parts)) = self._graph(*args)
        except Exception as err:  # noqa: BLE001 - the eager step that follows re-raises errors in the data
            if self._traced:  # only the first call, which traces the step, falls back
                raise
            reason = (str(err).strip().splitlines() or [""])[0]
            warnings.warn(f"jit_compile=True could not compile this model's train step as one graph, so it "
                          f"runs eagerly ({type(err).__name__}: {reason}). Compile with jit_compile=False to "
                          "silence this.", RuntimeWarning, stacklevel=user_stacklevel())
            self.failed = True
            return None
        self._traced = True
        grads = list(grads)
        for i in self.unused:
            grads[i] = None
        return grads, loss, y_pred, parts
