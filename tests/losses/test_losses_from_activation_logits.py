"""Crossentropy of a softmax/sigmoid output during training is computed from the output's own logits.

Keras on TensorFlow does this (`_keras_logits`); plait does it for the speed of the fused kernels. The
checks: same value and gradient as torch's logits losses, same value as Keras's clipped formula wherever the
clip is inactive, and the clipped formula wherever the logits are not known (no grad, modified output).
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import plait
from plait import activations, losses


def _logits(rows=16, classes=5, scale=3.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(rows, classes, generator=g, dtype=torch.float64) * scale).float().requires_grad_(True)


def _grad(loss, z):
    (g,) = torch.autograd.grad(loss, [z])
    return g


def test_softmax_output_remembers_logits_only_while_differentiating():
    z = _logits()
    p = activations.softmax(z)
    assert activations.logits_of(p, "softmax") is z
    assert activations.logits_of(p, "softmax", axis=1) is z  # -1 and 1 are the same axis of a 2-D output
    assert activations.logits_of(p, "sigmoid") is None
    assert activations.logits_of(p, "softmax", axis=0) is None
    with torch.no_grad():
        assert activations.logits_of(activations.softmax(z), "softmax") is None  # predict keeps no logits
    modified = activations.softmax(z)
    modified.mul_(1.0)  # an in-place change after the softmax: the logits no longer describe it
    assert activations.logits_of(modified, "softmax") is None
    assert activations.logits_of(np.ones((2, 3)), "softmax") is None


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", None])
def test_sparse_crossentropy_of_softmax_output_is_the_logits_crossentropy(reduction):
    z = _logits()
    labels = torch.arange(16) % 5
    loss = losses.SparseCategoricalCrossentropy(reduction=reduction)(labels, activations.softmax(z))
    torch_reduction = {"sum_over_batch_size": "mean", "sum": "sum", None: "none"}[reduction]
    expected = F.cross_entropy(z, labels, reduction=torch_reduction)
    torch.testing.assert_close(loss, expected, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(_grad(loss.sum(), z), _grad(expected.sum(), z), rtol=1e-5, atol=1e-7)


def test_logits_path_matches_keras_clipped_formula_where_the_clip_is_inactive():
    z = _logits(scale=1.0)  # moderate logits: every probability well inside [1e-7, 1 - 1e-7]
    labels = torch.tensor([0, 1, 2, 3, 4] * 3 + [0])
    p = activations.softmax(z)
    fused = losses.SparseCategoricalCrossentropy()(labels, p)
    keras = losses.SparseCategoricalCrossentropy()(labels, p.detach().clone())  # no logits: Keras's formula
    torch.testing.assert_close(fused, keras, rtol=1e-6, atol=1e-7)
    onehot = F.one_hot(labels, 5).float()
    cce = losses.CategoricalCrossentropy()
    torch.testing.assert_close(cce(onehot, p), cce(onehot, p.detach().clone()), rtol=1e-6, atol=1e-7)


def test_saturated_softmax_keeps_its_gradient_where_the_clip_would_zero_it():
    z = torch.tensor([[30.0, 0.0, 0.0]], requires_grad=True)  # p(label 1) ~ 1e-13: below the clip
    loss = losses.SparseCategoricalCrossentropy()(torch.tensor([1]), activations.softmax(z))
    assert float(loss.detach()) == pytest.approx(30.0, rel=1e-5)  # Keras on JAX would report 16.118 (-log 1e-7)
    assert float(_grad(loss, z).abs().sum()) > 1.0


def test_categorical_crossentropy_of_softmax_output_uses_log_softmax():
    z = _logits()
    t = torch.softmax(torch.randn(16, 5), -1)  # soft labels
    loss = losses.CategoricalCrossentropy(label_smoothing=0.1)(t, activations.softmax(z))
    smoothed = t * 0.9 + 0.1 / 5
    expected = -(smoothed * F.log_softmax(z, -1)).sum(-1).mean()
    torch.testing.assert_close(loss, expected, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(_grad(loss, z), _grad(expected, z), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("label_shape", [(16, 1), (16,)])
def test_binary_crossentropy_of_sigmoid_output_is_the_logits_crossentropy(label_shape):
    z = _logits(classes=1)
    t = (torch.arange(16) % 2).float().reshape(label_shape)
    loss = losses.BinaryCrossentropy()(t, activations.sigmoid(z))
    expected = F.binary_cross_entropy_with_logits(z, t.reshape(16, 1))
    torch.testing.assert_close(loss, expected, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(_grad(loss, z), _grad(expected, z), rtol=1e-5, atol=1e-7)


def test_unweighted_mean_fast_path_equals_reduced_per_sample_values():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), size=12).astype(np.float32)
    labels = rng.integers(0, 4, 12)
    fast = losses.SparseCategoricalCrossentropy()(labels, p)
    per_sample = losses.SparseCategoricalCrossentropy(reduction=None)(labels, p)
    torch.testing.assert_close(fast, per_sample.mean(), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="label value of 4"):
        losses.SparseCategoricalCrossentropy()(np.where(labels == 0, 4, labels), p)


def test_fit_loss_is_the_logits_crossentropy_of_a_softmax_model():
    plait.set_random_seed(0)
    x = np.random.default_rng(1).normal(size=(64, 6)).astype(np.float32)
    y = np.arange(64) % 3
    model = plait.Sequential([plait.layers.Input((6,)), plait.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=plait.optimizers.SGD(learning_rate=0.0), loss="sparse_categorical_crossentropy")
    logs = model.train_on_batch(x, y, return_dict=True)
    dense = model.layers[0]
    with torch.no_grad():
        z = torch.from_numpy(x) @ dense.kernel + dense.bias
    assert logs["loss"] == pytest.approx(float(F.cross_entropy(z, torch.from_numpy(y))), rel=1e-6)
