"""User classes and functions that saved configs may name: `register_serializable` and custom-object scopes.

A saved config names classes by string. plait resolves a name only through its own registries (layers,
losses, metrics, optimizers, ...) and the objects the user handed it: `@register_serializable()` or
`custom_objects={...}`. It never imports a module or evaluates anything a config names.

The user's objects are found by *lookup*, as in Keras: `custom_object_scope` pushes them on a stack that
every `plait.registry.Registry` consults before its own entries, and pops them when the block ends. The
registries themselves are never written to. The stack is a `contextvars.ContextVar`, so a scope opened in
one thread (or asyncio task) is invisible to the others.

This module sits at the root (it imports nothing from plait) so that `models/`, `saving/` and every
registry can use it; `plait.saving` re-exports its public functions.
"""
from __future__ import annotations

import contextlib
import contextvars
import inspect
from collections.abc import Iterator, Mapping
from typing import Any, Callable

_GLOBAL_CUSTOM_OBJECTS: dict[str, Any] = {}
_GLOBAL_CUSTOM_NAMES: dict[Any, str] = {}
# The open scopes, innermost last. A tuple, so a scope never changes a stack another context holds.
_SCOPES: contextvars.ContextVar[tuple[Mapping[str, Any], ...]] = contextvars.ContextVar(
    "plait_custom_object_scopes", default=())


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
    """The object named `name` in `custom_objects`, else in the open scopes (innermost first), else registered
    with `register_serializable`; None if there is none."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    for frame in reversed(_SCOPES.get()):
        if name in frame:
            return frame[name]
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


@contextlib.contextmanager
def custom_object_scope(custom_objects: Mapping[str, Any] | None = None, *,
                        bare_names: bool = True) -> Iterator[dict[str, Any]]:
    """Makes registered objects and `custom_objects` visible to every plait registry inside the block.

    Scopes nest (an inner one wins on a shared name) and belong to the thread or task that opens them.
    Nothing is written into the registries: each lookup consults the open scopes first.

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
    token = _SCOPES.set(_SCOPES.get() + (merged,))
    try:
        yield merged
    finally:
        _SCOPES.reset(token)


def deserialization_scope(custom_objects: Mapping[str, Any] | None = None) -> contextlib.AbstractContextManager[Any]:
    """The scope a deserialization runs in: `custom_object_scope(custom_objects)`, or the scope already open
    when no custom objects are given (a new one would only repeat the registered objects, and by their bare
    names could hide the user's own objects of the same name)."""
    if custom_objects or not _SCOPES.get():
        return custom_object_scope(custom_objects)
    return contextlib.nullcontext()


def open_scopes() -> tuple[Mapping[str, Any], ...]:
    """The name -> object dicts of the scopes open in this context, innermost last (for `Registry`)."""
    return _SCOPES.get()
