"""plait.ops' neural-network ops against float64 NumPy/SciPy: activations (Keras's op defaults), one_hot,
the unreduced crossentropies, normalize, moments, batch_normalization, with gradients."""
import inspect

import numpy as np
import pytest
import torch
from scipy import special

from plait import activations, ops

RNG = np.random.default_rng(7)
X = RNG.normal(0.0, 2.0, size=(4, 5))
EPS = 1e-7


def test_activation_ops_are_the_activations():
    for name in ("relu", "relu6", "sigmoid", "softplus", "silu", "swish", "elu", "selu", "leaky_relu",
                 "hard_sigmoid", "log_sigmoid", "softsign", "celu", "glu", "hard_silu", "sparsemax"):
        assert inspect.unwrap(getattr(ops, name)) is getattr(activations, name), name
    np.testing.assert_allclose(ops.leaky_relu(X).numpy(), np.where(X >= 0, X, 0.2 * X))
    np.testing.assert_allclose(ops.silu(X).numpy(), X * special.expit(X), rtol=1e-12)  # float64 kept
    assert ops.sigmoid([0, 1]).dtype == torch.float32 and ops.elu(np.array([1], np.int32)).dtype == torch.float32


def test_gelu_defaults_to_the_tanh_approximation_as_keras_ops():
    tanh_form = 0.5 * X * (1 + np.tanh(np.sqrt(2 / np.pi) * (X + 0.044715 * X ** 3)))
    np.testing.assert_allclose(ops.gelu(torch.from_numpy(X)).numpy(), tanh_form, rtol=1e-10)
    exact = 0.5 * X * (1 + special.erf(X / np.sqrt(2)))
    np.testing.assert_allclose(ops.gelu(torch.from_numpy(X), approximate=False).numpy(), exact, rtol=1e-10)


@pytest.mark.parametrize("axis", [-1, 0, None])
def test_softmax_and_log_softmax(axis):
    t = torch.from_numpy(X)
    np.testing.assert_allclose(ops.softmax(t, axis=axis).numpy(), special.softmax(X, axis=axis), rtol=1e-12)
    np.testing.assert_allclose(ops.log_softmax(t, axis=axis).numpy(), special.log_softmax(X, axis=axis),
                               rtol=1e-12)
    assert ops.softmax([1, 2]).dtype == torch.float32


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot(axis):
    ids = np.array([[0, 2], [3, -1]])
    out = ops.one_hot(ids, 3, axis=axis)
    want = np.moveaxis((ids[..., None] == np.arange(3)).astype(np.float32), -1, axis)
    assert out.dtype == torch.float32
    np.testing.assert_array_equal(out.numpy(), want)  # 3 and -1 are out of range: all-zero vectors
    assert ops.one_hot([1], 2, dtype="int32").dtype == torch.int32
    with pytest.raises(ValueError, match="sparse"):
        ops.one_hot([1], 2, sparse=True)


def test_multi_hot():
    assert ops.multi_hot([[0, 2, 2], [1, 1, 1]], 3).tolist() == [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    assert ops.multi_hot([0, 2], 4).tolist() == [1.0, 0.0, 1.0, 0.0]


def np_cce(target, probs, axis=-1):
    p = np.clip(probs / probs.sum(axis=axis, keepdims=True), EPS, 1 - EPS)
    return -(target * np.log(p)).sum(axis=axis)


@pytest.mark.parametrize("axis", [-1, 0])
def test_categorical_crossentropy(axis):
    target = special.softmax(RNG.normal(size=X.shape), axis=axis)
    probs = special.softmax(X, axis=axis)
    np.testing.assert_allclose(ops.categorical_crossentropy(target, probs, axis=axis).numpy(),
                               np_cce(target, probs, axis), rtol=1e-10)
    np.testing.assert_allclose(ops.categorical_crossentropy(target, X, from_logits=True, axis=axis).numpy(),
                               -(target * special.log_softmax(X, axis=axis)).sum(axis=axis), rtol=1e-10)
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        ops.categorical_crossentropy([0, 1, 1, 0], probs)


@pytest.mark.parametrize("axis", [-1, 0])
def test_sparse_categorical_crossentropy(axis):
    probs = special.softmax(X, axis=axis)
    classes = X.shape[axis]
    ids = RNG.integers(0, classes, size=X.shape[1 - (axis % 2)])
    hot = np.moveaxis(np.eye(classes)[ids], -1, axis)
    np.testing.assert_allclose(ops.sparse_categorical_crossentropy(ids, probs, axis=axis).numpy(),
                               np_cce(hot, probs, axis), rtol=1e-10)
    np.testing.assert_allclose(ops.sparse_categorical_crossentropy(ids, X, from_logits=True, axis=axis).numpy(),
                               -(hot * special.log_softmax(X, axis=axis)).sum(axis=axis), rtol=1e-10)


def test_sparse_crossentropy_shapes_and_out_of_range_ids():
    logits = torch.from_numpy(X)
    ids = np.array([0, 1, 2, 3])
    flat = ops.sparse_categorical_crossentropy(ids, logits, from_logits=True)
    torch.testing.assert_close(ops.sparse_categorical_crossentropy(ids[:, None], logits, from_logits=True), flat)
    out = ops.sparse_categorical_crossentropy([0, 1, 9, -1], logits, from_logits=True)
    assert out[2:].tolist() == [0.0, 0.0]  # as Keras: an out-of-range id has an all-zero one-hot vector
    with pytest.raises(ValueError, match=r"target of shape \(4,\)"):
        ops.sparse_categorical_crossentropy([0, 1], logits)


def test_binary_crossentropy_is_elementwise():
    target = RNG.uniform(size=X.shape)
    probs = special.expit(X)
    p = np.clip(probs, EPS, 1 - EPS)
    np.testing.assert_allclose(ops.binary_crossentropy(target, probs).numpy(),
                               -(target * np.log(p) + (1 - target) * np.log(1 - p)), rtol=1e-10)
    np.testing.assert_allclose(ops.binary_crossentropy(target, X, from_logits=True).numpy(),
                               -(target * special.log_expit(X) + (1 - target) * special.log_expit(-X)), rtol=1e-10)
    with pytest.raises(ValueError, match="one shape"):
        ops.binary_crossentropy(target[0], probs)


def test_crossentropy_of_a_training_softmax_uses_its_logits():
    # A saturated softmax: from the probabilities the loss would be clipped at -log(1e-7); from the logits it is
    # exact, which is what plait's losses do during a training step too.
    logits = torch.tensor([[0.0, 40.0]], dtype=torch.float64, requires_grad=True)
    loss = ops.categorical_crossentropy([[1.0, 0.0]], ops.softmax(logits))
    assert loss.item() == pytest.approx(40.0)


@pytest.mark.parametrize("order, axis", [(2, -1), (1, 0), (np.inf, 1)])
def test_normalize(order, axis):
    want = X / np.maximum(np.linalg.norm(X, ord=order, axis=axis, keepdims=True), EPS)
    np.testing.assert_allclose(ops.normalize(X, axis=axis, order=order).numpy(), want, rtol=1e-6)
    assert ops.normalize(np.zeros((1, 3))).abs().sum() == 0


def test_moments_and_batch_normalization():
    mean, var = ops.moments(torch.from_numpy(X), axes=[0])
    np.testing.assert_allclose(mean.numpy(), X.mean(0), rtol=1e-12)
    np.testing.assert_allclose(var.numpy(), X.var(0), rtol=1e-12)
    mean_k, _ = ops.moments(X, axes=(0, 1), keepdims=True)
    assert mean_k.shape == (1, 1)
    with pytest.raises(NotImplementedError, match="synchronized"):
        ops.moments(X, axes=0, synchronized=True)
    scale, offset = np.arange(1.0, 6.0), np.full(5, 0.5)
    out = ops.batch_normalization(torch.from_numpy(X), X.mean(0), X.var(0), axis=1, offset=offset, scale=scale,
                                  epsilon=1e-3)
    np.testing.assert_allclose(out.numpy(), (X - X.mean(0)) / np.sqrt(X.var(0) + 1e-3) * scale + offset,
                               rtol=1e-12)


SOFT_TARGET = special.softmax(RNG.normal(size=X.shape), axis=-1)  # constants: gradcheck perturbs x in place


@pytest.mark.parametrize("fn", [
    lambda x: ops.softmax(x, axis=None), lambda x: ops.gelu(x) + ops.log_softmax(x, axis=0),
    lambda x: ops.categorical_crossentropy(SOFT_TARGET, ops.softmax(x)),
    lambda x: ops.categorical_crossentropy(SOFT_TARGET, ops.softmax(x) * 0.9 + 0.02),
    lambda x: ops.categorical_crossentropy(SOFT_TARGET, x, from_logits=True),
    lambda x: ops.sparse_categorical_crossentropy([0, 4, 2, 1], x, from_logits=True),
    lambda x: ops.sparse_categorical_crossentropy([0, 4, 2, 1], ops.softmax(x) * 0.9 + 0.02),
    lambda x: ops.binary_crossentropy(SOFT_TARGET, ops.sigmoid(x) * 0.9 + 0.05),
    lambda x: ops.binary_crossentropy(SOFT_TARGET, x, from_logits=True),
    lambda x: ops.normalize(x, axis=0), lambda x: ops.moments(x, axes=1)[1],
])
def test_nn_gradients(fn):
    assert torch.autograd.gradcheck(fn, (torch.tensor(X, requires_grad=True),))
