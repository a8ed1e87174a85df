"""Figures of the evaluation report as PNG images: confusion-matrix heat map, ROC and PR curves, learning
curves, residuals. Each is a `PNGImage`: the PNG file's bytes, which a notebook displays as the figure.

matplotlib is an optional dependency (`pip install matplotlib`, or `pip install '.[plot]'` in a plait checkout),
imported only when a figure is drawn.
Figures are drawn on matplotlib's Agg canvas directly (no pyplot, no global state, no display needed) and
saved at exactly `figsize * dpi` pixels.
"""
from __future__ import annotations

import io
import os
from typing import Any, Sequence

import numpy as np

from plait.evaluation.png import PNGImage

PLOT_HINT = "pip install matplotlib"  # plait is not on the package index: no 'plait[plot]'


def require_matplotlib() -> Any:
    """The matplotlib Figure class, or an ImportError that says how to install it."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(f"Plotting needs matplotlib, which is not installed. Install it with `{PLOT_HINT}` "
                          "(or, in a plait checkout, `pip install '.[plot]'`).") from None
    return Figure


def has_matplotlib() -> bool:
    try:
        require_matplotlib()
    except ImportError:
        return False
    return True


def _new_figure(figsize: tuple[float, float], dpi: int, ncols: int = 1) -> tuple[Any, Any]:
    figure_cls = require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = figure_cls(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


def _finish(fig: Any, path: str | os.PathLike | None) -> PNGImage:
    fig.tight_layout()
    buffer = io.BytesIO()
    # No bbox_inches='tight': the image must be exactly figsize * dpi pixels.
    fig.savefig(buffer, format="png", dpi=fig.dpi)
    image = PNGImage(buffer.getvalue())
    if path is not None:
        image.save(path)
    return image


def confusion_matrix_png(cm: np.ndarray, labels: Sequence[Any], *, path: str | os.PathLike | None = None,
                         figsize: tuple[float, float] = (6.4, 5.6), dpi: int = 100,
                         title: str = "Confusion matrix") -> PNGImage:
    """Heat map of the confusion matrix, coloured by row share (recall per cell), annotated with counts."""
    cm = np.asarray(cm, dtype=np.float64)
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    fig, (ax,) = _new_figure(figsize, dpi)
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    k = cm.shape[0]
    ticks = np.arange(k)
    names = [str(v) for v in labels]
    ax.set_xticks(ticks, names, rotation=45 if k > 6 else 0, ha="right" if k > 6 else "center")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    ax.set_title(title)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                count = int(cm[i, j]) if float(cm[i, j]).is_integer() else round(float(cm[i, j]), 2)
                ax.text(j, i, f"{count}\n{share[i, j]:.0%}", ha="center", va="center", fontsize=9 if k <= 8 else 7,
                        color="white" if share[i, j] > 0.5 else "black")
    return _finish(fig, path)


def roc_png(curves: Sequence[tuple[str, np.ndarray, np.ndarray, float]], *, path: str | os.PathLike | None = None,
            figsize: tuple[float, float] = (6.4, 4.8), dpi: int = 100) -> PNGImage:
    """ROC curves: `curves` holds (name, false-positive rates, true-positive rates, area)."""
    fig, (ax,) = _new_figure(figsize, dpi)
    for name, fpr, tpr, area in curves:
        ax.plot(np.r_[0.0, fpr], np.r_[0.0, tpr], lw=2, label=f"{name} (AUC {area:.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel("False positive rate")
    ax.set_ylabel("True positive rate (recall)")
    ax.set_title("ROC curve")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return _finish(fig, path)


def pr_png(curves: Sequence[tuple[str, np.ndarray, np.ndarray, float, float]], *,
           path: str | os.PathLike | None = None, figsize: tuple[float, float] = (6.4, 4.8),
           dpi: int = 100) -> PNGImage:
    """Precision-recall curves: (name, recall, precision, average precision, prevalence of the class)."""
    fig, (ax,) = _new_figure(figsize, dpi)
    for name, recall, precision, area, prevalence in curves:
        line = ax.step(np.r_[0.0, recall], np.r_[precision[0] if len(precision) else 1.0, precision], where="pre",
                       lw=2, label=f"{name} (AP {area:.3f})")[0]
        ax.axhline(prevalence, ls=":", lw=1, color=line.get_color())
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.set_title("Precision-recall curve (dotted: chance = prevalence)")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    return _finish(fig, path)


def _history_dict(history: Any) -> tuple[dict[str, list[float]], list[int]]:
    if isinstance(history, dict):
        logs = history
        epochs = list(range(len(next(iter(logs.values()), []))))
    elif hasattr(history, "history"):
        logs = history.history
        epochs = list(getattr(history, "epoch", []) or range(len(next(iter(logs.values()), []))))
    else:
        raise TypeError(f"Expected a History returned by fit (or its .history dict), got {type(history).__name__}.")
    if not logs:
        raise ValueError("The history is empty: nothing was trained yet. Plot the History that fit() returns.")
    return logs, epochs


def history_png(history: Any, *, metrics: Sequence[str] | None = None, path: str | os.PathLike | None = None,
                figsize: tuple[float, float] | None = None, dpi: int = 100) -> PNGImage:
    """Learning curves: one panel per metric (loss first), training and validation, best epoch marked."""
    return _finish(history_figure(history, metrics=metrics, figsize=figsize, dpi=dpi), path)


def history_figure(history: Any, *, metrics: Sequence[str] | None = None,
                   figsize: tuple[float, float] | None = None, dpi: int = 100) -> Any:
    """The matplotlib Figure behind `history_png` (epochs on an integer axis)."""
    from matplotlib.ticker import MaxNLocator

    logs, epochs = _history_dict(history)
    names = list(metrics) if metrics is not None else [k for k in logs if not k.startswith("val_")]
    names = [n for n in names if n in logs and np.size(logs[n]) and np.ndim(logs[n][0]) == 0]
    if not names:
        raise ValueError(f"None of the metrics {list(metrics or [])} are in the history; it has {sorted(logs)}.")
    names = names[:4]
    figsize = figsize or (4.8 * len(names), 4.0)
    fig, axes = _new_figure(figsize, dpi, ncols=len(names))
    x = np.asarray(epochs[: len(logs[names[0]])]) + 1
    for ax, name in zip(axes, names):
        ax.plot(x, logs[name], marker="o", ms=3, label=f"training {name}")
        val = logs.get(f"val_{name}")
        if val is not None and len(val) == len(x):
            ax.plot(x, val, marker="o", ms=3, label=f"validation {name}")
            if name == "loss" and len(val) > 1:
                best = int(np.nanargmin(val))
                ax.axvline(x[best], ls="--", color="grey", lw=1)
                ax.annotate(f"best epoch {x[best]}", (x[best], val[best]), textcoords="offset points",
                            xytext=(5, 10), fontsize=8)
        ax.set_xlabel("Epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers: no 1.5 tick
        ax.set_title(name)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return fig


def residuals_png(y_true: np.ndarray, y_pred: np.ndarray, *, path: str | os.PathLike | None = None,
                  figsize: tuple[float, float] = (10.0, 4.2), dpi: int = 100) -> PNGImage:
    """Residuals (true - predicted) against the prediction, and predicted against true values."""
    y_true, y_pred = np.asarray(y_true, dtype=np.float64).ravel(), np.asarray(y_pred, dtype=np.float64).ravel()
    residuals = y_true - y_pred
    fig, (left, right) = _new_figure(figsize, dpi, ncols=2)
    left.scatter(y_pred, residuals, s=8, alpha=0.5)
    left.axhline(0.0, color="grey", ls="--", lw=1)
    left.set_xlabel("Predicted value")
    left.set_ylabel("Residual (true - predicted)")
    left.set_title("Residuals")
    left.grid(alpha=0.3)
    right.scatter(y_true, y_pred, s=8, alpha=0.5)
    lo, hi = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    right.plot([lo, hi], [lo, hi], color="grey", ls="--", lw=1, label="perfect prediction")
    right.set_xlabel("True value")
    right.set_ylabel("Predicted value")
    right.set_title("Predicted vs true")
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    return _finish(fig, path)
