"""Global settings: float type, epsilon, device, seeding and determinism."""
from __future__ import annotations

import os
import random

import numpy as np
import torch

DTYPES: dict[str, torch.dtype] = {
    "float16": torch.float16, "half": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
    "float": torch.float32, "float64": torch.float64, "double": torch.float64, "int8": torch.int8,
    "int16": torch.int16, "int32": torch.int32, "int64": torch.int64, "long": torch.int64, "uint8": torch.uint8,
    "bool": torch.bool, "complex64": torch.complex64, "complex128": torch.complex128}
"""The dtype names plait turns into torch dtypes: an allow-list, spelled out so that no string ever reaches
`getattr(torch, name)`, which imports a lazily loaded torch submodule of that name ('onnx', '_dynamo')."""
DTYPE_NAMES = frozenset(DTYPES)

_FLOATX = "float32"
_EPSILON = 1e-7
_DEVICE: torch.device | None = None


def backend() -> str:
    """The backend's name, as `keras.config.backend()`: always 'torch', so Keras code that branches on it runs.

    Example:
        >>> backend()
        'torch'
    """
    return "torch"


def floatx() -> str:
    """The default float type name ('float32')."""
    return _FLOATX


def set_floatx(value: str) -> None:
    global _FLOATX
    if value not in ("float16", "bfloat16", "float32", "float64"):
        raise ValueError(f"floatx must be one of 'float16', 'bfloat16', 'float32', 'float64', got {value!r}.")
    _FLOATX = value


def float_dtype() -> torch.dtype:
    return DTYPES[_FLOATX]


def dtype_from_name(dtype: str | torch.dtype) -> torch.dtype:
    """The torch dtype a name stands for ('float32' or 'torch.float32' -> `torch.float32`), from `DTYPES` only.

    Raises:
        ValueError: for any other name (nothing is looked up on the torch module, so nothing is imported).

    Example:
        >>> dtype_from_name("torch.int64")
        torch.int64
    """
    if isinstance(dtype, torch.dtype):
        return dtype
    found = DTYPES.get(dtype.removeprefix("torch.")) if isinstance(dtype, str) else None
    if found is None:
        raise ValueError(f"Unknown dtype {str(dtype)[:60]!r}; expected a torch.dtype or one of {sorted(DTYPES)}.")
    return found


def epsilon() -> float:
    """The fuzz factor used in numeric expressions (Keras's 1e-7)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    _EPSILON = float(value)


def get_device() -> torch.device:
    """Where new weights and data go: `PLAIT_DEVICE` if set, else CUDA when available, else CPU."""
    global _DEVICE
    if _DEVICE is None:
        name = os.environ.get("PLAIT_DEVICE")
        if name is None:
            name = "cuda" if torch.cuda.is_available() else "cpu"
        _DEVICE = torch.device(name)
    return _DEVICE


def set_device(device: str | torch.device) -> None:
    global _DEVICE
    _DEVICE = torch.device(device)


def set_random_seed(seed: int) -> None:
    """Seeds Python's `random`, NumPy and torch (all devices), so that a run can be repeated.

    Example:
        >>> import plait
        >>> plait.set_random_seed(42)
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def enable_determinism() -> None:
    """Asks PyTorch for deterministic kernels wherever it has them (bit-exact reruns with a fixed seed).

    Kernels with no deterministic version warn instead of raising.
    """
    torch.use_deterministic_algorithms(True, warn_only=True)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def disable_determinism() -> None:
    torch.use_deterministic_algorithms(False)
