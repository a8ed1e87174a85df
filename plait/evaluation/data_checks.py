"""The checks on the data itself, run once before training: leakage, a give-away feature, class imbalance,
and `validation_split` on label-sorted data. Each returns a list of `Finding` (empty when all is well).

Also the refusals the reports share: `as_numpy` (a numeric array, one row per sample) and `refuse_nonfinite`
(a `ValueError` naming the rows that hold NaN or inf), so no report turns a missing value into a class.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from plait.evaluation.diagnostics import (
    ClassImbalanceWarning,
    DataLeakageWarning,
    Finding,
    SplitWarning,
    balanced_class_weight,
)
from plait.evaluation.fingerprint import Fingerprint
from plait.evaluation.stats import hypergeom_two_sided, wilson_interval

MINORITY_SHARE = 0.10
"""A class under 10% of the training labels is a minority, if it also holds under half its balanced share
(1/k): ten balanced classes hold 10% each and are not imbalanced."""
SPLIT_ALPHA = 1e-3
"""Family-wise significance for 'this split is not a random one' (Bonferroni over the classes)."""
SPLIT_DISTANCE = 0.10
"""... and the class distributions of the two sides must differ by at least 0.10 in total variation."""
PERFECT_MIN_SAMPLES = 50
"""A feature that separates fewer than 50 training samples perfectly may do so by chance."""
PERFECT_SAMPLE_CELLS = 250_000
"""The give-away-feature check sorts every column; above this many cells (n x features) it screens a row subset
(at least PERFECT_MIN_SAMPLES rows; ~320 rows of 784 features take ~10 ms to sort) and confirms on all rows."""
PERFECT_MAX_FEATURES = 4096


NONFINITE_CHUNK_ELEMENTS = 1 << 20
"""`nonfinite_rows` scans at most this many elements at a time, so its temporaries stay small on large data."""


def nonfinite_rows(values: np.ndarray | torch.Tensor) -> np.ndarray:
    """The indices of the rows (first axis) of `values` that hold NaN or inf; empty for non-float data."""
    if isinstance(values, torch.Tensor):
        if not values.is_floating_point() or values.dim() == 0 or values.numel() == 0:
            return np.zeros(0, dtype=np.int64)
        flat: Any = values.detach().reshape(values.shape[0], -1)
        finite = torch.isfinite
    else:
        if values.dtype.kind not in "fc" or values.ndim == 0 or values.size == 0:
            return np.zeros(0, dtype=np.int64)
        flat, finite = values.reshape(values.shape[0], -1), np.isfinite
    # One summing pass clears finite data without temporaries; a non-finite sum (NaN, inf, or an overflow of
    # finite values) is then settled exactly, a block of rows at a time.
    with np.errstate(over="ignore", invalid="ignore"):  # overflowing or inf - inf sums are expected here
        if bool(finite(flat.sum())):
            return np.zeros(0, dtype=np.int64)
    step = max(1, NONFINITE_CHUNK_ELEMENTS // max(1, flat.shape[1]))
    found = []
    for start in range(0, flat.shape[0], step):
        ok = finite(flat[start:start + step]).all(1)
        found.append(np.flatnonzero(~np.asarray(ok.cpu() if isinstance(ok, torch.Tensor) else ok)) + start)
    return np.concatenate(found)


def refuse_nonfinite(values: np.ndarray | torch.Tensor, what: str, fix: str) -> None:
    """Raises a `ValueError` naming the rows of `values` that hold NaN or inf: `what` names the data, `fix` says
    what to do about it."""
    rows = nonfinite_rows(values)
    if rows.size == 0:
        return
    picked = values[torch.from_numpy(rows[:1000]).to(values.device)] if isinstance(values, torch.Tensor) \
        else values[rows[:1000]]
    kind = "NaN" if bool((picked != picked).any()) else "inf"
    raise ValueError(f"{what} holds {kind} values in {rows.size} of {values.shape[0]} rows (first rows "
                     f"{rows[:5].tolist()}). {fix}")


def as_numpy(x: Any, what: str, fix: str = "Drop those rows or fill in the missing values first.") -> np.ndarray:
    """`x` (an array, tensor, DataFrame or list) as a numeric NumPy array with one entry per sample, refusing
    NaN and inf (`fix` completes that error's message)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        x = (x.float() if x.dtype == torch.bfloat16 else x).numpy()  # NumPy has no bfloat16
    elif hasattr(x, "to_numpy"):
        x = x.to_numpy()
    arr = np.asarray(x)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be numeric, got dtype {arr.dtype}. Encode class labels as integers 0..k-1.")
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise ValueError(f"{what} must hold one entry per sample, got shape {arr.shape}.")
    refuse_nonfinite(arr, what, fix)
    return arr


def check_leakage(train: Fingerprint, x: Any, *, where: str = "validation", stage: str = "fit") -> list[Finding]:
    """Rows of `x` that are exact copies of training rows.

    Warns when the fraction of copies is significantly above what the training data's own rate of
    repeated rows predicts (the 95% Wilson lower bound exceeds it): with continuous features that rate
    is 0 and a single copy counts; with few discrete features rows repeat naturally and are not leaks.
    """
    mask = train.contains(x)
    count = int(mask.sum())
    n = int(mask.numel())
    if count == 0 or n == 0:
        return []
    fraction = count / n
    lo, _ = wilson_interval(count, n)
    if lo <= train.duplicate_rate:
        return []
    rows = torch.nonzero(mask).flatten()[:10].tolist()
    same = " (it is the training data itself)" if count == n and n == train.num_samples else ""
    expected = (f"; rows repeat within the training data at a rate of {train.duplicate_rate:.1%}, "
                "far below this" if train.duplicate_rate > 0 else "")
    figures = {"count": count, "fraction": fraction, "num_samples": n, "first_rows": rows,
               "training_duplicate_rate": train.duplicate_rate, "where": where}
    message = (f"Data leakage: {count} of {n} {where} samples ({fraction:.1%}){same} are exact copies of training "
               f"samples (first rows {rows}){expected}. Scores on them measure memory, not generalisation: "
               f"deduplicate before splitting (e.g. np.unique(x, axis=0, return_index=True)) and split so no "
               f"sample is on both sides.")
    return [Finding("data_leakage", DataLeakageWarning, message, figures, stage)]


def _column_stats(x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per column of x: (conflicts, boundaries, distinct values) in the label sequence sorted by that column.

    The order within a run of equal values does not matter: the run is mixed (a conflict) in any order, and
    `boundaries` is only read for columns without conflicts, whose runs hold one label each.
    """
    xs, order = torch.sort(x, dim=0)
    ls = labels[order]
    same_value = xs[1:] == xs[:-1]
    label_change = ls[1:] != ls[:-1]
    conflicts = (same_value & label_change).sum(dim=0)
    boundaries = (~same_value & label_change).sum(dim=0)
    distinct = 1 + (~same_value).sum(dim=0)
    return conflicts, boundaries, distinct


def _as_float(x: torch.Tensor) -> torch.Tensor:
    if x.is_floating_point():
        return x
    return x.float() if x.device.type == "mps" else x.double()  # MPS has no float64


def _perfect_columns(x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """A boolean mask of the columns of x that alone predict `labels` (the rule of check_perfect_feature)."""
    classes = torch.unique(labels)
    k, d = int(classes.numel()), x.shape[1]
    if k < 2:
        return torch.zeros(d, dtype=torch.bool, device=x.device)
    xf = _as_float(x)
    conflicts, boundaries, distinct = _column_stats(xf, labels)
    dense = torch.searchsorted(classes, labels)
    index = dense.unsqueeze(1).expand(-1, d)
    lo = torch.full((k, d), float("inf"), dtype=xf.dtype, device=x.device).scatter_reduce_(0, index, xf, "amin")
    hi = torch.full((k, d), float("-inf"), dtype=xf.dtype, device=x.device).scatter_reduce_(0, index, xf, "amax")
    constant_class = (lo == hi).any(dim=0)
    encoding = distinct <= max(2 * k, 10)
    blocks = (boundaries == k - 1) & constant_class
    return (conflicts == 0) & (distinct >= 2) & (encoding | blocks)


def check_perfect_feature(x: Any, labels: torch.Tensor, *, feature_names: Any = None) -> list[Finding]:
    """A single feature that alone predicts every training label: usually the label leaked into the inputs.

    A column is flagged when every value it takes belongs to one class only and either it takes few
    values (at most max(2k, 10): it is an encoding of the label, such as a copy of y or a 'was refunded'
    flag) or it sorts the classes into k clean blocks while some class has one constant value in it
    (e.g. 0 for every negative). A continuous feature that merely separates easy classes has spread
    within every class and is not flagged.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or labels is None:
        return []
    n, d = x.shape
    if n < PERFECT_MIN_SAMPLES or d == 0 or d > PERFECT_MAX_FEATURES:
        return []
    columns = torch.arange(d, device=x.device)
    if n * d > PERFECT_SAMPLE_CELLS:
        # A column that predicts every label also predicts those of any subset of rows: screen the columns on
        # a random subset, then confirm the few candidates on all rows.
        # A private generator: the check must not move the global RNG, or diagnostics would change training.
        gen = torch.Generator().manual_seed(0)
        rows = torch.randperm(n, generator=gen)[: max(PERFECT_SAMPLE_CELLS // d, PERFECT_MIN_SAMPLES)].to(x.device)
        columns = columns[_perfect_columns(x[rows], labels[rows])]
        if columns.numel() == 0:
            return []
    columns = columns[_perfect_columns(x[:, columns], labels)]
    if columns.numel() == 0:
        return []
    distinct = _column_stats(_as_float(x[:, columns]), labels)[2].tolist()
    columns = columns.tolist()
    names = [str(feature_names[c]) if feature_names is not None else f"column {c}" for c in columns]
    figures = {"features": columns, "num_samples": n, "num_classes": int(torch.unique(labels).numel()),
               "distinct_values": distinct}
    message = (f"Data leakage: {', '.join(names[:5])}{' and others' if len(names) > 5 else ''} alone predicts the "
               f"label of all {n} training samples. A feature that gives the label away is usually derived from it "
               "(a copy of y, an outcome recorded after the fact). Drop it unless it will truly be known at "
               "prediction time.")
    return [Finding("perfect_feature", DataLeakageWarning, message, figures, "fit")]


def check_class_imbalance(labels: torch.Tensor, class_names: Any = None) -> list[Finding]:
    """Classes under 10% of the training labels (and under half their balanced share 1/k)."""
    counts = torch.bincount(labels).cpu().numpy()
    present = np.flatnonzero(counts > 0)
    k, n = len(present), int(counts.sum())
    if k < 2:
        return []
    share = counts / n
    rare = [int(c) for c in present if share[c] < min(MINORITY_SHARE, 0.5 / k)]
    if not rare:
        return []
    weights = balanced_class_weight(counts)
    listed = ", ".join(f"class {class_names[c] if class_names is not None else c}: {counts[c]} ({share[c]:.1%})"
                       for c in rare)
    figures = {"classes": rare, "counts": {int(c): int(counts[c]) for c in present},
               "shares": {int(c): float(share[c]) for c in present}, "suggested_class_weight": weights}
    message = (f"Class imbalance in the training labels: {listed} of {n}. A model can score high accuracy by "
               f"ignoring {'it' if len(rare) == 1 else 'them'}. Balance the loss with fit(..., class_weight="
               f"{weights}) and judge the model by per-class recall (model.report(x, y)), not accuracy.")
    return [Finding("class_imbalance", ClassImbalanceWarning, message, figures, "fit")]


def check_sorted_split(labels: torch.Tensor, split_at: int, validation_split: float) -> list[Finding]:
    """`validation_split` on data whose labels are ordered: the last rows hold other classes than the rest.

    For each class, an exact hypergeometric test asks whether the validation side (the last rows) could
    hold that many of it by chance; a warning needs the smallest p-value, Bonferroni-corrected, below
    `SPLIT_ALPHA` and the two class distributions at least `SPLIT_DISTANCE` apart, so a random order never
    triggers it and a huge data set with a negligible tilt does not either.
    """
    n = int(labels.numel())
    size = int(labels.max()) + 1
    train = torch.bincount(labels[:split_at], minlength=size).cpu().numpy()
    val = torch.bincount(labels[split_at:], minlength=size).cpu().numpy()
    total = train + val
    present = np.flatnonzero(total > 0)
    if len(present) < 2:
        return []
    n_val = n - split_at
    distance = 0.5 * float(np.abs(train / split_at - val / n_val).sum())
    p_values = {int(c): hypergeom_two_sided(int(val[c]), n, int(total[c]), n_val) for c in present}
    p_min = min(p_values.values()) * len(present)
    if p_min >= SPLIT_ALPHA or distance < SPLIT_DISTANCE:
        return []
    only_train = [int(c) for c in present if val[c] == 0]
    only_val = [int(c) for c in present if train[c] == 0]
    sides = []
    if only_train:
        sides.append(f"classes {only_train} appear only in training")
    if only_val:
        sides.append(f"classes {only_val} appear only in validation")
    detail = "; ".join(sides) or "the class proportions of the two sides are far apart"
    figures = {"train_counts": {int(c): int(train[c]) for c in present},
               "validation_counts": {int(c): int(val[c]) for c in present}, "total_variation": distance,
               "p_value": min(1.0, p_min), "only_in_training": only_train, "only_in_validation": only_val,
               "validation_split": validation_split}
    message = (f"validation_split={validation_split} takes the last {n_val} rows before shuffling (as Keras does), "
               f"and these rows are not a random sample of the labels: {detail} (distributions differ by "
               f"{distance:.2f} in total variation; p={min(1.0, p_min):.1e}). The data looks sorted by label. Shuffle "
               "it first (idx = np.random.permutation(len(x)); x, y = x[idx], y[idx]) or pass a stratified "
               "validation_data=(x_val, y_val).")
    return [Finding("sorted_split", SplitWarning, message, figures, "fit")]
