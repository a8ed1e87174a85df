"""Variable: a torch Parameter with the Keras conveniences (`.numpy()`, `.assign()`, a name)."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch


class Variable(torch.nn.Parameter):
    """A model weight. It *is* a `torch.nn.Parameter`, so `model.parameters()` and torch.optim see it.

    Example:
        >>> v = Variable(torch.zeros(2), name="bias")
        >>> v.numpy()
        array([0., 0.], dtype=float32)
    """

    def __new__(cls, data: torch.Tensor, trainable: bool = True, name: str | None = None) -> "Variable":
        var = torch.Tensor._make_subclass(cls, data, trainable)
        var._plait_name = name or "variable"
        return var

    @property
    def name(self) -> str:
        return getattr(self, "_plait_name", "variable")

    @property
    def path(self) -> str:
        return getattr(self, "_plait_path", self.name)

    @property
    def trainable(self) -> bool:
        return self.requires_grad

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self.requires_grad_(bool(value))

    @property
    def value(self) -> torch.Tensor:
        return self

    def numpy(self, *, force: bool = False) -> np.ndarray:  # noqa: ARG002 - torch signature
        """A NumPy copy of the current value (works while the variable requires grad)."""
        return self.detach().cpu().numpy().copy()

    def assign(self, value: Any) -> "Variable":
        """Writes `value` into the variable in place; the shape must match."""
        new = torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value)
        if tuple(new.shape) != tuple(self.shape):
            raise ValueError(f"Cannot assign a value of shape {tuple(new.shape)} to variable {self.name!r} "
                             f"of shape {tuple(self.shape)}; pass an array of shape {tuple(self.shape)}.")
        with torch.no_grad():
            self.copy_(new.to(dtype=self.dtype, device=self.device))
        return self

    def assign_add(self, value: Any) -> "Variable":
        return self.assign(self.detach() + torch.as_tensor(value, dtype=self.dtype, device=self.device))

    def assign_sub(self, value: Any) -> "Variable":
        return self.assign(self.detach() - torch.as_tensor(value, dtype=self.dtype, device=self.device))

    def __repr__(self) -> str:
        dtype = str(self.dtype).replace("torch.", "")
        return (f"<plait.Variable {self.name!r} shape={tuple(self.shape)} dtype={dtype} "
                f"trainable={self.trainable}>")

    def __deepcopy__(self, memo: dict) -> "Variable":
        if id(self) in memo:
            return memo[id(self)]
        copied = Variable(self.detach().clone(memory_format=torch.preserve_format), self.requires_grad, self.name)
        memo[id(self)] = copied
        return copied

    def __reduce_ex__(self, proto: int):  # deepcopy / torch.save keep the subclass and its name
        return (_rebuild_variable, (self.detach().clone(), self.requires_grad, self.name))


def _rebuild_variable(data: torch.Tensor, trainable: bool, name: str) -> Variable:
    return Variable(data, trainable=trainable, name=name)
