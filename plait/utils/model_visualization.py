"""`plot_model`: a model's layers and connections as a graph, as Keras's `keras.utils.plot_model`.

The graph is written as Graphviz DOT text. A `.dot` file needs nothing else; an image (`.png`, `.svg`, `.pdf`)
needs pydot and Graphviz's `dot` program, as in Keras, and a clear ImportError names them when they are missing.
This module reads the model through its public surface only (`layers`, `input`/`output` tensors and their
nodes), so it imports nothing from `plait.models`.
"""
from __future__ import annotations

import os
from typing import Any

from plait.tree import flatten


def _tensor_layer(tensor: Any) -> Any:
    node = getattr(tensor, "node", None)
    return None if node is None else node.layer


def _edges(model: Any) -> tuple[list[Any], list[tuple[Any, Any]]]:
    """The layers to draw (inputs first) and the (from, to) layer pairs between them."""
    graph = getattr(model, "_graph", None)
    if graph is not None:
        layers = [_tensor_layer(t) for t in graph.inputs] + list(graph.layers)
        edges = [(_tensor_layer(t), node.layer) for node in graph.nodes for t in node.input_tensors()]
        return layers, edges
    stack = list(getattr(model, "layers", []))
    input_layer = getattr(model, "_input_layer", None)
    layers = ([input_layer] if input_layer is not None else []) + stack
    if getattr(model, "_stack", None) is None:  # a subclassed model: its layers, without known connections
        return layers, []
    return layers, list(zip(layers, layers[1:]))


def _label(layer: Any, show_shapes: bool, show_dtype: bool, show_layer_names: bool,
           show_layer_activations: bool, show_trainable: bool) -> str:
    kind = type(layer).__name__
    parts = [f"{layer.name} ({kind})" if show_layer_names else kind]
    activation = getattr(layer, "activation", None)
    if show_layer_activations and callable(activation):
        parts.append(f"activation: {getattr(activation, '__name__', type(activation).__name__)}")
    if show_shapes:
        try:
            output = layer.output
            shapes = [t.shape for t in flatten(output)]
            parts.append(f"output: {shapes[0] if len(shapes) == 1 else shapes}")
        except AttributeError:
            parts.append("output: ?")
    if show_dtype:
        parts.append(f"dtype: {str(getattr(layer, 'dtype', '?')).replace('torch.', '')}")
    if show_trainable:
        parts.append(f"trainable: {getattr(layer, 'trainable', '?')}")
    return "\\n".join(parts)


def model_to_dot(model: Any, show_shapes: bool = False, show_dtype: bool = False, show_layer_names: bool = True,
                 rankdir: str = "TB", expand_nested: bool = False, dpi: int = 200,
                 show_layer_activations: bool = False, show_trainable: bool = False, **kwargs: Any) -> str:
    """The model as Graphviz DOT text (Keras's `model_to_dot` returns a pydot graph; this returns its source).

    Args: as `plot_model`.

    Example:
        >>> import plait
        >>> model = plait.Sequential([plait.Input((3,)), plait.layers.Dense(2, name="out")])
        >>> "out (Dense)" in model_to_dot(model)
        True
    """
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"rankdir must be 'TB' (top to bottom) or 'LR' (left to right), got {rankdir!r}.")
    layers, edges = _edges(model)
    ids = {id(layer): f"n{i}" for i, layer in enumerate(layers)}
    lines = [f'digraph "{model.name}" {{', f"  graph [rankdir={rankdir}, dpi={int(dpi)}];",
             "  node [shape=record, fontname=Helvetica];"]
    for layer in layers:
        label = _label(layer, show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable)
        lines.append(f'  {ids[id(layer)]} [label="{label}"];')
    for source, target in edges:
        if id(source) in ids and id(target) in ids:
            lines.append(f"  {ids[id(source)]} -> {ids[id(target)]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def plot_model(model: Any, to_file: str | os.PathLike = "model.png", show_shapes: bool = False,
               show_dtype: bool = False, show_layer_names: bool = True, rankdir: str = "TB",
               expand_nested: bool = False, dpi: int = 200, show_layer_activations: bool = False,
               show_trainable: bool = False, **kwargs: Any) -> str:
    """Draws the model's layers and their connections to `to_file`; returns its path.

    Args:
        model: A Sequential or functional model (a subclassed model is drawn as its layers, unconnected).
        to_file: The file: `.dot` writes the DOT text (no extra packages); `.png`, `.svg`, `.pdf`, ... need
            pydot and Graphviz.
        show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable: What each box shows.
        rankdir: 'TB' (top to bottom) or 'LR' (left to right).
        expand_nested: Accepted for Keras compatibility; a nested model is drawn as one box.
        dpi: The image's resolution.

    Raises:
        ImportError: For an image format when pydot or Graphviz is missing; the message says how to install them.

    Example:
        >>> import os, tempfile, plait
        >>> model = plait.Sequential([plait.Input((3,)), plait.layers.Dense(2)])
        >>> path = plot_model(model, os.path.join(tempfile.mkdtemp(), "model.dot"), show_shapes=True)
        >>> open(path).read().startswith("digraph")
        True
    """
    from plait.saving.atomic import write_bytes, write_text

    path = os.fspath(to_file)
    dot = model_to_dot(model, show_shapes, show_dtype, show_layer_names, rankdir, expand_nested, dpi,
                       show_layer_activations, show_trainable)
    extension = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    if extension in ("dot", "gv"):
        write_text(path, dot)
        return path
    try:
        import pydot
    except ImportError:
        raise ImportError("plot_model needs pydot and Graphviz to draw an image: `pip install pydot` and Graphviz's "
                          "`dot` program (https://graphviz.org/download/). Or save the DOT text with "
                          "to_file='model.dot'.") from None
    try:
        image = pydot.graph_from_dot_data(dot)[0].create(format=extension)
    except (OSError, FileNotFoundError, AssertionError) as err:
        raise ImportError(f"plot_model could not run Graphviz's `dot` program ({err}); install Graphviz "
                          "(https://graphviz.org/download/), or save the DOT text with to_file='model.dot'.") from None
    write_bytes(path, image)
    return path
