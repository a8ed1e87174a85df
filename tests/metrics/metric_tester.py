"""Reusable checks for streaming metrics: per batch, accumulated, weighted, reset and merged.

Every metric test feeds random batches through `check_metric` and compares with a reference computed
another way (scikit-learn, or a float64 NumPy derivation) on the same float32 data.
"""
from __future__ import annotations

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
                 rtol: float = 1e-6, atol: float = 1e-7) -> None:
    """Checks a metric against `reference_fn` batch by batch, accumulated, weighted, reset and merged.

    Args:
        metric_factory: builds a fresh metric.
        reference_fn: `(y_true, y_pred, sample_weight_or_None) -> value` on float64 arrays of all the data
            it should cover.
        batches: `(y_true, y_pred)` numpy batches (at least two for the merge check).
        sample_weights: per-batch weights for the weighted pass (default: `make_weights(batches)`).
        weighted: whether to run the weighted pass at all.
        rtol, atol: tolerances of every comparison.
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
