"""Keras 3's weights layout (`model.weights.h5`, `.weights.h5`) mapped onto a plait model's weights.

Keras stores each layer's variables as datasets `vars/0`, `vars/1`, ... (its trainable variables, then the
others, in creation order) in a group named after the layer's *class* in snake case, numbered within its
container: `layers/dense/vars/0`, `layers/dense_1/vars/0`, `layers/lstm/cell/vars/0`,
`layers/multi_head_attention/query_dense/vars/0`, a nested model's `layers/sequential/layers/dense/vars/0`.
plait's layers keep Keras's names, shapes and order, so a layer's tensors map one to one (`layer_groups`).

Reading is bounded: each dataset must be a plain (not virtual, not external) numeric array of exactly the plait
weight's shape, its chunks no larger than the array, and each group must hold exactly the expected count,
all checked before a dataset is read; every refusal is a `FormatError` naming the layer.
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from plait.errors import FormatError
from plait.layers.layer import LAYERS
from plait.registry import to_snake_case

INSTALL_HINT = "Reading and writing Keras's .keras and .weights.h5 files needs h5py: pip install h5py"
H5_BYTES_PER_DATASET = 8 << 10
"""HDF5's own bytes per dataset and group (object headers, B-trees), allowed on top of the data."""
H5_BASE_BYTES = 1 << 20

_MHA = {"query_kernel": ("query_dense", 0), "query_bias": ("query_dense", 1), "key_kernel": ("key_dense", 0),
        "key_bias": ("key_dense", 1), "value_kernel": ("value_dense", 0), "value_bias": ("value_dense", 1),
        "attention_output_kernel": ("output_dense", 0), "attention_output_bias": ("output_dense", 1)}
"""MultiHeadAttention: plait's flat weight names -> Keras's EinsumDense sub-layer and index."""


def h5py_module() -> Any:
    try:
        import h5py
    except ImportError as err:
        raise ImportError(INSTALL_HINT + " (or pip install 'plait[keras-files]').") from err
    return h5py


def _keras_class(layer: Any) -> str:
    if getattr(layer, "_graph", None) is not None:
        return "Functional"
    return type(layer).__name__


def _is_model(layer: Any) -> bool:
    return isinstance(layer, LAYERS.registered("Sequential")) or getattr(layer, "_graph", None) is not None


def layer_groups(model: Any, prefix: str = "") -> Iterator[tuple[str, str, list[torch.Tensor]]]:
    """(h5 group path, layer name, tensors in Keras's order) for every group of `model`'s weights."""
    used: dict[str, int] = {}
    for layer in model.layers:
        base = to_snake_case(_keras_class(layer))
        count = used.get(base)
        used[base] = 0 if count is None else count + 1
        name = base if count is None else f"{base}_{count + 1}"
        path = f"{prefix}layers/{name}"
        if _is_model(layer):
            yield from layer_groups(layer, f"{path}/")
            continue
        yield from _own_groups(layer, path)


def _own_groups(layer: Any, path: str) -> Iterator[tuple[str, str, list[torch.Tensor]]]:
    groups: dict[str, list[tuple[int, int, torch.Tensor]]] = {}
    seen: set[int] = set()
    is_mha = type(layer).__name__ == "MultiHeadAttention"
    for order, (key, tensor) in enumerate(layer.state_dict(keep_vars=True).items()):
        if id(tensor) in seen:
            continue  # an alias of a weight already listed (e.g. MultiHeadAttention's output_kernel)
        seen.add(id(tensor))
        if is_mha:
            if key not in _MHA:
                continue
            sub, index = _MHA[key]
            groups.setdefault(f"{path}/{sub}/vars", []).append((index, order, tensor))
            continue
        sub = "/".join(key.split(".")[:-1])
        trainable = isinstance(tensor, torch.nn.Parameter) and tensor.requires_grad
        group = f"{path}/{sub}/vars" if sub else f"{path}/vars"
        groups.setdefault(group, []).append((0 if trainable else 1, order, tensor))
    for group, items in groups.items():
        yield group, layer.name, [t for _, _, t in sorted(items, key=lambda item: item[:2])]


def expected_shapes(model: Any) -> dict[str, tuple[int, ...]]:
    """Dataset path -> shape of every weight `model` has, in Keras's layout."""
    return {f"{group}/{i}": tuple(t.shape) for group, _, tensors in layer_groups(model)
            for i, t in enumerate(tensors)}


def h5_bound(shapes: dict[str, tuple[int, ...]], copies: int = 1) -> int:
    """The most bytes an h5 weights file for `shapes` may take: 8 bytes an element (the widest dtype), `copies`
    times (optimizer variables share the file), plus HDF5's bookkeeping."""
    elements = sum(int(np.prod(shape, dtype=np.int64)) for shape in shapes.values())
    return copies * (8 * elements + H5_BYTES_PER_DATASET * (len(shapes) + 1)) + H5_BASE_BYTES


def write_h5(model: Any, stream: Any) -> None:
    """Writes `model`'s weights in Keras's layout to a seekable binary stream."""
    h5py = h5py_module()
    with h5py.File(stream, "w") as f:
        f.create_group("vars").attrs["name"] = model.name
        for group, name, tensors in layer_groups(model):
            g = f.require_group(group)
            g.attrs["name"] = name
            for i, tensor in enumerate(tensors):
                g.create_dataset(str(i), data=tensor.detach().cpu().numpy())


def _dataset(h5py: Any, f: Any, path: str, shape: tuple[int, ...], source: str, layer: str) -> Any:
    node: Any = f
    for part in path.split("/"):
        link = node.get(part, getlink=True) if isinstance(node, h5py.Group) else None
        if link is None:
            raise FormatError(f"{source}: weight {path!r} of layer {layer!r} is missing; the file holds the weights "
                              "of another model.")
        if not isinstance(link, h5py.HardLink):
            raise FormatError(f"{source}: {path!r} is a {type(link).__name__}; plait follows no links in a weights "
                              "file (an external link reads another file).")
        node = node[part]
    if not isinstance(node, h5py.Dataset) or node.is_virtual or node.external:
        raise FormatError(f"{source}: {path!r} is not a plain dataset (virtual and external datasets read other "
                          "files).")
    if tuple(node.shape) != shape:
        raise FormatError(f"{source}: weight {path!r} of layer {layer!r} has shape {tuple(node.shape)} in the file "
                          f"but {shape} in the model; the file holds the weights of another model.")
    if node.dtype.kind not in "fiub":
        raise FormatError(f"{source}: weight {path!r} has dtype {node.dtype}; expected a numeric array.")
    if node.chunks is not None and int(np.prod(node.chunks, dtype=np.int64)) > max(int(node.size), 1):
        raise FormatError(f"{source}: weight {path!r} declares chunks {node.chunks} larger than its shape {shape}.")
    return node


def read_h5(model: Any, data: bytes, source: str) -> None:
    """Checks every dataset `model` needs in the h5 bytes `data` (shape, kind, count), then copies them in."""
    h5py = h5py_module()
    try:
        f = h5py.File(io.BytesIO(data), "r")
    except OSError as err:
        raise FormatError(f"{source}: not a readable HDF5 file ({err}).") from None
    with f:
        plan = []
        for group, layer, tensors in layer_groups(model):
            datasets = [_dataset(h5py, f, f"{group}/{i}", tuple(t.shape), source, layer)
                        for i, t in enumerate(tensors)]
            held = f[group]
            if len(held) != len(tensors):
                raise FormatError(f"{source}: layer {layer!r} has {len(held)} weights in the file ({group!r}) but "
                                  f"{len(tensors)} in the model.")
            plan.extend(zip(datasets, tensors))
        with torch.no_grad():
            for dataset, tensor in plan:
                tensor.copy_(torch.from_numpy(np.asarray(dataset[()])).to(dtype=tensor.dtype))


__all__ = ["INSTALL_HINT", "expected_shapes", "h5_bound", "h5py_module", "layer_groups", "read_h5", "write_h5"]
