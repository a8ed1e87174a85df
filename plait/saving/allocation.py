"""Building objects from an untrusted config without letting the config decide how much memory is allocated.

Two torch function modes (thread-local: other threads are not affected) see every tensor factory call
(`torch.empty`, `zeros`, `full`, `tensor`, ...: torch's own list of functions that take a device, and the
`new_*`/`*_like` ones) made while a config is turned into objects:

- `on_meta()` builds everything on the meta device: tensors have shapes and dtypes but no memory, and
  moves to a real device stay on meta. A model rebuilt so is the skeleton whose weight shapes are compared
  with the file before anything real is allocated; the bytes the factories asked for are counted.
- `within(budget)` lets the real build allocate, but works out each factory call's size on the meta device
  first and refuses, with a `FormatError` naming the layer being built, the call that would take the total
  over `budget`, before it allocates.

Code that cannot run on the meta device (a custom layer that reads a tensor's values while it builds) makes
`on_meta` fail; loading then skips the skeleton and relies on `within` alone.
"""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._device import _device_constructors

from plait.errors import FormatError
from plait.saving.limits import human_bytes

META = torch.device("meta")
# torch's functions that take a device, and those that make a tensor like another one (the size may still come
# from the config: `w.new_zeros(n, n)`).
_FACTORIES = frozenset(_device_constructors()) | {
    torch.Tensor.new_empty, torch.Tensor.new_zeros, torch.Tensor.new_ones, torch.Tensor.new_full,
    torch.Tensor.new_tensor, torch.empty_like, torch.zeros_like, torch.ones_like, torch.full_like, torch.rand_like,
    torch.randn_like, torch.randint_like}
_MOVES = frozenset({torch.Tensor.cpu, torch.Tensor.cuda, torch.Tensor.pin_memory})


def _device_like(value: Any) -> bool:
    return isinstance(value, (torch.device, int)) and not isinstance(value, bool) or (
        isinstance(value, str) and value.split(":")[0] in {"cpu", "cuda", "mps", "xpu", "meta", "hpu", "xla"})


def _nbytes(result: Any) -> int:
    if isinstance(result, torch.Tensor):
        return result.numel() * result.element_size()
    if isinstance(result, (list, tuple)):
        return sum(_nbytes(r) for r in result)
    return 0


def _building() -> str:
    """' while building <Class> <name>' for the innermost named object (layer, metric, model) whose code is on
    the stack, for messages."""
    frame = sys._getframe(1)
    while frame is not None:
        owner = frame.f_locals.get("self")
        name = getattr(owner, "name", None) if not isinstance(owner, _Counting) else None
        if isinstance(name, str):
            return f" while building {type(owner).__name__} {name!r}"
        frame = frame.f_back
    return ""


class _Counting(TorchFunctionMode):
    """Counts the bytes tensor factories ask for, and where the largest request came from; a subclass decides
    where the tensors go."""

    def __init__(self) -> None:
        super().__init__()
        self.requested = 0
        self.largest = (0, "")

    def _count(self, size: int) -> None:
        self.requested += size
        if size > self.largest[0]:
            self.largest = (size, _building())

    def describe_largest(self) -> str:
        """'the largest tensor, 80.0 GiB, while building MeanIoU 'mean_io_u'', for messages."""
        return f"the largest tensor, {human_bytes(self.largest[0])},{self.largest[1]}"


class _OnMeta(_Counting):
    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = dict(kwargs or {})
        if "device" in kwargs or func in _FACTORIES:
            kwargs["device"] = META
        if func is torch.Tensor.to:
            # t.to(device[, dtype]), t.to(other): keep the dtype, never the device.
            args = tuple(a.dtype if isinstance(a, torch.Tensor) and i else META if i and _device_like(a) else a
                         for i, a in enumerate(args))
        elif func in _MOVES:
            return args[0].to(META)
        result = func(*args, **kwargs)
        if func is torch.from_numpy:
            result = result.to(META)
        if func in _FACTORIES or func is torch.from_numpy:
            self._count(_nbytes(result))
        return result


class _Within(_Counting):
    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget = budget

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func in _FACTORIES:
            try:
                size = _nbytes(func(*args, **{**kwargs, "device": META}))
            except Exception:  # noqa: BLE001 - invalid arguments: the real call below raises the real error
                size = 0
            if self.requested + size > self.budget:
                raise FormatError(f"the config asks for {human_bytes(size)} in one tensor{_building()}, which takes "
                                  f"what building the model allocates over the {human_bytes(self.budget)} its weights "
                                  "allow; the config does not describe the weights in the file (damaged or "
                                  "hostile).")
            self._count(size)
        return func(*args, **kwargs)


@contextlib.contextmanager
def on_meta() -> Iterator[_Counting]:
    """Everything built inside is on the meta device; the yielded object's `requested` counts the bytes the
    tensor factories asked for."""
    with _OnMeta() as mode:
        yield mode


@contextlib.contextmanager
def within(budget: int) -> Iterator[_Counting]:
    """Tensor factories inside may allocate `budget` bytes in all; the call that would go over raises a
    `FormatError` before allocating."""
    with _Within(budget) as mode:
        yield mode


__all__ = ["META", "on_meta", "within"]
