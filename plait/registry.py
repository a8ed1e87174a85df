"""One small registry class: string id -> class or function, with close-match suggestions in errors."""
from __future__ import annotations

import difflib
import re
from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")


def to_snake_case(name: str) -> str:
    """`CategoricalCrossentropy` -> `categorical_crossentropy` (Keras's rule, so ids match Keras)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


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
        close = self.suggestions(name)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        shown = ", ".join(repr(n) for n in self._distinct_names()[:40])
        return f"Unknown {self.kind} {name!r}.{hint} Known {self.kind} ids: {shown}."

    def _distinct_names(self) -> list[str]:
        """One spelling per id up to case and underscores, preferring the snake_case string id."""
        chosen: dict[str, str] = {}
        for key in sorted(self._items, key=lambda k: (k != k.lower(), k)):
            chosen.setdefault(key.lower().replace("_", ""), key)
        return sorted(chosen.values())

    def suggestions(self, name: str, n: int = 3) -> list[str]:
        """The registered ids closest to `name` (typos, swapped letters, wrong case)."""
        query = name.lower()
        scored = sorted((_edit_distance(query, cand.lower()), cand) for cand in self._distinct_names())
        limit = max(2, len(query) // 3)
        close = [cand for dist, cand in scored if dist <= limit][:n]
        return close or difflib.get_close_matches(name, self._distinct_names(), n=n, cutoff=0.6)

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


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance with adjacent transpositions ('adma' -> 'adam' is one edit)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]
