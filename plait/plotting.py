"""Plots that stand alone: `plait.plot_history(history, path)` draws the learning curves of a fit.

Plots are `PNGImage`s: the PNG file's bytes (write them, base64 them, compare them), which a Jupyter
notebook displays as the figure. matplotlib is optional (`pip install matplotlib`); it is imported only
when a plot is drawn.
"""
from __future__ import annotations

import os
from typing import Any, Sequence

from plait.evaluation.plots import history_png
from plait.evaluation.png import PNGImage


def plot_history(history: Any, path: str | os.PathLike | None = None, *, metrics: Sequence[str] | None = None,
                 figsize: tuple[float, float] | None = None, dpi: int = 100) -> PNGImage:
    """Learning curves of a `History` (or its `.history` dict) as a PNG: one panel per metric, training and
    validation, the epoch of the lowest validation loss marked, whole epochs on the x axis.

    Args:
        history: What `model.fit` returned.
        path: Where to write the PNG; None only returns the image.
        metrics: Metric names to draw (default: every logged metric, at most four panels, loss first).
        figsize: Inches (default 4.8 per panel by 4.0); the image is figsize * dpi pixels.
        dpi: Pixels per inch.

    Returns:
        A `PNGImage`: the PNG file's bytes (a `bytes` subclass), shown as the figure in a notebook, with
        `.save(path)`, `.width` and `.height`.

    Example:
        >>> from plait.plotting import plot_history  # also plait.plot_history
        >>> png = plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}, dpi=50)
        >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
        True
        >>> png.size
        (240, 200)
    """
    return history_png(history, metrics=metrics, path=path, figsize=figsize, dpi=dpi)


__all__ = ["PNGImage", "plot_history"]
