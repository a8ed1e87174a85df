"""Peer side of the metrics benchmark: times scikit-learn or keras.metrics on the arrays `bench_metrics.py` saved.

Run by `bench_metrics.py` under the peers' venv (`benchmarks/.venv-peers`):

    python benchmarks/_metrics_peer.py <sklearn|keras> <data.npz> <repeats> <case> [<case> ...]

With `keras`, the backend is the one named by the KERAS_BACKEND environment variable. Prints one JSON
line: `{case: {"seconds": best of the repeats, "value": the metric's result}}`; a case the library
cannot compute gets `{"error": ...}`. Each timing covers what the user runs to get the number from arrays
already in memory: for Keras a fresh metric's `update_state` on every batch plus `result()` (forced to
a NumPy value, so asynchronous backends finish); for scikit-learn the score function on all the data
(thresholding included where it needs labels).
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

THRESHOLD = 0.5


def _time(run: Callable[[], Any], repeats: int) -> dict[str, Any]:
    value = run()  # warm-up: first-call dispatch, tracing and allocations are not what is measured
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        value = run()
        best = min(best, time.perf_counter() - start)
    return {"seconds": best, "value": np.asarray(value, dtype=np.float64).tolist()}


def sklearn_cases(data: dict[str, np.ndarray]) -> dict[str, Callable[[], Any]]:
    from sklearn import metrics as skm

    y, p = data["y_true"], data["y_pred"]
    ids, probs = data["class_ids"], data["class_probs"]
    labels = list(range(probs.shape[1]))
    return {
        "auc": lambda: skm.roc_auc_score(y, p),
        "auc_exact": lambda: skm.roc_auc_score(y, p),
        "pr_auc_exact": lambda: skm.average_precision_score(y, p),
        "precision": lambda: skm.precision_score(y, p > THRESHOLD),
        "recall": lambda: skm.recall_score(y, p > THRESHOLD),
        "f1": lambda: skm.f1_score(y, p > THRESHOLD),
        "f1_macro_10": lambda: skm.f1_score(ids, probs.argmax(-1), average="macro", labels=labels),
    }


def keras_cases(data: dict[str, np.ndarray], batches: int) -> dict[str, Callable[[], Any]]:
    import keras

    y, p = data["y_true"].astype(np.float32), data["y_pred"]
    y_col, p_col = y[:, None], p[:, None]
    one_hot = np.eye(data["class_probs"].shape[1], dtype=np.float32)[data["class_ids"]]
    probs = data["class_probs"]

    def stream(make: Callable[[], Any], y_true: np.ndarray, y_pred: np.ndarray) -> Callable[[], Any]:
        def run() -> Any:
            metric = make()
            for yt, yp in zip(np.array_split(y_true, batches), np.array_split(y_pred, batches)):
                metric.update_state(yt, yp)
            return keras.ops.convert_to_numpy(metric.result())
        return run

    return {
        "auc": stream(keras.metrics.AUC, y, p),
        "pr_auc": stream(lambda: keras.metrics.AUC(curve="PR"), y, p),
        "precision": stream(keras.metrics.Precision, y, p),
        "recall": stream(keras.metrics.Recall, y, p),
        "f1": stream(lambda: keras.metrics.F1Score(threshold=THRESHOLD), y_col, p_col),
        "f1_macro_10": stream(lambda: keras.metrics.F1Score(average="macro"), one_hot, probs),
    }


def main(argv: list[str]) -> None:
    library, path, repeats, *cases = argv
    data = dict(np.load(path))
    batches = int(data["batches"])
    available = sklearn_cases(data) if library == "sklearn" else keras_cases(data, batches)
    out: dict[str, Any] = {}
    for case in cases:
        if case not in available:
            out[case] = {"error": "not available"}
            continue
        try:
            out[case] = _time(available[case], int(repeats))
        except Exception as err:  # a peer that cannot run a case reports it instead of failing the table
            out[case] = {"error": f"{type(err).__name__}: {err}"[:300]}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
