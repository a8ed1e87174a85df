"""fit() speed benchmark (issue 6): plait vs a hand-written PyTorch loop, Keras 3 (JAX, torch) and tf.keras.

Run from the repository root:

    .venv/bin/python benchmarks/bench_fit.py            # full table, ~10-15 min on 2 cores
    .venv/bin/python benchmarks/bench_fit.py --quick    # ~3 min

Every job (one framework, one batch size) runs in its own process (`_fit_jobs.py`), one after the other,
so its peak resident memory is its own and no two jobs share the cores. plait and the hand-written loop
run under this interpreter; the peers under `benchmarks/.venv-peers` (created on first use by `_peers.py`).
Compare ratios measured in one run: the machine may be shared and absolute numbers drift.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import time
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _fit_jobs  # noqa: E402  (a sibling module, importable once HERE is on the path)

JOBS = HERE / "_fit_jobs.py"
# (job name, label, runs under the peers' venv)
CONTESTANTS = [
    ("plait", "plait, default", False),
    ("plait_best", "plait, jit_compile=True, spe=8", False),
    ("torch", "PyTorch eager, fused Adam", False),
    ("keras_jax", "Keras 3 + JAX, default", True),
    ("keras_jax_spe8", "Keras 3 + JAX, spe=8", True),
    ("keras_torch", "Keras 3 + torch", True),
    ("tf_keras", "tf.keras (TensorFlow)", True),
]
LABELS = {key: label for key, label, _ in CONTESTANTS}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="12,000 samples, 1 timed epoch, batches 32 and 1024, smaller matmuls, "
                             "3 CNN contestants (~3 min)")
    parser.add_argument("--samples", type=int, help="training samples (default 60000; quick 12000)")
    parser.add_argument("--epochs", type=int, help="timed epochs after the warm-up (default 2; quick 1)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed warm-up epochs (default 1)")
    parser.add_argument("--batches", help="comma-separated batch sizes (default 32,128,1024; quick 32,1024)")
    parser.add_argument("--frameworks", default=",".join(k for k, _, _ in CONTESTANTS),
                        help="comma-separated subset of " + ", ".join(k for k, _, _ in CONTESTANTS))
    parser.add_argument("--no-peers", action="store_true", help="skip Keras and tf.keras (no peers venv)")
    parser.add_argument("--matmul-sizes", help="comma-separated n for the GEMM peak (default 1024,2048,4096)")
    parser.add_argument("--infer-batch", type=int, default=1024, help="evaluate/predict batch size")
    parser.add_argument("--infer-repeats", type=int, help="timed evaluate/predict passes (default 3; quick 2)")
    parser.add_argument("--cnn-samples", type=int, help="CNN training samples (default 6000; quick 2048)")
    parser.add_argument("--cnn-batch", type=int, default=128, help="CNN batch size")
    parser.add_argument("--threads", type=int,
                        help="intra-op threads for every job (torch/OpenMP/MKL, TensorFlow, XLA when 1); default: "
                             "each framework's own. Use 1 on a shared machine: see the README")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every fit job this many times, in alternating order, and keep each one's best "
                             "(a shared machine only ever slows a job down); default 1")
    parser.add_argument("--paired-rounds", type=int,
                        help="rounds of the paired job per batch size (plait default, plait jit+spe=8 and the torch "
                             "loop, alternating epochs in one "
                             "process; default 8, quick 4; 0 skips it)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds before a job counts as n/a")
    parser.add_argument("--json", type=pathlib.Path, help="also write every job's raw record to this file")
    args = parser.parse_args(argv)
    quick = args.quick
    args.samples = args.samples or (12000 if quick else 60000)
    args.epochs = args.epochs or (1 if quick else 2)
    args.batches = [int(b) for b in (args.batches or ("32,1024" if quick else "32,128,1024")).split(",")]
    args.matmul_sizes = args.matmul_sizes or ("1024,2048" if quick else "1024,2048,4096")
    args.infer_repeats = args.infer_repeats or (2 if quick else 3)
    args.cnn_samples = args.cnn_samples or (2048 if quick else 6000)
    args.paired_rounds = (4 if quick else 8) if args.paired_rounds is None else args.paired_rounds
    args.frameworks = [f for f in args.frameworks.split(",") if f]
    unknown = sorted(set(args.frameworks) - set(LABELS))
    if unknown:
        parser.error(f"unknown --frameworks {unknown}; choose from {sorted(LABELS)}.")
    if args.no_peers:
        args.frameworks = [f for f in args.frameworks if not _is_peer(f)]
    # Each peer job pays ~10 s of imports and compilation: the quick run keeps three CNN contestants.
    args.cnn_frameworks = [f for f in args.frameworks if not quick or f in ("plait", "torch", "keras_jax")]
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be a positive integer, got {args.threads}.")
    if args.rounds < 1:
        parser.error(f"--rounds must be a positive integer, got {args.rounds}.")
    if min(args.batches) < 1 or args.samples < 1 or args.epochs < 1 or args.warmup < 0:
        parser.error("batch sizes, --samples and --epochs must be positive and --warmup >= 0.")
    return args


def _is_peer(framework: str) -> bool:
    return framework in _fit_jobs.KERAS_FRAMEWORKS


def thread_env(threads: int | None) -> dict[str, str]:
    """Environment that caps every framework's intra-op threads at `threads` (empty: their defaults)."""
    if threads is None:
        return {}
    env = {k: str(threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")}
    if threads == 1:  # XLA's CPU client has no thread-count flag, only this switch to one thread
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    return env


# ---------------------------------------------------------------------------------------------- running jobs
class Runner:
    """Runs `_fit_jobs.py` (or another job script's) jobs one at a time under the right interpreter; keeps records."""

    def __init__(self, *, peers: bool, timeout: int, env: dict[str, str] | None = None,
                 jobs: pathlib.Path = JOBS) -> None:
        self.jobs = jobs  # the job script (bench_sequence.py passes _sequence_jobs.py)
        self.timeout = timeout
        self.env = env or {}
        self.records: list[dict[str, Any]] = []
        self.peer_python: str | None = None
        self.peer_error = ""
        if peers:
            try:
                import _peers

                self.peer_python = _peers.peer_python()
            except Exception as exc:  # noqa: BLE001 - no network, no venv: the peers' rows become n/a
                self.peer_error = f"peers venv unavailable ({type(exc).__name__}: {exc})"

    def run(self, framework: str, *args: str, peer: bool = False) -> dict[str, Any]:
        label = " ".join([framework, *args])
        python = self.peer_python if peer else sys.executable
        if python is None:
            record = {"framework": framework, "error": self.peer_error or "peers skipped"}
        else:
            start = time.perf_counter()
            record = self._launch(python, framework, args)
            record["wall_s"] = time.perf_counter() - start
        record.setdefault("job", label)
        self.records.append(record)
        note = record.get("error") or (f"{record['samples_per_s']:,.0f} samples/s" if "samples_per_s" in record
                                       else "done")
        print(f"  [{len(self.records):3d}] {label:<40} {note[:90]}  ({record.get('wall_s', 0):.0f} s)",
              file=sys.stderr, flush=True)
        return record

    def _launch(self, python: str, framework: str, args: tuple[str, ...]) -> dict[str, Any]:
        cmd = [python, str(self.jobs), framework, *args]
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout, env=env, cwd=HERE.parent)
        except subprocess.TimeoutExpired:
            return {"framework": framework, "error": f"timed out after {self.timeout} s"}
        for line in reversed(done.stdout.splitlines()):
            if line.startswith("{"):
                return json.loads(line)
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"framework": framework, "error": f"exit {done.returncode}: {tail[0]}"}


# ---------------------------------------------------------------------------------------------- formatting
def fmt_rate(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value / 1000:.1f}k" if value >= 1000 else f"{value:.0f}"


def fit_cell(record: dict[str, Any] | None, plait_rate: float | None, limit: float | None) -> str:
    """'61.7k 1.00x 16%': samples/s, ratio to plait default, fraction of the compute limit."""
    rate = None if record is None else record.get("samples_per_s")
    if rate is None:
        return "n/a"
    ratio = f"{rate / plait_rate:.2f}x" if plait_rate else "-"
    frac = f"{100 * rate / limit:.0f}%" if limit else "-"
    return f"{fmt_rate(rate):>7} {ratio:>6} {frac:>4}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (readable as text, pasteable into the README)."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def _find(records: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    """The matching record without error; of several rounds, the fastest (noise on a shared machine only slows)."""
    found = [r for r in records if all(r.get(k) == v for k, v in match.items()) and "error" not in r]
    return max(found, key=lambda r: r.get("samples_per_s", 0.0), default=None)


def _error(records: list[dict[str, Any]], **match: Any) -> str | None:
    for record in records:
        if all(record.get(k) == v for k, v in match.items()) and "error" in record:
            return record["error"]
    return None


# ---------------------------------------------------------------------------------------------- sections
def header(runner: Runner, load_start: float) -> str:
    import numpy as np
    import torch

    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "unknown"
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "XLA_FLAGS")
    threads = {k: runner.env.get(k, os.environ.get(k, "unset")) for k in names}
    job_threads = next((r["threads"] for r in runner.records if r.get("framework") == "torch" and "threads" in r), {})
    peers = next((r["versions"] for r in runner.records if "keras" in r.get("versions", {})), {})
    lines = [
        f"CPU: {model}; {os.cpu_count()} logical cores ({len(os.sched_getaffinity(0))} usable)",
        f"plait side: Python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}; "
        f"torch threads in the jobs {job_threads.get('torch_threads', torch.get_num_threads())} intra-op / "
        f"{job_threads.get('torch_interop_threads', torch.get_num_interop_threads())} inter-op; "
        f"MKL {torch.backends.mkl.is_available()}, oneDNN {torch.backends.mkldnn.is_available()}",
        "peers: " + (", ".join(f"{k} {v}" for k, v in peers.items()) or runner.peer_error or "not run"),
        "job environment: " + ", ".join(f"{k}={v}" for k, v in threads.items()),
        f"load average (1 min): {load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end"
        + (" -- other processes competed for the cores, so the numbers are low and noisy"
           if max(load_start, os.getloadavg()[0]) > (os.cpu_count() or 1) + 0.5 else ""),
    ]
    if torch.cuda.is_available():
        lines.append(f"GPU: {torch.cuda.get_device_name()} (plait and the torch loop run on it)")
    return "\n".join(lines)


def matmul_section(runner: Runner, sizes: str) -> tuple[str, float | None]:
    """GEMM GFLOP/s of torch, numpy (this venv) and jax (peers); returns the text and the peak."""
    runner.run("matmul", "--libs", "torch,numpy", "--sizes", sizes)
    if runner.peer_python:
        runner.run("matmul", "--libs", "jax", "--sizes", sizes, peer=True)
    results: dict[str, dict[str, float]] = {}
    for record in runner.records:
        if record.get("framework") == "matmul" and "gflops" in record:
            results.update(record["gflops"])
    ns = sizes.split(",")
    rows = [[lib, *(f"{results[lib].get(n, float('nan')):.0f}" for n in ns)] for lib in results]
    peak = max((v for lib in results.values() for v in lib.values()), default=None)
    text = table(["float32 matmul GFLOP/s", *(f"n={n}" for n in ns)], rows)
    return text, peak


def fit_section(records: list[dict[str, Any]], frameworks: list[str], batches: list[int], model: str,
                limit: float | None) -> str:
    rows = []
    for fw in frameworks:
        row = [LABELS[fw]]
        for b in batches:
            plait = _find(records, framework="plait", kind="fit", model=model, batch=b)
            rec = _find(records, framework=fw, kind="fit", model=model, batch=b)
            row.append(fit_cell(rec, plait and plait["samples_per_s"], limit))
        rows.append(row)
    return table(["contestant", *(f"batch {b}: samples/s, x plait, % limit" for b in batches)], rows)


def memory_section(records: list[dict[str, Any]], batches: list[int], model: str) -> str:
    rows = []
    for b in batches:
        recs = {fw: _find(records, framework=fw, kind="fit", model=model, batch=b)
                for fw in ("plait", "plait_best", "torch")}
        mb = {fw: r and r["peak_rss_mb"] for fw, r in recs.items()}
        base = recs["torch"] and recs["torch"]["base_rss_mb"]
        ratio = lambda fw: f"{mb[fw] / mb['torch']:.2f}x" if mb[fw] and mb["torch"] else "n/a"  # noqa: E731
        rows.append([str(b), *(f"{mb[fw]:.0f}" if mb[fw] else "n/a" for fw in ("plait", "plait_best", "torch")),
                     ratio("plait"), ratio("plait_best"), f"{base:.0f}" if base else "n/a"])
    return table(["batch", "plait MiB", "plait best MiB", "torch loop MiB", "plait / torch",
                  "plait best / torch", "torch after import MiB"], rows)


def paired_section(records: list[dict[str, Any]], batches: list[int]) -> str:
    rows = []
    for b in batches:
        r = _find(records, framework="plait", kind="paired", batch=b)
        if r is None:
            error = _error(records, framework="plait", kind="paired", batch=b) or "n/a"
            rows.append([str(b), "n/a", "n/a", "n/a", error, "", ""])
            continue
        best = r.get("plait_best_samples_per_s")
        rows.append([str(b), fmt_rate(r["plait_samples_per_s"]), fmt_rate(best), fmt_rate(r["torch_samples_per_s"]),
                     f"{r['ratio_median']:.2f}x", f"{r['best_ratio_median']:.2f}x" if best else "n/a",
                     f"{r['jit_vs_default_median']:.2f}x" if best else "n/a"])
    return table(["batch", "plait default best epoch", "plait jit+spe=8 best epoch", "torch loop best epoch",
                  "median default / loop", "median jit+spe=8 / loop", "median jit+spe=8 / default"], rows)


def infer_section(records: list[dict[str, Any]], batch: int) -> str:
    plait = _find(records, framework="plait", kind="infer", batch=batch)
    torch_ = _find(records, framework="torch", kind="infer", batch=batch)
    rows = []
    for what in ("evaluate", "predict"):
        key = f"{what}_samples_per_s"
        p, t = plait and plait[key], torch_ and torch_[key]
        rows.append([f"{what} (batch {batch})", fmt_rate(p), fmt_rate(t), f"{p / t:.2f}x" if p and t else "n/a"])
    for rec, name in ((plait, "plait"), (torch_, "torch")):
        if rec is None:
            rows.append([f"{name} error", _error(records, framework=name, kind="infer") or "not run", "", ""])
    return table(["", "plait samples/s", "torch no_grad samples/s", "plait / torch"], rows)


def targets_section(records: list[dict[str, Any]], batches: list[int], limit: float | None) -> str:
    """The issue's targets, checked on this run's numbers."""
    def rate(fw: str, b: int) -> float | None:
        if fw == "plait_at_best":  # the "plait at its best settings": the faster of plait's two rows
            return max((r for r in (rate("plait", b), rate("plait_best", b)) if r), default=None)
        return (_find(records, framework=fw, kind="fit", model="mlp", batch=b) or {}).get("samples_per_s")

    lines = []
    for fw, peer, name in (("plait", "torch", "plait default >= hand-written torch"),
                           ("plait", "keras_jax", "plait default >= Keras 3 + JAX default"),
                           ("plait_at_best", "keras_jax_spe8",
                            "plait at its best (faster of default, jit+spe=8) >= Keras 3 + JAX spe=8")):
        cells = []
        for b in batches:
            a, c = rate(fw, b), rate(peer, b)
            cells.append(f"b={b}: " + (f"{a / c:.2f}x {'ok' if a >= c else 'MISS'}" if a and c else "n/a"))
        lines.append(f"- {name}: " + ", ".join(cells))
        if fw == "plait" and peer == "torch":
            pairs = [(b, _find(records, framework="plait", kind="paired", batch=b)) for b in batches]
            if any(r for _, r in pairs):
                lines.append("- the same, paired in one process (median of rounds): " + ", ".join(
                    f"b={b}: " + (f"{r['ratio_median']:.2f}x {'ok' if r['ratio_median'] >= 1 else 'MISS'}" if r
                                  else "n/a") for b, r in pairs))
                lines.append("- (for reference) plait jit_compile=True, spe=8 over plait default, paired: " + ", ".join(
                    f"b={b}: " + (f"{r['jit_vs_default_median']:.2f}x" if r and "jit_vs_default_median" in r
                                  else "n/a") for b, r in pairs))
    big = max(batches)
    best = rate("plait_at_best", big)
    if limit and best:
        lines.append(f"- plait at batch {big} >= 60% of the compute limit: {100 * best / limit:.0f}% "
                     f"{'ok' if best >= 0.6 * limit else 'MISS'}")
    mem = []
    for b in batches:
        p = _find(records, framework="plait", kind="fit", model="mlp", batch=b)
        t = _find(records, framework="torch", kind="fit", model="mlp", batch=b)
        if p and t:
            r = p["peak_rss_mb"] / t["peak_rss_mb"]
            mem.append(f"b={b}: {r:.2f}x {'ok' if r <= 1.2 else 'MISS'}")
    lines.append("- plait peak RSS <= 1.2x torch loop: " + (", ".join(mem) or "n/a"))
    return "\n".join(lines)


def errors_section(records: list[dict[str, Any]]) -> str:
    return "\n".join(f"- {r.get('job', r.get('framework'))}: {r['error'][:300]}" for r in records if "error" in r)


def _has_conv() -> bool:
    sys.path.insert(0, str(HERE.parent))
    import plait

    return hasattr(plait.layers, "Conv2D") and any(hasattr(plait.layers, n) for n in ("MaxPooling2D", "MaxPool2D"))


# ---------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started, load_start = time.perf_counter(), os.getloadavg()[0]
    print(f"bench_fit: {'quick' if args.quick else 'full'} run, jobs below (stderr)", file=sys.stderr)
    if load_start > (os.cpu_count() or 1) + 0.5 and args.threads is None:
        print(f"  load average {load_start:.1f} on {os.cpu_count()} cores: torch's multi-threaded kernels stall "
              "when another process holds a core; consider --threads 1", file=sys.stderr)
    runner = Runner(peers=any(_is_peer(f) for f in args.frameworks), timeout=args.timeout,
                    env=thread_env(args.threads))
    matmul_text, peak = matmul_section(runner, args.matmul_sizes)
    flops = _fit_jobs.train_flops_per_sample("mlp")
    limit = peak * 1e9 / flops if peak else None
    common = ["--samples", str(args.samples), "--epochs", str(args.epochs), "--warmup", str(args.warmup)]
    for round_ in range(args.rounds):
        for b in args.batches:
            # Alternate the order, so that no contestant always runs right after the same neighbour.
            for fw in (args.frameworks if round_ % 2 == 0 else args.frameworks[::-1]):
                runner.run(fw, str(b), *common, peer=_is_peer(fw))
    paired = args.paired_rounds > 0 and {"plait", "torch"} <= set(args.frameworks)
    if paired:
        for b in args.batches:
            runner.run("plait", str(b), "--kind", "paired", "--samples", str(args.samples), "--epochs",
                       str(args.paired_rounds))
    for fw in ("plait", "torch"):
        if fw in args.frameworks:
            runner.run(fw, str(args.infer_batch), "--kind", "infer", "--samples", str(args.samples),
                       "--repeats", str(args.infer_repeats))
    conv = _has_conv()
    if conv:
        cnn = ["--model", "cnn", "--samples", str(args.cnn_samples), "--epochs", "1", "--warmup", "1"]
        for fw in args.cnn_frameworks:
            runner.run(fw, str(args.cnn_batch), *cnn, peer=_is_peer(fw))
    recs = runner.records
    rounds = f", best of {args.rounds} rounds" if args.rounds > 1 else ""
    out = [f"# plait fit() benchmark ({'quick' if args.quick else 'full'} run{rounds}, "
           f"{time.strftime('%Y-%m-%d %H:%M')}, {time.perf_counter() - started:.0f} s)", "",
           header(runner, load_start), "",
           "## Compute limit", "", matmul_text, "",
           f"Peak float32 matmul: {peak:.0f} GFLOP/s. MLP 784-256-128-10 training needs {flops / 1e6:.2f} MFLOP "
           f"per sample (forward + weight and input gradients), so the compute limit is {limit:,.0f} samples/s."
           if peak else "Peak float32 matmul: n/a (the matmul job failed).", "",
           f"## fit(): MLP, {args.samples:,} samples, {args.warmup} warm-up + {args.epochs} timed epoch(s)", "",
           "Cells: samples/s over the timed epochs, ratio to plait default (above 1 is faster than plait), "
           "fraction of the compute limit.", "",
           fit_section(recs, args.frameworks, args.batches, "mlp", limit), "",
           "## Peak resident memory of the fit job (ru_maxrss, MiB)", "",
           memory_section(recs, args.batches, "mlp"), ""]
    if paired:
        out += [f"## plait (default and jit_compile=True, spe=8) and the hand-written loop, paired: alternating "
                f"epochs in one process, {args.paired_rounds} rounds", "",
                "All see the same moments of the machine, so these ratios (samples/s over samples/s, per round) "
                "are steadier than the table's.", "",
                paired_section(recs, args.batches), ""]
    if "plait" in args.frameworks or "torch" in args.frameworks:
        out += [f"## evaluate / predict, {args.samples:,} samples, best of {args.infer_repeats}", "",
                infer_section(recs, args.infer_batch), ""]
    if conv:
        cnn_limit = peak * 1e9 / _fit_jobs.train_flops_per_sample("cnn") if peak else None
        out += [f"## fit(): small CNN (28x28x1, Conv2D 32 + pool + Conv2D 64 + pool + Dense 10), "
                f"{args.cnn_samples:,} samples, batch {args.cnn_batch}, "
                f"{_fit_jobs.train_flops_per_sample('cnn') / 1e6:.1f} MFLOP per sample", "",
                fit_section(recs, args.cnn_frameworks, [args.cnn_batch], "cnn", cnn_limit), ""]
    else:
        out += ["## CNN case: skipped, conv layers are not implemented yet (no plait.layers.Conv2D).", ""]
    out += ["## Targets of issue 6 (this run)", "", targets_section(recs, args.batches, limit), ""]
    errors = errors_section(recs)
    if errors:
        out += ["## Jobs that did not finish (their cells read n/a)", "", errors, ""]
    print("\n".join(out))
    if args.json:
        args.json.write_text(json.dumps({"peak_gflops": peak, "flops_per_sample": flops, "records": recs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
