"""ReLU, LeakyReLU, PReLU, ELU and Softmax layers against torch.nn.functional and NumPy, masks included."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import plait
from plait.layers import ELU, LeakyReLU, PReLU, ReLU, Softmax


def _keras_relu(x, max_value, negative_slope, threshold):
    """Keras's ReLU (float64), as its code computes it: `x` only strictly above the threshold."""
    out = np.where(x > threshold, x, negative_slope * (x - threshold))
    return out if max_value is None else np.minimum(out, max_value)


@pytest.mark.parametrize("kwargs", [{}, {"max_value": 6.0}, {"negative_slope": 0.1}, {"threshold": 0.5},
                                    {"max_value": 1.0, "negative_slope": 0.2, "threshold": 0.3}])
def test_relu_layer_matches_keras_formula(kwargs):
    x = torch.linspace(-3, 8, 45)
    out = ReLU(**kwargs)(x).numpy()
    full = {"max_value": None, "negative_slope": 0.0, "threshold": 0.0, **kwargs}
    np.testing.assert_allclose(out, _keras_relu(x.double().numpy(), **full), rtol=1e-6, atol=1e-6)
    assert {k: ReLU(**kwargs).get_config()[k] for k in full} == full


def test_relu_arguments_are_checked():
    for bad in ({"max_value": -1.0}, {"negative_slope": -0.1}, {"threshold": None}):
        with pytest.raises(ValueError, match=f"ReLU {next(iter(bad))} must be a non-negative number"):
            ReLU(**bad)


def test_leaky_relu_and_elu_match_torch_with_gradients():
    x = torch.randn(4, 5, requires_grad=True)
    for layer, ref_fn in [(LeakyReLU(), lambda t: F.leaky_relu(t, 0.3)), (ELU(alpha=0.7), lambda t: F.elu(t, 0.7))]:
        out, ref = layer(x), ref_fn(x)
        torch.testing.assert_close(out, ref)
        torch.testing.assert_close(torch.autograd.grad(out.sum(), x)[0], torch.autograd.grad(ref.sum(), x)[0])
    assert LeakyReLU().negative_slope == 0.3  # the layer's Keras default (the function's is 0.2)
    with pytest.warns(DeprecationWarning, match="negative_slope"):
        assert LeakyReLU(alpha=0.1).negative_slope == 0.1
    with pytest.raises(ValueError, match="non-negative"):
        LeakyReLU(-1.0)


def test_prelu_matches_torch_prelu_per_channel_with_gradients():
    plait.set_random_seed(0)
    layer = PReLU(alpha_initializer="random_uniform", shared_axes=[1, 2])
    x = torch.randn(2, 4, 5, 3, requires_grad=True)
    out = layer(x)
    assert tuple(layer.alpha.shape) == (1, 1, 3) and layer.weights[0].path.endswith("/alpha")
    alpha = layer.alpha.detach().clone().reshape(3).requires_grad_()
    ref = F.prelu(x.movedim(-1, 1), alpha).movedim(1, -1)  # torch's PReLU has one weight per channel (axis 1)
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-6)
    g = torch.randn(out.shape)
    gx, ga = torch.autograd.grad((out * g).sum(), [x, layer.alpha])
    rx, ra = torch.autograd.grad((ref * g).sum(), [x, alpha])
    torch.testing.assert_close(gx, rx, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ga.reshape(3), ra, rtol=1e-5, atol=1e-5)
    full = PReLU()
    full(torch.randn(2, 3, 4))
    assert tuple(full.alpha.shape) == (3, 4) and float(full.alpha.detach().abs().sum()) == 0.0  # Keras: zeros, unshared
    with pytest.raises(ValueError, match="shared_axes must be axes 1..2"):
        PReLU(shared_axes=3)(torch.randn(2, 3, 4))
    assert PReLU(shared_axes=1).get_config()["shared_axes"] == [1]


def test_softmax_over_axes_matches_numpy():
    x = torch.randn(2, 3, 4)
    xn = x.double().numpy()
    e = np.exp(xn - xn.max(axis=1, keepdims=True))
    np.testing.assert_allclose(Softmax(axis=1)(x).numpy(), e / e.sum(axis=1, keepdims=True), rtol=1e-6)
    e = np.exp(xn - xn.max(axis=(1, 2), keepdims=True))
    np.testing.assert_allclose(Softmax(axis=[1, 2])(x).numpy(), e / e.sum(axis=(1, 2), keepdims=True), rtol=1e-5)
    assert Softmax(axis=(1, 2)).get_config()["axis"] == [1, 2]


def test_softmax_mask_gives_masked_positions_zero_probability():
    x = torch.randn(3, 5)
    mask = torch.tensor([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], dtype=torch.bool)
    out = Softmax()(x, mask=mask)
    assert torch.equal(out[0][~mask[0]], torch.zeros(2))  # exp(-1e9) underflows to exactly 0 in float32
    torch.testing.assert_close(out[0][mask[0]], torch.softmax(x[0][mask[0]], dim=-1))
    torch.testing.assert_close(out[1], torch.softmax(x[1], dim=-1))
    torch.testing.assert_close(out[2], torch.full((5,), 0.2))  # every position masked: uniform, as Keras
    # A broadcast attention-style mask: (batch, 1, keys) over (batch, queries, keys).
    scores = torch.randn(2, 3, 4)
    keys = torch.tensor([[[1, 1, 0, 0]], [[1, 1, 1, 0]]])
    out = Softmax()(scores, mask=keys)
    assert torch.equal(out * (1 - keys), torch.zeros_like(out))
    torch.testing.assert_close(out.sum(-1), torch.ones(2, 3))


def test_softmax_mask_in_a_functional_model():
    logits, mask = plait.Input(shape=(4,), name="logits"), plait.Input(shape=(4,), name="mask")
    model = plait.Model([logits, mask], Softmax()(logits, mask=mask))
    x = np.array([[1.0, 2.0, 3.0, 4.0]], "float32")
    m = np.array([[1, 0, 1, 0]], "float32")
    out = model.predict([x, m], verbose=0)
    e = np.exp(np.array([1.0, 3.0]) - 3.0)
    np.testing.assert_allclose(out, [[e[0] / e.sum(), 0.0, e[1] / e.sum(), 0.0]], rtol=1e-6, atol=1e-7)
