"""FormatError: the one error plait raises for a file it cannot or will not load."""
from __future__ import annotations


class FormatError(ValueError):
    """A file plait refuses to load: malformed, truncated, inconsistent, hostile, or from a newer plait.

    It is a `ValueError`, so `except ValueError` catches it too. Loading never raises anything else
    for bad file *content*; a missing file is still a `FileNotFoundError`.

    Example:
        >>> import plait
        >>> try:
        ...     plait.saving.safetensors_format.decode(b"not a safetensors file")
        ... except plait.saving.FormatError as err:
        ...     print("refused")
        refused
    """
