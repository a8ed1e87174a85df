"""Smoke test of the fit() benchmark: the plait and hand-written torch jobs run and the tables print.

No peers and no timing asserts: this only keeps `benchmarks/` from rotting as plait changes.
"""
from __future__ import annotations

import json
import math
import os
import pathlib
import subprocess
import sys

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

BENCH = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import _fit_jobs  # noqa: E402
import bench_fit  # noqa: E402

TINY = ["--samples", "96", "--epochs", "1", "--warmup", "1"]


def _run_fit_jobs() -> dict[str, dict]:
    """The plait and torch fit jobs, each in its own process as the driver runs them (in parallel here)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = {fw: subprocess.Popen([sys.executable, str(BENCH / "_fit_jobs.py"), fw, "32", *TINY], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for fw in ("plait", "torch")}
    records = {}
    for fw, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{fw} job failed:\n{out}\n{err[-3000:]}"
        records[fw] = json.loads(out.strip().splitlines()[-1])
    return records


def test_fit_jobs_run_and_driver_prints_their_tables() -> None:
    # One test, so that under pytest-xdist only one worker pays for the two job processes.
    fit_records = _run_fit_jobs()
    for record in fit_records.values():
        assert "error" not in record
        assert record["steps_per_epoch"] == 3  # 96 samples in batches of 32
        assert record["samples_per_s"] > 0 and record["seconds"] > 0
        assert math.isfinite(record["loss"]) and 0.0 <= record["accuracy"] <= 1.0
        assert record["peak_rss_mb"] >= record["base_rss_mb"] > 0
        assert "torch" in record["versions"]

    args = bench_fit.parse_args(["--quick", "--no-peers", "--batches", "32", "--threads", "2"])
    assert args.frameworks == ["plait", "plait_best", "torch"] and args.samples == 12000
    assert bench_fit.thread_env(args.threads)["OMP_NUM_THREADS"] == "2" and bench_fit.thread_env(None) == {}
    records = [*fit_records.values(),
               {"framework": "plait_best", "kind": "fit", "model": "mlp", "batch": 32, "error": "boom"}]
    fit = bench_fit.fit_section(records, args.frameworks, [32], "mlp", limit=1e6)
    assert "1.00x" in fit  # plait's own ratio
    assert fit.count("n/a") == 1  # plait best failed: n/a, no crash
    memory = bench_fit.memory_section(records, [32], "mlp")
    assert f"{fit_records['plait']['peak_rss_mb']:.0f}" in memory
    targets = bench_fit.targets_section(records, [32], limit=1e6)
    ratio = fit_records["plait"]["samples_per_s"] / fit_records["torch"]["samples_per_s"]
    assert f"b=32: {ratio:.2f}x" in targets
    assert "plait at its best (faster of default, jit+spe=8) >= Keras 3 + JAX spe=8: b=32: n/a" in targets
    assert "boom" in bench_fit.errors_section(records)
    paired = {"framework": "plait", "kind": "paired", "model": "mlp", "batch": 32, "plait_samples_per_s": 2000.0,
              "plait_best_samples_per_s": 3000.0, "torch_samples_per_s": 1000.0, "ratio_median": 1.5,
              "best_ratio_median": 2.5, "jit_vs_default_median": 1.25}
    section = bench_fit.paired_section([paired], [32])
    assert all(cell in section for cell in ("2.0k", "3.0k", "1.0k", "1.50x", "2.50x", "1.25x"))
    targets = bench_fit.targets_section([*records, paired], [32], limit=1e6)
    assert "paired in one process (median of rounds): b=32: 1.50x ok" in targets
    assert "jit_compile=True, spe=8 over plait default, paired: b=32: 1.25x" in targets
    # With --rounds, the tables use each contestant's fastest round.
    slower = {**fit_records["torch"], "samples_per_s": fit_records["torch"]["samples_per_s"] / 2}
    best = bench_fit._find([slower, fit_records["torch"]], framework="torch", kind="fit", model="mlp", batch=32)
    assert best is fit_records["torch"]
    assert bench_fit.parse_args(["--rounds", "3"]).rounds == 3
    with pytest.raises(SystemExit):
        bench_fit.parse_args(["--rounds", "0"])


@pytest.mark.parametrize("framework", ["plait", "torch"])
def test_infer_job_reports_both_rates(framework: str) -> None:
    args = _fit_jobs.parse_args([framework, "64", "--kind", "infer", "--samples", "100", "--repeats", "1"])
    record = _fit_jobs.run_job(args)
    assert record["evaluate_samples_per_s"] > 0 and record["predict_samples_per_s"] > 0


def test_paired_job_times_plait_both_ways_and_the_torch_loop_in_one_process() -> None:
    args = _fit_jobs.parse_args(["plait", "32", "--kind", "paired", "--samples", "96", "--epochs", "2"])
    record = _fit_jobs.run_job(args)
    assert record["rounds"] == 2 and record["plait_samples_per_s"] > 0 and record["torch_samples_per_s"] > 0
    assert record["plait_best_samples_per_s"] > 0
    assert record["ratio_median"] > 0 and record["best_ratio_median"] > 0 and record["jit_vs_default_median"] > 0
    with pytest.raises(ValueError, match="paired job runs plait"):
        _fit_jobs.run_job(_fit_jobs.parse_args(["torch", "32", "--kind", "paired", "--samples", "96"]))


def test_unknown_framework_prints_an_error_record(capsys: pytest.CaptureFixture[str]) -> None:
    assert _fit_jobs.main(["nonesuch", "32"]) == 1
    record = json.loads(capsys.readouterr().out.strip())
    assert "nonesuch" in record["error"] and "framework must be one of" in record["error"]


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_flops_per_sample_match_torch_flop_counter(model: str) -> None:
    # The compute limit rests on this count; torch's FLOP counter is the independent reference.
    net = _fit_jobs._torch_model(model)
    x, y = _fit_jobs.make_data(4, model)
    xb = torch.from_numpy(x).permute(0, 3, 1, 2) if model == "cnn" else torch.from_numpy(x)
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.cross_entropy(net(xb), torch.from_numpy(y)).backward()
    assert _fit_jobs.train_flops_per_sample(model) == counter.get_total_flops() // 4


def test_matmul_gflops_is_positive_for_each_size() -> None:
    result = _fit_jobs.matmul_gflops("numpy", [32, 64], min_seconds=0.0)
    assert set(result) == {32, 64} and all(v > 0 for v in result.values())



def test_sequence_benchmark_quickest_mode_prints_its_tables_and_targets() -> None:
    # Issue 17's LSTM and transformer cases, plait and the torch loop, on 64 samples, in this process
    # (the driver runs the same run_job in a subprocess per job); no peers.
    import _sequence_jobs
    import bench_sequence

    args = bench_sequence.parse_args(["--no-peers", "--frameworks", "plait,torch", "--samples", "64"])
    records = []
    for framework, case in bench_sequence.jobs_of(args):
        job = _sequence_jobs.parse_args([framework, "--model", case, "--samples", "64", "--epochs", "1"])
        record = _sequence_jobs.run_job(job)
        assert record["samples_per_s"] > 0 and math.isfinite(record["loss"]) and record["steps_per_epoch"] == 1
        records.append({**record, "peak_rss_mb": _fit_jobs.peak_rss_mb()})
    fit = bench_sequence.fit_section(records, args.frameworks, args.cases)
    assert "lstm: samples/s, x plait" in fit and "transformer: samples/s, x plait" in fit
    assert fit.count("1.00x") == 2 and "n/a" not in fit  # plait's own ratio in both cases
    assert "n/a" not in bench_sequence.memory_section(records, args.frameworks, args.cases)
    targets = bench_sequence.targets_section(records, args.cases)
    assert "plait default >= hand-written torch loop: lstm: " in targets
    assert "plait's LSTM ran on: lstm: fused (lstm)" in targets  # the default LSTM takes torch's fused kernel

    # Peers missing: n/a with the reason, never an error.
    quick = bench_sequence.parse_args(["--quick"])
    assert quick.samples == 3072 and quick.rounds == 2 and quick.cases == ["lstm", "transformer"]
    missing = [records[0], {"framework": "keras_torch", "error": "peers venv missing"}]
    table = bench_sequence.fit_section(missing, ["plait", "keras_torch"], ["lstm"])
    assert "n/a, Keras 3 + torch (lstm): peers venv missing" in table
    assert "plait default > Keras 3 + torch: lstm: n/a" in bench_sequence.targets_section(missing, ["lstm"])
