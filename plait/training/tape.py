"""GradientTape: TensorFlow's custom-training idiom on top of torch autograd."""
from __future__ import annotations

from typing import Any

import torch

from plait import tree


def _tensors(x: Any) -> list:
    # A None in a target, upstream-gradient or watch structure (an output with no loss) is skipped, not an
    # error; sources do not go through here, since the gradients returned must line up with them one to one.
    return [t for t in tree.flatten(x) if t is not None]


class GradientTape:
    """Records the operations run inside `with` so that `gradient(target, sources)` can differentiate them.

    torch records every operation on tensors that require grad, so the tape only has to make sure
    gradients are enabled, watch plain tensors on request, and hand back gradients in the sources'
    structure (None for a source the target does not depend on). Gradients are returned, not
    accumulated into `.grad`, so a step without `apply_gradients` changes nothing.

    Args:
        persistent: Allow several `gradient` calls on the same tape.
        watch_accessed_variables: Kept for TensorFlow compatibility; trainable variables are always watched.

    Example:
        >>> import plait, torch
        >>> w = plait.Variable(torch.tensor(3.0))
        >>> with plait.GradientTape() as tape:
        ...     y = w * w
        >>> float(tape.gradient(y, w))
        6.0
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True) -> None:
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self._grad_mode: torch.autograd.grad_mode.set_grad_enabled | None = None
        self._used = False
        self._watched: list[torch.Tensor] = []

    def __enter__(self) -> "GradientTape":
        self._grad_mode = torch.enable_grad()
        self._grad_mode.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._grad_mode.__exit__(*exc)

    def watch(self, tensor: Any) -> None:
        """Tracks a plain tensor (e.g. an input) so gradients with respect to it can be taken."""
        for t in _tensors(tensor):
            if not isinstance(t, torch.Tensor) or not t.is_floating_point():
                raise TypeError(f"GradientTape.watch needs floating-point tensors, got {type(t).__name__}"
                                f"{'' if not isinstance(t, torch.Tensor) else ' of dtype ' + str(t.dtype)}.")
            if not t.requires_grad:
                if t.grad_fn is not None:
                    raise ValueError("Cannot watch a tensor computed before it was watched; call tape.watch(x) "
                                     "before using x inside the tape.")
                t.requires_grad_(True)
            self._watched.append(t)

    def watched_variables(self) -> list[torch.Tensor]:
        return list(self._watched)

    def gradient(self, target: Any, sources: Any, output_gradients: Any = None,
                 unconnected_gradients: str = "none") -> Any:
        """d(target)/d(sources), shaped like `sources`; None (or zeros) where the target does not depend on one.

        Args:
            target: A tensor (several are summed, as TensorFlow does).
            sources: A tensor/variable or a nested list/dict of them (e.g. `model.trainable_variables`).
            output_gradients: Optional upstream gradients for `target`.
            unconnected_gradients: 'none' (default) or 'zero'.
        """
        if self._used and not self.persistent:
            raise RuntimeError("A non-persistent GradientTape can only compute one set of gradients. "
                               "Use GradientTape(persistent=True) to call gradient() several times.")
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(f"unconnected_gradients must be 'none' or 'zero', got {unconnected_gradients!r}.")
        self._used = True
        targets = _tensors(target)
        if not targets or not all(isinstance(t, torch.Tensor) for t in targets):
            raise TypeError(f"gradient() needs the target to be a tensor computed inside the tape, got "
                            f"{type(target).__name__}.")
        flat_sources = tree.flatten(sources)
        for s in flat_sources:
            if not isinstance(s, torch.Tensor):
                raise TypeError(f"gradient() sources must be tensors or variables, got {type(s).__name__}.")
        wanted = [i for i, s in enumerate(flat_sources) if s.requires_grad]
        grads: list[Any] = [None] * len(flat_sources)
        connected = [t for t in targets if t.requires_grad]
        if wanted and connected:
            grad_outputs = None if output_gradients is None else _tensors(output_gradients)
            if grad_outputs is not None:
                grad_outputs = [g for g, t in zip(grad_outputs, targets) if t.requires_grad]
            computed = torch.autograd.grad(connected, [flat_sources[i] for i in wanted], grad_outputs=grad_outputs,
                                           retain_graph=self.persistent, allow_unused=True)
            for i, g in zip(wanted, computed):
                grads[i] = g
        if unconnected_gradients == "zero":
            grads = [torch.zeros_like(s) if g is None else g for g, s in zip(grads, flat_sources)]
        if isinstance(sources, torch.Tensor):
            return grads[0]
        return tree.pack_sequence_as(sources, grads)
