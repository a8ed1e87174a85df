"""The optimizer registry and string-id / config resolution: `get`, `serialize`, `deserialize`."""
from __future__ import annotations

from typing import Any

import torch

from plait.optimizers.optimizer import Optimizer
from plait.registry import Registry

OPTIMIZERS: Registry = Registry("optimizer")


def register_optimizer(cls: type) -> type:
    """Registers an optimizer class under its class name and its lower-case name (`"Adam"`, `"adam"`)."""
    OPTIMIZERS.add(cls.__name__, cls)
    OPTIMIZERS.add(cls.__name__.lower(), cls)
    return cls


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """`{"module", "class_name", "config", "registered_name"}` for an optimizer (Keras's layout)."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"serialize expects a plait optimizer, got {type(optimizer).__name__}: {optimizer!r}.")
    cls = type(optimizer)
    builtin = OPTIMIZERS._items.get(cls.__name__) is cls
    return {"module": "plait.optimizers" if builtin else cls.__module__, "class_name": cls.__name__,
            "config": optimizer.get_config(), "registered_name": None if builtin else cls.__name__}


def deserialize(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Optimizer:
    """Rebuilds an optimizer from `serialize`'s output; custom classes come from `custom_objects` by name."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("deserialize expects a dict with 'class_name' and 'config' (the output of serialize), "
                         f"got {config!r}.")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or OPTIMIZERS.lookup(name)
    return cls.from_config(dict(config.get("config", {})), custom_objects)


def get(identifier: Any, **kwargs: Any) -> Optimizer:
    """Resolves `"adam"`/`"Adam"` (default arguments, or `kwargs`), a serialized dict, or an optimizer instance.

    Example:
        >>> get("adam").learning_rate
        0.001
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return OPTIMIZERS.lookup(identifier)(**kwargs)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    hint = " Use a plait optimizer, e.g. plait.optimizers.Adam(), not a torch.optim one." \
        if isinstance(identifier, torch.optim.Optimizer) else ""
    raise TypeError(f"Could not interpret optimizer identifier: {identifier!r}. Expected a string id such as "
                    f"'adam', a config dict, or an Optimizer instance.{hint}")
