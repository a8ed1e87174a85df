"""plait's own error types, at the root so that every package can raise them without importing `saving`."""
from __future__ import annotations


class FormatError(ValueError):
    """A file or saved config plait refuses to load: malformed, truncated, inconsistent, hostile, naming a class
    plait does not know, or written by a newer plait.

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
