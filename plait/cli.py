"""The `plait` command (also `python -m plait`)."""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from typing import Any, Sequence


def _load_digits() -> tuple:
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise SystemExit("plait quickstart uses scikit-learn's bundled digits data set. Install it with "
                         "`pip install scikit-learn` (or, in a plait checkout, `pip install '.[examples]'`).") from None
    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int64")
    return train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)


def quickstart(epochs: int = 20, seed: int = 0, verbose: str | int = "auto") -> dict[str, float]:
    """Trains a small Sequential classifier on the handwritten digits and prints the test metrics."""
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
    print(f"\nTrained {epochs} epochs in {elapsed:.1f}s.")
    print(f"Test loss: {results['loss']:.4f}   test accuracy: {results['accuracy']:.4f}\n")
    # Accuracy alone hides the weak classes: the report shows each class, the confusion matrix and the pitfalls.
    print(model.report(x_test, y_test, n_bootstrap=200, class_names=[str(c) for c in range(10)]))
    return results


_DEFAULT_REPORT = "report.html"
EXIT_USAGE = 2
"""The exit status of a command given bad input (a missing or hostile file, a bad option), as argparse uses."""


class UsageError(ValueError):
    """A mistake in what a command was given (a file, an option): `main` prints it on one line to stderr and
    exits with `EXIT_USAGE`, without a traceback. Bugs in plait itself still raise their own errors."""


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def _check_options(threshold: float, batch_size: int | None, n_bootstrap: int, max_bytes: int) -> None:
    problems = []
    if not math.isfinite(threshold):
        problems.append(f"--threshold must be a finite number, got {threshold}; e.g. --threshold 0.5")
    if batch_size is not None and batch_size < 1:
        problems.append(f"--batch-size must be a positive integer, got {batch_size}; e.g. --batch-size 32")
    if n_bootstrap < 0:
        problems.append(f"--n-bootstrap must be 0 (no intervals) or more, got {n_bootstrap}; e.g. --n-bootstrap 1000")
    if max_bytes < 1:
        problems.append(f"--max-bytes must be a positive number of bytes, got {max_bytes}")
    if problems:
        raise UsageError("; ".join(problems) + ".")


def _load_model(path: str) -> Any:
    import plait

    try:  # load_model reads regular files only: a FIFO or a device is a FormatError, without blocking
        return plait.load_model(path)
    except FileNotFoundError:
        raise UsageError(f"no model file at {path!r}.") from None
    except (ValueError, OSError) as err:  # FormatError (a ValueError) for any file plait will not load
        raise UsageError(f"{path} could not be loaded as a plait model: {_one_line(err)}") from None


def _load_data(path: str, **options: Any) -> tuple[Any, Any]:
    from plait.evaluation.datafile import load_data_file

    try:
        return load_data_file(path, **options)
    except FileNotFoundError:
        raise UsageError(f"no data file at {path!r}.") from None
    except ValueError as err:  # FormatError and the reader's other refusals name the file themselves
        raise UsageError(str(err)) from None
    except OSError as err:  # e.g. permission denied
        raise UsageError(f"cannot read the data file {path}: {err.strerror or err}.") from None


def report(model_path: str, data_path: str, output: str | None = None, *, target: str | None = None,
           x_key: str = "x", y_key: str = "y", threshold: float = 0.5, batch_size: int | None = None,
           n_bootstrap: int = 1000, ci_method: str = "bca", max_bytes: int | None = None) -> str:
    """Evaluates a saved model on a data file (CSV or .npz), prints the report and writes it as HTML.

    `output` defaults to report.html, which is never overwritten unless it is named explicitly. `max_bytes`
    bounds the data read from the file (default `plait.evaluation.datafile.MAX_DATA_BYTES`).

    Raises:
        UsageError: For bad input: a missing, unreadable or hostile file, a model that does not load, data the
            model cannot be evaluated on (NaN or inf features, labels outside the model's classes, a class
            count that disagrees with the model), a bad option, or an output that cannot be written.
    """
    from plait.evaluation.datafile import MAX_DATA_BYTES

    max_bytes = MAX_DATA_BYTES if max_bytes is None else max_bytes
    _check_options(threshold, batch_size, n_bootstrap, max_bytes)
    for what, path in (("model", model_path), ("data", data_path)):
        if not os.path.exists(path):
            raise UsageError(f"no {what} file at {path!r}.")
    if not model_path.endswith(".plait"):
        raise UsageError(f"the model file {model_path!r} does not end in .plait; pass a model saved with "
                         "model.save('model.plait').")
    defaulted = output is None
    if output is None:
        output = _DEFAULT_REPORT
        if os.path.exists(output):
            raise UsageError(f"{output} already exists, and it is not overwritten unless you say so: pass "
                             f"-o {output} to replace it, or -o another.html.")
    x, y = _load_data(data_path, target=target, x_key=x_key, y_key=y_key, max_bytes=max_bytes)
    model = _load_model(model_path)
    try:
        result = model.report(x, y, batch_size=batch_size, threshold=threshold, n_bootstrap=n_bootstrap,
                              ci_method=ci_method)
    except ValueError as err:  # plait's refusals of the data (or of this model on it) say what to fix
        raise UsageError(f"{data_path} with {model_path}: {err}") from None
    print(result)
    try:
        path = result.save_html(output, overwrite=not defaulted)
    except FileExistsError:
        raise UsageError(f"{output} appeared while the report was computed; it is not overwritten unless you say "
                         f"so: pass -o {output} to replace it.") from None
    except OSError as err:
        raise UsageError(f"cannot write the report to {output}: {err.strerror or err}. Pass -o with a writable "
                         "file path.") from None
    print(f"\nWrote the HTML report to {path}")
    return path


def _version() -> str:
    import torch

    import plait

    return f"plait {plait.__version__} (torch {torch.__version__}, Python {sys.version.split()[0]})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="plait", description="Keras-style deep learning on PyTorch.")
    parser.add_argument("--version", action="store_true", help="print plait's, torch's and Python's versions")
    sub = parser.add_subparsers(dest="command")
    qs = sub.add_parser("quickstart", help="train a small classifier on the bundled handwritten digits")
    qs.add_argument("--epochs", type=int, default=20)
    qs.add_argument("--seed", type=int, default=0)
    qs.add_argument("--verbose", default="auto", choices=["auto", "0", "1", "2"])
    rp = sub.add_parser("report", help="evaluate a saved model on a CSV or .npz file and write an HTML report")
    rp.add_argument("model", help="a model saved with model.save(path)")
    rp.add_argument("data", help="a .csv table (target: last column, or --target) or a .npz with arrays x and y")
    rp.add_argument("-o", "--output", default=None,
                    help="where to write the HTML report (default report.html, never overwritten unless named)")
    rp.add_argument("--target", default=None, help="CSV target column, by header name or index (default: last)")
    rp.add_argument("--x-key", default="x", help="name of the features array in a .npz file")
    rp.add_argument("--y-key", default="y", help="name of the targets array in a .npz file")
    rp.add_argument("--threshold", type=float, default=0.5, help="decision threshold of a binary model")
    rp.add_argument("--batch-size", type=int, default=None)
    rp.add_argument("--n-bootstrap", type=int, default=1000, help="bootstrap resamples for the intervals (0: none)")
    rp.add_argument("--ci-method", default="bca", choices=["bca", "percentile"],
                    help="bootstrap interval method (default bca: bias-corrected and accelerated)")
    rp.add_argument("--max-bytes", type=int, default=None,
                    help="most bytes of data read from the file, inflated (default 4 GiB): a guard against zip bombs")
    args = parser.parse_args(argv)
    if args.version:
        print(_version())
        return 0
    if args.command is None:  # `plait` or `python -m plait` alone: say what there is
        parser.print_help()
        return 0
    if args.command == "quickstart":
        verbose = args.verbose if args.verbose == "auto" else int(args.verbose)
        quickstart(epochs=args.epochs, seed=args.seed, verbose=verbose)
    elif args.command == "report":
        # Warnings wait until the report is done: a refused input gets its one line on stderr and nothing else.
        with warnings.catch_warnings(record=True) as caught:
            try:
                report(args.model, args.data, args.output, target=args.target, x_key=args.x_key, y_key=args.y_key,
                       threshold=args.threshold, batch_size=args.batch_size, n_bootstrap=args.n_bootstrap,
                       ci_method=args.ci_method, max_bytes=args.max_bytes)
            except UsageError as err:
                print(f"plait report: {_one_line(err)}", file=sys.stderr)
                return EXIT_USAGE
        for warning in caught:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    return 0


if __name__ == "__main__":
    sys.exit(main())
