"""One benchmark job per process: `python benchmarks/_fit_jobs.py <framework> [<batch>] [options]`.

Prints one JSON line on stdout (samples/s, peak resident memory, versions, or `error`). Each job runs in
its own process so that `ru_maxrss` is that job's peak and no framework's threads or caches leak into
another's numbers. `bench_fit.py` runs these and prints the tables.

Frameworks: plait, plait_best (jit_compile=True, steps_per_execution=8), torch (hand-written eager loop),
keras_jax, keras_jax_spe8, keras_torch, tf_keras; and `matmul` (float32 GEMM GFLOP/s, `--libs`).
`plait <batch> --kind paired` times plait default, plait jit+spe=8 and the torch loop in one process,
alternating epochs.

Example:
    python benchmarks/_fit_jobs.py torch 128 --samples 6000 --epochs 1 --warmup 1
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import sys
import time
import warnings
from typing import Any, Callable

REPO = pathlib.Path(__file__).resolve().parent.parent
KERAS_FRAMEWORKS = {"keras_jax": ("jax", 1), "keras_jax_spe8": ("jax", 8), "keras_torch": ("torch", 1),
                    "tf_keras": ("tensorflow", 1)}
FIT_FRAMEWORKS = ("plait", "plait_best", "torch", *KERAS_FRAMEWORKS)
MLP_UNITS = (784, 256, 128, 10)
IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


# ---------------------------------------------------------------------------------------------- model FLOPs
def _cnn_matmuls() -> list[tuple[int, int, int]]:
    """(M rows, K inner, N cols) of each GEMM-shaped op of the CNN for one sample (convs as im2col)."""
    h, w, c = IMAGE_SHAPE
    shapes = []
    for filters in (32, 64):
        h, w = h - 2, w - 2  # 3x3 'valid' convolution
        shapes.append((h * w, 9 * c, filters))
        h, w, c = h // 2, w // 2, filters  # 2x2 max pooling
    shapes.append((1, h * w * c, NUM_CLASSES))
    return shapes


def train_flops_per_sample(model: str = "mlp") -> int:
    """Matrix-multiply FLOPs of one training sample: forward, weight gradients, input gradients.

    Elementwise work (bias, ReLU, softmax, Adam) is left out: it is a few percent of the total. The first
    layer needs no input gradient, since nobody asks for the gradient of the data.

    Args:
        model: 'mlp' (784-256-128-10) or 'cnn' (two 3x3 convolutions with pooling, then Dense 10).

    Returns:
        FLOPs per sample (a multiply-add counts as 2); ~1.0 MFLOP for the MLP.
    """
    if model == "mlp":
        shapes = [(1, k, n) for k, n in zip(MLP_UNITS[:-1], MLP_UNITS[1:])]
    elif model == "cnn":
        shapes = _cnn_matmuls()
    else:
        raise ValueError(f"model must be 'mlp' or 'cnn', got {model!r}.")
    forward = sum(2 * m * k * n for m, k, n in shapes)
    input_grads = sum(2 * m * k * n for m, k, n in shapes[1:])
    return 2 * forward + input_grads


# ---------------------------------------------------------------------------------------------- helpers
def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_data(samples: int, model: str) -> tuple[Any, Any]:
    """The same float32 inputs and int64 labels for every framework (fixed seed)."""
    import numpy as np

    rng = np.random.default_rng(0)
    shape = (samples, MLP_UNITS[0]) if model == "mlp" else (samples, *IMAGE_SHAPE)
    x = rng.standard_normal(shape, dtype=np.float32)
    y = rng.integers(0, NUM_CLASSES, samples).astype(np.int64)
    return x, y


def _thread_info() -> dict[str, Any]:
    info: dict[str, Any] = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS")
                            if k in os.environ}
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        info.update(torch_threads=torch.get_num_threads(), torch_interop_threads=torch.get_num_interop_threads())
    return info


def _versions() -> dict[str, str]:
    names = ("numpy", "torch", "keras", "jax", "jaxlib", "tensorflow")
    return {n: getattr(sys.modules[n], "__version__", "?") for n in names if n in sys.modules}


def _epoch_timer(base: type) -> Any:
    """A Keras/plait callback recording when each epoch begins and ends (`begins`, `ends`).

    It reads the epoch logs as Python floats so that asynchronous backends have finished the epoch.
    """

    class EpochTimer(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.begins: list[float] = []
            self.ends: list[float] = []
            self.last_logs: dict[str, float] = {}

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.begins.append(time.perf_counter())

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.last_logs = {k: float(v) for k, v in dict(logs or {}).items()}
            self.ends.append(time.perf_counter())

    return EpochTimer()


# ---------------------------------------------------------------------------------------------- models
def _keras_style_model(k: Any, model: str) -> Any:
    """The benchmark model written as a Keras user writes it; `k` is keras, tf.keras or plait."""
    layers = k.layers
    if model == "mlp":
        stack = [k.Input(shape=(MLP_UNITS[0],)), layers.Dense(MLP_UNITS[1], activation="relu"),
                 layers.Dense(MLP_UNITS[2], activation="relu")]
    else:
        pool = getattr(layers, "MaxPooling2D", None) or layers.MaxPool2D
        stack = [k.Input(shape=IMAGE_SHAPE), layers.Conv2D(32, 3, activation="relu"), pool(),
                 layers.Conv2D(64, 3, activation="relu"), pool(), layers.Flatten()]
    return k.Sequential([*stack, layers.Dense(NUM_CLASSES, activation="softmax")])


def _torch_model(model: str) -> Any:
    from torch import nn

    if model == "mlp":
        a, b, c, d = MLP_UNITS
        return nn.Sequential(nn.Linear(a, b), nn.ReLU(), nn.Linear(b, c), nn.ReLU(), nn.Linear(c, d))
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(5 * 5 * 64, NUM_CLASSES))


def _import_keras(framework: str) -> Any:
    backend, _ = KERAS_FRAMEWORKS[framework]
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if framework == "tf_keras":
        import tensorflow as tf

        return tf.keras
    import keras

    return keras


def _seed_keras(k: Any, framework: str) -> None:
    """Seeds a Keras job without importing TensorFlow where the job never uses it.

    `keras.utils.set_random_seed` imports TensorFlow whenever it is installed (to seed tf.data), which
    would add ~4 s and ~200 MiB to the JAX and torch jobs; their `fit` on NumPy arrays never imports it.
    Seeding Python's `random` is enough there: Keras's default seed generator draws its seed from it.
    """
    if framework == "tf_keras":
        k.utils.set_random_seed(0)
        return
    import random

    import numpy as np

    random.seed(0)
    np.random.seed(0)
    if framework == "keras_torch":
        import torch

        torch.manual_seed(0)


# ---------------------------------------------------------------------------------------------- fit jobs
def fit_keras_style(framework: str, batch: int, x: Any, y: Any, *, model: str, epochs: int,
                    warmup: int) -> dict[str, Any]:
    """plait / Keras / tf.keras: compile with Keras defaults, `fit(verbose=0)`, time steady-state epochs."""
    if framework.startswith("plait"):
        sys.path.insert(0, str(REPO))
        import plait as k

        k.set_random_seed(0)
        options = {"jit_compile": True, "steps_per_execution": 8} if framework == "plait_best" else {}
    else:
        k = _import_keras(framework)
        _seed_keras(k, framework)
        spe = KERAS_FRAMEWORKS[framework][1]
        options = {"steps_per_execution": spe} if spe > 1 else {}
    net = _keras_style_model(k, model)
    net.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"], **options)
    timer = _epoch_timer(k.callbacks.Callback)
    start = time.perf_counter()
    net.fit(x, y, batch_size=batch, epochs=warmup + epochs, verbose=0, callbacks=[timer])
    seconds = timer.ends[-1] - (timer.ends[warmup - 1] if warmup else start)
    return {"seconds": seconds, "loss": timer.last_logs.get("loss"), "accuracy": timer.last_logs.get("accuracy")}


def fit_torch(batch: int, x: Any, y: Any, *, model: str, epochs: int, warmup: int) -> dict[str, Any]:
    """The best hand-written eager loop: fused Adam, index batching on pre-built tensors, device metrics."""
    epoch = torch_epoch_fn(batch, x, y, model=model)
    for _ in range(warmup):
        epoch()
    start = time.perf_counter()
    for _ in range(epochs):
        loss, acc = epoch()
    return {"seconds": time.perf_counter() - start, "loss": loss, "accuracy": acc}


def torch_epoch_fn(batch: int, x: Any, y: Any, *, model: str) -> Callable[[], tuple[float, float]]:
    """One epoch of the hand-written loop per call; returns the epoch's mean loss and accuracy."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    x_t, y_t = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    net = _torch_model(model).to(device)
    if model == "cnn":
        net = net.to(memory_format=torch.channels_last)  # NHWC data is channels_last once permuted
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
    n = x_t.shape[0]

    def epoch() -> tuple[float, float]:
        net.train()
        perm = torch.randperm(n, device=device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            xb, yb = x_t.index_select(0, idx), y_t.index_select(0, idx)
            if model == "cnn":
                xb = xb.permute(0, 3, 1, 2)
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                loss_sum += loss.detach() * idx.shape[0]
                correct += (logits.argmax(1) == yb).sum()
        return (loss_sum / n).item(), (correct.double() / n).item()

    return epoch


def fit_paired(batch: int, x: Any, y: Any, *, model: str, rounds: int) -> dict[str, Any]:
    """plait default, plait at its best settings (jit_compile=True, steps_per_execution=8) and the hand-written
    loop in one process, one epoch each in turn (the order rotating every round), `rounds` times.

    All three see the same moments of a shared machine, so their ratios are far steadier than those of jobs
    run a minute apart. Reports each one's fastest epoch and the median of the per-round ratios.
    """
    sys.path.insert(0, str(REPO))
    import plait

    def plait_epoch_fn(**options: Any) -> Callable[[], float]:
        plait.set_random_seed(0)
        net = _keras_style_model(plait, model)
        net.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"], **options)
        timer = _epoch_timer(plait.callbacks.Callback)

        def epoch() -> float:  # the epoch alone: fit's one-off data checks are outside it
            net.fit(x, y, batch_size=batch, epochs=1, verbose=0, callbacks=[timer])
            return timer.ends[-1] - timer.begins[-1]

        return epoch

    torch_epoch = torch_epoch_fn(batch, x, y, model=model)

    def torch_seconds() -> float:
        start = time.perf_counter()
        torch_epoch()
        return time.perf_counter() - start

    runs = {"plait": plait_epoch_fn(), "plait_best": plait_epoch_fn(jit_compile=True, steps_per_execution=8),
            "torch": torch_seconds}
    for run in runs.values():  # warm-up (and compilation)
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            times[name].append(runs[name]())
    n = x.shape[0]

    def median_ratio(slower: str, faster: str) -> float:  # median over rounds of time(slower) / time(faster)
        ratios = sorted(t / p for p, t in zip(times[faster], times[slower]))
        return ratios[len(ratios) // 2]

    return {"rounds": rounds, **{f"{name}_samples_per_s": n / min(t) for name, t in times.items()},
            "ratio_median": median_ratio("torch", "plait"), "best_ratio_median": median_ratio("torch", "plait_best"),
            "jit_vs_default_median": median_ratio("plait", "plait_best"),
            "seconds": sum(sum(t) for t in times.values())}


# ---------------------------------------------------------------------------------------------- infer jobs
def _seconds(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _best_rate(fn: Callable[[], Any], samples: int, repeats: int) -> float:
    fn()  # warm-up
    return samples / min(_seconds(fn) for _ in range(repeats))


def infer_plait(batch: int, x: Any, y: Any, *, model: str, repeats: int) -> dict[str, Any]:
    """plait `evaluate` and `predict` throughput (samples/s, best of `repeats`)."""
    sys.path.insert(0, str(REPO))
    import plait

    plait.set_random_seed(0)
    net = _keras_style_model(plait, model)
    net.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    n = len(x)
    with warnings.catch_warnings():  # evaluate's pitfall warnings (random labels) are expected here
        warnings.simplefilter("ignore")
        return {"evaluate_samples_per_s": _best_rate(lambda: net.evaluate(x, y, batch_size=batch, verbose=0), n,
                                                     repeats),
                "predict_samples_per_s": _best_rate(lambda: net.predict(x, batch_size=batch, verbose=0), n,
                                                    repeats)}


def infer_torch(batch: int, x: Any, y: Any, *, model: str, repeats: int) -> dict[str, Any]:
    """Hand-written no_grad forward: evaluate (loss + accuracy on device) and predict (softmax to numpy)."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    x_t, y_t = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    net = _torch_model(model).to(device).eval()
    n = x_t.shape[0]

    def batches() -> Any:
        for i in range(0, n, batch):
            xb = x_t[i:i + batch]
            yield i, (xb.permute(0, 3, 1, 2) if model == "cnn" else xb)

    @torch.no_grad()
    def evaluate() -> tuple[float, float]:
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        for i, xb in batches():
            logits, yb = net(xb), y_t[i:i + batch]
            loss_sum += F.cross_entropy(logits, yb, reduction="sum")
            correct += (logits.argmax(1) == yb).sum()
        return (loss_sum / n).item(), (correct.double() / n).item()

    @torch.no_grad()
    def predict() -> Any:
        return torch.cat([torch.softmax(net(xb), dim=1) for _, xb in batches()]).cpu().numpy()

    return {"evaluate_samples_per_s": _best_rate(evaluate, n, repeats),
            "predict_samples_per_s": _best_rate(predict, n, repeats)}


# ---------------------------------------------------------------------------------------------- matmul
def matmul_gflops(lib: str, sizes: list[int], min_seconds: float = 0.3) -> dict[int, float]:
    """Best float32 n x n matrix-multiply GFLOP/s of `lib` ('torch', 'numpy' or 'jax') at each size."""
    import numpy as np

    rng = np.random.default_rng(0)
    out = {}
    for n in sizes:
        a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
        if lib == "torch":
            import torch

            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            fn: Callable[[], Any] = lambda: torch.matmul(ta, tb)  # noqa: E731
        elif lib == "numpy":
            fn = lambda: a @ b  # noqa: E731
        elif lib == "jax":
            import jax
            import jax.numpy as jnp

            ja, jb = jnp.asarray(a), jnp.asarray(b)
            dot = jax.jit(jnp.dot)
            fn = lambda: dot(ja, jb).block_until_ready()  # noqa: E731
        else:
            raise ValueError(f"lib must be 'torch', 'numpy' or 'jax', got {lib!r}.")
        fn()
        times: list[float] = []
        while len(times) < 3 or sum(times) < min_seconds:
            times.append(_seconds(fn))
        out[n] = 2.0 * n ** 3 / min(times) / 1e9
    return out


# ---------------------------------------------------------------------------------------------- entry point
def run_job(args: argparse.Namespace) -> dict[str, Any]:
    """Runs the job `args` describes and returns its result record (without the versions)."""
    record: dict[str, Any] = {"framework": args.framework, "kind": args.kind, "model": args.model,
                              "batch": args.batch}
    if args.framework == "matmul":
        sizes = [int(s) for s in args.sizes.split(",")]
        record["gflops"] = {lib: matmul_gflops(lib, sizes) for lib in args.libs.split(",")}
        return record
    if args.framework not in FIT_FRAMEWORKS:
        raise ValueError(f"framework must be one of {FIT_FRAMEWORKS + ('matmul',)}, got {args.framework!r}.")
    if args.batch is None or args.batch < 1:
        raise ValueError(f"batch must be a positive integer, got {args.batch!r}.")
    # The framework's import is part of its baseline memory, taken before the data exists.
    if args.framework.startswith("plait"):
        sys.path.insert(0, str(REPO))
        import plait  # noqa: F401
    elif args.framework == "torch":
        import torch  # noqa: F401
    else:
        _import_keras(args.framework)
    record["base_rss_mb"] = peak_rss_mb()
    x, y = make_data(args.samples, args.model)
    record.update(samples=args.samples, steps_per_epoch=-(-args.samples // args.batch))
    if args.kind == "paired":
        if args.framework != "plait":
            raise ValueError(f"a paired job runs plait against the torch loop: pass plait, got {args.framework!r}.")
        record.update(fit_paired(args.batch, x, y, model=args.model, rounds=args.epochs))
        return record
    if args.kind == "infer":
        if args.framework not in ("plait", "torch"):
            raise ValueError(f"infer jobs exist for plait and torch, got {args.framework!r}.")
        infer = infer_plait if args.framework == "plait" else infer_torch
        record.update(infer(args.batch, x, y, model=args.model, repeats=args.repeats))
        return record
    opts = {"model": args.model, "epochs": args.epochs, "warmup": args.warmup}
    if args.framework == "torch":
        result = fit_torch(args.batch, x, y, **opts)
    else:
        result = fit_keras_style(args.framework, args.batch, x, y, **opts)
    record.update(result, epochs=args.epochs, warmup=args.warmup,
                  samples_per_s=args.samples * args.epochs / result["seconds"])
    return record


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("framework", help=f"one of {', '.join(FIT_FRAMEWORKS)}, or matmul")
    parser.add_argument("batch", nargs="?", type=int, default=None, help="batch size (fit and infer jobs)")
    parser.add_argument("--kind", choices=("fit", "infer", "paired"), default="fit",
                        help="paired: plait and the torch loop in one process, alternating epochs (--epochs rounds)")
    parser.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs, after the warm-up ones")
    parser.add_argument("--warmup", type=int, default=1, help="untimed warm-up epochs (compilation, caches)")
    parser.add_argument("--repeats", type=int, default=3, help="timed evaluate/predict passes (infer jobs)")
    parser.add_argument("--libs", default="torch,numpy", help="matmul: comma-separated torch, numpy, jax")
    parser.add_argument("--sizes", default="1024,2048,4096", help="matmul: comma-separated matrix sizes")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.warmup < 0 or args.samples < 1:
        parser.error(f"need --epochs >= 1, --warmup >= 0, --samples >= 1; got {args.epochs}, {args.warmup}, "
                     f"{args.samples}.")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        record = run_job(args)
        status = 0
    except Exception as exc:  # noqa: BLE001 - the driver prints 'n/a' with this reason and goes on
        record = {"framework": args.framework, "kind": args.kind, "model": args.model, "batch": args.batch,
                  "error": f"{type(exc).__name__}: {exc}"}
        status = 1
    record.update(peak_rss_mb=peak_rss_mb(), versions=_versions(), threads=_thread_info(),
                  python=sys.executable)
    print(json.dumps(record), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
