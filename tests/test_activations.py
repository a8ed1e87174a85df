"""Activations against float64 NumPy/SciPy formulas, Keras's documented examples, ids and serialization."""
import numpy as np
import pytest
import torch
from scipy import special

from plait import activations
from plait.activations import ACTIVATIONS

RTOL, ATOL = 1e-6, 1e-12
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


@pytest.fixture(scope="module")
def x64() -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 3.0, size=(7, 33))
    x[0, :6] = [-3.0, -1.0, 0.0, 1.0, 3.0, 6.0]  # exact breakpoints of the piecewise functions
    return x


def np_softplus(x):
    return np.logaddexp(0.0, x)


def np_sigmoid(x):
    return special.expit(x)


REFERENCES = {
    "relu": lambda x: np.maximum(x, 0.0),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.2 * x),
    "relu6": lambda x: np.clip(x, 0.0, 6.0),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "celu": lambda x: np.maximum(x, 0) + np.minimum(0, np.expm1(x)),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
    "softplus": np_softplus,
    "softsign": lambda x: x / (np.abs(x) + 1),
    "squareplus": lambda x: (x + np.sqrt(x * x + 4)) / 2,
    "silu": lambda x: x * np_sigmoid(x),
    "swish": lambda x: x * np_sigmoid(x),
    "gelu": lambda x: 0.5 * x * (1 + special.erf(x / np.sqrt(2))),
    "tanh": np.tanh,
    "tanh_shrink": lambda x: x - np.tanh(x),
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "hard_shrink": lambda x: np.where(np.abs(x) > 0.5, x, 0.0),
    "soft_shrink": lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0.0)),
    "sigmoid": np_sigmoid,
    "log_sigmoid": lambda x: -np_softplus(-x),
    "hard_sigmoid": lambda x: np.where(x <= -3, 0.0, np.where(x >= 3, 1.0, x / 6 + 0.5)),
    "hard_silu": lambda x: x * np.where(x <= -3, 0.0, np.where(x >= 3, 1.0, x / 6 + 0.5)),
    "hard_swish": lambda x: x * np.where(x <= -3, 0.0, np.where(x >= 3, 1.0, x / 6 + 0.5)),
    "sparse_sigmoid": lambda x: np.where(x <= -1, 0.0, np.where(x >= 1, 1.0, 0.5 * (x + 1))),
    "sparse_plus": lambda x: np.where(x <= -1, 0.0, np.where(x >= 1, x, 0.25 * (x + 1) ** 2)),
    "exponential": np.exp,
    "mish": lambda x: x * np.tanh(np_softplus(x)),
    "linear": lambda x: x,
    "softmax": lambda x: special.softmax(x, axis=-1),
    "log_softmax": lambda x: special.log_softmax(x, axis=-1),
    "glu": lambda x: x[..., : x.shape[-1] // 2] * np_sigmoid(x[..., x.shape[-1] // 2:]),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_matches_float64_formula(name, x64):
    x = x64[:, :32] if name == "glu" else x64
    got = activations.get(name)(torch.from_numpy(x))
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), REFERENCES[name](x), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "softmax", "gelu", "mish", "hard_sigmoid", "sparsemax"])
def test_float32_in_float32_out(name, x64):
    x = torch.from_numpy(x64).float()
    got = activations.get(name)(x)
    assert got.dtype == torch.float32 and got.shape == x.shape
    np.testing.assert_allclose(got.double().numpy(), activations.get(name)(x.double()).numpy(), rtol=1e-5, atol=1e-6)


def test_every_keras_activation_string_is_registered():
    keras_ids = ("relu, leaky_relu, relu6, softmax, celu, elu, selu, softplus, softsign, squareplus, soft_shrink, "
                 "sparse_plus, silu, swish, gelu, glu, tanh, tanh_shrink, threshold, sigmoid, sparse_sigmoid, "
                 "exponential, hard_sigmoid, hard_silu, hard_swish, hard_tanh, hard_shrink, linear, mish, "
                 "log_softmax, log_sigmoid, sparsemax").split(", ")
    for name in keras_ids:
        assert name in ACTIVATIONS, name


def relu_reference(x, negative_slope, max_value, threshold):
    """Keras's documented piecewise definition (threshold >= 0)."""
    out = np.where(x > threshold, x, negative_slope * (x - threshold))
    if max_value is not None:
        out = np.where(x >= max_value, max_value, out)
    return out


@pytest.mark.parametrize("negative_slope", [0.0, 0.1])
@pytest.mark.parametrize("max_value", [None, 6.0, 2.5])
@pytest.mark.parametrize("threshold", [0.0, 0.7])
def test_relu_options(negative_slope, max_value, threshold, x64):
    got = activations.relu(torch.from_numpy(x64), negative_slope=negative_slope, max_value=max_value,
                           threshold=threshold)
    np.testing.assert_allclose(got.numpy(), relu_reference(x64, negative_slope, max_value, threshold),
                               rtol=RTOL, atol=ATOL)


def test_relu_keras_docstring_examples():
    x = torch.tensor([-10, -5, 0.0, 5, 10])
    assert activations.relu(x).tolist() == [0.0, 0.0, 0.0, 5.0, 10.0]
    assert activations.relu(x, negative_slope=0.5).tolist() == [-5.0, -2.5, 0.0, 5.0, 10.0]
    assert activations.relu(x, max_value=5.0).tolist() == [0.0, 0.0, 0.0, 5.0, 5.0]
    assert activations.relu(x, threshold=5.0).tolist() == [0.0, 0.0, 0.0, 0.0, 10.0]


def test_keyword_options(x64):
    x = torch.from_numpy(x64)
    np.testing.assert_allclose(activations.leaky_relu(x, negative_slope=0.01).numpy(),
                               np.where(x64 >= 0, x64, 0.01 * x64), rtol=RTOL)
    np.testing.assert_allclose(activations.elu(x, alpha=0.5).numpy(), np.where(x64 > 0, x64, 0.5 * np.expm1(x64)),
                               rtol=RTOL)
    np.testing.assert_allclose(activations.celu(x, alpha=2.0).numpy(),
                               np.maximum(x64, 0) + np.minimum(0, 2.0 * np.expm1(x64 / 2.0)), rtol=RTOL, atol=ATOL)
    tanh_gelu = 0.5 * x64 * (1 + np.tanh(np.sqrt(2 / np.pi) * (x64 + 0.044715 * x64 ** 3)))
    np.testing.assert_allclose(activations.gelu(x, approximate=True).numpy(), tanh_gelu, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(activations.squareplus(x, b=1.0).numpy(), (x64 + np.sqrt(x64 ** 2 + 1)) / 2,
                               rtol=RTOL)
    np.testing.assert_allclose(activations.hard_shrink(x, threshold=2.0).numpy(), np.where(np.abs(x64) > 2, x64, 0.0))
    np.testing.assert_allclose(activations.soft_shrink(x, threshold=1.5).numpy(),
                               np.sign(x64) * np.maximum(np.abs(x64) - 1.5, 0.0), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(activations.threshold(x, 0.3, -9.0).numpy(), np.where(x64 > 0.3, x64, -9.0))


def test_gelu_default_is_exact_as_in_keras3(x64):
    x = torch.from_numpy(x64)
    assert not torch.allclose(activations.gelu(x), activations.gelu(x, approximate=True), rtol=0, atol=1e-6)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_family_axis(axis, x64):
    x3 = x64[:6].reshape(2, 3, 33)
    t = torch.from_numpy(x3)
    np.testing.assert_allclose(activations.softmax(t, axis=axis).numpy(), special.softmax(x3, axis=axis), rtol=RTOL)
    np.testing.assert_allclose(activations.log_softmax(t, axis=axis).numpy(), special.log_softmax(x3, axis=axis),
                               rtol=RTOL)


def sparsemax_reference(z):
    """Projection onto the simplex (Martins & Astudillo, Algorithm 1), one vector at a time."""
    zs = np.sort(z)[::-1]
    cums = np.cumsum(zs)
    k = np.arange(1, len(z) + 1)
    k_z = k[1 + k * zs > cums].max()
    tau = (cums[k_z - 1] - 1) / k_z
    return np.maximum(z - tau, 0.0)


@pytest.mark.parametrize("axis", [-1, 0])
def test_sparsemax(axis, x64):
    got = activations.sparsemax(torch.from_numpy(x64), axis=axis).numpy()
    want = np.apply_along_axis(sparsemax_reference, axis, x64)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(got.sum(axis=axis), 1.0, rtol=1e-12)
    assert (got == 0).any()


def test_glu_axis_and_odd_size_error(x64):
    x = x64[:6]  # the gated axis is 0, of size 6
    np.testing.assert_allclose(activations.glu(torch.from_numpy(x), axis=0).numpy(), x[:3] * special.expit(x[3:]),
                               rtol=RTOL)
    with pytest.raises(ValueError, match="even size"):
        activations.glu(torch.zeros(2, 5))


@pytest.mark.parametrize("name", ["relu", "sparsemax", "squareplus", "sparse_plus", "hard_sigmoid", "glu"])
def test_gradients_match_finite_differences(name):
    x = torch.randn(3, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2 + 0.05
    fn = activations.get(name)
    assert torch.autograd.gradcheck(lambda t: fn(t), (x.requires_grad_(),))


def test_relu_with_options_is_differentiable():
    x = torch.tensor([-2.0, 0.5, 3.0], dtype=torch.float64, requires_grad=True)
    activations.relu(x, negative_slope=0.1, max_value=2.0, threshold=0.2).sum().backward()
    assert x.grad.tolist() == [0.1, 1.0, 0.0]


def test_non_tensor_input_is_converted():
    got = activations.relu([-1.0, 2.0])
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
    assert got.cpu().tolist() == [0.0, 2.0]


def test_get_resolves_ids_callables_and_none():
    assert activations.get(None) is activations.linear
    assert activations.get("relu") is activations.relu
    assert activations.get("ReLU") is activations.relu
    assert activations.get("swish") is activations.silu
    assert activations.get("hard_swish") is activations.hard_silu
    custom = lambda x: x * 2  # noqa: E731
    assert activations.get(custom) is custom


def test_get_errors():
    with pytest.raises(ValueError, match="Did you mean 'relu'"):
        activations.get("rleu")
    with pytest.raises(ValueError, match="Could not interpret activation"):
        activations.get(3.0)


@pytest.mark.parametrize("name", ACTIVATIONS.names())
def test_serialize_round_trip(name):
    fn = activations.get(name)
    assert activations.get(activations.serialize(fn)) is fn


def test_serialize_names_and_errors():
    assert activations.serialize(activations.relu) == "relu"
    assert activations.serialize(activations.swish) == "silu"
    assert activations.serialize("Softmax") == "softmax"
    with pytest.raises(ValueError, match="register"):
        activations.serialize(lambda x: x)


def test_deserialize_keras_function_config():
    keras_cfg = {"module": "keras.activations", "class_name": "function", "config": "gelu", "registered_name": "gelu"}
    assert activations.deserialize(keras_cfg) is activations.gelu
    assert activations.get({"class_name": "tanh"}) is activations.tanh
    mine = lambda x: x  # noqa: E731
    assert activations.deserialize("mine", custom_objects={"mine": mine}) is mine
    with pytest.raises(ValueError, match="class_name"):
        activations.deserialize({"config": "relu"})


def test_registering_a_custom_activation_makes_it_serializable(monkeypatch):
    monkeypatch.setattr(ACTIVATIONS, "_items", dict(ACTIVATIONS._items))  # undone after the test

    @ACTIVATIONS.register()
    def plait_test_double(x):
        return 2 * x

    assert activations.get("plait_test_double") is plait_test_double
    assert activations.serialize(plait_test_double) == "plait_test_double"
