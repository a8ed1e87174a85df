"""Regression and hinge losses against torch.nn.functional or float64 numpy, every reduction, sample weights."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from plait import config, losses

EPS = 1e-7
DEV = config.get_device()


def _np(x):
    return x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)


def assert_close(actual, expected, rtol=1e-6, atol=1e-7):
    # atol covers float32 rounding where a value near zero is a difference of O(1) terms (cosine, hinge).
    np.testing.assert_allclose(_np(actual), _np(expected), rtol=rtol, atol=atol)


def ref_mse(t, p):
    return F.mse_loss(torch.from_numpy(p), torch.from_numpy(t), reduction="none").mean(-1).numpy()


def ref_mae(t, p):
    return F.l1_loss(torch.from_numpy(p), torch.from_numpy(t), reduction="none").mean(-1).numpy()


def ref_mape(t, p):
    return 100.0 * np.mean(np.abs((t - p) / np.maximum(np.abs(t), EPS)), axis=-1)


def ref_msle(t, p):
    return np.mean((np.log(np.maximum(p, EPS) + 1.0) - np.log(np.maximum(t, EPS) + 1.0)) ** 2, axis=-1)


def ref_huber(t, p, delta=1.0):
    return F.huber_loss(torch.from_numpy(p), torch.from_numpy(t), reduction="none", delta=delta).mean(-1).numpy()


def ref_log_cosh(t, p):
    return np.mean(np.log(np.cosh(p - t)), axis=-1)


def ref_cosine(t, p):
    return -F.cosine_similarity(torch.from_numpy(t), torch.from_numpy(p), dim=-1, eps=0.0).numpy()


def _pm1(t):
    return 2.0 * t - 1.0 if np.all((t == 0) | (t == 1)) else t


def ref_hinge(t, p):
    return np.mean(np.maximum(1.0 - _pm1(t) * p, 0.0), axis=-1)


def ref_squared_hinge(t, p):
    return np.mean(np.maximum(1.0 - _pm1(t) * p, 0.0) ** 2, axis=-1)


def ref_categorical_hinge(t, p):
    return np.maximum(np.max((1.0 - t) * p, axis=-1) - np.sum(t * p, axis=-1) + 1.0, 0.0)


def _data(kind, rng, n=12, d=5):
    if kind == "positive":
        return rng.uniform(0.5, 3.0, (n, d)), rng.uniform(0.5, 3.0, (n, d))
    if kind == "binary":
        return rng.integers(0, 2, (n, d)).astype(np.float64), rng.normal(0, 1.5, (n, d))
    if kind == "onehot":
        return np.eye(d)[rng.integers(0, d, n)], rng.normal(0, 1.5, (n, d))
    return rng.normal(0, 2.0, (n, d)), rng.normal(0, 2.0, (n, d))


CASES = [
    (losses.MeanSquaredError, losses.mean_squared_error, ref_mse, "normal"),
    (losses.MeanAbsoluteError, losses.mean_absolute_error, ref_mae, "normal"),
    (losses.MeanAbsolutePercentageError, losses.mean_absolute_percentage_error, ref_mape, "positive"),
    (losses.MeanSquaredLogarithmicError, losses.mean_squared_logarithmic_error, ref_msle, "positive"),
    (losses.Huber, losses.huber, ref_huber, "normal"),
    (losses.LogCosh, losses.log_cosh, ref_log_cosh, "normal"),
    (losses.CosineSimilarity, losses.cosine_similarity, ref_cosine, "normal"),
    (losses.Hinge, losses.hinge, ref_hinge, "binary"),
    (losses.SquaredHinge, losses.squared_hinge, ref_squared_hinge, "binary"),
    (losses.CategoricalHinge, losses.categorical_hinge, ref_categorical_hinge, "onehot"),
]
IDS = [c[0].__name__ for c in CASES]


def reduce_ref(values, weights, reduction):
    w = np.ones_like(values) if weights is None else np.broadcast_to(weights.reshape(-1), values.shape)
    if reduction in (None, "none"):
        return values * w
    if reduction == "sum":
        return np.sum(values * w)
    if reduction == "mean_with_sample_weight":
        return np.sum(values * w) / np.sum(w)
    return np.sum(values * w) / values.size


@pytest.mark.parametrize("cls, fn, ref, kind", CASES, ids=IDS)
def test_function_twin_per_sample(cls, fn, ref, kind):
    rng = np.random.default_rng(0)
    t, p = _data(kind, rng)
    out = fn(torch.tensor(t, dtype=torch.float32, device=DEV), torch.tensor(p, dtype=torch.float32, device=DEV))
    assert out.shape == (12,)
    assert_close(out, ref(t.astype(np.float32).astype(np.float64), p.astype(np.float32).astype(np.float64)))


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", None, "none"])
@pytest.mark.parametrize("weights", [None, "flat", "column"])
@pytest.mark.parametrize("cls, fn, ref, kind", CASES, ids=IDS)
def test_class_reductions_and_weights(cls, fn, ref, kind, reduction, weights):
    rng = np.random.default_rng(1)
    t, p = _data(kind, rng)
    t, p = t.astype(np.float32), p.astype(np.float32)
    w = None if weights is None else rng.uniform(0.1, 2.0, 12).astype(np.float32)
    sw = None if w is None else (w if weights == "flat" else w[:, None])
    loss = cls(reduction=reduction)
    out = loss(t, torch.tensor(p, device=DEV), sample_weight=sw)
    expected = reduce_ref(ref(t.astype(np.float64), p.astype(np.float64)), w, reduction)
    assert out.shape == np.shape(expected)
    assert_close(out, expected)


def test_huber_delta_and_config():
    rng = np.random.default_rng(2)
    t, p = _data("normal", rng)
    loss = losses.Huber(delta=0.7)
    assert_close(loss(t, p), ref_huber(t.astype(np.float32).astype(np.float64),
                                       p.astype(np.float32).astype(np.float64), 0.7).mean())
    assert loss.name == "huber_loss"
    assert loss.get_config() == {"name": "huber_loss", "reduction": "sum_over_batch_size", "dtype": None,
                                 "delta": 0.7}
    with pytest.raises(ValueError, match="delta must be positive"):
        losses.Huber(delta=0.0)


def test_one_dimensional_inputs_keep_one_loss_per_sample():
    rng = np.random.default_rng(3)
    t, p = rng.normal(size=10).astype(np.float32), rng.normal(size=10).astype(np.float32)
    w = rng.uniform(0.1, 2.0, 10).astype(np.float32)
    per_sample = (t.astype(np.float64) - p) ** 2
    for pred in (p, p[:, None]):
        out = losses.MeanSquaredError(reduction=None)(t, pred)
        assert out.shape == (10,)
        assert_close(out, per_sample)
        assert_close(losses.MeanSquaredError()(t, pred, sample_weight=w), np.mean(per_sample * w))
        assert_close(losses.MeanSquaredError()(t[:, None], pred), per_sample.mean())
    # The function twin reduces the last axis as Keras does: 1-D inputs give one number.
    assert losses.mean_squared_error(t, p).shape == ()
    assert_close(losses.mean_squared_error(t, p), per_sample.mean())


def test_numpy_integer_and_bool_labels_are_cast():
    t = np.array([[1, 0, 1], [0, 0, 1]])
    p = np.array([[0.5, 0.2, 0.9], [0.1, 0.3, 0.7]])
    expected = ((t - p.astype(np.float32)) ** 2).mean()
    assert_close(losses.MeanSquaredError()(t, p), expected)
    assert_close(losses.MeanSquaredError()(t.astype(bool), p), expected)
    out = losses.MeanSquaredError()(torch.tensor(t), torch.tensor(p))
    assert out.dtype == torch.float32


def test_hinge_keeps_minus_one_plus_one_labels():
    rng = np.random.default_rng(4)
    t = rng.choice([-1.0, 1.0], (8, 3))
    p = rng.normal(size=(8, 3))
    assert_close(losses.hinge(t, p), np.mean(np.maximum(1.0 - t * p.astype(np.float32), 0.0), axis=-1))


def test_cosine_similarity_axis_and_zero_vector():
    rng = np.random.default_rng(5)
    t, p = rng.normal(size=(4, 6, 3)), rng.normal(size=(4, 6, 3))
    out = losses.CosineSimilarity(axis=1, reduction=None)(t, p)
    assert out.shape == (4, 3)
    assert_close(out, -F.cosine_similarity(torch.from_numpy(t.astype(np.float32)).double(),
                                           torch.from_numpy(p.astype(np.float32)).double(), dim=1))
    assert float(losses.cosine_similarity([[0.0, 0.0]], [[1.0, 2.0]])) == 0.0
    # Keras floors the squared norm at 1e-12, so short vectors still normalize to unit length.
    assert float(losses.cosine_similarity([[1e-4, 0.0]], [[3.0, 0.0]])) == pytest.approx(-1.0, rel=1e-6)


def test_mixed_precision_and_dtype_option():
    p16 = torch.tensor([[0.5, 1.5]], dtype=torch.float16, device=DEV)
    assert losses.MeanSquaredError()([[0.0, 1.0]], p16).dtype == torch.float32
    out = losses.MeanSquaredError(dtype="float64")([[0.1, 0.2]], [[0.3, 0.7]])
    assert out.dtype == torch.float64
    assert_close(out, (0.2**2 + 0.5**2) / 2, rtol=1e-12)
    with pytest.raises(ValueError, match="dtype"):
        losses.MeanSquaredError(dtype="int32")


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 2\)"):
        losses.MeanSquaredError()(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"\(4,\).*\(4, 3\).*sparse_categorical_crossentropy"):
        losses.mean_absolute_error(np.zeros(4), np.zeros((4, 3)))


def test_gradient_matches_torch():
    rng = np.random.default_rng(6)
    t = torch.tensor(rng.normal(size=(6, 4)), dtype=torch.float32, device=DEV)
    p = torch.tensor(rng.normal(size=(6, 4)), dtype=torch.float32, device=DEV, requires_grad=True)
    losses.Huber(delta=0.5)(t, p).backward()
    p2 = p.detach().double().requires_grad_()
    F.huber_loss(p2, t.double(), delta=0.5).backward()
    assert_close(p.grad, p2.grad)
