"""User classes and functions that saved files may name: `register_serializable` and `custom_objects`.

A saved file names classes by string. plait resolves a name only through its own registries (layers,
losses, metrics, optimizers, initializers, activations, schedules) and the objects the user handed it:
`@register_serializable()` or `custom_objects={...}`. It never imports a module or evaluates anything a
file names, so a file that names `os.system` is refused.

While a model is saved or loaded, `custom_object_scope` installs the user's objects into the plait
registries (and takes them out afterwards), so nested lookups such as `Dense(activation="Custom>swish2")`
find them too.
"""
from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Iterator, Mapping
from typing import Any, Callable

from plait.saving.errors import FormatError

_GLOBAL_CUSTOM_OBJECTS: dict[str, Any] = {}
_GLOBAL_CUSTOM_NAMES: dict[Any, str] = {}
_SCOPE_LOCK = threading.RLock()


def register_serializable(package: str = "Custom", name: str | None = None) -> Callable[[Any], Any]:
    """Registers a class or function so that saved models can name it and `load_model` can find it.

    It is registered as `"<package>><name>"` (Keras's scheme, e.g. `"Custom>MyLayer"`); a class must
    define `get_config` (and accept that config in `from_config`/its constructor).

    Args:
        package: Namespace of the name, e.g. your project's name.
        name: The name within the package; default: the object's `__name__`.

    Returns:
        A decorator that registers its argument and returns it unchanged.

    Example:
        >>> import plait
        >>> @plait.saving.register_serializable(package="demo")
        ... class Doubling(plait.layers.Layer):
        ...     def call(self, x):
        ...         return 2 * x
        >>> plait.saving.get_registered_name(Doubling)
        'demo>Doubling'
    """
    if not isinstance(package, str) or not package or ">" in package:
        raise ValueError(f"package must be a non-empty string without '>', got {package!r}.")
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError(f"name must be a non-empty string or None, got {name!r}.")

    def decorator(obj: Any) -> Any:
        if not (inspect.isclass(obj) or callable(obj)):
            raise TypeError(f"register_serializable decorates classes and functions, got {type(obj).__name__}.")
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(f"Cannot register {obj.__name__}: it has no get_config() method, so its instances "
                             "cannot be saved. Define get_config() returning its constructor arguments.")
        key = f"{package}>{name or obj.__name__}"
        _GLOBAL_CUSTOM_OBJECTS[key] = obj
        _GLOBAL_CUSTOM_NAMES[obj] = key
        return obj

    return decorator


def get_registered_name(obj: Any) -> str:
    """The name `obj` is saved under: its registered `"package>name"`, else its `__name__`."""
    try:
        registered = _GLOBAL_CUSTOM_NAMES.get(obj)
    except TypeError:  # unhashable
        registered = None
    return registered or getattr(obj, "__name__", type(obj).__name__)


def get_registered_object(name: str, custom_objects: Mapping[str, Any] | None = None) -> Any:
    """The object registered (or passed in `custom_objects`) under `name`, or None."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    return _GLOBAL_CUSTOM_OBJECTS.get(name)


def get_custom_objects() -> dict[str, Any]:
    """The global `"package>name" -> object` registry filled by `register_serializable` (live dict)."""
    return _GLOBAL_CUSTOM_OBJECTS


def all_custom_objects(custom_objects: Mapping[str, Any] | None = None, *,
                       bare_names: bool = True) -> dict[str, Any]:
    """Registered objects by their full name and (if `bare_names`, where unambiguous) their bare name; then
    `custom_objects`. Loading accepts bare names (`Sequential.get_config` records class names only);
    saving leaves them out, so registered functions are written under their unambiguous full name."""
    merged: dict[str, Any] = dict(_GLOBAL_CUSTOM_OBJECTS)
    bare: dict[str, list[Any]] = {}
    for key, obj in _GLOBAL_CUSTOM_OBJECTS.items():
        bare.setdefault(key.split(">", 1)[1], []).append(obj)
    for short, objs in bare.items():
        if bare_names and len({id(o) for o in objs}) == 1:
            merged.setdefault(short, objs[0])
    if custom_objects:
        if not isinstance(custom_objects, Mapping):
            raise TypeError(f"custom_objects must be a dict of name -> class or function, got "
                            f"{type(custom_objects).__name__}.")
        merged.update(custom_objects)
    return merged


def _registries_for(obj: Any) -> list[Any]:
    """The plait registries an object belongs in, by what it is."""
    from plait import activations, initializers, regularizers
    from plait.layers.layer import LAYERS, Layer
    from plait.losses.loss import LOSS_FUNCTIONS, LOSSES, Loss
    from plait.metrics.metric import METRIC_FUNCTIONS, METRICS, Metric
    from plait.optimizers.optimizer import Optimizer
    from plait.optimizers.schedules import SCHEDULES, LearningRateSchedule
    from plait.optimizers.serialization import OPTIMIZERS

    if inspect.isclass(obj):
        table = [(Layer, LAYERS), (Loss, LOSSES), (Metric, METRICS), (Optimizer, OPTIMIZERS),
                 (initializers.Initializer, initializers.INITIALIZERS), (LearningRateSchedule, SCHEDULES),
                 (regularizers.Regularizer, regularizers.REGULARIZERS)]
        return [registry for base, registry in table if issubclass(obj, base)]
    if callable(obj):
        return [activations.ACTIVATIONS, METRIC_FUNCTIONS, LOSS_FUNCTIONS]
    return []


@contextlib.contextmanager
def custom_object_scope(custom_objects: Mapping[str, Any] | None = None, *,
                        bare_names: bool = True) -> Iterator[dict[str, Any]]:
    """Makes registered objects and `custom_objects` visible to every plait registry inside the block.

    Yields:
        The merged name -> object dict (registered objects, then `custom_objects`).

    Example:
        >>> import torch, plait
        >>> def swish2(x):
        ...     return x * torch.sigmoid(2 * x)
        >>> with custom_object_scope({"swish2": swish2}):
        ...     plait.activations.get("swish2") is swish2
        True
    """
    merged = all_custom_objects(custom_objects, bare_names=bare_names)
    with _SCOPE_LOCK:
        undo: list[tuple[Any, str, Any]] = []
        try:
            for key, obj in merged.items():
                for registry in _registries_for(obj):
                    items = registry if isinstance(registry, dict) else registry._items
                    undo.append((items, key, items.get(key, _MISSING)))
                    items[key] = obj
            yield merged
        finally:
            for items, key, previous in reversed(undo):
                if previous is _MISSING:
                    items.pop(key, None)
                else:
                    items[key] = previous


_MISSING = object()


def resolve_class(spec: Mapping[str, Any], registry: Any, kind: str, base: type | None = None,
                  builtins: Mapping[str, type] | None = None) -> type:
    """The class a serialized `{"class_name", "registered_name", ...}` names, from plait's registries only.

    Args:
        spec: The serialized object.
        registry: The plait registry of that kind (with any custom objects already installed).
        kind: What it is, for messages ('layer', 'model').
        base: The class it must subclass.
        builtins: Extra name -> class entries (e.g. the model classes) looked up before `registry`.

    Raises:
        FormatError: when the name is not a known plait or registered class (nothing is imported).
    """
    names = [spec.get("registered_name"), spec.get("class_name")]
    names = [n for n in names if isinstance(n, str) and n]
    if not names:
        raise FormatError(f"A serialized {kind} has no 'class_name' string: {str(dict(spec))[:200]}.")
    for name in names:
        found = (builtins or {}).get(name)
        if found is None and name in registry:
            found = registry.lookup(name)
        if found is not None:
            if not inspect.isclass(found) or (base is not None and not issubclass(found, base)):
                raise FormatError(f"The file names {name!r} as a {kind}, but that name is not a {kind} class.")
            return found
    shown = names[-1][:200]
    raise FormatError(
        f"The file names a {kind} class {shown!r} that plait does not know; plait never imports code named by "
        f"a file. If {shown!r} is your own class, decorate it with @plait.saving.register_serializable() or pass "
        f"custom_objects={{{shown!r}: {shown.split('>')[-1].split('.')[-1]}}} to load_model.")
