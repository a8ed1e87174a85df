"""Reductions and ordering against float64 NumPy: every axis form (None, int, negative, tuple, ()), keepdims,
Keras's dtypes, ties, empty inputs, and gradients."""
import numpy as np
import pytest
import torch
from scipy import special

from plait import ops

X = np.random.default_rng(1).normal(size=(2, 3, 4))
AXES = [None, 0, -1, (0, 2), (1,), (0, 1, 2)]
REDUCTIONS = {
    "sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "amax": np.max, "amin": np.min,
    "prod": np.prod, "std": np.std, "var": np.var, "logsumexp": special.logsumexp,
}


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_float_reductions_against_numpy(name, axis, keepdims):
    out = getattr(ops, name)(torch.from_numpy(X), axis=axis, keepdims=keepdims)
    want = REDUCTIONS[name](X, axis=axis, keepdims=keepdims)
    assert tuple(out.shape) == np.shape(want)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("name", ["all", "any"])
def test_boolean_reductions_against_numpy(name, axis, keepdims):
    data = X > 0.8
    out = getattr(ops, name)(data, axis=axis, keepdims=keepdims)
    assert out.dtype == torch.bool
    np.testing.assert_array_equal(out.numpy(), getattr(np, name)(data, axis=axis, keepdims=keepdims))


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "prod", "logsumexp", "all", "any"])
def test_empty_axis_tuple_reduces_nothing(name):
    out = getattr(ops, name)(torch.from_numpy(X), axis=())
    assert out.shape == X.shape


def test_std_var_of_empty_axis_are_zero():
    assert ops.var(X, axis=()).abs().sum() == 0 and ops.std(X, axis=()).shape == X.shape


def test_dtypes_follow_keras():
    ints = np.arange(6, dtype=np.int32).reshape(2, 3)
    assert ops.sum(ints).dtype == torch.int32
    assert ops.sum([True, True, False]).dtype == torch.int64 and ops.sum([True, True, False]).item() == 2
    assert ops.sum(np.ones(3, np.int8) * 100).item() == 300  # accumulated in int64, no overflow
    assert ops.mean(ints).dtype == torch.float32 and ops.mean(ints).item() == 2.5
    assert ops.std([1, 3]).dtype == torch.float32 and ops.var([1, 3]).item() == 1.0
    assert ops.prod(np.array([2, 3], np.int16)).dtype == torch.int64
    assert ops.prod([2.0, 3.0], dtype="float64").dtype == torch.float64
    assert ops.max(ints, axis=1).dtype == torch.int32


def test_sum_and_mean_of_a_list_of_tensors_stack_it():
    parts = [torch.ones(2), torch.full((2,), 3.0)]
    assert ops.sum(parts, axis=0).tolist() == [4.0, 4.0]
    assert ops.mean(parts).item() == 2.0


def test_max_min_initial_and_empty():
    assert ops.max([1.0, 5.0], initial=7.0).item() == 7.0
    assert ops.min([[1.0, 5.0]], axis=1, initial=3.0).tolist() == [1.0]
    assert ops.max(np.zeros((0, 2)), initial=-1.0, keepdims=True).tolist() == [[-1.0]]
    with pytest.raises(ValueError, match="empty tensor.*initial"):
        ops.max(np.zeros(0))


def test_max_gradient_shared_among_ties():
    x = torch.tensor([1.0, 3.0, 3.0], requires_grad=True)
    ops.max(x).backward()
    assert x.grad.tolist() == [0.0, 0.5, 0.5]


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_running_reductions(name, axis):
    data = X[0] / 2
    np.testing.assert_allclose(getattr(ops, name)(torch.from_numpy(data), axis=axis).numpy(),
                               getattr(np, name)(data, axis=axis), rtol=1e-12)


def test_cumsum_dtypes():
    assert ops.cumsum([True, True]).tolist() == [1, 2] and ops.cumsum([True]).dtype == torch.int64
    assert ops.cumsum([1, 2], dtype="float32").dtype == torch.float32


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_extremes_take_the_first_of_ties(name, axis, keepdims):
    data = np.array([[1, 3, 3, 0], [2, 2, 0, 0], [0, 0, 0, 0]], np.float32)
    out = getattr(ops, name)(data, axis=axis, keepdims=keepdims)
    assert out.dtype == torch.int32
    np.testing.assert_array_equal(out.numpy(), getattr(np, name)(data, axis=axis, keepdims=keepdims))


def test_argmax_of_bools():
    assert ops.argmax([False, True, True]).item() == 1


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_sort_and_stable_argsort(axis):
    data = np.array([[3, 1, 2, 1], [0, 0, 5, -1]], np.float64)
    np.testing.assert_array_equal(ops.sort(data, axis=axis).numpy(), np.sort(data, axis=axis))
    out = ops.argsort(data, axis=axis)
    assert out.dtype == torch.int32
    np.testing.assert_array_equal(out.numpy(), np.argsort(data, axis=axis, kind="stable"))
    assert ops.sort([True, False]).tolist() == [False, True]


def test_top_k_lists_ties_by_index():
    data = np.array([[1.0, 4.0, 2.0, 4.0, 4.0], [5.0, 0.0, 5.0, 1.0, 2.0]])
    values, indices = ops.top_k(data, 3)
    assert indices.tolist() == [[1, 3, 4], [0, 2, 4]] and indices.dtype == torch.int32
    np.testing.assert_array_equal(values.numpy(), np.take_along_axis(data, indices.numpy(), -1))
    with pytest.raises(ValueError, match="k=6"):
        ops.top_k(data, 6)


def test_top_k_values_are_differentiable():
    x = torch.tensor([1.0, 5.0, 3.0], requires_grad=True)
    ops.top_k(x, 2)[0].sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0]


def test_in_top_k():
    predictions = np.array([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4]])
    assert ops.in_top_k([2, 0], predictions, 1).tolist() == [False, False]
    assert ops.in_top_k([2, 0], predictions, 2).tolist() == [True, True]


@pytest.mark.parametrize("fn", [
    lambda x: ops.sum(x, axis=(0, 2)), lambda x: ops.mean(x, axis=1, keepdims=True), lambda x: ops.max(x, axis=-1),
    lambda x: ops.prod(x, axis=(1, 2)), lambda x: ops.std(x, axis=0), lambda x: ops.var(x),
    lambda x: ops.logsumexp(x, axis=(0, 1)), lambda x: ops.cumprod(x, axis=1), lambda x: ops.sort(x, axis=1),
])
def test_reduction_gradients(fn):
    assert torch.autograd.gradcheck(fn, (torch.tensor(X, requires_grad=True),))
