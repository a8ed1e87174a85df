"""What the classification and regression reports share: settings, HTML output, learning curves."""
from __future__ import annotations

import os
from typing import Any

from plait.evaluation import render
from plait.evaluation.diagnostics import Finding
from plait.evaluation.png import PNGImage
from plait.evaluation.stats import check_ci_method


class Report:
    """Base of `ClassificationReport` and `RegressionReport`: bootstrap settings, the `History`, HTML output.

    Args:
        history: The `History` returned by `fit` (learning curves, training diagnostics), or None.
        n_bootstrap: Bootstrap resamples for the confidence intervals; 0 skips them.
        confidence: Confidence level of the intervals, in (0, 1).
        seed: Seed of the resampling (and of the jackknife's groups).
        ci_method: 'bca' (bias-corrected and accelerated, the default) or 'percentile'. An interval whose
            BCa is undefined (e.g. every resample equal) is a percentile interval; `interval_methods` says
            which method produced each interval.
    """

    diagnostics: list[Finding]

    def __init__(self, *, history: Any, n_bootstrap: int, confidence: float, seed: int | None,
                 ci_method: str = "bca") -> None:
        if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0:
            raise ValueError(f"n_bootstrap must be a non-negative integer, got {n_bootstrap!r}; use 0 to skip the "
                             "confidence intervals or e.g. 1000.")
        if isinstance(confidence, bool) or not isinstance(confidence, float) or not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must be a float in (0, 1), got {confidence!r}; e.g. confidence=0.95.")
        if history is not None and not isinstance(history, dict) and not hasattr(history, "history"):
            raise TypeError(f"history must be the History returned by fit, got {type(history).__name__}.")
        self.history = history
        self.n_bootstrap = n_bootstrap
        self.confidence = confidence
        self.seed = seed
        self.ci_method = check_ci_method(ci_method)
        self.intervals: dict[str, tuple[float, float]] = {}
        self.interval_methods: dict[str, str] = {}

    def _history_findings(self) -> list[Finding]:
        return [f for f in getattr(self.history, "diagnostics", None) or [] if isinstance(f, Finding)]

    def figures(self) -> dict[str, PNGImage]:
        """Figure title -> `PNGImage` (PNG bytes; empty without matplotlib)."""
        raise NotImplementedError

    def _html_body(self) -> str:
        """The report's own HTML (headings, tables, figures), which `to_html` wraps in the page and its CSS."""
        raise NotImplementedError

    def to_html(self, *, full_page: bool = True) -> str:
        """The report as HTML with the figures embedded as base64 PNGs (no external files or scripts)."""
        return render.page(self._html_body(), full_page=full_page)

    def save_html(self, path: str | os.PathLike, *, overwrite: bool = True) -> str:
        """Writes the report as one self-contained HTML file; returns its path.

        The figures need matplotlib (`pip install matplotlib`); without it the page has the tables and a note.

        Args:
            path: The file to write.
            overwrite: If False, raises `FileExistsError` when the file exists, also when another writer creates
                it while this one writes.
        """
        from plait.saving.atomic import write_text

        path = os.fspath(path)
        write_text(path, self.to_html(full_page=True), overwrite=overwrite)  # atomic: never half a page
        return path

    def __repr__(self) -> str:
        # The text report, so a notebook's text/plain and a terminal's echo show the numbers, not an address.
        return str(self)

    def _repr_html_(self) -> str:
        return self.to_html(full_page=False)

    def plot_history(self, path: Any = None, **kwargs: Any) -> PNGImage:
        """The learning curves of the report's History as a `PNGImage` (written to `path` if given)."""
        from plait.evaluation.plots import history_png

        if self.history is None:
            raise ValueError("This report has no History: pass history=model.fit(...) (model.report uses the "
                             "model's last fit automatically).")
        return history_png(self.history, path=path, **kwargs)
