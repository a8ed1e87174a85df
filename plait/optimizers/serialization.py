"""The optimizer registry and string-id / config resolution: `get`, `serialize`, `deserialize`."""
from __future__ import annotations

from typing import Any

import torch

from plait.optimizers.optimizer import Optimizer
from plait.optimizers.torch_optimizer import TorchOptimizer
from plait.registry import Registry

OPTIMIZERS: Registry = Registry(
    "optimizer", base=(Optimizer, TorchOptimizer),
    hint="Expected a string id such as 'adam', a plait optimizer (plait.optimizers.Adam()), a torch.optim "
         "optimizer, or a config dict.")
OPTIMIZERS.add("TorchOptimizer", TorchOptimizer)  # so a saved compile config finds it (a class name, not an id)


def register_optimizer(cls: type) -> type:
    """Registers an optimizer class under its class name and its lower-case name (`"Adam"`, `"adam"`)."""
    OPTIMIZERS.add(cls.__name__, cls)
    OPTIMIZERS.add(cls.__name__.lower(), cls)
    return cls


def serialize(optimizer: Optimizer | TorchOptimizer) -> dict[str, Any]:
    """`{"module", "class_name", "config", "registered_name"}` for an optimizer (Keras's layout)."""
    if isinstance(optimizer, torch.optim.Optimizer):
        optimizer = TorchOptimizer(optimizer)
    return OPTIMIZERS.serialize(optimizer, module="plait.optimizers")


def deserialize(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Optimizer | TorchOptimizer:
    """Rebuilds an optimizer from `serialize`'s output; custom classes come from `custom_objects` by name."""
    return OPTIMIZERS.deserialize(config, custom_objects)


def get(identifier: Any, **kwargs: Any) -> Optimizer | TorchOptimizer:
    """Resolves `"adam"`/`"Adam"` (default arguments, or `kwargs`), a serialized dict, an optimizer instance,
    or a `torch.optim` optimizer (an instance, or a class created from the model's variables at the first
    step, with `kwargs`), which is wrapped in a `TorchOptimizer`.

    Example:
        >>> get("adam").learning_rate
        0.001
        >>> get(torch.optim.AdamW, lr=0.01).learning_rate
        0.01
    """
    if isinstance(identifier, torch.optim.Optimizer) or (
            isinstance(identifier, type) and issubclass(identifier, torch.optim.Optimizer)):
        return TorchOptimizer(identifier, **kwargs)
    if identifier is None:
        OPTIMIZERS.refuse(identifier)  # compile needs an optimizer: None is not "no optimizer"
    return OPTIMIZERS.get(identifier, **kwargs)
