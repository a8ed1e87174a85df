"""Logs handed to callbacks: values computed only when someone reads them, so the loop never syncs for nothing."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Callable

import torch


def to_float(value: Any) -> Any:
    """0-d tensors become Python floats; other values pass through."""
    if isinstance(value, torch.Tensor):
        return float(value.detach()) if value.numel() == 1 else value.detach().cpu().numpy()
    return value


class LazyLogs(Mapping):
    """A read-only mapping of log name -> Python float, computed on first access.

    The training loop builds one per batch from a function that reads the metrics; a callback that
    never looks at batch logs costs no device-to-host copy.
    """

    def __init__(self, compute: Callable[[], Mapping[str, Any]]) -> None:
        self._compute = compute
        self._values: dict[str, Any] | None = None

    def _resolved(self) -> dict[str, Any]:
        if self._values is None:
            self._values = {k: to_float(v) for k, v in self._compute().items()}
        return self._values

    def __getitem__(self, key: str) -> Any:
        return self._resolved()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._resolved())

    def __len__(self) -> int:
        return len(self._resolved())

    def __repr__(self) -> str:
        return repr(self._resolved())
