"""Sequence-model fit() benchmark (issue 17): an LSTM and a small transformer, plait vs a hand-written torch loop
and Keras 3 (JAX, torch).

Run from the repository root:

    .venv/bin/python benchmarks/bench_sequence.py            # 8,192 samples, 1 warm-up + 2 timed epochs
    .venv/bin/python benchmarks/bench_sequence.py --quick    # ~1-2 min on 2 cores

Each job (one framework, one case) runs in its own process (`_sequence_jobs.py`), one after the other, through
`bench_fit.Runner`. The Keras peers run under `benchmarks/.venv-peers` when it exists (`--build-peers` creates
it, which needs network once); otherwise their cells read n/a with the reason. Compare ratios measured in one run.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _peers  # noqa: E402  (sibling modules, importable once HERE is on the path)
import _sequence_jobs  # noqa: E402
from bench_fit import Runner, _error, _find, errors_section, fmt_rate, header, table, thread_env  # noqa: E402

# (job name, label)
CONTESTANTS = [
    ("plait", "plait, default"),
    ("plait_loop", "plait, LSTM(use_cudnn=False) (step loop)"),
    ("torch", "PyTorch eager, fused Adam"),
    ("keras_jax", "Keras 3 + JAX, default"),
    ("keras_torch", "Keras 3 + torch"),
]
LABELS = dict(CONTESTANTS)
CASE_TITLES = {
    "lstm": "LSTM: (64, 100, 32) float32 -> LSTM(128) -> Dense(10, softmax)",
    "transformer": "transformer: (64, 64) token ids, vocab 1000 -> Embedding(64) + positions -> MHA(4 x 16) + "
                   "LayerNorm -> FF 128/64 + LayerNorm -> GlobalAveragePooling1D -> Dense(2, softmax)",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3,072 samples, 1 timed epoch, 2 rounds (~1-2 min)")
    parser.add_argument("--samples", type=int, help="training samples per case (default 8192; quick 3072)")
    parser.add_argument("--epochs", type=int, help="timed epochs after the warm-up (default 2; quick 1)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed warm-up epochs (default 1)")
    parser.add_argument("--batch", type=int, default=_sequence_jobs.BATCH, help="batch size (default 64)")
    parser.add_argument("--cases", default=",".join(_sequence_jobs.CASES), help="comma-separated lstm, transformer")
    parser.add_argument("--frameworks", default=",".join(k for k, _ in CONTESTANTS),
                        help="comma-separated subset of " + ", ".join(k for k, _ in CONTESTANTS))
    parser.add_argument("--no-peers", action="store_true", help="skip the Keras jobs")
    parser.add_argument("--build-peers", action="store_true",
                        help="create benchmarks/.venv-peers if missing (pip, needs network); by default a missing "
                             "venv makes the Keras cells n/a")
    parser.add_argument("--threads", type=int, help="intra-op threads for every job (see README)")
    parser.add_argument("--rounds", type=int,
                        help="run every job this many times, alternating the order, and keep each one's best "
                             "(a shared machine only ever slows a job down); default 1, quick 2")
    parser.add_argument("--timeout", type=int, default=900, help="seconds before a job counts as n/a")
    parser.add_argument("--json", type=pathlib.Path, help="also write every job's raw record to this file")
    args = parser.parse_args(argv)
    args.samples = args.samples or (3072 if args.quick else 8192)
    args.rounds = args.rounds if args.rounds is not None else (2 if args.quick else 1)
    args.epochs = args.epochs or (1 if args.quick else 2)
    args.cases = [c for c in args.cases.split(",") if c]
    args.frameworks = [f for f in args.frameworks.split(",") if f]
    if sorted(set(args.cases) - set(_sequence_jobs.CASES)):
        parser.error(f"unknown --cases; choose from {list(_sequence_jobs.CASES)}.")
    unknown = sorted(set(args.frameworks) - set(LABELS))
    if unknown:
        parser.error(f"unknown --frameworks {unknown}; choose from {sorted(LABELS)}.")
    if args.no_peers:
        args.frameworks = [f for f in args.frameworks if f not in _sequence_jobs.PEER_FRAMEWORKS]
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be a positive integer, got {args.threads}.")
    if args.rounds < 1 or args.samples < 1 or args.epochs < 1 or args.warmup < 0 or args.batch < 1:
        parser.error("--rounds, --samples, --epochs and --batch must be positive and --warmup >= 0.")
    return args


def jobs_of(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(framework, case) of every job; plait_loop only where there is an LSTM."""
    return [(fw, case) for case in args.cases for fw in args.frameworks if fw != "plait_loop" or case == "lstm"]


def make_runner(args: argparse.Namespace) -> Runner:
    """A `bench_fit.Runner` on `_sequence_jobs.py`; the peers' interpreter only if the venv is there (or built)."""
    runner = Runner(peers=False, timeout=args.timeout, env=thread_env(args.threads),
                    jobs=HERE / "_sequence_jobs.py")
    if not any(fw in _sequence_jobs.PEER_FRAMEWORKS for fw in args.frameworks):
        runner.peer_error = "peers skipped (--no-peers)"
    elif (_peers.VENV / ".installed").exists() or args.build_peers:
        try:
            runner.peer_python = _peers.peer_python()
        except Exception as exc:  # noqa: BLE001 - no network: the peers' cells become n/a
            runner.peer_error = f"peers venv unavailable ({type(exc).__name__}: {exc})"
    else:
        runner.peer_error = (f"peers venv {_peers.VENV.relative_to(HERE.parent)} not built "
                             "(pass --build-peers once with network)")
    return runner


# ---------------------------------------------------------------------------------------------- sections
def _rate(records: list[dict[str, Any]], fw: str, case: str) -> float | None:
    return (_find(records, framework=fw, model=case) or {}).get("samples_per_s")


def fit_section(records: list[dict[str, Any]], frameworks: list[str], cases: list[str]) -> str:
    """Rows: contestants; columns: each case's samples/s and ratio to plait default (n/a with a short reason)."""
    rows = []
    for fw in frameworks:
        row = [LABELS[fw]]
        for case in cases:
            rate, plait = _rate(records, fw, case), _rate(records, "plait", case)
            if fw == "plait_loop" and case != "lstm":
                row.append("-")
            elif rate is None:
                row.append("n/a")
            else:
                row.append(f"{fmt_rate(rate):>7} {f'{rate / plait:.2f}x' if plait else '-':>6}")
        rows.append(row)
    text = table(["contestant", *(f"{case}: samples/s, x plait" for case in cases)], rows)
    reasons = {}  # why a contestant's cells read n/a, once per contestant and reason
    for fw in frameworks:
        for case in cases:
            if _rate(records, fw, case) is None and (fw != "plait_loop" or case == "lstm"):
                reason = _error(records, framework=fw, model=case) or _error(records, framework=fw) or "not run"
                reasons.setdefault((LABELS[fw], reason[:200]), []).append(case)
    notes = [f"- n/a, {label} ({', '.join(cs)}): {reason}" for (label, reason), cs in reasons.items()]
    return "\n".join([text, "", *notes]) if notes else text


def memory_section(records: list[dict[str, Any]], frameworks: list[str], cases: list[str]) -> str:
    rows = []
    for fw in frameworks:
        cells = []
        for case in cases:
            r = _find(records, framework=fw, model=case)
            cells.append(f"{r['peak_rss_mb']:.0f}" if r else ("-" if fw == "plait_loop" and case != "lstm" else "n/a"))
        rows.append([LABELS[fw], *cells])
    return table(["contestant", *(f"{case} peak RSS MiB" for case in cases)], rows)


def targets_section(records: list[dict[str, Any]], cases: list[str]) -> str:
    """Issue 17's targets: plait default >= the hand-written loop and > Keras 3 + torch, per case."""
    lines = []
    for peer, name, strict in (("torch", "plait default >= hand-written torch loop", False),
                               ("keras_torch", "plait default > Keras 3 + torch", True),
                               ("keras_jax", "(for reference) plait default / Keras 3 + JAX", None)):
        cells = []
        for case in cases:
            a, c = _rate(records, "plait", case), _rate(records, peer, case)
            if not (a and c):
                cells.append(f"{case}: n/a")
                continue
            verdict = "" if strict is None else (" ok" if (a > c if strict else a >= c) else " MISS")
            cells.append(f"{case}: {a / c:.2f}x{verdict}")
        lines.append(f"- {name}: " + ", ".join(cells))
    paths = [f"{case}: {r['lstm_path']}" for case in cases
             if (r := _find(records, framework="plait", model=case)) and "lstm_path" in r]
    if paths:
        lines.append("- plait's LSTM ran on: " + ", ".join(paths))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started, load_start = time.perf_counter(), os.getloadavg()[0]
    print(f"bench_sequence: {'quick' if args.quick else 'full'} run, jobs below (stderr)", file=sys.stderr)
    runner = make_runner(args)
    common = ["--samples", str(args.samples), "--epochs", str(args.epochs), "--warmup", str(args.warmup),
              "--batch", str(args.batch)]
    jobs = jobs_of(args)
    for round_ in range(args.rounds):
        for fw, case in (jobs if round_ % 2 == 0 else jobs[::-1]):
            runner.run(fw, "--model", case, *common, peer=fw in _sequence_jobs.PEER_FRAMEWORKS)
    recs = runner.records
    rounds = f", best of {args.rounds} rounds" if args.rounds > 1 else ""
    out = [f"# plait sequence-model fit() benchmark ({'quick' if args.quick else 'full'} run{rounds}, "
           f"{time.strftime('%Y-%m-%d %H:%M')}, {time.perf_counter() - started:.0f} s)", "",
           header(runner, load_start), "",
           f"## fit(): {args.samples:,} samples per case, batch {args.batch}, {args.warmup} warm-up + "
           f"{args.epochs} timed epoch(s), same batch order everywhere (shuffle=False)", "",
           *(f"- {CASE_TITLES[c]}" for c in args.cases), "",
           "Cells: samples/s over the timed epochs, ratio to plait default (above 1 is faster than plait).", "",
           fit_section(recs, args.frameworks, args.cases), "",
           "## Peak resident memory of each job (ru_maxrss, MiB)", "",
           memory_section(recs, args.frameworks, args.cases), "",
           "## Targets of issue 17 (this run)", "", targets_section(recs, args.cases), ""]
    failed = {(r.get("job"), r["error"]): r for r in recs if "error" in r}  # each failed job once, any rounds
    errors = errors_section(list(failed.values()))
    if errors:
        out += ["## Jobs that did not finish (their cells read n/a)", "", errors, ""]
    print("\n".join(out))
    if args.json:
        args.json.write_text(json.dumps({"records": recs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
