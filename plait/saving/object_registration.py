"""User classes and functions that saved files may name: `register_serializable` and `custom_objects`.

The machinery lives below `saving/`, in `plait.custom_objects` (the registration table and the custom-object
scopes) and `plait.registry` (lookup through those scopes), so that `models/` can use it without importing
`saving`. This module keeps the names `plait.saving` has always exported.
"""
from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from plait.custom_objects import (all_custom_objects, custom_object_scope, get_custom_objects, get_registered_name,
                                  get_registered_object, register_serializable)
from plait.errors import FormatError
from plait.registry import Registry

__all__ = ["all_custom_objects", "custom_object_scope", "get_custom_objects", "get_registered_name",
           "get_registered_object", "register_serializable", "resolve_class"]


def resolve_class(spec: Mapping[str, Any], registry: Registry, kind: str, base: type | None = None,
                  builtins: Mapping[str, type] | None = None) -> type:
    """The class a serialized `{"class_name", "registered_name", ...}` names, from plait's registries only.

    Args:
        spec: The serialized object.
        registry: The plait registry of that kind; it also sees the open custom-object scopes.
        kind: What it is, for messages ('layer', 'model').
        base: The class it must subclass.
        builtins: Extra name -> class entries looked up before `registry`.

    Raises:
        FormatError: when the name is not a known plait or registered class (nothing is imported).
    """
    for name in (spec.get("registered_name"), spec.get("class_name")):
        if builtins and isinstance(name, str) and name in builtins:
            return builtins[name]
    found = registry.resolve(spec, base=base)
    if not inspect.isclass(found):
        raise FormatError(f"The file names {str(spec.get('class_name'))[:200]!r} as a {kind}, but that name is not "
                          f"a {kind} class.")
    return found
