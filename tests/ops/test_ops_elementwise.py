"""Element-wise ops, comparisons and `where` against float64 NumPy, with Keras's dtype rules and gradients."""
import numpy as np
import pytest
import torch
from scipy import special

from plait import ops

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 4))
Y = RNG.normal(size=(3, 4))
POS = RNG.uniform(0.1, 3.0, size=(3, 4))

UNARY = {
    "negative": (np.negative, X), "abs": (np.abs, X), "absolute": (np.abs, X), "sign": (np.sign, X),
    "square": (np.square, X), "sqrt": (np.sqrt, POS), "rsqrt": (lambda v: 1 / np.sqrt(v), POS),
    "reciprocal": (np.reciprocal, POS), "exp": (np.exp, X), "expm1": (np.expm1, X), "log": (np.log, POS),
    "log1p": (np.log1p, POS), "log2": (np.log2, POS), "log10": (np.log10, POS), "sin": (np.sin, X),
    "cos": (np.cos, X), "tan": (np.tan, X), "arctan": (np.arctan, X), "sinh": (np.sinh, X), "cosh": (np.cosh, X),
    "tanh": (np.tanh, X), "erf": (special.erf, X), "floor": (np.floor, 3 * X), "ceil": (np.ceil, 3 * X),
    "round": (np.round, 3 * X), "trunc": (np.trunc, 3 * X),
}
BINARY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
    "true_divide": np.divide, "maximum": np.maximum, "minimum": np.minimum, "floor_divide": np.floor_divide,
    "mod": np.mod,
}
COMPARE = {
    "equal": np.equal, "not_equal": np.not_equal, "greater": np.greater, "greater_equal": np.greater_equal,
    "less": np.less, "less_equal": np.less_equal, "logical_and": np.logical_and, "logical_or": np.logical_or,
    "logical_xor": np.logical_xor,
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_against_numpy(name):
    ref, data = UNARY[name]
    out = getattr(ops, name)(torch.from_numpy(data))
    assert out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), ref(data), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_against_numpy_with_broadcasting(name):
    y = Y[:1] + 2.0  # broadcast along the first axis; away from 0 for the divisions
    out = getattr(ops, name)(torch.from_numpy(X), y)
    np.testing.assert_allclose(out.numpy(), BINARY[name](X, y), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(COMPARE))
def test_comparisons_give_bool_masks(name):
    a, b = np.round(X), np.round(Y)  # some ties
    out = getattr(ops, name)(a, torch.from_numpy(b))
    assert out.dtype == torch.bool
    np.testing.assert_array_equal(out.numpy(), COMPARE[name](a, b))


def test_power_and_scalars_on_either_side():
    np.testing.assert_allclose(ops.power(torch.from_numpy(POS), 1.5).numpy(), POS ** 1.5)
    np.testing.assert_allclose(ops.power(2.0, torch.from_numpy(X)).numpy(), 2.0 ** X)
    np.testing.assert_allclose(ops.subtract(1.0, torch.from_numpy(X)).numpy(), 1.0 - X)
    assert ops.less(1, torch.tensor([0, 2])).tolist() == [False, True]


def test_python_scalars_do_not_widen_a_tensor():
    half = torch.ones(2, dtype=torch.float16)
    assert ops.multiply(half, 2.5).dtype == torch.float16
    assert ops.add(2.5, half).dtype == torch.float16
    assert ops.maximum(half, 0.0).dtype == torch.float16
    assert ops.add(torch.ones(2, dtype=torch.int32), 1).dtype == torch.int32
    assert ops.add(torch.ones(2, dtype=torch.int32), 0.5).dtype == torch.float32


def test_integer_inputs_compute_in_floatx():
    for name in ("exp", "log", "sqrt", "floor", "ceil", "sin", "tanh"):
        assert getattr(ops, name)([1, 2]).dtype == torch.float32, name
    assert ops.divide([1, 2], [2, 2]).tolist() == [0.5, 1.0]
    assert ops.round([1, 2]).dtype == torch.int64
    assert ops.square([True, False]).tolist() == [1, 0]
    assert ops.abs([True]).dtype == torch.bool
    assert ops.subtract([True, False], [False, False]).tolist() == [1, 0]


def test_round_halves_to_even_as_numpy():
    values = np.array([0.5, 1.5, 2.5, -0.5, 1.25])
    np.testing.assert_array_equal(ops.round(values).numpy(), np.round(values))
    np.testing.assert_allclose(ops.round(values, decimals=1).numpy(), np.round(values, 1))


def test_clip():
    np.testing.assert_array_equal(ops.clip(X, -0.5, 0.5).numpy(), np.clip(X, -0.5, 0.5))
    lo, hi = np.full(4, -0.1), np.full(4, 0.2)
    np.testing.assert_array_equal(ops.clip(torch.from_numpy(X), lo, hi).numpy(), np.clip(X, lo, hi))
    assert ops.clip([True, False], 0, 0).tolist() == [0, 0]


def test_nan_inf_tests_and_isclose():
    v = np.array([1.0, np.nan, np.inf, -np.inf])
    np.testing.assert_array_equal(ops.isnan(v).numpy(), np.isnan(v))
    np.testing.assert_array_equal(ops.isinf(v).numpy(), np.isinf(v))
    np.testing.assert_array_equal(ops.isfinite(v).numpy(), np.isfinite(v))
    assert ops.isnan([1, 2]).tolist() == [False, False]
    np.testing.assert_array_equal(ops.isclose(v, v + 1e-9).numpy(), np.isclose(v, v + 1e-9))
    assert ops.logical_not([0, 3]).tolist() == [True, False]


def test_where_three_and_one_argument_forms():
    cond = X > 0
    np.testing.assert_array_equal(ops.where(cond, X, 0.0).numpy(), np.where(cond, X, 0.0))
    np.testing.assert_array_equal(ops.where(cond, 1.0, torch.from_numpy(Y)).numpy(), np.where(cond, 1.0, Y))
    for got, want in zip(ops.where(cond), np.nonzero(cond)):
        np.testing.assert_array_equal(got.numpy(), want)
    with pytest.raises(ValueError, match="both x1 and x2"):
        ops.where(cond, X)


def test_maximum_gradient_is_split_at_ties_as_jax():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    ops.maximum(x, 2.0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.5, 1.0]


@pytest.mark.parametrize("fn", [
    lambda a, b: ops.divide(a, b + 3.0), lambda a, b: ops.power(ops.abs(a) + 0.5, b),
    lambda a, b: ops.maximum(a, b), lambda a, b: ops.clip(a, -0.3, 0.4) * b,
    lambda a, b: ops.where(a > 0, ops.sqrt(ops.abs(a)), ops.exp(b)),
    lambda a, b: ops.rsqrt(a * a + 1.0) + ops.log1p(b * b) + ops.erf(a) * ops.tanh(b),
])
def test_gradients_against_finite_differences(fn):
    a = torch.tensor(X, requires_grad=True)
    b = torch.tensor(Y, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (a, b))
