"""Reusable checks for streaming metrics: per batch, accumulated, weighted, reset and merged; then, as
torchmetrics's testers do, pickled and deep-copied mid-stream, moved between devices, and fed half precision.

Every metric test feeds random batches through `check_metric` and compares with a reference computed
another way (scikit-learn, or a float64 NumPy derivation) on the same float32 data.
"""
from __future__ import annotations

import copy
import pickle
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

Batch = tuple[np.ndarray, np.ndarray]
Reference = Callable[[np.ndarray, np.ndarray, "np.ndarray | None"], Any]


def make_batches(make: Callable[[np.random.Generator, int], Batch], sizes: Sequence[int] = (7, 16, 1, 33),
                 seed: int = 0) -> list[Batch]:
    """Batches `make(rng, n)` for each size in `sizes`, reproducible from `seed`."""
    rng = np.random.default_rng(seed)
    return [make(rng, n) for n in sizes]


def make_weights(batches: Sequence[Batch], seed: int = 1, shape: str = "flat") -> list[np.ndarray]:
    """Random per-sample weights in [0, 2) with some exact zeros, shape (n,) or (n, 1) (`shape='column'`)."""
    rng = np.random.default_rng(seed)
    out = []
    for y_true, _ in batches:
        n = len(y_true)
        w = rng.uniform(0.0, 2.0, size=n).astype(np.float32)
        w[rng.uniform(size=n) < 0.2] = 0.0
        if n > 0 and not w.any():
            w[0] = 1.0  # keep the reference defined (scikit-learn rejects all-zero weights)
        out.append(w[:, None] if shape == "column" else w)
    return out


def _concat(parts: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(p) for p in parts], axis=0)


def _ref(reference_fn: Reference, batches: Sequence[Batch], weights: Sequence[np.ndarray] | None) -> np.ndarray:
    y_true = _concat([b[0] for b in batches])
    y_pred = _concat([b[1] for b in batches])
    w = None if weights is None else _concat(weights).astype(np.float64)
    return np.asarray(reference_fn(y_true.astype(np.float64), y_pred.astype(np.float64), w), dtype=np.float64)


def _feed(i: int, array: np.ndarray) -> Any:
    # Alternate input kinds so both the numpy and the torch paths are exercised.
    return torch.from_numpy(np.ascontiguousarray(array)) if i % 2 else array


def _value(metric_result: Any) -> np.ndarray:
    assert isinstance(metric_result, torch.Tensor), f"result() must return a tensor, got {type(metric_result)}"
    assert not metric_result.requires_grad
    return metric_result.detach().cpu().numpy().astype(np.float64)


def _close(actual: Any, expected: np.ndarray, rtol: float, atol: float, what: str) -> None:
    np.testing.assert_allclose(_value(actual), expected, rtol=rtol, atol=atol, err_msg=what)


def _run(metric: Any, batches: Sequence[Batch], weights: Sequence[np.ndarray] | None, offset: int = 0) -> None:
    for i, (y_true, y_pred) in enumerate(batches):
        w = None if weights is None else _feed(i + offset, weights[i])
        metric.update_state(_feed(i + offset, y_true), _feed(i + offset, y_pred), sample_weight=w)


def check_metric(metric_factory: Callable[[], Any], reference_fn: Reference, batches: Sequence[Batch],
                 sample_weights: Sequence[np.ndarray] | None = None, *, weighted: bool = True,
                 rtol: float = 1e-6, atol: float = 1e-7, copies: bool = True, devices: bool = True,
                 half_precision: bool = True, half_rtol: float | None = None, half_atol: float | None = None) -> None:
    """Checks a metric against `reference_fn` batch by batch, accumulated, weighted, reset and merged, then its
    copies, device moves and half-precision inputs (on the weighted pass when there is one).

    Args:
        metric_factory: builds a fresh metric.
        reference_fn: `(y_true, y_pred, sample_weight_or_None) -> value` on float64 arrays of all the data
            it should cover.
        batches: `(y_true, y_pred)` numpy batches (at least two for the merge check).
        sample_weights: per-batch weights for the weighted pass (default: `make_weights(batches)`).
        weighted: whether to run the weighted pass at all.
        rtol, atol: tolerances of every comparison against the reference.
        copies: check `pickle` and `copy.deepcopy` mid-stream (`check_copies`).
        devices: check `.to(device)` mid-stream, on CUDA too when there is one (`check_devices`).
        half_precision: check float16 and bfloat16 inputs (`check_half_precision`).
        half_rtol, half_atol: tolerances of the half-precision check (default: rtol, atol). Both sides see the
            same values, and plait's metrics cast float inputs to their own dtype first, so the tolerance of
            the reference comparison is enough; a metric that computes in half precision misses it.
    """
    passes: list[Sequence[np.ndarray] | None] = [None]
    if weighted:
        passes.append(sample_weights if sample_weights is not None else make_weights(batches))
    for weights in passes:
        tag = "weighted" if weights is not None else "unweighted"
        metric = metric_factory()
        for i, (y_true, y_pred) in enumerate(batches):
            w = None if weights is None else weights[i]
            fresh = metric_factory()
            fresh.update_state(_feed(i, y_true), _feed(i, y_pred),
                               sample_weight=None if w is None else _feed(i, w))
            _close(fresh.result(), _ref(reference_fn, batches[i:i + 1], None if w is None else [w]),
                   rtol, atol, f"{tag}: batch {i} alone")
            called = metric(_feed(i, y_true), _feed(i, y_pred), sample_weight=None if w is None else _feed(i, w))
            _close(called, _ref(reference_fn, batches[:i + 1], None if weights is None else weights[:i + 1]),
                   rtol, atol, f"{tag}: __call__ after batch {i} (accumulated)")
        expected = _ref(reference_fn, batches, weights)
        _close(metric.result(), expected, rtol, atol, f"{tag}: accumulated result")

        empty = metric_factory().result()
        metric.reset_state()
        _close(metric.result(), _value(empty), 0.0, 0.0, f"{tag}: result after reset_state")
        _run(metric, batches, weights)
        _close(metric.result(), expected, rtol, atol, f"{tag}: accumulated again after reset_state")

        if len(batches) >= 2:
            half = len(batches) // 2
            first, second = metric_factory(), metric_factory()
            _run(first, batches[:half], None if weights is None else weights[:half])
            _run(second, batches[half:], None if weights is None else weights[half:], offset=1)
            merged = first.merge_state(second)
            assert merged is first
            _close(first.result(), expected, rtol, atol, f"{tag}: merge_state of two halves")

    weights = passes[-1]
    if copies:
        check_copies(metric_factory, reference_fn, batches, weights, rtol=rtol, atol=atol)
    if devices:
        check_devices(metric_factory, reference_fn, batches, weights, rtol=rtol, atol=atol)
    if half_precision:
        check_half_precision(metric_factory, batches, weights, rtol=rtol if half_rtol is None else half_rtol,
                             atol=atol if half_atol is None else half_atol)


# ------------------------------------------------------------------------ torchmetrics-style extra checks
def _state(metric: Any) -> list[torch.Tensor] | None:
    """A detached copy of the metric's state tensors, or None for an object without `variables` (a wrapper)."""
    variables = getattr(metric, "variables", None)
    return None if variables is None else [v.detach().cpu().clone() for v in variables]


def _assert_same_state(metric: Any, state: list[torch.Tensor] | None, what: str) -> None:
    if state is None:
        return
    now = _state(metric)
    assert now is not None and len(now) == len(state), f"{what}: {len(state)} state tensors became {now}"
    for i, (a, b) in enumerate(zip(now, state)):
        # Bit-exact: a copy holds the same values; nothing is recomputed.
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), f"{what}: state {i} differs"


def _split(batches: Sequence[Batch], weights: Sequence[np.ndarray] | None) -> tuple[int, list | None, list | None]:
    half = max(1, len(batches) // 2)
    return half, None if weights is None else list(weights[:half]), None if weights is None else list(weights[half:])


def _pickled(metric: Any) -> Any:
    try:
        data = pickle.dumps(metric)
    except (pickle.PicklingError, AttributeError, TypeError) as e:
        if "<locals>" in str(e) or "<lambda>" in str(e):
            return None  # it holds a function defined inside a test, which Python cannot pickle: deepcopy only
        raise
    return pickle.loads(data)


def check_copies(metric_factory: Callable[[], Any], reference_fn: Reference, batches: Sequence[Batch],
                 weights: Sequence[np.ndarray] | None, *, rtol: float, atol: float) -> None:
    """A metric pickled or deep-copied mid-stream has the same state and result, goes on to the full result, and
    is independent of the original."""
    half, first, rest = _split(batches, weights)
    expected = _ref(reference_fn, batches, weights)
    metric = metric_factory()
    _run(metric, batches[:half], first)
    state, result = _state(metric), _value(metric.result())
    for how, duplicate in (("pickle", _pickled), ("deepcopy", copy.deepcopy)):
        clone = duplicate(metric)
        if clone is None:
            continue
        assert type(clone) is type(metric), f"{how}: {type(clone).__name__}, expected {type(metric).__name__}"
        _assert_same_state(clone, state, f"{how} mid-stream")
        # Bit-exact: the same state tensors through the same result() kernels.
        np.testing.assert_array_equal(_value(clone.result()), result, err_msg=f"{how}: result mid-stream")
        _run(clone, batches[half:], rest, offset=half)
        _close(clone.result(), expected, rtol, atol, f"{how}: copy mid-stream, then the remaining batches")
        _assert_same_state(metric, state, f"the original after updating its {how} copy")


def check_devices(metric_factory: Callable[[], Any], reference_fn: Reference, batches: Sequence[Batch],
                  weights: Sequence[np.ndarray] | None, *, rtol: float, atol: float) -> None:
    """`.to(device)` mid-stream moves every state and returns the metric; the stream then finishes there (on the
    CPU, and on CUDA when one is present) with the full result, and comes back to the CPU unchanged."""
    half, first, rest = _split(batches, weights)
    expected = _ref(reference_fn, batches, weights)
    targets = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in targets:
        metric = metric_factory()
        if not callable(getattr(metric, "to", None)):
            return  # a test wrapper around a metric, without the Metric API
        _run(metric, batches[:half], first)
        assert metric.to(device) is metric, f".to({device!r}) must return the metric itself"
        for i, v in enumerate(metric.variables):
            assert v.device.type == device, f"state {i} is on {v.device} after .to({device!r})"
        for i, (y_true, y_pred) in enumerate(batches[half:]):
            w = None if rest is None else torch.from_numpy(np.ascontiguousarray(rest[i])).to(device)
            metric.update_state(torch.from_numpy(np.ascontiguousarray(y_true)).to(device),
                                torch.from_numpy(np.ascontiguousarray(y_pred)).to(device), sample_weight=w)
        result = metric.result()
        assert result.device.type == device, f"result() on {result.device}, the states on {device}"
        _close(result, expected, rtol, atol, f"finished on {device} after .to({device!r})")
        metric.to("cpu")
        _close(metric.result(), expected, rtol, atol, f"moved back to the CPU from {device}")


def _lowered(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    return tensor.to(dtype) if tensor.is_floating_point() else tensor


def check_half_precision(metric_factory: Callable[[], Any], batches: Sequence[Batch],
                         weights: Sequence[np.ndarray] | None, *, rtol: float, atol: float) -> None:
    """float16 and bfloat16 inputs give the result of the same values in float32.

    The float32 side gets the half-precision values cast back up, so both sides see identical numbers and the
    difference measures only where the metric computes in half precision instead of its own dtype.
    """
    for dtype in (torch.float16, torch.bfloat16):
        low, full = metric_factory(), metric_factory()
        for i, (y_true, y_pred) in enumerate(batches):
            t, p = _lowered(y_true, dtype), _lowered(y_pred, dtype)
            w = None if weights is None else torch.from_numpy(np.ascontiguousarray(weights[i]))
            low.update_state(t, p, sample_weight=w)
            full.update_state(t.float() if t.is_floating_point() else t, p.float() if p.is_floating_point() else p,
                              sample_weight=w)
        result = low.result()
        assert isinstance(result, torch.Tensor) and result.dtype == full.result().dtype, (
            f"{dtype} inputs gave a {getattr(result, 'dtype', type(result))} result, float32 inputs a "
            f"{full.result().dtype} one: the result's dtype is the metric's, not the inputs'")
        _close(result, _value(full.result()), rtol, atol, f"{dtype} inputs against the same values in float32")
