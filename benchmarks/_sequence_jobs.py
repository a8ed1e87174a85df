"""One sequence-model benchmark job per process: `python benchmarks/_sequence_jobs.py <framework> --model <case>`.

Prints one JSON line on stdout (samples/s, loss, accuracy, peak resident memory, versions, or `error`), as
`_fit_jobs.py` does for the MLP; `bench_sequence.py` runs these and prints the tables (issue 17).

Cases (batch 64 unless `--batch`):
- `lstm`: float32 inputs (samples, 100 steps, 32 features), `LSTM(128)`, `Dense(10, softmax)`;
- `transformer`: token ids (samples, 64) in 0..999, `Embedding(1000, 64)` + learned positional embedding,
  one block of `MultiHeadAttention(num_heads=4, key_dim=16)` + residual + `LayerNormalization`, feed-forward
  `Dense(128, relu)`, `Dense(64)` + residual + `LayerNormalization`, `GlobalAveragePooling1D`, `Dense(2, softmax)`.

Frameworks: plait (default `fit`), plait_loop (plait with `LSTM(use_cudnn=False)`: the step loop instead of
`torch.lstm`; lstm only), torch (hand-written eager loop, fused Adam), keras_jax and keras_torch (Keras 3,
run under the peers' venv). Every contestant sees the same data in the same batch order (`shuffle=False`).

Example:
    python benchmarks/_sequence_jobs.py torch --model lstm --samples 1024 --epochs 1 --warmup 1
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
from typing import Any, Callable

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _fit_jobs import (  # noqa: E402  (a sibling module, importable once HERE is on the path)
    REPO,
    _epoch_timer,
    _import_keras,
    _seed_keras,
    _thread_info,
    _versions,
    peak_rss_mb,
)

CASES = ("lstm", "transformer")
FRAMEWORKS = ("plait", "plait_loop", "torch", "keras_jax", "keras_torch")
PEER_FRAMEWORKS = ("keras_jax", "keras_torch")
BATCH = 64
# LSTM case
STEPS, FEATURES, UNITS, LSTM_CLASSES = 100, 32, 128, 10
# transformer case
TOKENS, VOCAB, EMBED, HEADS, KEY_DIM, FF_UNITS, TF_CLASSES = 64, 1000, 64, 4, 16, 128, 2


def make_data(samples: int, case: str) -> tuple[Any, Any]:
    """The same inputs and int64 labels for every framework (fixed seed)."""
    import numpy as np

    rng = np.random.default_rng(0)
    if case == "lstm":
        x = rng.standard_normal((samples, STEPS, FEATURES), dtype=np.float32)
        y = rng.integers(0, LSTM_CLASSES, samples).astype(np.int64)
    elif case == "transformer":
        x = rng.integers(0, VOCAB, (samples, TOKENS)).astype(np.int64)
        y = rng.integers(0, TF_CLASSES, samples).astype(np.int64)
    else:
        raise ValueError(f"case must be one of {CASES}, got {case!r}.")
    return x, y


# ---------------------------------------------------------------------------------------------- models
def _position_layer(k: Any) -> Any:
    """A learned positional embedding (a (tokens, dim) weight added to every sequence), for keras or plait."""

    class PositionEmbedding(k.layers.Layer):  # type: ignore[misc, name-defined]
        def build(self, input_shape: Any) -> None:
            self.positions = self.add_weight(shape=(int(input_shape[-2]), int(input_shape[-1])),
                                             initializer="uniform", name="positions")

        def call(self, x: Any) -> Any:
            return x + self.positions

    return PositionEmbedding()


def keras_style_model(k: Any, case: str, *, loop: bool = False) -> Any:
    """The case's model as a Keras user writes it; `k` is keras or plait."""
    layers = k.layers
    if case == "lstm":
        lstm = layers.LSTM(UNITS, use_cudnn=False) if loop else layers.LSTM(UNITS)
        return k.Sequential([k.Input(shape=(STEPS, FEATURES)), lstm,
                             layers.Dense(LSTM_CLASSES, activation="softmax")])
    inputs = k.Input(shape=(TOKENS,), dtype="int64")
    x = _position_layer(k)(layers.Embedding(VOCAB, EMBED)(inputs))
    attention = layers.MultiHeadAttention(num_heads=HEADS, key_dim=KEY_DIM)(x, x)
    x = layers.LayerNormalization()(layers.Add()([x, attention]))
    ff = layers.Dense(EMBED)(layers.Dense(FF_UNITS, activation="relu")(x))
    x = layers.LayerNormalization()(layers.Add()([x, ff]))
    outputs = layers.Dense(TF_CLASSES, activation="softmax")(layers.GlobalAveragePooling1D()(x))
    return k.Model(inputs, outputs)


def torch_model(case: str) -> Any:
    """The same architectures in plain torch.nn (logits out; the loss applies the softmax)."""
    import torch
    from torch import nn

    class LSTMNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(FEATURES, UNITS, batch_first=True)
            self.head = nn.Linear(UNITS, LSTM_CLASSES)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            _, (h, _) = self.lstm(x)
            return self.head(h[-1])

    class TinyTransformer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tokens = nn.Embedding(VOCAB, EMBED)
            self.positions = nn.Parameter(torch.empty(TOKENS, EMBED).uniform_(-0.05, 0.05))
            self.attention = nn.MultiheadAttention(EMBED, HEADS, batch_first=True)  # head dim 64 / 4 = KEY_DIM
            self.norm1, self.norm2 = nn.LayerNorm(EMBED, eps=1e-3), nn.LayerNorm(EMBED, eps=1e-3)  # Keras's eps
            self.ff1, self.ff2 = nn.Linear(EMBED, FF_UNITS), nn.Linear(FF_UNITS, EMBED)
            self.head = nn.Linear(EMBED, TF_CLASSES)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            x = self.tokens(ids) + self.positions
            attended, _ = self.attention(x, x, x, need_weights=False)  # scaled_dot_product_attention inside
            x = self.norm1(x + attended)
            x = self.norm2(x + self.ff2(torch.relu(self.ff1(x))))
            return self.head(x.mean(dim=1))

    return LSTMNet() if case == "lstm" else TinyTransformer()


# ---------------------------------------------------------------------------------------------- fit jobs
def _lstm_path(net: Any) -> str:
    """Which path plait's LSTM took in training: torch's fused kernel or the step loop."""
    layer = next(lay for lay in net.layers if type(lay).__name__ == "LSTM")
    try:
        kernels = layer._fused_kernels(True, None)
    except Exception as exc:  # noqa: BLE001 - a private hook: report, never fail the job
        return f"unknown ({type(exc).__name__})"
    return f"fused ({', '.join(kernels)})" if kernels else "step loop"


def fit_keras_style(framework: str, batch: int, x: Any, y: Any, *, case: str, epochs: int,
                    warmup: int) -> dict[str, Any]:
    """plait / Keras: compile with Keras defaults, `fit(verbose=0, shuffle=False)`, time steady-state epochs."""
    if framework.startswith("plait"):
        sys.path.insert(0, str(REPO))
        import plait as k

        k.set_random_seed(0)
    else:
        k = _import_keras(framework)
        _seed_keras(k, framework)
    net = keras_style_model(k, case, loop=framework == "plait_loop")
    net.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = _epoch_timer(k.callbacks.Callback)
    start = time.perf_counter()
    net.fit(x, y, batch_size=batch, epochs=warmup + epochs, verbose=0, shuffle=False, callbacks=[timer])
    seconds = timer.ends[-1] - (timer.ends[warmup - 1] if warmup else start)
    result = {"seconds": seconds, "loss": timer.last_logs.get("loss"), "accuracy": timer.last_logs.get("accuracy")}
    if framework.startswith("plait") and case == "lstm":
        result["lstm_path"] = _lstm_path(net)
    return result


def torch_epoch_fn(batch: int, x: Any, y: Any, *, case: str) -> Callable[[], tuple[float, float]]:
    """One epoch of the hand-written loop per call (batches in order, as `shuffle=False`); mean loss, accuracy."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    x_t, y_t = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    net = torch_model(case).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
    n = x_t.shape[0]

    def epoch() -> tuple[float, float]:
        net.train()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        for i in range(0, n, batch):
            xb, yb = x_t[i:i + batch], y_t[i:i + batch]
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                loss_sum += loss.detach() * yb.shape[0]
                correct += (logits.argmax(1) == yb).sum()
        return (loss_sum / n).item(), (correct.double() / n).item()

    return epoch


def fit_torch(batch: int, x: Any, y: Any, *, case: str, epochs: int, warmup: int) -> dict[str, Any]:
    epoch = torch_epoch_fn(batch, x, y, case=case)
    for _ in range(warmup):
        epoch()
    start = time.perf_counter()
    for _ in range(epochs):
        loss, acc = epoch()
    return {"seconds": time.perf_counter() - start, "loss": loss, "accuracy": acc}


# ---------------------------------------------------------------------------------------------- entry point
def run_job(args: argparse.Namespace) -> dict[str, Any]:
    """Runs the job `args` describes and returns its result record (without the versions)."""
    record: dict[str, Any] = {"framework": args.framework, "kind": "fit", "model": args.model, "batch": args.batch}
    if args.framework not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {FRAMEWORKS}, got {args.framework!r}.")
    if args.framework == "plait_loop" and args.model != "lstm":
        raise ValueError("plait_loop (LSTM on the step loop) exists for the lstm case only.")
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
    opts = {"case": args.model, "epochs": args.epochs, "warmup": args.warmup}
    if args.framework == "torch":
        result = fit_torch(args.batch, x, y, **opts)
    else:
        result = fit_keras_style(args.framework, args.batch, x, y, **opts)
    record.update(result, epochs=args.epochs, warmup=args.warmup,
                  samples_per_s=args.samples * args.epochs / result["seconds"])
    return record


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("framework", help=f"one of {', '.join(FRAMEWORKS)}")
    parser.add_argument("--model", choices=CASES, default="lstm", help="the case")
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs, after the warm-up ones")
    parser.add_argument("--warmup", type=int, default=1, help="untimed warm-up epochs (compilation, caches)")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.warmup < 0 or args.samples < 1 or args.batch < 1:
        parser.error(f"need --epochs >= 1, --warmup >= 0, --samples >= 1, --batch >= 1; got {args.epochs}, "
                     f"{args.warmup}, {args.samples}, {args.batch}.")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        record = run_job(args)
        status = 0
    except Exception as exc:  # noqa: BLE001 - the driver prints 'n/a' with this reason and goes on
        record = {"framework": args.framework, "kind": "fit", "model": args.model, "batch": args.batch,
                  "error": f"{type(exc).__name__}: {exc}"}
        status = 1
    record.update(peak_rss_mb=peak_rss_mb(), versions=_versions(), threads=_thread_info(), python=sys.executable)
    print(json.dumps(record), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
