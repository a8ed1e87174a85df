"""model.summary(): the Keras table of layers, output shapes and parameter counts."""
from __future__ import annotations

import sys
import textwrap
from typing import Any, Callable

_BOX = {"top": "┏┳┓━", "head": "┃", "sep": "┡╇┩━", "row": "│", "bottom": "└┴┘─"}
_ASCII = {"top": "+++-", "head": "|", "sep": "+++=", "row": "|", "bottom": "+++-"}


def readable_size(n_bytes: float) -> str:
    """Keras's memory size format: 1024 base, two decimals (`128.00 B`, `1.50 KB`)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n_bytes < 1024 or unit == "TB":
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.2f} PB"


def _format_shape(shape: Any) -> str:
    if isinstance(shape, list):
        return ", ".join(_format_shape(s) for s in shape)
    if isinstance(shape, dict):
        return ", ".join(f"{k}: {_format_shape(v)}" for k, v in shape.items())
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _rows(model: Any) -> list[tuple[str, str, str]]:
    rows = []
    graph = getattr(model, "_graph", None)
    shape = getattr(model, "_build_shape", None)
    for layer in model.layers:
        try:
            if graph is not None:
                node = next(n for n in graph.nodes if n.layer is layer)
                out = _format_shape(node.outputs.shape if hasattr(node.outputs, "shape")
                                    else [t.shape for t in node.outputs])
            elif hasattr(model, "_stack"):
                shape = layer.compute_output_shape(shape)
                out = _format_shape(shape)
            else:
                out = _format_shape(layer.output_shape)
        except Exception:  # an exotic custom layer that cannot tell its shape still gets a row
            out = "?"
        params = f"{sum(p.numel() for p in layer.parameters()):,}" if layer.built else "0 (unbuilt)"
        rows.append((f"{layer.name} ({type(layer).__name__})", out, params))
    return rows


def _encodable(text: str) -> bool:
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def print_summary(model: Any, line_length: int | None = None, print_fn: Callable[[str], Any] | None = None,
                  show_trainable: bool = False) -> None:
    if not model.built or model._build_shape is None:
        raise ValueError(f"Model {model.name!r} has not been built yet, so it has no summary. Give the first "
                         "layer an input shape (e.g. Dense(10, input_shape=(5,)) or start with "
                         "plait.Input(shape=(5,))), call model.build((None, 5)), or call the model on a batch first.")
    line_length = line_length or 88
    headers = ["Layer (type)", "Output Shape", "Param #"]
    rows = _rows(model)
    if show_trainable:
        headers.append("Trainable")
        rows = [r + ("Y" if layer.trainable else "N",) for r, layer in zip(rows, model.layers)]
        positions = [0.40, 0.70, 0.88, 1.0]
    else:
        positions = [0.45, 0.80, 1.0]
    edges = [int(line_length * p) for p in positions]
    widths = [b - a - 1 for a, b in zip([0] + edges[:-1], edges)]
    glyphs = _BOX if _encodable("┏━┃│└") else _ASCII
    emit = print_fn or print

    def line(kind: str) -> str:
        left, mid, right, fill = glyphs[kind]
        return left + mid.join(fill * w for w in widths) + right

    def cells(values: tuple, bar: str) -> str:
        # Long cells wrap onto more lines, as Keras's rich tables do.
        wrapped = [textwrap.wrap(str(v), w - 2, break_on_hyphens=False) or [""] for v, w in zip(values, widths)]
        lines = []
        for k in range(max(len(c) for c in wrapped)):
            parts = []
            for i, (cell, w) in enumerate(zip(wrapped, widths)):
                text = cell[k] if k < len(cell) else ""
                parts.append(" " + (text.rjust(w - 2) if i == 2 else text.ljust(w - 2)) + " ")
            lines.append(bar + bar.join(parts) + bar)
        return "\n".join(lines)

    emit(f'Model: "{model.name}"')
    emit(line("top"))
    emit(cells(tuple(headers), glyphs["head"]))
    emit(line("sep"))
    for row in rows:
        emit(cells(row, glyphs["row"]))
    emit(line("bottom"))
    trainable = sum(p.numel() for p in model.trainable_weights)
    frozen = sum(p.numel() for p in model.non_trainable_weights)
    opt_vars = getattr(getattr(model, "optimizer", None), "variables", None) or []
    opt_count = sum(int(getattr(v, "numel", lambda: 1)()) for v in opt_vars)
    opt_bytes = sum(int(v.numel() * v.element_size()) for v in opt_vars if hasattr(v, "element_size"))
    size = sum(p.numel() * p.element_size() for p in model.parameters())
    emit(f" Total params: {trainable + frozen + opt_count:,} ({readable_size(size + opt_bytes)})")
    def weights_size(weights: list) -> str:
        return readable_size(sum(p.numel() * p.element_size() for p in weights))

    emit(f" Trainable params: {trainable:,} ({weights_size(model.trainable_weights)})")
    emit(f" Non-trainable params: {frozen:,} ({weights_size(model.non_trainable_weights)})")
    if opt_count:
        emit(f" Optimizer params: {opt_count:,} ({readable_size(opt_bytes)})")
