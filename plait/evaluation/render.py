"""Rendering of the reports: plain text for `print(report)`, and one self-contained HTML page (inline CSS,
figures as base64 PNGs, no scripts) for `save_html` and notebooks.

Each report renders itself by calling these functions (`ClassificationReport.__str__` calls
`classification_text`, its `_html_body` calls `classification_html`, and `Report.to_html` wraps the body with
`page`), so this module reads reports by their attributes and imports none of them."""
from __future__ import annotations

import base64
import html
import struct
from typing import Any

import numpy as np

from plait.evaluation import plots
from plait.evaluation.png import PNGImage

MAX_CURVES = 10  # one-vs-rest curves drawn for at most this many classes


METHOD_NAMES = {"bca": "BCa", "percentile": "percentile"}


def _interval(report: Any, name: str) -> str:
    lo, hi = report.intervals.get(name, (float("nan"), float("nan")))
    if not np.isfinite(lo):
        return ""
    method = METHOD_NAMES[report.interval_methods.get(name, "percentile")]
    return f" ({report.confidence:.0%} {method} CI {lo:.3f}-{hi:.3f})"


def interval_note(report: Any) -> str:
    """One sentence on how the intervals were made, e.g. '95% BCa bootstrap intervals (1000 resamples).'"""
    if not report.intervals:
        return "No confidence intervals (n_bootstrap=0)." if report.n_bootstrap == 0 else ""
    used = set(report.interval_methods.values())
    label = METHOD_NAMES[report.ci_method]
    text = f"{report.confidence:.0%} {label} bootstrap intervals ({report.n_bootstrap} resamples"
    if report.ci_method == "bca" and "percentile" in used:
        fallback = ", ".join(n for n, m in report.interval_methods.items() if m == "percentile")
        text += f"; percentile where BCa is undefined: {fallback}"
    return text + ")."


def _fmt(value: Any) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.3f}"


# ------------------------------------------------------------------ text
def classification_text(report: Any) -> str:
    names = report.class_names
    width = max([len("weighted avg")] + [len(n) for n in names])
    head = f"{'':>{width}}  {'precision':>9}  {'recall':>9}  {'f1-score':>9}  {'support':>9}"
    lines = [f"Classification report ({report.num_samples} samples, {len(names)} classes)", "", head, ""]
    for name in names:
        v = report.per_class[name]
        lines.append(f"{name:>{width}}  {v['precision']:>9.3f}  {v['recall']:>9.3f}  {v['f1-score']:>9.3f}  "
                     f"{v['support']:>9d}")
    lines.append("")
    lines.append(f"{'accuracy':>{width}}  {'':>9}  {'':>9}  {report.accuracy:>9.3f}  {report.num_samples:>9d}")
    for key, v in report.averages.items():
        lines.append(f"{key:>{width}}  {v['precision']:>9.3f}  {v['recall']:>9.3f}  {v['f1-score']:>9.3f}  "
                     f"{v['support']:>9d}")
    lines += ["", f"Accuracy {report.accuracy:.3f}{_interval(report, 'accuracy')} vs majority-class baseline "
                  f"{report.baseline:.3f} (always predicting {report.baseline_class})",
              f"Macro F1 {report.averages['macro avg']['f1-score']:.3f}{_interval(report, 'macro_f1')}"]
    if report.roc_auc is not None:
        kind = "" if report.is_binary else " (macro one-vs-rest)"
        lines.append(f"ROC-AUC{kind} {_fmt(report.roc_auc)}{_interval(report, 'roc_auc')}")
        lines.append(f"PR-AUC (average precision){kind} {_fmt(report.pr_auc)}{_interval(report, 'pr_auc')}")
    lines += [note for note in [interval_note(report)] if note]
    if report.scores is not None and report.is_binary and report.curve_classes():
        lines += ["", f"Thresholds (predict {report.class_names[-1]} when its probability > threshold; "
                      "report.threshold_for(recall=...) picks one):",
                  f"  {'threshold':>9}  {'precision':>9}  {'recall':>9}  {'f1-score':>9}  {'FP rate':>9}"]
        lines += [f"  {r['threshold']:>9.2f}  {r['precision']:>9.3f}  {r['recall']:>9.3f}  {r['f1']:>9.3f}  "
                  f"{r['false_positive_rate']:>9.3f}" for r in report.threshold_table()]
    lines += ["", "Confusion matrix (rows: true class, columns: predicted class)"]
    cell = max([len(n) for n in names] + [len(str(int(report.confusion_matrix.max())))]) + 2
    lines.append(" " * width + "".join(f"{n:>{cell}}" for n in names))
    for name, row in zip(names, report.confusion_matrix):
        lines.append(f"{name:>{width}}" + "".join(f"{int(v):>{cell}}" for v in row))
    lines += ["", *_diagnostics_text(report)]
    return "\n".join(lines)


def regression_text(report: Any) -> str:
    lines = [f"Regression report ({report.num_samples} samples, {report.y_true.shape[1]} output(s))", ""]
    for label, name in (("MSE", "mse"), ("RMSE", "rmse"), ("MAE", "mae"), ("R2", "r2")):
        lines.append(f"{label:>5} {getattr(report, name):.4g}{_interval(report, name)}")
    lines += [note for note in [interval_note(report)] if note]
    residuals = report.residuals
    lines += [f"Baseline MSE (always predicting the mean): {report.baseline_mse:.4g}",
              f"Residuals (true - predicted): mean {residuals.mean():.4g}, std {residuals.std():.4g}, "
              f"largest |residual| {np.abs(residuals).max():.4g}", "", *_diagnostics_text(report)]
    return "\n".join(lines)


def _diagnostics_text(report: Any) -> list[str]:
    if not report.diagnostics:
        return ["Diagnostics: no pitfalls found."]
    return ["Diagnostics:"] + [f"  ! {finding}" for finding in report.diagnostics]


# ------------------------------------------------------------------ figures
def roc_figure(report: Any, path: Any = None, **kwargs: Any) -> PNGImage:
    curves = []
    for c in report.curve_classes()[:MAX_CURVES]:
        curve = report.curve(c)
        curves.append((_class_label(report, c), curve.fpr, curve.recall, report.per_class_auc[str(c)][0]))
    if not curves:
        raise ValueError("No ROC curve: it needs scores (probabilities) and both classes in y_true.")
    return plots.roc_png(curves, path=path, **kwargs)


def pr_figure(report: Any, path: Any = None, **kwargs: Any) -> PNGImage:
    curves = []
    for c in report.curve_classes()[:MAX_CURVES]:
        curve = report.curve(c)
        prevalence = curve.positives / (curve.positives + curve.negatives)
        curves.append((_class_label(report, c), curve.recall, curve.precision, report.per_class_auc[str(c)][1],
                       prevalence))
    if not curves:
        raise ValueError("No precision-recall curve: it needs scores (probabilities) and positives in y_true.")
    return plots.pr_png(curves, path=path, **kwargs)


def _class_label(report: Any, c: int) -> str:
    name = report.class_names[report.labels.index(c)] if c in report.labels else str(c)
    return f"class {name}"


def _history_figure(report: Any) -> dict[str, PNGImage]:
    if report.history is None:
        return {}
    logs = report.history if isinstance(report.history, dict) else report.history.history
    return {"Learning curves": plots.history_png(report.history)} if logs else {}


def classification_figures(report: Any) -> dict[str, PNGImage]:
    if not plots.has_matplotlib():
        return {}
    figures = {"Confusion matrix": report.plot_confusion_matrix()}
    if report.curve_classes():
        figures["ROC curve"] = roc_figure(report)
        figures["Precision-recall curve"] = pr_figure(report)
    figures.update(_history_figure(report))
    return figures


def regression_figures(report: Any) -> dict[str, PNGImage]:
    if not plots.has_matplotlib():
        return {}
    return {"Residuals": report.plot_residuals(), **_history_figure(report)}


# ------------------------------------------------------------------ HTML
_CSS = """
.plait-report{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1d2330;max-width:1100px;margin:0 auto;padding:16px}
.plait-report h1{font-size:1.6em;margin:.2em 0}.plait-report h2{font-size:1.2em;margin-top:1.4em;border-bottom:1px solid #dde}
.plait-report table{border-collapse:collapse;margin:.5em 0}.plait-report th,.plait-report td{padding:4px 10px;text-align:right;border-bottom:1px solid #eef}
.plait-report th:first-child,.plait-report td:first-child{text-align:left}.plait-report .meta{color:#667}
.plait-report .finding{background:#fff4e5;border-left:5px solid #f0a020;padding:8px 12px;margin:6px 0}
.plait-report .ok{background:#eaf7ee;border-left:5px solid #2e9e52;padding:8px 12px}
.plait-report figure{display:inline-block;margin:6px;vertical-align:top;width:520px;max-width:100%}
.plait-report figure.wide{width:1060px}.plait-report figcaption{color:#556;text-align:center}
.plait-report img{width:100%;height:auto;border:1px solid #eef}
"""


def _png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _diagnostics_html(report: Any) -> str:
    if not report.diagnostics:
        return '<div class="ok">No pitfalls found.</div>'
    return "".join(f'<div class="finding"><b>{html.escape(f.category.__name__)}</b>: {html.escape(f.message)}</div>'
                   for f in report.diagnostics)


def _headline_rows(report: Any, names: list[tuple[str, str]]) -> list[list[Any]]:
    rows = []
    for label, key in names:
        value = report.summary().get(key)
        if value is None:
            continue
        rows.append([label, _fmt(value), _interval_cell(report, key, "{:.3f}")])
    return rows


def _interval_cell(report: Any, key: str, fmt: str) -> str:
    lo, hi = report.intervals.get(key, (float("nan"), float("nan")))
    if not np.isfinite(lo):
        return ""
    method = report.interval_methods.get(key, "percentile")
    mark = f" ({METHOD_NAMES[method]})" if method != report.ci_method else ""
    return f"{fmt.format(lo)} - {fmt.format(hi)}{mark}"


def _ci_header(report: Any) -> str:
    return f"{report.confidence:.0%} {METHOD_NAMES[report.ci_method]} bootstrap interval"


def _figures_html(report: Any) -> str:
    try:
        figures = report.figures()
    except ImportError:
        figures = {}
    if not figures:
        return f"<p class='meta'>Figures need matplotlib: <code>{html.escape(plots.PLOT_HINT)}</code>.</p>"
    parts = []
    for title, data in figures.items():
        w, h = _png_size(data)
        src = base64.b64encode(data).decode("ascii")
        wide = ' class="wide"' if w > 700 else ""  # multi-panel figures get a row of their own
        parts.append(f'<figure{wide}><img alt="{html.escape(title)}" width="{w}" height="{h}" '
                     f'src="data:image/png;base64,{src}"><figcaption>{html.escape(title)}</figcaption></figure>')
    return "".join(parts)


def classification_html(report: Any) -> str:
    """The HTML body of a `ClassificationReport` (for `page`)."""
    ci = _ci_header(report)
    headline = _headline_rows(report, [("Accuracy", "accuracy"), ("Majority-class baseline", "baseline"),
                                       ("Macro F1", "macro_f1"), ("ROC-AUC", "roc_auc"), ("PR-AUC", "pr_auc")])
    per_class = [[n, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1-score']:.3f}", v["support"]]
                 for n, v in report.per_class.items()]
    per_class += [[k, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1-score']:.3f}", v["support"]]
                  for k, v in report.averages.items()]
    cm_rows = [[f"true {n}", *[int(v) for v in row]] for n, row in zip(report.class_names, report.confusion_matrix)]
    parts = [f"<h1>Classification report</h1><p class='meta'>{report.num_samples} samples, {len(report.labels)} "
             f"classes; baseline = always predicting class {html.escape(report.baseline_class)}</p>",
             "<h2>Diagnostics</h2>", _diagnostics_html(report),
             "<h2>Headline metrics</h2>", _table(["Metric", "Value", ci], headline),
             f"<p class='meta'>{html.escape(interval_note(report))}</p>",
             "<h2>Figures</h2>", _figures_html(report),
             "<h2>Per class</h2>", _table(["Class", "Precision", "Recall", "F1", "Support"], per_class),
             "<h2>Confusion matrix</h2>", _table(["", *[f"pred {n}" for n in report.class_names]], cm_rows)]
    if report.scores is not None and report.is_binary:
        rows = [[f"{r['threshold']:.2f}", f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}",
                 f"{r['false_positive_rate']:.3f}"] for r in report.threshold_table()]
        parts += ["<h2>Thresholds (predict positive when score &gt; threshold)</h2>",
                  _table(["Threshold", "Precision", "Recall", "F1", "False-positive rate"], rows)]
    return "".join(parts)


def regression_html(report: Any) -> str:
    """The HTML body of a `RegressionReport` (for `page`)."""
    ci = _ci_header(report)
    rows = [[label, f"{getattr(report, key):.4g}", _interval_cell(report, key, "{:.4g}")]
            for label, key in (("MSE", "mse"), ("RMSE", "rmse"), ("MAE", "mae"), ("R2", "r2"))]
    rows.append(["Baseline MSE (predict the mean)", f"{report.baseline_mse:.4g}", ""])
    return "".join([f"<h1>Regression report</h1><p class='meta'>{report.num_samples} samples</p>",
                    "<h2>Diagnostics</h2>", _diagnostics_html(report),
                    "<h2>Metrics</h2>", _table(["Metric", "Value", ci], rows),
                    f"<p class='meta'>{html.escape(interval_note(report))}</p>",
                    "<h2>Figures</h2>", _figures_html(report)])


def page(body: str, *, full_page: bool = True) -> str:
    """A report's HTML body with the report's CSS: a whole page, or (`full_page=False`) a fragment for notebooks."""
    fragment = f'<div class="plait-report"><style>{_CSS}</style>{body}</div>'
    if not full_page:
        return fragment
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>plait evaluation report</title>"
            f"</head><body>{fragment}</body></html>")
