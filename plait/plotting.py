"""Plots that stand alone: `plait.plot_history(history, path)` draws the learning curves of a fit.

matplotlib is optional (`pip install 'plait[plot]'`); it is imported only when a plot is drawn.
"""
from __future__ import annotations

import os
from typing import Any, Sequence

from plait.evaluation.plots import history_png


def plot_history(history: Any, path: str | os.PathLike | None = None, *, metrics: Sequence[str] | None = None,
                 figsize: tuple[float, float] | None = None, dpi: int = 100) -> bytes:
    """Learning curves of a `History` (or its `.history` dict) as a PNG: one panel per metric, training and
    validation, the epoch of the lowest validation loss marked.

    Args:
        history: What `model.fit` returned.
        path: Where to write the PNG; None only returns the bytes.
        metrics: Metric names to draw (default: every logged metric, at most four panels, loss first).
        figsize: Inches (default 4.8 per panel by 4.0); the image is figsize * dpi pixels.
        dpi: Pixels per inch.

    Returns:
        The PNG file's bytes.

    Example:
        >>> from plait.plotting import plot_history  # also plait.plot_history
        >>> png = plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}, dpi=50)
        >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
        True
    """
    return history_png(history, metrics=metrics, path=path, figsize=figsize, dpi=dpi)


__all__ = ["plot_history"]
