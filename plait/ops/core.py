"""The core of `plait.ops`: dtypes, conversion to and from tensors, shapes, and control flow.

Every op takes tensors, NumPy arrays, Python scalars or (nested) lists, as `keras.ops` does, and returns
torch tensors. A tensor is used as it is (its dtype and device are kept, so gradients flow through every
op); anything else is converted by `to_tensor`, Keras's rules on top of plait's one conversion of user
data (`plait.tensors.convert_to_tensor`): Python floats become `floatx`, Python ints int64, bools bool,
and a NumPy array keeps its dtype (float64 stays float64), as in Keras. A value converted next to a
tensor operand goes to that tensor's device.

Deliberate difference from Keras: Python ints and integer results without a dtype of their own are int64,
torch's index type (Keras makes them int32), so they index tensors without a cast. The index outputs Keras
documents as int32 (`argmax`, `argsort`, `top_k`, ...) are int32, as in Keras.

Example:
    >>> from plait import ops
    >>> ops.convert_to_tensor([1.0, 2.0]).dtype, ops.convert_to_tensor([1, 2]).dtype
    (torch.float32, torch.int64)
    >>> ops.shape(ops.zeros((2, 3)))
    (2, 3)
"""
from __future__ import annotations

import builtins
import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from plait import config, tensors, tree

# NumPy's unsigned types torch cannot compute with become the signed type that holds every value (as Keras).
_UNSIGNED = {"uint16": torch.int32, "uint32": torch.int64, "uint64": torch.int64}
_NAMES = {"float": None, "int": torch.int64, "bool": torch.bool}  # None: floatx, read at call time


def standardize_dtype(dtype: Any) -> torch.dtype | None:
    """The torch dtype for a Keras dtype spec: a name ('float32'), a torch or NumPy dtype, or a Python type.

    `None` stays None (the op's default). `float` and 'float' mean `floatx`, `int` means int64. Names are
    looked up in `plait.config.DTYPES` only.

    Example:
        >>> standardize_dtype("int32"), standardize_dtype(float)
        (torch.int32, torch.float32)
    """
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    if dtype is float or dtype is int or dtype is bool:  # identity: np.dtype("float64") == float holds
        dtype = dtype.__name__
    elif not isinstance(dtype, str):
        try:
            dtype = np.dtype(dtype).name
        except TypeError:
            raise ValueError(f"Unsupported dtype {dtype!r}; expected a name such as 'float32', 'int64' or 'bool', "
                             "a torch.dtype, a NumPy dtype, or float/int/bool.") from None
    if dtype in _NAMES:
        return _NAMES[dtype] or config.float_dtype()
    return _UNSIGNED.get(dtype) or config.dtype_from_name(dtype)


def dtype(x: Any) -> str:
    """The name of `x`'s dtype, as Keras writes it ('float32', 'int64', 'bool')."""
    name = getattr(x, "dtype", None)
    if isinstance(name, str):  # a symbolic KerasTensor names its dtype already
        return name
    return str(to_tensor(x).dtype).replace("torch.", "")


def is_tensor(x: Any) -> bool:
    """Whether `x` is a torch tensor (a plait `Variable` is one)."""
    return isinstance(x, torch.Tensor)


def _default_dtype(x: Any) -> torch.dtype | None:
    """The dtype a non-tensor converts to by Keras's rules, or None to let NumPy's dtype stand."""
    if isinstance(x, (bool, np.bool_)):
        return torch.bool
    if isinstance(x, (list, tuple, int, float)) and not isinstance(x, np.generic):
        kind = np.asarray(x).dtype.kind  # Python data: what NumPy makes of it, mapped to plait's defaults
        return {"f": config.float_dtype(), "i": torch.int64, "u": torch.int64, "b": torch.bool}.get(kind)
    name = str(getattr(getattr(x, "dtype", None), "name", ""))
    if name in _UNSIGNED:
        return _UNSIGNED[name]
    return config.dtype_from_name(name) if name in ("float16", "float32", "float64") else None  # keep precision


def to_tensor(x: Any, dtype: Any = None, device: torch.device | None = None) -> torch.Tensor:
    """`x` as a tensor by Keras's rules (see the module docstring); a tensor is only cast, never moved.

    A list or tuple of tensors is stacked. `device` (default: plait's device) is where a converted value goes.
    """
    torch_dtype = standardize_dtype(dtype)
    if isinstance(x, torch.Tensor):
        return x if torch_dtype is None or x.dtype == torch_dtype else x.to(torch_dtype)
    if isinstance(x, (list, tuple)) and x and builtins.any(isinstance(v, torch.Tensor) for v in x):
        return torch.stack([to_tensor(v, torch_dtype, device) for v in x])
    if torch_dtype is None:
        torch_dtype = _default_dtype(x)
    return tensors.convert_to_tensor(x, dtype=torch_dtype, device=device, name="x")


def operands(*xs: Any) -> list[torch.Tensor]:
    """Each of `xs` as a tensor, the converted ones on the device of the first tensor among them."""
    device = next((x.device for x in xs if isinstance(x, torch.Tensor)), None)
    return [x if isinstance(x, torch.Tensor) else to_tensor(x, device=device) for x in xs]


def float_tensor(x: Any) -> torch.Tensor:
    """`x` as a floating-point tensor: integer and bool inputs compute in `floatx` (Keras's rule for exp, log...)."""
    x = to_tensor(x)
    return x if x.is_floating_point() or x.is_complex() else x.to(config.float_dtype())


def canonical_axes(axis: int | Sequence[int], ndim: int) -> tuple[int, ...]:
    """`axis` (an int or a sequence of ints, negative counting from the end) as sorted non-negative axes."""
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of bounds for a tensor of rank {ndim}; "
                             f"pass an axis in [{-ndim}, {ndim - 1}].")
        out.append(int(a) % builtins.max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"axis {axis!r} repeats an axis; pass each axis once.")
    return tuple(sorted(out))


def convert_to_tensor(x: Any, dtype: Any = None, sparse: bool | None = None,
                      ragged: bool | None = None) -> torch.Tensor:
    """Converts a NumPy array, Python scalar or (nested) list to a tensor; a tensor is returned as it is.

    Args:
        x: The value.
        dtype: Target dtype (name, torch/NumPy dtype); default by Keras's rules (see the module docstring).
        sparse: Unsupported (torch tensors here are dense); `True` raises.
        ragged: Unsupported; `True` raises.

    Returns:
        A tensor (new ones on plait's device).

    Example:
        >>> convert_to_tensor([[1, 2], [3, 4]], dtype="float32")
        tensor([[1., 2.],
                [3., 4.]])
    """
    if sparse or ragged:
        raise ValueError(f"plait.ops tensors are dense torch tensors; got sparse={sparse}, ragged={ragged}. "
                         "Pass dense data (pad ragged rows, e.g. with plait.utils.pad_sequences).")
    return to_tensor(x, dtype)


def convert_to_numpy(x: Any) -> np.ndarray:
    """A NumPy copy of `x` on the host (detached from autograd); bfloat16 becomes float32, which NumPy has.

    Example:
        >>> convert_to_numpy(convert_to_tensor([1.5, 2.5]))
        array([1.5, 2.5], dtype=float32)
    """
    if isinstance(x, (list, tuple)):
        return np.array([convert_to_numpy(v) for v in x])
    return tensors.to_numpy(x)


def cast(x: Any, dtype: Any) -> torch.Tensor:
    """`x` as a tensor of `dtype` (differentiable between float dtypes).

    Example:
        >>> cast([1.7, -2.2], "int32")
        tensor([ 1, -2], dtype=torch.int32)
    """
    return to_tensor(x, standardize_dtype(dtype))


def shape(x: Any) -> tuple[int, ...]:
    """The shape of `x` as a tuple of ints."""
    return tuple(x.shape) if hasattr(x, "shape") else tuple(np.shape(x))


def ndim(x: Any) -> int:
    """The rank (number of axes) of `x`."""
    return len(shape(x))


def size(x: Any) -> int:
    """The number of elements of `x`."""
    return int(np.prod(shape(x), dtype=np.int64))


def stop_gradient(variable: Any) -> torch.Tensor:
    """`variable`'s value with no gradient flowing back through it (torch's `detach`)."""
    return to_tensor(variable).detach()


def cond(pred: Any, true_fn: Callable[[], Any], false_fn: Callable[[], Any]) -> Any:
    """`true_fn()` if `pred` is true, else `false_fn()` (eager: `pred` is read as a Python bool)."""
    return true_fn() if bool(pred) else false_fn()


def vectorized_map(function: Callable[[Any], Any], elements: Any) -> Any:
    """`function` applied to each slice of `elements` along axis 0, the results stacked.

    `elements` may be a tensor or a structure of tensors with the same leading size. Runs under `torch.vmap`;
    a function vmap cannot batch (one that reads values into Python) runs slice by slice instead, with the
    same result.

    Example:
        >>> vectorized_map(lambda row: row.sum(), convert_to_tensor([[1.0, 2.0], [3.0, 4.0]]))
        tensor([3., 7.])
    """
    elements = tree.map_structure(to_tensor, elements)
    try:
        return torch.vmap(function)(elements)
    except (RuntimeError, ValueError, TypeError):
        leaves = tree.flatten(elements)
        n = leaves[0].shape[0]
        results = [function(tree.pack_sequence_as(elements, [leaf[i] for leaf in leaves])) for i in range(n)]
        flat = [tree.flatten(r) for r in results]
        stacked = [torch.stack([to_tensor(f[j]) for f in flat]) for j in range(len(flat[0]))]
        return tree.pack_sequence_as(results[0], stacked)


def slice(inputs: Any, start_indices: Sequence[int], shape: Sequence[int]) -> torch.Tensor:  # noqa: A001
    """The block of `inputs` that starts at `start_indices` and has the given `shape` (a view).

    Example:
        >>> slice(convert_to_tensor([[1, 2, 3], [4, 5, 6]]), (0, 1), (2, 2))
        tensor([[2, 3],
                [5, 6]])
    """
    x = to_tensor(inputs)
    starts, sizes = [int(s) for s in start_indices], [int(s) for s in shape]
    if len(starts) != x.ndim or len(sizes) != x.ndim:
        raise ValueError(f"slice needs one start index and one size per axis of the rank-{x.ndim} input, got "
                         f"start_indices={list(starts)} and shape={list(sizes)}.")
    return x[tuple(builtins.slice(s, s + n) for s, n in zip(starts, sizes))]


def slice_update(inputs: Any, start_indices: Sequence[int], updates: Any) -> torch.Tensor:
    """A copy of `inputs` with the block at `start_indices` replaced by `updates` (differentiable in both)."""
    x, u = operands(inputs, updates)
    out = x.clone()
    index = tuple(builtins.slice(int(s), int(s) + n) for s, n in zip(start_indices, u.shape))
    out[index] = u.to(out.dtype)
    return out


def unstack(x: Any, num: int | None = None, axis: int = 0) -> list[torch.Tensor]:
    """The slices of `x` along `axis`, as a list (`num`, if given, must be that axis' size)."""
    x = to_tensor(x)
    if num is not None and num != x.shape[axis]:
        raise ValueError(f"unstack got num={num}, but axis {axis} of the input has size {x.shape[axis]}.")
    return list(torch.unbind(x, dim=axis))


# The symbolic hook: how `ops.relu(plait.Input(...))` can build a graph node. plait.ops sits below the layers,
# so it only knows a symbolic tensor type and a handler that the layers register (dependency inversion).
_symbolic: tuple[type, Callable[..., Any]] | None = None


def set_symbolic_handler(tensor_type: type | None, handler: Callable[..., Any] | None = None) -> None:
    """Registers what an op does when an argument is a `tensor_type` (plait's symbolic KerasTensor).

    `handler(fn, args, kwargs)` receives the op and its arguments and returns the op's symbolic result (for
    example, by wrapping `fn` in a layer and calling it). `set_symbolic_handler(None)` removes the handler.
    """
    global _symbolic
    _symbolic = None if tensor_type is None else (tensor_type, handler)


def _has_symbolic(values: Any, tensor_type: type) -> bool:
    for v in values:
        if isinstance(v, tensor_type) or (isinstance(v, (list, tuple)) and _has_symbolic(v, tensor_type)):
            return True
    return False


def symbolic_dispatch(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn`, handing calls on symbolic tensors to the registered handler (see `set_symbolic_handler`)."""
    @functools.wraps(fn)
    def op(*args: Any, **kwargs: Any) -> Any:
        hook = _symbolic
        if hook is not None and _has_symbolic((*args, *kwargs.values()), hook[0]):
            return hook[1](fn, args, kwargs)
        return fn(*args, **kwargs)
    return op
