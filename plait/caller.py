"""Where a warning should point: the first line of the user's code, outside plait."""
from __future__ import annotations

import os
import sys

_PLAIT_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep  # the plait package


def user_stacklevel() -> int:
    """The `stacklevel` for a `warnings.warn` in the caller that points at the first frame outside plait.

    Warnings are raised deep inside plait (an optimizer built through a chain of `super().__init__` calls, a
    check run from inside `fit`), so a fixed stacklevel would name a plait line; the user's own line is what
    they can change.
    """
    level, frame = 1, sys._getframe(1)
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PLAIT_DIR):
        frame = frame.f_back
        level += 1
    return level
