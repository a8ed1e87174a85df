"""Weight regularizers (penalties added to the loss) with Keras's names and defaults."""
from __future__ import annotations

from typing import Any, Callable

import torch

from plait.registry import Registry, instance_or_function


class Regularizer:
    """Base class: `regularizer(weight)` returns a scalar penalty added to the training loss."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Regularizer":
        return cls(**config)


REGULARIZERS: Registry = Registry("regularizer", base=Regularizer, wrap=instance_or_function, error=ValueError,
                                  hint="Pass e.g. 'l2' or plait.regularizers.L2(1e-4).")


def _check(name: str, value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ValueError(f"Regularization factor {name} must be a non-negative number, got {value!r}.")
    return float(value)


@REGULARIZERS.register("l1_l2")
class L1L2(Regularizer):
    """`l1 * sum(|w|) + l2 * sum(w**2)`.

    Example:
        >>> round(float(L1L2(l1=0.1, l2=0.01)(torch.tensor([1.0, -2.0]))), 6)  # float32 arithmetic
        0.35
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1, self.l2 = _check("l1", l1), _check("l2", l2)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = x.new_zeros(())
        if self.l1:
            out = out + self.l1 * x.abs().sum()
        if self.l2:
            out = out + self.l2 * x.square().sum()
        return out

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


@REGULARIZERS.register()
class L1(L1L2):
    """`l1 * sum(|w|)`, Keras default l1=0.01."""

    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


@REGULARIZERS.register()
class L2(L1L2):
    """`l2 * sum(w**2)`, Keras default l2=0.01 (no factor 1/2, as Keras)."""

    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


l1, l2, l1_l2 = L1, L2, L1L2


def get(identifier: Any) -> Regularizer | Callable[..., Any] | None:
    """None, a string id ('l1', 'l2', 'l1_l2'), a config dict, an instance, or a callable `fn(weight) -> penalty`
    (a class is instantiated, as in Keras)."""
    return REGULARIZERS.get(identifier)


def serialize(regularizer: Any) -> dict[str, Any] | None:
    """`{"class_name", "config"}` for a `Regularizer`; None for None."""
    return None if regularizer is None else REGULARIZERS.serialize(regularizer, short=True)


def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Regularizer:
    """Rebuilds a regularizer from `serialize`'s output (or a string id such as 'l2')."""
    return REGULARIZERS.deserialize(config, custom_objects)
