"""Rank alignment of y_true and y_pred (Keras's squeeze_or_expand_to_same_rank, expand_rank_1=True).

(N,) labels against a (N, 1) output are expanded to (N, 1), never the output squeezed to (N,): squeezing made
the batch axis the class axis, so `categorical_crossentropy` on a 1-unit output normalised the predictions
across the batch and returned a loss of about 53 (review case 10b). Keras gives ~6e-8 and a warning.
References: torch.nn.functional and float64 NumPy.
"""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import plait
from plait import losses, metrics
from plait.layers import Dense
from plait.tensors import align_ranks

# log of the upper clip 1 - 1e-7 as float32 holds it, the per-sample loss of a label 1 on a 1-unit output.
LOG_HI = float(np.log(np.float64(np.float32(1 - 1e-7))))


def _np(t):
    """A result as NumPy on the host (losses compute on y_pred's device, plait's device for NumPy input)."""
    return t.detach().cpu().numpy()


def _shapes(*tensors):
    return [tuple(t.shape) for t in tensors]


@pytest.mark.parametrize("t_shape, p_shape, expected", [
    ((5,), (5, 1), [(5, 1), (5, 1)]),        # rank-1 partner: expanded (Keras's expand_rank_1)
    ((5, 1), (5,), [(5, 1), (5, 1)]),
    ((2, 5), (2, 5, 1), [(2, 5), (2, 5)]),   # otherwise the trailing unit axis is squeezed
    ((2, 5, 1), (2, 5), [(2, 5), (2, 5)]),
    ((5,), (5,), [(5,), (5,)]),              # equal ranks are left alone
    ((5, 3), (5, 3), [(5, 3), (5, 3)]),
    ((5,), (5, 3), [(5,), (5, 3)]),          # no unit axis to squeeze: left alone (sparse labels)
    ((5,), (5, 1, 1), [(5,), (5, 1, 1)]),    # ranks two apart: left alone
])
def test_align_ranks_follows_keras(t_shape, p_shape, expected):
    assert _shapes(*align_ranks(torch.zeros(t_shape), torch.zeros(p_shape))) == expected


def test_align_ranks_can_squeeze_instead():
    assert _shapes(*align_ranks(torch.zeros(5), torch.zeros(5, 1), expand_rank_1=False)) == [(5,), (5,)]
    assert _shapes(*align_ranks(torch.zeros(5, 1), torch.zeros(5), expand_rank_1=False)) == [(5,), (5,)]


def test_case_10b_function_twin_is_about_zero_per_sample_and_warns():
    t = torch.tensor([0.0, 1.0, 1.0, 0.0])
    p = torch.tensor([[0.3], [0.6], [0.9], [0.2]])
    with pytest.warns(losses.LossShapeWarning, match=r"expected y_pred.shape to be \(batch_size, num_classes\) "
                                                      r"with num_classes > 1.*binary_crossentropy"):
        out = losses.categorical_crossentropy(t, p)
    # float64 reference of Keras's formula on the (N, 1) pair: -sum(y * log(clip(p / sum(p, -1))), -1).
    np.testing.assert_allclose(_np(out), -t.numpy() * LOG_HI, rtol=1e-6)
    assert out.shape == (4,)


@pytest.mark.parametrize("labels_shape", [(8,), (8, 1)])
def test_case_10b_class_matches_keras_number(labels_shape):
    y = np.array([0, 1, 1, 0, 1, 0, 0, 1], "float32").reshape(labels_shape)
    p = np.linspace(0.1, 0.9, 8, dtype="float32").reshape(8, 1)
    w = np.linspace(0.5, 2.0, 8, dtype="float32")
    with pytest.warns(losses.LossShapeWarning):
        value = float(losses.CategoricalCrossentropy()(y, p))
    np.testing.assert_allclose(value, -np.mean(y) * LOG_HI, rtol=1e-6)  # Keras 3.15: 5.96e-08 here
    assert 5e-8 < value < 7e-8
    with pytest.warns(losses.LossShapeWarning):  # per-sample weights now apply (they raised before)
        weighted = float(losses.CategoricalCrossentropy()(y, p, sample_weight=w))
    np.testing.assert_allclose(weighted, -np.sum(w * y.ravel()) * LOG_HI / 8, rtol=1e-6)


def test_case_10b_fit_reports_about_zero_and_warns():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 20)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    plait.set_random_seed(0)
    model = plait.Sequential([plait.Input(shape=(20,)), Dense(16, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, y, epochs=2, batch_size=32, verbose=0, validation_data=(x[:32] + 1, y[:32]))
    assert any(issubclass(w.category, losses.LossShapeWarning) for w in caught)
    expected = -np.mean(y) * LOG_HI  # every batch of 32 holds the same labels as y in the mean over the epoch
    for value in history.history["loss"]:
        assert 0 <= value < 1e-6, history.history  # was ~53: the batch axis taken for the class axis
        np.testing.assert_allclose(value, expected, rtol=1e-5)


def test_one_unit_warning_is_a_user_warning_not_a_syntax_warning():
    assert issubclass(losses.LossShapeWarning, UserWarning)
    assert not issubclass(losses.LossShapeWarning, SyntaxWarning)


@pytest.mark.parametrize("loss, reference", [
    # Non-element-wise losses reduce the last axis: on (N, 1) pairs each sample is its own 1-vector.
    (losses.KLDivergence(reduction=None),
     lambda t, p: t.clip(1e-7, 1) * np.log(t.clip(1e-7, 1) / p.clip(1e-7, 1))),
    (losses.CosineSimilarity(reduction=None),
     lambda t, p: -(t / np.maximum(np.abs(t), 1e-6)) * (p / np.maximum(np.abs(p), 1e-6))),
    (losses.CategoricalHinge(reduction=None),
     lambda t, p: np.maximum((1 - t) * p - t * p + 1, 0)),
])
@pytest.mark.parametrize("ranks", ["t1p2", "t2p1"])
def test_non_elementwise_losses_keep_the_batch_axis(loss, reference, ranks):
    rng = np.random.default_rng(1)
    t = rng.uniform(0.1, 1.0, 6).astype("float32")
    p = rng.uniform(0.1, 1.0, 6).astype("float32")
    yt, yp = (t, p[:, None]) if ranks == "t1p2" else (t[:, None], p)
    out = loss(yt, yp)
    assert out.shape == (6,)  # one value per sample (was one scalar for the whole batch)
    np.testing.assert_allclose(_np(out), reference(t.astype(np.float64), p.astype(np.float64)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn, reference", [
    (losses.mean_squared_error, lambda t, p: F.mse_loss(p, t, reduction="none")),
    (losses.mean_absolute_error, lambda t, p: F.l1_loss(p, t, reduction="none")),
    (losses.huber, lambda t, p: F.huber_loss(p, t, reduction="none", delta=1.0)),
    (losses.binary_crossentropy, lambda t, p: F.binary_cross_entropy(p, t, reduction="none")),
    (losses.poisson, lambda t, p: p - t * torch.log(p + 1e-7)),
])
def test_function_twins_give_one_value_per_sample_for_mixed_ranks(fn, reference):
    rng = np.random.default_rng(2)
    t = torch.from_numpy(rng.integers(0, 2, 7).astype("float64"))
    p = torch.from_numpy(rng.uniform(0.05, 0.95, 7))
    expected = reference(t, p).numpy()
    for yt, yp in ((t, p[:, None]), (t[:, None], p)):
        out = fn(yt.float(), yp.float())
        assert out.shape == (7,)  # as Keras's twins; it was the batch mean, a scalar
        np.testing.assert_allclose(_np(out), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["mse", "mae", "mape", "msle", "huber", "log_cosh", "binary_crossentropy",
                                  "hinge", "squared_hinge", "poisson"])
def test_elementwise_losses_unchanged_for_every_rank_combination(name):
    rng = np.random.default_rng(3)
    t = rng.integers(0, 2, 9).astype("float32")
    p = rng.uniform(0.05, 0.95, 9).astype("float32")
    w = rng.uniform(0.1, 1.0, 9).astype("float32")
    loss = losses.get(name)
    per_sample = losses.get({"class_name": type(loss).__name__, "config": {**loss.get_config(), "reduction": None}})
    reference = _np(per_sample(t[:, None], p[:, None]))
    for yt, yp in ((t, p), (t, p[:, None]), (t[:, None], p)):
        np.testing.assert_array_equal(_np(per_sample(yt, yp)), reference)  # bit-exact: the same (N, 1) kernels
        np.testing.assert_allclose(float(loss(yt, yp, sample_weight=w)), np.mean(reference * w), rtol=1e-6)


def test_metrics_keep_one_value_per_sample():
    t = np.array([0, 1, 1, 0], "float32")
    p = np.array([[0.2], [0.7], [0.4], [0.1]], "float32")
    assert metrics.binary_accuracy(t, p).shape == (4,)
    np.testing.assert_array_equal(_np(metrics.binary_accuracy(t, p)), [1, 1, 0, 1])
    m = metrics.CosineSimilarity()
    m.update_state(t + 1, p, sample_weight=np.ones(4, "float32"))  # (N,) vs (N, 1): each sample a 1-vector
    np.testing.assert_allclose(float(m.result()), 1.0, rtol=1e-6)
