"""AUC and the operating-point metrics.

The threshold AUC is checked against a float64 NumPy re-implementation of Keras's formulas (counts by
direct comparison `y_pred > t` at float32 thresholds, then the Riemann sums and Davis & Goadrich's PR
interpolation); `exact=True` against scikit-learn's roc_auc_score / average_precision_score; the
*At* metrics against scikit-learn's roc_curve / precision_recall_curve evaluated on Keras's threshold grid.
"""
from __future__ import annotations

import numpy as np
import pytest
from metric_tester import check_metric, make_batches
from scipy.special import expit
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from plait import metrics

EPS = 1e-7
K = 3


# --- data: batches always hold both classes --------------------------------------------------------
def binary(rng, n):
    y = rng.integers(0, 2, size=n)
    y[:2] = [0, 1]
    return y.astype(np.float32), rng.uniform(0.001, 0.999, size=n).astype(np.float32)


def tied(rng, n):
    y, p = binary(rng, n)
    return y, np.round(p * 8) / 8  # many exact ties


def multilabel(rng, n):
    y = (rng.uniform(size=(n, K)) < 0.5).astype(np.float32)
    y[:2] = [[0] * K, [1] * K]
    return y, rng.uniform(size=(n, K)).astype(np.float32)


def positive_weights(batches, seed=5):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.1, 2.0, size=len(b[0])).astype(np.float32) for b in batches]


SIZES = (9, 24, 5, 40)


# --- Keras's formulas in float64 NumPy --------------------------------------------------------------
def keras_thresholds(num_thresholds=200, thresholds=None):
    inner = sorted(thresholds) if thresholds is not None else \
        [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    return np.array([-EPS] + inner + [1 + EPS], dtype=np.float32).astype(np.float64)


def keras_counts(t, p, w, thresholds):
    """TP, FP, TN, FN of shape (T, L) by direct comparison, columns = labels."""
    w = np.ones(len(t)) if w is None else w
    t, p = t.reshape(len(t), -1), p.reshape(len(p), -1)
    w = np.broadcast_to(w[:, None], t.shape)
    above = p[None] > thresholds[:, None, None]
    pos, neg = (t == 1) * w, (t == 0) * w
    tp, fp = (above * pos).sum(1), (above * neg).sum(1)
    return tp, fp, neg.sum(0) - fp, pos.sum(0) - tp


def _div(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, 0.0, a / np.where(b == 0, 1, b))


def keras_auc(t, p, w, curve="ROC", summation="interpolation", thresholds=None, multi_label=False,
              label_weights=None):
    grid = keras_thresholds(thresholds=thresholds)
    if not multi_label:
        if label_weights is not None:
            w = (np.ones(len(t)) if w is None else w)[:, None] * np.asarray(label_weights)[None]
            t, p, w = t.ravel(), p.ravel(), w.ravel()
        else:
            t, p = t.ravel(), p.ravel()
            w = None if w is None else np.repeat(w, t.size // len(w))
    tp, fp, tn, fn = keras_counts(t, p, w, grid)
    if curve == "PR" and summation == "interpolation":
        dtp = tp[:-1] - tp[1:]
        pp = tp + fp
        dp = pp[:-1] - pp[1:]
        slope = _div(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * pp[1:]
        ratio = np.where((pp[:-1] > 0) & (pp[1:] > 0), _div(pp[:-1], np.maximum(pp[1:], 0)), 1.0)
        by_label = _div(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0)).sum(0)
    else:
        recall = _div(tp, tp + fn)
        if curve == "ROC":
            x, y = _div(fp, fp + tn), recall
        elif curve == "PR":
            x, y = recall, _div(tp, tp + fp)
        else:
            scale = _div(tp + fn, tn + fp)
            x = np.maximum(np.where(tp == 0, 0.0, 1 - scale * _div(fn, tp)), 0.0)
            y = np.where(tp == 0, 1.0, 1 - scale * _div(fp, tp))
        heights = {"interpolation": (y[:-1] + y[1:]) / 2, "minoring": np.minimum(y[:-1], y[1:]),
                   "majoring": np.maximum(y[:-1], y[1:])}[summation]
        by_label = ((x[:-1] - x[1:]) * heights).sum(0)
    if multi_label:
        return by_label.mean() if label_weights is None else np.average(by_label, weights=label_weights)
    return by_label.sum()


# --- threshold AUC ----------------------------------------------------------------------------------
@pytest.mark.parametrize("curve", ["ROC", "PR", "PRGAIN"])
@pytest.mark.parametrize("summation", ["interpolation", "minoring", "majoring"])
def test_threshold_auc_matches_keras_formula(curve, summation):
    batches = make_batches(binary, SIZES)
    check_metric(lambda: metrics.AUC(curve=curve, summation_method=summation),
                 lambda t, p, w: keras_auc(t, p, w, curve, summation), batches,
                 sample_weights=positive_weights(batches))


@pytest.mark.parametrize("thresholds", [[0.25, 0.5, 0.75], [0.1, 0.35, 0.9, 0.5]])
@pytest.mark.parametrize("curve", ["ROC", "PR"])
def test_explicit_thresholds_even_and_uneven(thresholds, curve):
    batches = make_batches(binary, SIZES)
    check_metric(lambda: metrics.AUC(curve=curve, thresholds=thresholds),
                 lambda t, p, w: keras_auc(t, p, w, curve, thresholds=thresholds), batches,
                 sample_weights=positive_weights(batches))


@pytest.mark.parametrize("label_weights", [None, [0.2, 1.0, 3.0]])
@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("curve", ["ROC", "PR"])
def test_multi_label_and_label_weights(label_weights, multi_label, curve):
    batches = make_batches(multilabel, SIZES)
    check_metric(lambda: metrics.AUC(curve=curve, multi_label=multi_label, label_weights=label_weights),
                 lambda t, p, w: keras_auc(t, p, w, curve, multi_label=multi_label, label_weights=label_weights),
                 batches, sample_weights=positive_weights(batches))


def test_from_logits_and_num_labels():
    def make(rng, n):
        y, _ = multilabel(rng, n)
        return y, (3 * rng.normal(size=y.shape)).astype(np.float32)

    batches = make_batches(make, SIZES)
    check_metric(lambda: metrics.AUC(from_logits=True, multi_label=True, num_labels=K),
                 lambda t, p, w: keras_auc(t, expit(p), w, multi_label=True), batches,
                 sample_weights=positive_weights(batches))


def test_200_thresholds_approximate_the_exact_area():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, size=5000)
    p = expit(rng.normal(size=5000) + 1.2 * y).astype(np.float32)
    assert float(metrics.AUC()(y, p)) == pytest.approx(roc_auc_score(y, p), abs=2e-3)
    assert float(metrics.AUC(curve="PR")(y, p)) == pytest.approx(average_precision_score(y, p), abs=1e-2)


def test_keras_docstring_example_and_thresholds_property():
    m = metrics.AUC(num_thresholds=3)
    assert float(m([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])) == pytest.approx(0.75)
    np.testing.assert_allclose(m.thresholds, [-EPS, 0.5, 1 + EPS])
    assert metrics.AUC(thresholds=[0.3, 0.1]).num_thresholds == 4


# --- exact AUC ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("maker", [binary, tied], ids=["distinct", "ties"])
@pytest.mark.parametrize("curve", ["ROC", "PR"])
def test_exact_auc_matches_sklearn(maker, curve):
    sk = roc_auc_score if curve == "ROC" else average_precision_score
    batches = make_batches(maker, SIZES)
    check_metric(lambda: metrics.AUC(curve=curve, exact=True),
                 lambda t, p, w: sk(t.ravel(), p.ravel(), sample_weight=w), batches,
                 sample_weights=positive_weights(batches))


@pytest.mark.parametrize("curve", ["ROC", "PR"])
def test_exact_multi_label_is_the_macro_average(curve):
    sk = roc_auc_score if curve == "ROC" else average_precision_score
    batches = make_batches(multilabel, SIZES)
    check_metric(lambda: metrics.AUC(curve=curve, exact=True, multi_label=True),
                 lambda t, p, w: sk(t, p, sample_weight=w, average="macro"), batches,
                 sample_weights=positive_weights(batches))


def test_exact_one_vs_rest_from_integer_labels():
    def make(rng, n):
        ids = np.arange(n) % K
        rng.shuffle(ids)
        return ids, rng.dirichlet(np.ones(K), size=n).astype(np.float32)

    batches = make_batches(make, SIZES)
    check_metric(lambda: metrics.AUC(exact=True, multi_label=True),
                 lambda t, p, w: roc_auc_score(t.astype(int), p, multi_class="ovr", average="macro", sample_weight=w,
                                               labels=list(range(K))),
                 batches, sample_weights=positive_weights(batches))


def test_exact_auc_without_both_classes_is_zero_and_prgain_is_refused():
    assert float(metrics.AUC(exact=True)([1, 1], [0.2, 0.7])) == 0.0
    assert float(metrics.AUC(exact=True).result()) == 0.0
    with pytest.raises(ValueError, match="PRGAIN"):
        metrics.AUC(curve="PRGAIN", exact=True)


def test_auc_validation_and_config():
    for bad in ({"curve": "XY"}, {"summation_method": "middle"}, {"num_thresholds": 1},
                {"num_labels": 3}, {"thresholds": [1.2]}):
        with pytest.raises(ValueError):
            metrics.AUC(**bad)
    with pytest.raises(ValueError, match="label_weights"):
        metrics.AUC(label_weights=[1.0, 2.0])(np.ones((3, 3)), np.ones((3, 3)))
    m = metrics.AUC(num_thresholds=50, curve="pr", summation_method="Majoring", multi_label=True, num_labels=2,
                    label_weights=[1.0, 2.0], from_logits=True, exact=False, name="a")
    clone = metrics.AUC.from_config(m.get_config())
    assert clone.get_config() == m.get_config() and clone.curve == "PR"
    with_thresholds = metrics.AUC(thresholds=[0.2, 0.6])
    assert metrics.AUC.from_config(with_thresholds.get_config()).thresholds == with_thresholds.thresholds
    prc = metrics.get("prc")
    assert prc.curve == "PR" and prc.name == "prc" and metrics.get("auc").curve == "ROC"
    assert metrics.AUC.higher_is_better is True


# --- operating-point metrics --------------------------------------------------------------------------
def grid_buckets(p, num_thresholds):
    grid = np.float32([0.0] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] + [1.0])
    return (p.ravel()[:, None] > grid[None, :]).sum(1)  # thresholds below each prediction


def at_roc(target, dependent, value, num_thresholds):
    def ref(t, p, w):
        fpr, tpr, _ = roc_curve(t.ravel(), grid_buckets(p, num_thresholds), sample_weight=w, drop_intermediate=False)
        rates = {"sensitivity": tpr, "specificity": 1 - fpr}
        ok = rates[target] >= value
        return rates[dependent][ok].max(initial=0.0)
    return ref


def at_pr(target, dependent, value, num_thresholds):
    def ref(t, p, w):
        precision, recall, _ = precision_recall_curve(t.ravel(), grid_buckets(p, num_thresholds), sample_weight=w,
                                                      drop_intermediate=False)
        precision = np.where(recall == 0, 0.0, precision)  # Keras's divide_no_nan: nothing predicted -> 0
        rates = {"precision": precision, "recall": recall}
        ok = rates[target] >= value
        return rates[dependent][ok].max(initial=0.0)
    return ref


CASES = {
    "sens@spec": (metrics.SensitivityAtSpecificity, at_roc, "specificity", "sensitivity"),
    "spec@sens": (metrics.SpecificityAtSensitivity, at_roc, "sensitivity", "specificity"),
    "prec@rec": (metrics.PrecisionAtRecall, at_pr, "recall", "precision"),
    "rec@prec": (metrics.RecallAtPrecision, at_pr, "precision", "recall"),
}


@pytest.mark.parametrize("value,num_thresholds", [(0.3, 200), (0.8, 7)])
@pytest.mark.parametrize("case", sorted(CASES))
def test_operating_point_metrics_match_sklearn_curves_on_the_grid(case, value, num_thresholds):
    cls, reference, target, dependent = CASES[case]
    batches = make_batches(binary, SIZES)
    check_metric(lambda: cls(value, num_thresholds=num_thresholds),
                 reference(target, dependent, value, num_thresholds), batches,
                 sample_weights=positive_weights(batches))


@pytest.mark.parametrize("labels", ["sparse", "onehot"])
def test_operating_point_class_id(labels):
    def make(rng, n):
        ids = np.arange(n) % K
        rng.shuffle(ids)
        probs = rng.dirichlet(np.ones(K), size=n).astype(np.float32)
        return (ids if labels == "sparse" else np.eye(K, dtype=np.float32)[ids]), probs

    reference = at_roc("specificity", "sensitivity", 0.6, 50)
    check_metric(lambda: metrics.SensitivityAtSpecificity(0.6, num_thresholds=50, class_id=1),
                 lambda t, p, w: reference((t.argmax(-1) if t.ndim == 2 else t) == 1, p[:, 1], w),
                 make_batches(make, SIZES))


def test_operating_point_details():
    m = metrics.RecallAtPrecision(0.99, num_thresholds=1)
    assert m.thresholds == [0.5] and float(m([0, 1], [0.9, 0.8])) == 0.0  # precision never reaches 0.99
    m = metrics.PrecisionAtRecall(0.5, num_thresholds=30, class_id=2, name="par", from_logits=True)
    clone = metrics.PrecisionAtRecall.from_config(m.get_config())
    assert clone.get_config() == m.get_config() and clone.recall == 0.5
    for cls in (metrics.SensitivityAtSpecificity, metrics.PrecisionAtRecall):
        with pytest.raises(ValueError):
            cls(1.5)
        with pytest.raises(ValueError):
            cls(0.5, num_thresholds=0)
        assert cls.higher_is_better is True
    assert metrics.SpecificityAtSensitivity(0.5).name == "specificity_at_sensitivity"
