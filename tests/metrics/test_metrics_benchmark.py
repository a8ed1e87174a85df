"""Smoke test of the metrics benchmark: plait's side runs on tiny data and the table prints.

No peers and no timing asserts; this only keeps `benchmarks/bench_metrics.py` from rotting as plait changes.
"""
from __future__ import annotations

import pathlib
import sys

BENCH = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_metrics  # noqa: E402


def test_bench_metrics_runs_plait_side_and_prints_the_table(capsys):
    results = bench_metrics.main(["--n", "2000", "--repeats", "1", "--no-peers", "--batches", "3"])
    out = capsys.readouterr().out
    assert set(results["plait"]) == set(bench_metrics.CASES)
    for label, _, _ in bench_metrics.CASES.values():
        assert label in out
    # The plait values are the metrics themselves: exact AUC equals the rank formula's AUC on the same data.
    data = bench_metrics.make_data(2000, 3)
    y, p = data["y_true"], data["y_pred"]
    pos, neg = p[y == 1], p[y == 0]
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert abs(results["plait"]["auc_exact"]["value"] - pairs / (len(pos) * len(neg))) < 1e-6
