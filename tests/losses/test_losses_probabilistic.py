"""Crossentropies, KL divergence and Poisson against torch.nn.functional or float64 numpy."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from plait import config, losses
from plait.losses.probabilistic import sparse_crossentropy_and_mask

EPS = 1e-7
HI = float(np.float32(1 - EPS))  # the upper clip as float32 holds it (0.99999988), as in Keras
DEV = config.get_device()
REDUCTIONS = ["sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", None]


def _np(x):
    return x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)


def assert_close(actual, expected, rtol=1e-6, atol=1e-7):
    np.testing.assert_allclose(_np(actual), _np(expected), rtol=rtol, atol=atol)


def f64(x):
    """The float32 value as float64, so references see exactly what the loss saw."""
    return torch.from_numpy(np.asarray(x, dtype=np.float32).astype(np.float64))


def reduce_ref(values, w, reduction, valid=None):
    values = values.numpy() if isinstance(values, torch.Tensor) else values
    w = np.ones_like(values) if w is None else np.broadcast_to(np.asarray(w, np.float64), values.shape)
    v = np.ones_like(values) if valid is None else valid.astype(np.float64)
    if reduction is None:
        return values * w * v
    if reduction == "sum":
        return np.sum(values * w * v)
    if reduction == "mean_with_sample_weight":
        return np.sum(values * w * v) / np.sum(w * v)
    return np.sum(values * w * v) / np.sum(v)


def _probs(rng, shape):
    x = rng.uniform(0.01, 1.0, shape)
    return x / x.sum(-1, keepdims=True)


# --- binary crossentropy ---------------------------------------------------------------------------------

def ref_bce(t, p, from_logits, ls):
    t = t * (1 - ls) + 0.5 * ls
    if from_logits:
        return F.binary_cross_entropy_with_logits(p, t, reduction="none").mean(-1)
    return F.binary_cross_entropy(p.clamp(EPS, HI), t, reduction="none").mean(-1)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("ls", [0.0, 0.2])
def test_binary_crossentropy(reduction, from_logits, ls):
    rng = np.random.default_rng(0)
    t = rng.integers(0, 2, (10, 3))
    p = rng.normal(0, 3, (10, 3)) if from_logits else rng.uniform(0, 1, (10, 3))
    if not from_logits:  # exercises both clips
        p[0, 0], p[1, 1] = 0.0, 1.0
    w = rng.uniform(0.1, 2.0, (10, 1))
    out = losses.BinaryCrossentropy(from_logits, ls, reduction=reduction)(t, p, sample_weight=w)
    expected = reduce_ref(ref_bce(f64(t), f64(p), from_logits, ls), w[:, 0], reduction)
    assert_close(out, expected)
    assert_close(losses.binary_crossentropy(t, p, from_logits=from_logits, label_smoothing=ls),
                 ref_bce(f64(t), f64(p), from_logits, ls))


def test_binary_crossentropy_one_dimensional_and_column_labels():
    rng = np.random.default_rng(1)
    t, p = rng.integers(0, 2, 8), rng.uniform(0.05, 0.95, 8)
    w = rng.uniform(0.1, 2.0, 8)
    per_sample = F.binary_cross_entropy(f64(p), f64(t), reduction="none")
    for yt, yp in ((t, p), (t, p[:, None]), (t[:, None], p), (t[:, None], p[:, None])):
        assert_close(losses.BinaryCrossentropy(reduction=None)(yt, yp), per_sample)
        assert_close(losses.BinaryCrossentropy()(yt, yp, sample_weight=w), np.mean(per_sample.numpy() * w))


def test_binary_crossentropy_written_out_path_matches():
    """Under autocast, or with soft targets that need a gradient, BCE avoids F.binary_cross_entropy."""
    rng = np.random.default_rng(10)
    t = torch.tensor(rng.uniform(size=(6, 2)), dtype=torch.float32, requires_grad=True)
    p = rng.uniform(0, 1, (6, 2))
    p[0, 0] = 1.0
    expected = ref_bce(f64(t.detach()), f64(p), False, 0.1).mean()
    out = losses.BinaryCrossentropy(label_smoothing=0.1)(t, p)
    assert_close(out, expected)
    out.backward()
    assert t.grad is not None and torch.isfinite(t.grad).all()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = losses.BinaryCrossentropy(label_smoothing=0.1)(t.detach(), p)
    assert out.dtype == torch.float32
    assert_close(out, expected)


def test_binary_crossentropy_shape_error():
    with pytest.raises(ValueError, match=r"same shape.*\(4, 2\).*\(4, 3\)"):
        losses.BinaryCrossentropy()(np.zeros((4, 2)), np.full((4, 3), 0.5))
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        losses.BinaryCrossentropy()(np.zeros(4), np.full((4, 3), 0.5))


# --- categorical crossentropy ----------------------------------------------------------------------------

def ref_cce(t, p, from_logits, ls):
    if from_logits:  # torch's soft-label smoothing is Keras's formula: t * (1 - ls) + ls / k
        return F.cross_entropy(p, t, reduction="none", label_smoothing=ls)
    t = t * (1 - ls) + ls / t.shape[-1]
    return -(t * torch.log((p / p.sum(-1, keepdim=True)).clamp(EPS, HI))).sum(-1)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("ls", [0.0, 0.1])
def test_categorical_crossentropy(reduction, from_logits, ls):
    rng = np.random.default_rng(2)
    t = np.eye(4)[rng.integers(0, 4, 9)]
    p = rng.normal(0, 2, (9, 4)) if from_logits else rng.uniform(0.0, 2.0, (9, 4))  # unnormalized on purpose
    w = rng.uniform(0.1, 2.0, 9)
    out = losses.CategoricalCrossentropy(from_logits, ls, reduction=reduction)(t, torch.tensor(p, device=DEV), w)
    assert_close(out, reduce_ref(ref_cce(f64(t), f64(p), from_logits, ls), w, reduction))


def test_categorical_crossentropy_axis_and_soft_labels():
    rng = np.random.default_rng(3)
    t = _probs(rng, (3, 5, 4)).transpose(0, 2, 1)  # classes on axis 1
    p = rng.normal(size=(3, 4, 5))
    out = losses.CategoricalCrossentropy(from_logits=True, axis=1, reduction=None)(t, p)
    assert out.shape == (3, 5)
    assert_close(out, F.cross_entropy(f64(p), f64(t), reduction="none"))


@pytest.mark.parametrize("labels_shape", [(6,), (6, 1)])
def test_categorical_crossentropy_with_integer_labels_says_use_sparse(labels_shape):
    y = np.arange(6).reshape(labels_shape) % 3
    with pytest.raises(ValueError, match="integer class ids") as info:
        losses.CategoricalCrossentropy()(y, np.full((6, 3), 1 / 3))
    assert "sparse_categorical_crossentropy" in str(info.value)
    assert "to_categorical" in str(info.value)
    with pytest.raises(ValueError, match="integer class ids"):
        losses.get("categorical_crossentropy")(torch.tensor(y), torch.zeros(6, 3))


def test_categorical_crossentropy_one_unit_warns():
    with pytest.warns(losses.LossShapeWarning, match="binary_crossentropy"):
        losses.categorical_crossentropy(np.ones((3, 1)), np.full((3, 1), 0.7))


def test_gradients_flow_on_logits_paths():
    rng = np.random.default_rng(4)
    logits = torch.tensor(rng.normal(size=(7, 3)), dtype=torch.float32, device=DEV, requires_grad=True)
    labels = rng.integers(0, 3, 7)
    ref = f64(logits.detach().cpu()).requires_grad_()
    losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits).backward()
    F.cross_entropy(ref, torch.from_numpy(labels)).backward()
    assert_close(logits.grad, ref.grad)

    logits.grad = None
    ref.grad = None
    onehot = np.eye(3)[labels]
    losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(onehot, logits).backward()
    F.cross_entropy(ref, torch.from_numpy(onehot), label_smoothing=0.1).backward()
    assert_close(logits.grad, ref.grad)

    logits.grad = None
    ref.grad = None
    target = rng.integers(0, 2, (7, 3))
    losses.BinaryCrossentropy(from_logits=True)(target, logits).backward()
    F.binary_cross_entropy_with_logits(ref, torch.from_numpy(target).double()).backward()
    assert_close(logits.grad, ref.grad)


# --- sparse categorical crossentropy ---------------------------------------------------------------------

def ref_scce(labels, p, from_logits, ignore=None):
    logp = F.log_softmax(p, -1) if from_logits else torch.log((p / p.sum(-1, keepdim=True)).clamp(EPS, HI))
    idx = torch.from_numpy(np.where(labels == ignore, 0, labels) if ignore is not None else labels)
    out = -logp.gather(-1, idx.unsqueeze(-1)).squeeze(-1)
    return out if ignore is None else torch.where(torch.from_numpy(labels == ignore), 0.0, out)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("labels_shape", [(11,), (11, 1)])
def test_sparse_categorical_crossentropy(reduction, from_logits, labels_shape):
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 5, 11)
    p = rng.normal(0, 2, (11, 5)) if from_logits else _probs(rng, (11, 5))
    w = rng.uniform(0.1, 2.0, 11)
    loss = losses.SparseCategoricalCrossentropy(from_logits, reduction=reduction)
    out = loss(labels.reshape(labels_shape), p, sample_weight=w)
    assert_close(out, reduce_ref(ref_scce(labels, f64(p), from_logits), w, reduction))
    assert_close(losses.sparse_categorical_crossentropy(labels.reshape(labels_shape), p, from_logits=from_logits),
                 F.cross_entropy(f64(p), torch.from_numpy(labels), reduction="none") if from_logits
                 else ref_scce(labels, f64(p), False))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("ignore", [0, -1])
def test_sparse_categorical_crossentropy_ignore_class(reduction, from_logits, ignore):
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 4, (3, 6))
    labels[rng.uniform(size=labels.shape) < 0.3] = ignore
    p = rng.normal(size=(3, 6, 4)) if from_logits else _probs(rng, (3, 6, 4))
    w = rng.uniform(0.1, 2.0, (3, 1))
    loss = losses.SparseCategoricalCrossentropy(from_logits, ignore_class=ignore, reduction=reduction)
    out = loss(labels, p, sample_weight=w)
    valid = labels != ignore
    expected = reduce_ref(ref_scce(labels, f64(p), from_logits, ignore), w, reduction, valid)
    assert_close(out, expected)
    twin = losses.sparse_categorical_crossentropy(labels, p, from_logits=from_logits, ignore_class=ignore)
    assert_close(twin, ref_scce(labels, f64(p), from_logits, ignore))
    assert (_np(twin)[~valid] == 0).all()
    if reduction == "mean" and from_logits:  # torch's ignore_index mean is the same "mean over kept positions"
        assert_close(losses.SparseCategoricalCrossentropy(True, ignore_class=ignore)(labels, p),
                     F.cross_entropy(f64(p).movedim(-1, 1), torch.from_numpy(labels), ignore_index=ignore))


def test_sparse_categorical_crossentropy_class_axis():
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 3, (4, 5))
    p = rng.normal(size=(4, 3, 5))
    out = losses.SparseCategoricalCrossentropy(from_logits=True, axis=1, reduction=None)(labels, p)
    assert_close(out, F.cross_entropy(f64(p), torch.from_numpy(labels), reduction="none"))


@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_categorical_crossentropy_channels_last_images(from_logits):
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 3, (2, 4, 5))
    labels[0, 0, :2] = 255
    p = rng.normal(size=(2, 4, 5, 3)) if from_logits else _probs(rng, (2, 4, 5, 3))
    out = losses.SparseCategoricalCrossentropy(from_logits, ignore_class=255, reduction=None)(labels, p)
    assert out.shape == (2, 4, 5)
    assert_close(out, ref_scce(labels, f64(p), from_logits, 255))


def test_sparse_categorical_crossentropy_label_errors():
    p = np.full((4, 3), 1 / 3)
    with pytest.raises(ValueError, match=r"label value of 3.*\[0, 3\)"):
        losses.SparseCategoricalCrossentropy()(np.array([0, 1, 2, 3]), p)
    with pytest.raises(ValueError, match="label value of -1"):
        losses.sparse_categorical_crossentropy(np.array([0, -1, 2, 1]), p)
    with pytest.raises(ValueError, match="binary_crossentropy"):
        losses.SparseCategoricalCrossentropy()(np.array([0, 1, 1, 0]), np.full((4, 1), 0.5))
    with pytest.raises(ValueError, match="looks one-hot.*categorical_crossentropy"):
        losses.SparseCategoricalCrossentropy()(np.eye(3)[[0, 1, 2, 0]], p)
    # Without validation (the accelerator path after the first call) a bad label poisons only its own value.
    values, _ = sparse_crossentropy_and_mask(np.array([0, 5, 2, 1]), p, validate=False)
    assert np.isnan(_np(values)[1]) and np.isfinite(_np(values)[[0, 2, 3]]).all()


# --- KL divergence, Poisson ------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_kl_divergence(reduction):
    rng = np.random.default_rng(8)
    t, p = _probs(rng, (6, 4)), _probs(rng, (6, 4))
    t[0, 0] = 0.0
    w = rng.uniform(0.1, 2.0, 6)
    ref = F.kl_div(torch.log(f64(p).clamp(EPS, 1)), f64(t).clamp(EPS, 1), reduction="none").sum(-1)
    assert_close(losses.KLDivergence(reduction=reduction)(t, p, w), reduce_ref(ref, w, reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poisson(reduction):
    rng = np.random.default_rng(9)
    t, p = rng.poisson(3.0, (6, 4)), rng.uniform(0.5, 6.0, (6, 4))
    w = rng.uniform(0.1, 2.0, 6)
    ref = F.poisson_nll_loss(f64(p), f64(t), log_input=False, eps=EPS, reduction="none").mean(-1)
    assert_close(losses.Poisson(reduction=reduction)(t, p, w), reduce_ref(ref, w, reduction))
