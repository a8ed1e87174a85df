"""Registries: string id -> class or function for one kind, and that kind's `get`, `serialize` and `deserialize`.

Every kind (layers and models, losses, metrics, optimizers, learning-rate schedules, initializers,
activations, regularizers, and the function twins of metrics and losses) has one `Registry`, which owns:

- lookup: exact, then case-insensitive, with close-match suggestions in errors;
- `get`: what a user may pass (a string id, a config dict, a class, an instance, a function) -> an object;
- `serialize` / `deserialize`: an object -> a Keras-style config and back, resolving names through the
  registry and the user's custom objects only (nothing a config names is ever imported).

What differs between kinds is given as arguments, not written again: `base` (the class of the kind's objects),
`functions` (a kind made of functions, saved by name), `wrap` (what a bare callable becomes: a
`MeanMetricWrapper` for metrics, a `LossFunctionWrapper` for losses), and `error`/`hint` (what `get` raises for
anything else, and the fix it suggests).

Custom objects are found by lookup: each registry consults the scopes of `plait.custom_objects` before its
own entries, seeing only the objects of its kind. Registries are never written to by a scope.
"""
from __future__ import annotations

import difflib
import inspect
import itertools
import re
from collections.abc import Iterator, Mapping
from typing import Any, Callable, Generic, NoReturn, TypeVar

from plait.custom_objects import deserialization_scope, get_registered_name, open_scopes
from plait.errors import FormatError

T = TypeVar("T")


def to_snake_case(name: str) -> str:
    """`CategoricalCrossentropy` -> `categorical_crossentropy` (Keras's rule, so ids match Keras)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def instance_or_function(obj: Callable[..., Any]) -> Any:
    """Keras's rule for initializers and regularizers given as callables: a class is instantiated with its
    defaults, a function is used as it is. A `wrap` for `Registry`."""
    return obj() if inspect.isclass(obj) else obj


class Registry(Generic[T]):
    """Maps string ids to objects of one kind and resolves identifiers of that kind.

    Lookup is exact first, then case-insensitive, so `"Adam"`, `"adam"` and `"ADAM"` all resolve,
    while Keras's case-sensitive aliases such as `"MSE"` still map where registered.

    Args:
        kind: What the registry holds, for messages ('metric', 'learning rate schedule').
        base: The class (or classes) of this kind's objects. Instances pass through `get`, subclasses are
            instantiated, and custom objects are seen only when they subclass it. None: a kind without one base
            (custom classes are all seen; `get` takes any object as it is).
        functions: Whether this kind is made of functions (activations, metric functions): a string id gives
            the function itself, callables pass through `get`, and `serialize` writes a function's id.
        wrap: What `get` makes of a callable that is not of this kind (`MeanMetricWrapper` for metrics); None
            refuses it. A class can name itself with `register(wrapper=True)`.
        error: The exception `get` and `serialize` raise for an object they cannot take.
        hint: The end of that error's message: what to pass instead.

    Example:
        >>> reg = Registry("activation", functions=True)
        >>> @reg.register("identity")
        ... def identity(x): return x
        >>> reg.lookup("identity") is identity and reg.get("identity") is identity
        True
        >>> reg.serialize(identity)
        'identity'
    """

    def __init__(self, kind: str, *, base: type | tuple[type, ...] | None = None, functions: bool = False,
                 wrap: Callable[[Callable[..., Any]], Any] | None = None, error: type[Exception] = TypeError,
                 hint: str = "") -> None:
        self.kind = kind
        self.base = base
        self.functions = functions
        self.wrap = wrap
        self.error = error
        self.hint = hint
        self._items: dict[str, T] = {}

    # ------------------------------------------------------------------------------------------ registering
    def register(self, *names: str, wrapper: bool = False) -> Callable[[T], T]:
        """Decorator registering an object under its class name, its snake_case name and `names`.

        With `wrapper=True` the class also becomes this registry's `wrap`: what `get` turns bare callables into.
        """

        def decorator(obj: T) -> T:
            own = getattr(obj, "__name__", None)
            keys = list(names)
            if own is not None:
                keys += [own, to_snake_case(own)]
            for key in keys:
                self._items[key] = obj
            if wrapper:
                self.wrap = obj  # type: ignore[assignment]
            return obj

        return decorator

    def add(self, name: str, obj: T) -> None:
        self._items[name] = obj

    def registered(self, name: str) -> T | None:
        """The object registered under exactly `name` (no case folding, no custom objects), or None."""
        return self._items.get(name)

    # ------------------------------------------------------------------------------------------ lookup
    def sees(self, obj: Any) -> bool:
        """Whether a custom object is of this registry's kind (a custom-object scope holds every kind)."""
        if inspect.isclass(obj):
            return issubclass(obj, self.base) if self.base is not None else not self.functions
        return self.functions and callable(obj)

    def _scoped(self) -> Iterator[tuple[str, Any]]:
        """(name, object) of the open custom-object scopes that this registry sees, innermost scope first."""
        for frame in reversed(open_scopes()):
            for key, value in frame.items():
                if self.sees(value):
                    yield key, value

    def names(self) -> list[str]:
        """Every id this registry resolves now: its own, and those of the open custom-object scopes."""
        return sorted(set(self._items).union(key for key, _ in self._scoped()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None

    def _find(self, name: str) -> T | None:
        for frame in reversed(open_scopes()):  # the user's objects win over plait's of the same name
            found = frame.get(name)
            if found is not None and self.sees(found):
                return found
        if name in self._items:
            return self._items[name]
        lowered = name.lower()
        for key, value in itertools.chain(self._items.items(), self._scoped()):
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

    def name_of(self, obj: Any) -> str | None:
        """The id `obj` is found under (its own `__name__` when that resolves to it), or None."""
        own = getattr(obj, "__name__", None)
        if isinstance(own, str) and self._find(own) is obj:
            return own
        return next((key for key in self.names() if self._find(key) is obj), None)

    def unknown_message(self, name: str) -> str:
        close = self.suggestions(name)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        shown = ", ".join(repr(n) for n in self._distinct_names()[:40])
        return f"Unknown {self.kind} {name!r}.{hint} Known {self.kind} ids: {shown}."

    def _distinct_names(self) -> list[str]:
        """One spelling per id up to case and underscores, preferring the snake_case string id."""
        chosen: dict[str, str] = {}
        for key in sorted(self.names(), key=lambda k: (k != k.lower(), k)):
            chosen.setdefault(key.lower().replace("_", ""), key)
        return sorted(chosen.values())

    def suggestions(self, name: str, n: int = 3) -> list[str]:
        """The registered ids closest to `name` (typos, swapped letters, wrong case)."""
        query = name.lower()
        scored = sorted((_edit_distance(query, cand.lower()), cand) for cand in self._distinct_names())
        limit = max(2, len(query) // 3)
        close = [cand for dist, cand in scored if dist <= limit][:n]
        return close or difflib.get_close_matches(name, self._distinct_names(), n=n, cutoff=0.6)

    # ------------------------------------------------------------------------------------------ identifiers
    def get(self, identifier: Any, **kwargs: Any) -> Any:
        """Resolves what a user may pass for an object of this kind.

        None gives None; an object of this kind passes through; a string id gives the registered object (a
        function as it is, a class or factory called with `kwargs`); a config dict is deserialized; a subclass
        of `base` is instantiated with `kwargs`; another callable goes to `wrap`. Anything else raises `error`.
        """
        if identifier is None:
            return None
        if isinstance(identifier, str):
            return self._from_id(self.lookup(identifier), kwargs)
        if isinstance(identifier, dict):
            return self.deserialize(identifier)
        if (self.functions and callable(identifier)) or (self.base is not None and isinstance(identifier, self.base)):
            return identifier
        if self.base is not None and inspect.isclass(identifier) and issubclass(identifier, self.base):
            return identifier(**kwargs)
        if self.wrap is not None and callable(identifier):
            return self.wrap(identifier)
        if self.base is None and not self.functions:
            return identifier  # a kind without a base class cannot tell its objects from others: take it
        self.refuse(identifier)

    def refuse(self, identifier: Any) -> NoReturn:
        """Raises this kind's `error` for an identifier `get` cannot interpret."""
        raise self.error(f"Could not interpret {self.kind} identifier {_shown(identifier)} (of type "
                         f"{type(identifier).__name__}). {self.hint}".rstrip())

    def _from_id(self, obj: Any, kwargs: dict[str, Any]) -> Any:
        return obj if self.functions else obj(**kwargs)

    def serialize(self, obj: Any, *, short: bool = False, module: str | None = None) -> Any:
        """A Keras-style config `{"module", "class_name", "config", "registered_name"}` for `obj`.

        A function of a registry of functions is written as its id instead (what `get` turns back into it). A
        string id is resolved first. `registered_name` is None for plait's own classes, else the name the class
        is registered under (`"package>Name"`) or its own name, as in Keras.

        Args:
            obj: An object of this kind.
            short: Write only `{"class_name", "config"}`, the layout of plait's metric, loss and regularizer
                configs.
            module: The module written for plait's own classes (e.g. 'plait.optimizers'); default: the class's.
        """
        if isinstance(obj, str):
            obj = self.get(obj)
        if self.functions:
            name = self.name_of(obj)
            if name is not None:
                return name
            if inspect.isclass(obj) or not hasattr(obj, "get_config"):
                raise self.error(f"Cannot serialize {self.kind} {_shown(obj)}: it is not a registered {self.kind}. "
                                 "Decorate it with @plait.saving.register_serializable() (models then save it by "
                                 f"name), register it in the {self.kind} registry, or use a built-in id.")
        elif self.base is not None and not isinstance(obj, self.base):
            bases = self.base if isinstance(self.base, tuple) else (self.base,)
            raise self.error(f"Cannot serialize {_shown(obj)} (of type {type(obj).__name__}) as {_a(self.kind)}: "
                             f"only {' or '.join(b.__name__ for b in bases)} instances carry a config. Subclass "
                             f"{bases[0].__module__}.{bases[0].__name__} and implement get_config().")
        cls = type(obj)
        if short:
            return {"class_name": cls.__name__, "config": obj.get_config()}
        builtin = cls.__module__.split(".")[0] == "plait"
        return {"module": module if builtin and module else cls.__module__, "class_name": cls.__name__,
                "config": obj.get_config(), "registered_name": None if builtin else get_registered_name(cls)}

    def deserialize(self, config: Any, custom_objects: Mapping[str, Any] | None = None, *,
                    base: type | None = None) -> Any:
        """Rebuilds an object from `serialize`'s output, or from a string id.

        Classes and functions are found only in this registry and among the user's custom objects
        (`custom_objects`, the open custom-object scopes); nothing a config names is imported.

        Args:
            config: A dict with 'class_name' and 'config' (Keras's layout, including its
                `{"class_name": "function", "config": name}` for functions), or a string id.
            custom_objects: Your own classes and functions by name, seen while this object (and whatever
                its `from_config` rebuilds) is rebuilt, together with the `register_serializable` ones.
            base: A class the rebuilt object's class must subclass, narrower than `self.base` (models
                among layers).

        Raises:
            FormatError: For a config that is not such a dict, or that names what this registry cannot find.
        """
        with deserialization_scope(custom_objects):
            if isinstance(config, str):
                return self._from_id(self._lookup_saved(config), {})
            if not isinstance(config, dict) or "class_name" not in config:
                raise FormatError(f"Cannot deserialize {_a(self.kind)} from {_shown(config)}: expected a dict with "
                                  "'class_name' and 'config' (the output of serialize), or a string id.")
            obj = self.resolve(config, base=base)
            if not inspect.isclass(obj):
                return obj  # a function, saved by its id
            inner = config.get("config")
            if inner is None:
                inner = {}
            if not isinstance(inner, dict):
                raise FormatError(f"The 'config' of serialized {self.kind} {str(config['class_name'])[:100]!r} must "
                                  f"be a dict, got {type(inner).__name__}.")
            return obj.from_config(dict(inner)) if hasattr(obj, "from_config") else obj(**inner)

    def resolve(self, spec: Mapping[str, Any], *, base: type | None = None) -> Any:
        """The class (or function) a serialized `{"class_name", "registered_name", ...}` names: its registered
        name first, then its class name (for Keras's function layout, the function's name).

        Raises:
            FormatError: When neither name is found, or the object found is not a subclass of `base` (default
                `self.base`).
        """
        key = "config" if spec.get("class_name") == "function" else "class_name"
        names = [n for n in (spec.get("registered_name"), spec.get(key)) if isinstance(n, str) and n]
        if not names:
            raise FormatError(f"A serialized {self.kind} has no 'class_name' string: {str(dict(spec))[:200]}.")
        want = base or self.base
        for name in names:
            found = self._find(name)
            if found is None:
                continue
            if want is not None and not (inspect.isclass(found) and issubclass(found, want)):
                wanted = want.__name__ if isinstance(want, type) else " or ".join(w.__name__ for w in want)
                raise FormatError(f"The config names {name[:200]!r} as {_a(self.kind)}, but that is not {_a(wanted)} "
                                  "class.")
            return found
        raise FormatError(self._unknown_saved(names[-1]))

    def _lookup_saved(self, name: Any) -> T:
        if not isinstance(name, str):
            raise FormatError(f"Expected a string {self.kind} id in the config, got {type(name).__name__}.")
        found = self._find(name)
        if found is None:
            raise FormatError(self._unknown_saved(name))
        return found

    def _unknown_saved(self, name: str) -> str:
        name = name[:200]
        short = name.split(">")[-1].split(".")[-1]
        return (f"{self.unknown_message(name)} plait never imports code that a config names: if {name!r} is your "
                f"own {self.kind}, decorate it with @plait.saving.register_serializable() or pass "
                f"custom_objects={{{name!r}: {short}}}.")


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _shown(obj: Any) -> str:
    """`repr(obj)` for a message, or `<Type object>` when that is long or spans lines (a model, a module)."""
    text = repr(obj)
    return text if len(text) <= 100 and "\n" not in text else f"<{type(obj).__name__} object>"


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
