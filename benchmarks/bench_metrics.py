"""Metrics speed benchmark (issue 3): plait vs scikit-learn and keras.metrics on 10 million predictions.

Run from the repository root:

    .venv/bin/python benchmarks/bench_metrics.py             # 10M predictions, ~3-5 min on 2 cores
    .venv/bin/python benchmarks/bench_metrics.py --quick     # 1M predictions, < 1 min
    .venv/bin/python benchmarks/bench_metrics.py --batches 100   # stream the data in 100 update_state calls
    .venv/bin/python benchmarks/bench_metrics.py --threads 1     # one intra-op thread everywhere (busy machine)

Each timing is what a user runs to get the number from arrays in memory: for plait and Keras a fresh
metric's `update_state` (on every batch) plus `result()`; for scikit-learn the score function on all the
data (thresholding included where it needs labels). Best of `--repeats` after one warm-up. plait runs
in this interpreter; scikit-learn and Keras (JAX, torch and TensorFlow backends) in the peers' venv
(`benchmarks/.venv-peers`, see `_peers.py`) through `_metrics_peer.py`, on the same arrays (saved to a
temporary .npz). Every contestant runs once per round (`--rounds`, default 2) and keeps its best time,
so a busy moment of a shared machine counts against no one in particular; compare ratios measured in
one run.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _peers import run_peer  # noqa: E402  (a sibling module, importable once HERE is on the path)
from bench_fit import thread_env  # noqa: E402

from plait import metrics  # noqa: E402

# case -> (label, plait metric factory, which prediction array it scores)
CASES: dict[str, tuple[str, Callable[[], Any], str]] = {
    "auc": ("AUC (ROC, 200 thresholds)", metrics.AUC, "binary"),
    "pr_auc": ("AUC (PR, 200 thresholds)", lambda: metrics.AUC(curve="PR"), "binary"),
    "auc_exact": ("AUC exact (ROC)", lambda: metrics.AUC(exact=True), "binary"),
    "pr_auc_exact": ("AUC exact (PR = average precision)", lambda: metrics.AUC(curve="PR", exact=True), "binary"),
    "precision": ("Precision", metrics.Precision, "binary"),
    "recall": ("Recall", metrics.Recall, "binary"),
    "f1": ("F1Score (threshold 0.5)", lambda: metrics.F1Score(threshold=0.5), "column"),
    "f1_macro_10": ("F1Score macro, 10 classes", lambda: metrics.F1Score(average="macro"), "classes"),
}
PEERS = [("sklearn", "scikit-learn", None), ("keras", "Keras/JAX", "jax"), ("keras", "Keras/torch", "torch"),
         ("keras", "Keras/TF", "tensorflow")]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, help="predictions (default 10,000,000; quick 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="1M predictions, 2 repeats")
    parser.add_argument("--repeats", type=int, help="timed runs per case after a warm-up (default 3; quick 2)")
    parser.add_argument("--batches", type=int, default=1, help="update_state calls the data is split into")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of plait + every peer, best kept per contestant (evens out a busy machine)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of " + ", ".join(CASES))
    parser.add_argument("--threads", type=int,
                        help="intra-op threads for plait and every peer (default: each library's own default)")
    parser.add_argument("--no-peers", action="store_true", help="time plait only")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per peer process")
    parser.add_argument("--json", type=pathlib.Path, help="also write the raw timings to this file")
    args = parser.parse_args(argv)
    args.n = args.n or (1_000_000 if args.quick else 10_000_000)
    args.repeats = args.repeats or (2 if args.quick else 3)
    args.cases = [c for c in args.cases.split(",") if c]
    unknown = sorted(set(args.cases) - set(CASES))
    if unknown:
        parser.error(f"unknown --cases {unknown}; choose from {sorted(CASES)}.")
    if args.n < 10 or args.repeats < 1 or args.batches < 1 or args.rounds < 1:
        parser.error("--n must be >= 10, --repeats, --batches and --rounds >= 1.")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be a positive integer, got {args.threads}.")
    return args


def make_data(n: int, batches: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Binary labels with scores that carry signal, and 10-class probabilities for n / 10 rows."""
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=n) < 0.3).astype(np.int32)
    scores = (1.0 / (1.0 + np.exp(-(rng.normal(size=n) + 1.5 * y)))).astype(np.float32)
    rows = max(n // 10, 10)
    ids = rng.integers(0, 10, size=rows).astype(np.int32)
    logits = rng.normal(size=(rows, 10)).astype(np.float32)
    logits[np.arange(rows), ids] += 1.0
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs = (probs / probs.sum(-1, keepdims=True)).astype(np.float32)
    return {"y_true": y, "y_pred": scores, "class_ids": ids, "class_probs": probs, "batches": np.int64(batches)}


def _inputs(data: dict[str, np.ndarray], kind: str) -> tuple[np.ndarray, np.ndarray]:
    if kind == "binary":
        return data["y_true"], data["y_pred"]
    if kind == "column":
        return data["y_true"][:, None], data["y_pred"][:, None]
    return data["class_ids"], data["class_probs"]


def time_plait(data: dict[str, np.ndarray], cases: list[str], repeats: int, batches: int) -> dict[str, Any]:
    out = {}
    for case in cases:
        _, factory, kind = CASES[case]
        y_true, y_pred = _inputs(data, kind)
        parts = list(zip(np.array_split(y_true, batches), np.array_split(y_pred, batches)))

        def run() -> Any:
            metric = factory()
            for yt, yp in parts:
                metric.update_state(yt, yp)
            return metric.result().detach().cpu().numpy()

        value = run()
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            value = run()
            best = min(best, time.perf_counter() - start)
        out[case] = {"seconds": best, "value": np.asarray(value, dtype=np.float64).tolist()}
    return out


def time_peer(library: str, backend: str | None, path: str, cases: list[str], repeats: int,
              timeout: int, threads: int | None = None) -> dict[str, Any]:
    env = {**thread_env(threads), **({"KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"} if backend else {})}
    try:
        stdout = run_peer("_metrics_peer.py", library, path, str(repeats), *cases, env=env, timeout=timeout)
        return json.loads(stdout.strip().splitlines()[-1])
    except Exception as err:  # a missing or broken peer shows as n/a, not as a failed benchmark
        return {case: {"error": f"{type(err).__name__}: {str(err)[-200:]}"} for case in cases}


def _cell(record: dict[str, Any] | None, plait_seconds: float) -> str:
    if not record or "seconds" not in record:
        return "n/a"
    seconds = record["seconds"]
    return f"{seconds * 1000:,.0f} ms ({seconds / plait_seconds:.1f}x)"


def format_table(results: dict[str, dict[str, Any]], cases: list[str], columns: list[str]) -> str:
    """Markdown table: plait's time, then each peer's time and its ratio to plait (> 1x: plait is faster)."""
    header = ["metric", "plait", *columns]
    rows = [header, ["---"] * len(header)]
    for case in cases:
        mine = results["plait"][case]["seconds"]
        rows.append([CASES[case][0], f"{mine * 1000:,.0f} ms",
                     *(_cell(results.get(col, {}).get(case), mine) for col in columns)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows)


def format_values(results: dict[str, dict[str, Any]], cases: list[str], columns: list[str]) -> str:
    """The metric values each library returned, so the table compares like with like."""
    lines = []
    for case in cases:
        parts = []
        for col in ["plait", *columns]:
            value = results.get(col, {}).get(case, {}).get("value")
            if value is not None:
                parts.append(f"{col} {np.mean(value):.6f}")
        lines.append(f"  {CASES[case][0]}: " + ", ".join(parts))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    data = make_data(args.n, args.batches)
    load_start = os.getloadavg()[0]
    print(f"plait metrics benchmark: {args.n:,} predictions in {args.batches} update_state call(s), best of "
          f"{args.repeats} x {args.rounds} round(s); torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    results: dict[str, dict[str, Any]] = {}
    columns = [] if args.no_peers else [label for _, label, _ in PEERS]

    def keep_best(name: str, records: dict[str, Any]) -> None:
        best = results.setdefault(name, {})
        for case, record in records.items():
            if "seconds" in record and record["seconds"] < best.get(case, {}).get("seconds", float("inf")):
                best[case] = record
            else:
                best.setdefault(case, record)

    with tempfile.TemporaryDirectory() as tmp:
        path = str(pathlib.Path(tmp) / "data.npz")
        np.savez(path, **data)
        for round_ in range(1 if args.no_peers else args.rounds):
            keep_best("plait", time_plait(data, args.cases, args.repeats, args.batches))
            for library, label, backend in [] if args.no_peers else PEERS:
                cases = [c for c in args.cases if not (library == "sklearn" and c == "pr_auc")]
                print(f"  round {round_ + 1}: timing {label} ...", flush=True)
                keep_best(label, time_peer(library, backend, path, cases, args.repeats, args.timeout,
                                           args.threads))
    load_end = os.getloadavg()[0]
    busy = max(load_start, load_end) > (os.cpu_count() or 1) + 0.5
    print(f"\nload average (1 min): {load_start:.1f} at start, {load_end:.1f} at end"
          + (" -- the machine was busy: ratios are noisy; consider --threads 1" if busy else ""))
    print()
    print(format_table(results, args.cases, columns))
    print("\nValues (scikit-learn's AUC and PR rows are exact: roc_auc_score and average_precision_score):")
    print(format_values(results, args.cases, columns))
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results},
                                        indent=2))
    return results


if __name__ == "__main__":
    main()
