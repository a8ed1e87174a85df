"""Array manipulation, creation and linear algebra against NumPy (float64), with NumPy's semantics where torch's
differ, and gradients."""
import numpy as np
import pytest
import torch

from plait import ops

X = np.random.default_rng(2).normal(size=(2, 3, 4))


def check(out, want):
    assert tuple(out.shape) == np.shape(want)
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-12, atol=1e-12)


def test_reshape_transpose_and_friends():
    t = torch.from_numpy(X)
    check(ops.reshape(t, (4, -1)), X.reshape(4, -1))
    check(ops.reshape(t, 24), X.reshape(24))
    check(ops.transpose(t), X.transpose())
    check(ops.transpose(t, (1, 0, 2)), X.transpose(1, 0, 2))
    check(ops.swapaxes(t, 0, 2), np.swapaxes(X, 0, 2))
    check(ops.moveaxis(t, 0, -1), np.moveaxis(X, 0, -1))
    check(ops.ravel(t), X.ravel())
    check(ops.broadcast_to(X[0, 0], (3, 4)), np.broadcast_to(X[0, 0], (3, 4)))


@pytest.mark.parametrize("axis", [0, -1, (0, 2), (1, -1)])
def test_expand_dims(axis):
    check(ops.expand_dims(X, axis), np.expand_dims(X, axis))


def test_squeeze_refuses_a_longer_axis():
    data = np.zeros((1, 3, 1))
    check(ops.squeeze(data), np.squeeze(data))
    check(ops.squeeze(data, axis=-1), np.squeeze(data, axis=-1))
    check(ops.squeeze(data, axis=(0, 2)), np.squeeze(data, axis=(0, 2)))
    with pytest.raises(ValueError, match="axis 1 .* size is 3"):
        ops.squeeze(data, axis=1)


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_concatenate_and_stack(axis):
    check(ops.concatenate([X, torch.from_numpy(X)], axis=axis), np.concatenate([X, X], axis=axis))
    if axis is not None:
        check(ops.stack([X, X], axis=axis), np.stack([X, X], axis=axis))


@pytest.mark.parametrize("sections", [2, [1], [1, 3], np.array([2])])
def test_split_as_numpy(sections):
    got = ops.split(torch.from_numpy(X), sections, axis=-1)
    want = np.split(X, sections, axis=-1)
    assert isinstance(got, list) and len(got) == len(want)
    for g, w in zip(got, want):
        check(g, w)


def test_split_into_unequal_sections_raises():
    with pytest.raises(ValueError, match="size 4 cannot be cut into 3"):
        ops.split(X, 3, axis=2)


@pytest.mark.parametrize("repeats, axis", [(2, None), (2, 1), ([1, 0, 2], 1), (3, -1)])
def test_repeat(repeats, axis):
    check(ops.repeat(X, repeats, axis=axis), np.repeat(X, repeats, axis=axis))


@pytest.mark.parametrize("reps", [2, (2, 1), (1, 2, 1, 3)])
def test_tile(reps):
    check(ops.tile(X, reps), np.tile(X, reps))


@pytest.mark.parametrize("axis", [None, 0, (0, 2), -1])
def test_flip(axis):
    check(ops.flip(X, axis=axis), np.flip(X, axis=axis))


@pytest.mark.parametrize("shift, axis", [(2, None), (1, 0), (-1, 2), ((1, 2), (0, 1))])
def test_roll(shift, axis):
    check(ops.roll(X, shift, axis=axis), np.roll(X, shift, axis=axis))


@pytest.mark.parametrize("mode", ["constant", "reflect", "symmetric", "edge", "wrap"])
@pytest.mark.parametrize("width", [1, (1, 2), ((0, 0), (2, 1), (3, 0))])
def test_pad_every_mode_as_numpy(mode, width):
    check(ops.pad(torch.from_numpy(X), width, mode=mode), np.pad(X, width, mode=mode))


def test_pad_constant_value_and_errors():
    check(ops.pad(X, 1, constant_values=7.0), np.pad(X, 1, constant_values=7.0))
    with pytest.raises(ValueError, match="only used with mode='constant'"):
        ops.pad(X, 1, mode="reflect", constant_values=1)
    with pytest.raises(ValueError, match="mode must be one of"):
        ops.pad(X, 1, mode="mirror")
    with pytest.raises(ValueError, match="does not fit a tensor of rank 3"):
        ops.pad(X, [(1, 1), (1, 1)])


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_take_with_negative_and_nd_indices(axis):
    indices = np.array([[0, -1], [1, 1]])
    check(ops.take(torch.from_numpy(X), indices, axis=axis), np.take(X, indices, axis=axis))
    check(ops.take(X, 1, axis=axis), np.take(X, 1, axis=axis))


@pytest.mark.parametrize("axis", [None, 0, 1, 2])
def test_take_along_axis(axis):
    rng = np.random.default_rng(3)
    if axis is None:
        indices = rng.integers(-24, 24, size=5)
    else:
        shape = list(X.shape)
        shape[axis] = 2
        indices = rng.integers(-X.shape[axis], X.shape[axis], size=shape)
    check(ops.take_along_axis(X, indices, axis=axis), np.take_along_axis(X, indices, axis=axis))


def test_creation_ops():
    assert ops.zeros((2, 3)).dtype == torch.float32 and ops.ones(4, dtype="int32").dtype == torch.int32
    assert ops.full((2,), 1.5).tolist() == [1.5, 1.5] and ops.full((2,), 7).dtype == torch.int64
    assert ops.full((2, 2), [1, 2]).tolist() == [[1, 2], [1, 2]]
    like = torch.zeros(2, dtype=torch.float64)
    assert ops.ones_like(like).dtype == torch.float64 and ops.zeros_like(like, dtype="int32").dtype == torch.int32
    assert ops.full_like(like, 3).tolist() == [3.0, 3.0] and ops.full_like(like, 3).dtype == torch.float64
    for args in [(3,), (3, 4), (3, 4, 1), (4, 3, -2), (2, None, 5)]:
        check(ops.eye(*args), np.eye(*args))
    check(ops.identity(3), np.identity(3))


@pytest.mark.parametrize("args, dtype", [((5,), torch.int64), ((1, 7, 2), torch.int64), ((0.0, 1.0, 0.25),
                                         torch.float32), ((3, 0, -1), torch.int64), ((2.5,), torch.float32)])
def test_arange(args, dtype):
    out = ops.arange(*args)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.numpy(), np.arange(*args), rtol=1e-6)


@pytest.mark.parametrize("kwargs", [dict(num=5), dict(num=4, endpoint=False), dict(num=1), dict(num=0),
                                    dict(num=7, dtype="float64")])
def test_linspace(kwargs):
    out = ops.linspace(-1.0, 2.0, **kwargs)
    want = np.linspace(-1.0, 2.0, **kwargs)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-6, atol=1e-7)


def test_linspace_of_arrays_along_an_axis_with_step():
    start, stop = np.array([0.0, 1.0]), np.array([1.0, 3.0])
    out, step = ops.linspace(start, stop, num=3, retstep=True, axis=1, dtype="float64")
    want, want_step = np.linspace(start, stop, num=3, retstep=True, axis=1)
    check(out, want)
    check(step, want_step)


@pytest.mark.parametrize("a_shape, b_shape", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
                                              ((5, 2, 3), (3, 4)), ((5, 2, 3), (4, 3, 2)), ((), (2, 3))])
def test_dot_is_numpys(a_shape, b_shape):
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=a_shape), rng.normal(size=b_shape)
    check(ops.dot(a, torch.from_numpy(b)), np.dot(a, b))


@pytest.mark.parametrize("a_shape, b_shape", [((3,), (3,)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
                                              ((5, 1, 2, 3), (4, 3, 2)), ((3,), (2, 3, 4))])
def test_matmul_is_numpys(a_shape, b_shape):
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=a_shape), rng.normal(size=b_shape)
    check(ops.matmul(a, b), np.matmul(a, b))


def test_matmul_promotes_mixed_dtypes():
    out = ops.matmul(np.ones((2, 2)), torch.ones(2, 2, dtype=torch.float32))
    assert out.dtype == torch.float64
    assert ops.matmul([[1, 2]], [[3], [4]]).tolist() == [[11]]
    assert ops.matmul([[True]], [[True]]).dtype == torch.float32


def test_einsum_tensordot_outer():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 3, 5))
    check(ops.einsum("ijk,kjl->il", a, b), np.einsum("ijk,kjl->il", a, b))
    check(ops.tensordot(a, b, axes=([1, 2], [1, 0])), np.tensordot(a, b, axes=([1, 2], [1, 0])))
    check(ops.tensordot(a[0], b[:, 0], axes=1), np.tensordot(a[0], b[:, 0], axes=1))
    check(ops.tensordot(a, b, axes=(2, 0)), np.tensordot(a, b, axes=(2, 0)))
    check(ops.outer(a[0, 0], b[0]), np.outer(a[0, 0], b[0]))


@pytest.mark.parametrize("ord_, axis, keepdims", [
    (None, None, False), (None, None, True), (None, 1, False), (1, -1, True), (np.inf, 0, False),
    (3, 1, False), ("fro", (0, 1), False), ("nuc", (0, 1), True), (2, (0, 1), False), (-np.inf, (1, 0), False),
])
def test_norm_is_numpys(ord_, axis, keepdims):
    data = X[0]
    check(ops.norm(data, ord=ord_, axis=axis, keepdims=keepdims),
          np.linalg.norm(data, ord=ord_, axis=axis, keepdims=keepdims))
    assert ops.norm([3, 4]).item() == 5.0


@pytest.mark.parametrize("fn", [
    lambda x: ops.pad(x, ((1, 0), (2, 2), (0, 3)), mode="reflect"),
    lambda x: ops.pad(x, 1, mode="symmetric") * ops.pad(x, 1, mode="wrap"),
    lambda x: ops.take(x, [[0, -1], [2, 1]], axis=1), lambda x: ops.take_along_axis(x, [[[0, 3, 1]]], axis=2),
    lambda x: ops.concatenate(ops.split(x, [1, 3], axis=2)[::-1], axis=2), lambda x: ops.repeat(x, 2, axis=1),
    lambda x: ops.dot(x, ops.transpose(x, (1, 2, 0))), lambda x: ops.einsum("ijk,ijk->k", x, x),
    lambda x: ops.norm(x[0], ord="nuc", axis=(0, 1)) + ops.norm(x, axis=-1).sum(),
    lambda x: ops.matmul(x, ops.swapaxes(x, 1, 2)), lambda x: ops.roll(ops.tile(x, 2), 3),
])
def test_manipulation_gradients(fn):
    assert torch.autograd.gradcheck(fn, (torch.tensor(X, requires_grad=True),))
