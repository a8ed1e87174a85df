"""FormatError, the one error plait raises for a file it cannot or will not load (defined in `plait.errors`).

It is re-exported here, the same class, so `except plait.saving.FormatError` and
`from plait.saving.errors import FormatError` keep working.
"""
from plait.errors import FormatError

__all__ = ["FormatError"]
