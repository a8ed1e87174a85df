"""plait.ops core: Keras's conversion and dtype rules, shapes, control flow, and the symbolic-tensor hook."""
import ast
import inspect
from pathlib import Path

import numpy as np
import pytest
import torch

import plait
from plait import config, ops
from plait.ops import core


@pytest.mark.parametrize("value, expected", [
    (1.5, torch.float32), ([1.0, 2.0], torch.float32), (3, torch.int64), ([[1, 2]], torch.int64),
    (True, torch.bool), ([True, False], torch.bool), (np.float64(2.0), torch.float64),
    (np.zeros(2, np.float64), torch.float64), (np.zeros(2, np.float16), torch.float16),
    (np.zeros(2, np.int32), torch.int32), (np.zeros(2, np.uint8), torch.uint8), (np.zeros(2, np.uint32), torch.int64),
    (np.zeros(2, np.uint16), torch.int32), (torch.zeros(2, dtype=torch.float64), torch.float64),
])
def test_convert_to_tensor_dtypes_follow_keras(value, expected):
    assert ops.convert_to_tensor(value).dtype == expected


def test_python_floats_follow_floatx():
    config.set_floatx("float64")
    try:
        assert ops.convert_to_tensor([1.0]).dtype == torch.float64
        assert ops.ones((2,)).dtype == torch.float64
    finally:
        config.set_floatx("float32")


def test_tensors_pass_through_unchanged():
    t = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    assert ops.convert_to_tensor(t) is t
    assert ops.convert_to_tensor(t, dtype="float32").dtype == torch.float32


def test_list_of_tensors_is_stacked():
    out = ops.convert_to_tensor([torch.zeros(2), torch.ones(2)])
    assert out.shape == (2, 2) and out[1].sum() == 2


@pytest.mark.parametrize("spec, expected", [
    ("float32", torch.float32), ("int32", torch.int32), ("bool", torch.bool), (float, torch.float32),
    (int, torch.int64), (bool, torch.bool), (np.float64, torch.float64), (np.dtype("int16"), torch.int16),
    (np.dtype("float64"), torch.float64), ("float", torch.float32), ("int", torch.int64),
    (torch.bfloat16, torch.bfloat16), ("uint32", torch.int64), (None, None),
])
def test_standardize_dtype(spec, expected):
    assert core.standardize_dtype(spec) == expected


@pytest.mark.parametrize("bad", ["float33", "onnx", object()])
def test_unknown_dtype_says_what_was_received(bad):
    with pytest.raises(ValueError, match="dtype"):
        core.standardize_dtype(bad)


def test_strings_are_refused_with_the_fix():
    with pytest.raises(TypeError, match="strings"):
        ops.convert_to_tensor(np.array(["a", "b"]))


def test_sparse_and_ragged_refused():
    with pytest.raises(ValueError, match="dense"):
        ops.convert_to_tensor([1], sparse=True)


def test_convert_to_numpy_detaches_and_handles_bfloat16():
    t = torch.ones(2, requires_grad=True) * 2
    np.testing.assert_array_equal(ops.convert_to_numpy(t), [2.0, 2.0])
    assert ops.convert_to_numpy(torch.ones(2, dtype=torch.bfloat16)).dtype == np.float32
    assert ops.convert_to_numpy([torch.ones(2), torch.zeros(2)]).shape == (2, 2)


def test_cast_and_dtype():
    assert ops.cast([1.7, -1.7], "int32").tolist() == [1, -1]
    assert ops.dtype(ops.cast([1], "float16")) == "float16"
    assert ops.dtype([1, 2]) == "int64"


def test_shape_ndim_size_is_tensor():
    x = np.zeros((2, 3, 4))
    assert ops.shape(x) == (2, 3, 4) and ops.ndim(x) == 3 and ops.size(x) == 24
    assert ops.shape(torch.zeros(5)) == (5,) and ops.shape([[1, 2]]) == (1, 2)
    assert ops.is_tensor(torch.zeros(1)) and not ops.is_tensor(x)


def test_stop_gradient_blocks_gradients():
    x = torch.tensor([2.0], requires_grad=True)
    y = x * ops.stop_gradient(x)
    y.backward()
    assert x.grad.item() == 2.0


def test_cond_runs_one_branch():
    assert ops.cond(torch.tensor(True), lambda: "yes", lambda: "no") == "yes"
    assert ops.cond(0, lambda: "yes", lambda: "no") == "no"


def test_vectorized_map_matches_a_loop_and_falls_back():
    x = torch.randn(4, 3, dtype=torch.float64)
    torch.testing.assert_close(ops.vectorized_map(lambda r: (r * r).sum(), x), (x * x).sum(1))
    # `.item()` cannot run under vmap: the slice-by-slice path gives the same numbers.
    out = ops.vectorized_map(lambda r: r * float(r.sum().item()), x)
    torch.testing.assert_close(out, x * x.sum(1, keepdim=True))
    pair = ops.vectorized_map(lambda xs: xs[0] + xs[1], (x, x))
    torch.testing.assert_close(pair, 2 * x)


def test_slice_slice_update_unstack():
    x = torch.arange(12).reshape(3, 4)
    assert ops.slice(x, (1, 1), (2, 2)).tolist() == [[5, 6], [9, 10]]
    updated = ops.slice_update(x, (0, 2), torch.zeros(2, 2, dtype=torch.int64))
    assert updated[:2, 2:].sum() == 0 and x[0, 2] == 2  # a copy: x is unchanged
    assert [t.tolist() for t in ops.unstack(x[:2], axis=0)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    with pytest.raises(ValueError, match="start index"):
        ops.slice(x, (0,), (1, 1))
    with pytest.raises(ValueError, match="num=5"):
        ops.unstack(x, num=5)


def test_slice_update_is_differentiable():
    x = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    u = torch.ones(2, dtype=torch.float64, requires_grad=True)
    (ops.slice_update(x, (1,), u) * torch.arange(4.0, dtype=torch.float64)).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 3.0] and u.grad.tolist() == [1.0, 2.0]


def test_converted_operand_goes_to_the_tensor_device():
    meta = torch.zeros(2, device="meta")
    assert ops.add(meta, np.ones(2)).device.type == "meta"
    assert ops.maximum(np.ones(2), meta).device.type == "meta"


def test_canonical_axes_errors():
    with pytest.raises(ValueError, match="out of bounds"):
        ops.sum(torch.zeros(2, 2), axis=2)
    with pytest.raises(ValueError, match="repeats"):
        ops.sum(torch.zeros(2, 2), axis=(0, -2))


class FakeSymbolic:
    """Stands for plait's KerasTensor: the hook only needs a type to recognise."""


def test_symbolic_hook_receives_ops_on_symbolic_tensors():
    calls = []
    registered = core._symbolic  # plait.layers' handler for KerasTensors, put back afterwards
    core.set_symbolic_handler(FakeSymbolic, lambda fn, args, kwargs: calls.append((fn.__name__, args, kwargs)))
    try:
        sym = FakeSymbolic()
        ops.relu(sym)
        ops.concatenate([sym, sym], axis=1)
        assert ops.sum(torch.ones(2)).item() == 2.0  # real tensors run the op itself
        assert [c[0] for c in calls] == ["relu", "concatenate"]
        assert calls[1][2] == {"axis": 1}
    finally:
        core.set_symbolic_handler(*(registered or (None,)))
    assert ops.relu(torch.tensor([-1.0])).item() == 0.0


def test_public_surface():
    assert plait.ops is ops and plait.random is not None
    assert plait.config.backend() == "torch"
    for name in ops.__all__:
        assert hasattr(ops, name), name
    assert ops.nn.conv is not None and ops.image.resize is not None
    assert ops.relu.__doc__ and inspect.unwrap(ops.relu) is plait.activations.relu


ALLOWED_IMPORTS = {"plait", "plait.config", "plait.tensors", "plait.tree", "plait.activations", "plait.ops"}


@pytest.mark.parametrize("path", sorted((Path(plait.__file__).parent / "ops").glob("*.py")) +
                         [Path(plait.__file__).parent / "random.py"], ids=lambda p: p.name)
def test_ops_and_random_sit_below_the_layers(path):
    # plait.ops and plait.random are building blocks under layers, losses and models (as keras.ops is): they
    # import torch, numpy and plait's base modules only (activations, reused for the nn ops), never a layer.
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("plait"):
            found |= {node.module if node.module != "plait" else f"plait.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("plait")}
    outside = {m for m in found if m not in ALLOWED_IMPORTS and not m.startswith("plait.ops.")}
    assert not outside, f"{path.name} imports {sorted(outside)}"
