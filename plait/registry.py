"""One small registry class: string id -> class or function, with close-match suggestions in errors."""
from __future__ import annotations

import difflib
import re
from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")


def to_snake_case(name: str) -> str:
    """`CategoricalCrossentropy` -> `categorical_crossentropy` (Keras's rule, so ids match Keras)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


class Registry(Generic[T]):
    """Maps string ids to objects of one kind (losses, optimizers, metrics, layers, ...).

    Lookup is exact first, then case-insensitive, so `"Adam"`, `"adam"` and `"ADAM"` all resolve,
    while Keras's case-sensitive aliases such as `"MSE"` still map where registered.

    Example:
        >>> reg = Registry("activation")
        >>> @reg.register("identity")
        ... def identity(x): return x
        >>> reg.lookup("identity") is identity
        True
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, *names: str) -> Callable[[T], T]:
        """Decorator registering an object under its class name, its snake_case name and `names`."""

        def decorator(obj: T) -> T:
            own = getattr(obj, "__name__", None)
            keys = list(names)
            if own is not None:
                keys += [own, to_snake_case(own)]
            for key in keys:
                self._items[key] = obj
            return obj

        return decorator

    def add(self, name: str, obj: T) -> None:
        self._items[name] = obj

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None

    def _find(self, name: str) -> T | None:
        if name in self._items:
            return self._items[name]
        lowered = name.lower()
        for key, value in self._items.items():
            if key.lower() == lowered:
                return value
        return None

    def lookup(self, name: str) -> T:
        """Returns the object registered as `name`, or raises a ValueError naming the closest ids."""
        if not isinstance(name, str):
            raise TypeError(f"Expected a string {self.kind} id, got {type(name).__name__}: {name!r}.")
        found = self._find(name)
        if found is None:
            raise ValueError(self.unknown_message(name))
        return found

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.6)
        if not close:
            close = difflib.get_close_matches(name.lower(), [n.lower() for n in self.names()], n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        shown = ", ".join(repr(n) for n in self.names()[:40])
        return f"Unknown {self.kind} {name!r}.{hint} Known {self.kind} ids: {shown}."

    def get(self, identifier: Any, **kwargs: Any) -> Any:
        """Resolves a string id (instantiating classes with `kwargs`), passes instances and callables through."""
        if identifier is None:
            return None
        if isinstance(identifier, str):
            obj = self.lookup(identifier)
            return obj(**kwargs) if isinstance(obj, type) else obj
        if isinstance(identifier, dict) and "class_name" in identifier:
            cls = self.lookup(identifier["class_name"])
            return cls.from_config(identifier.get("config", {}))
        return identifier
