"""The `plait` command (also `python -m plait`)."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Sequence


def _load_digits() -> tuple:
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise SystemExit("plait quickstart uses scikit-learn's bundled digits data set. Install it with "
                         "`pip install 'plait[examples]'` (or `pip install scikit-learn`).") from None
    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int64")
    return train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)


def quickstart(epochs: int = 20, seed: int = 0, verbose: str | int = "auto") -> dict[str, float]:
    """Trains a small Sequential classifier on the handwritten digits and prints the test metrics."""
    import numpy as np

    import plait

    plait.set_random_seed(seed)
    x_train, x_test, y_train, y_test = _load_digits()
    print(f"Handwritten digits: {len(x_train)} training and {len(x_test)} test images of 8x8 pixels, 10 classes.")
    model = plait.Sequential([
        plait.Input(shape=(64,)),
        plait.layers.Dense(128, activation="relu"),
        plait.layers.Dropout(0.2),
        plait.layers.Dense(64, activation="relu"),
        plait.layers.Dense(10, activation="softmax"),
    ], name="digits_mlp")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.summary()
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, validation_split=0.1, verbose=verbose)
    elapsed = time.perf_counter() - start
    results = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    predicted = model.predict(x_test, verbose=0).argmax(axis=1)
    print(f"\nTrained {epochs} epochs in {elapsed:.1f}s.")
    print(f"Test loss: {results['loss']:.4f}   test accuracy: {results['accuracy']:.4f}")
    print("Per-class recall on the test set (how many of each digit were found):")
    recalls = [float(np.mean(predicted[y_test == c] == c)) for c in range(10)]
    print("  " + "  ".join(f"{c}: {r:.2f}" for c, r in enumerate(recalls)))
    worst = int(np.argmin(recalls))
    print(f"Weakest class: digit {worst} (recall {recalls[worst]:.2f}). Accuracy alone would not tell you that.")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="plait", description="Keras-style deep learning on PyTorch.")
    sub = parser.add_subparsers(dest="command", required=True)
    qs = sub.add_parser("quickstart", help="train a small classifier on the bundled handwritten digits")
    qs.add_argument("--epochs", type=int, default=20)
    qs.add_argument("--seed", type=int, default=0)
    qs.add_argument("--verbose", default="auto", choices=["auto", "0", "1", "2"])
    args = parser.parse_args(argv)
    if args.command == "quickstart":
        verbose = args.verbose if args.verbose == "auto" else int(args.verbose)
        quickstart(epochs=args.epochs, seed=args.seed, verbose=verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
