"""TP/FP/TN/FN, Precision and Recall against scikit-learn: binary, multi-class, multi-label, per batch and
accumulated, weighted, reset and merged; thresholds lists, top_k, class_id, from_logits, every average."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from metric_tester import check_metric, make_batches
from scipy.special import expit
from sklearn.metrics import confusion_matrix, precision_score, recall_score

from plait import metrics

K = 4  # classes / labels
SCORERS = {"precision": (metrics.Precision, precision_score), "recall": (metrics.Recall, recall_score)}


# --- data ----------------------------------------------------------------------------------------
def binary(shape="flat", logits=False):
    def make(rng, n):
        y = rng.integers(0, 2, size=n).astype(np.float32)
        p = (3 * rng.normal(size=n) if logits else rng.uniform(size=n)).astype(np.float32)
        return (y[:, None], p[:, None]) if shape == "column" else (y, p)
    return make


def multiclass(labels="sparse"):
    def make(rng, n):
        ids = rng.integers(0, K, size=n)
        probs = rng.dirichlet(np.ones(K), size=n).astype(np.float32)
        y = {"sparse": ids, "column": ids[:, None], "onehot": np.eye(K, dtype=np.float32)[ids]}[labels]
        return y, probs
    return make


def multilabel(rng, n):
    y = (rng.uniform(size=(n, K)) < 0.4).astype(np.float32)
    y[0, :2] = 1.0  # some row is not one-hot, so no batch can pass for multi-class data
    return y, rng.uniform(size=(n, K)).astype(np.float32)


def _flat(t, p, w, per_row):
    weight = None if w is None else np.repeat(w, per_row)
    return t.ravel().astype(int), p.ravel(), weight


# --- raw counts ----------------------------------------------------------------------------------
COUNTS = {"tp": (metrics.TruePositives, (1, 1)), "fp": (metrics.FalsePositives, (0, 1)),
          "tn": (metrics.TrueNegatives, (0, 0)), "fn": (metrics.FalseNegatives, (1, 0))}


def _count_ref(cell, thresholds):
    def ref(t, p, w):
        per_row = p.size // len(p)
        t, p, w = _flat(t.reshape(p.shape), p, w, per_row)
        out = [confusion_matrix(t, (p > th).astype(int), labels=[0, 1], sample_weight=w)[cell] for th in thresholds]
        return out[0] if len(out) == 1 else np.array(out)
    return ref


@pytest.mark.parametrize("kind", sorted(COUNTS))
@pytest.mark.parametrize("thresholds", [None, [0.9, 0.2, 0.0, 1.0]])
def test_counts_match_sklearn_confusion_matrix(kind, thresholds):
    cls, cell = COUNTS[kind]
    listed = [0.5] if thresholds is None else (thresholds if isinstance(thresholds, list) else [thresholds])
    check_metric(lambda: cls(thresholds=thresholds), _count_ref(cell, listed), make_batches(binary("column")))


@pytest.mark.parametrize("kind", ["tp", "tn"])
def test_counts_pool_every_cell_of_multilabel_data(kind):
    cls, cell = COUNTS[kind]
    check_metric(lambda: cls(thresholds=[0.25, 0.5]), _count_ref(cell, [0.25, 0.5]), make_batches(multilabel))


def test_counts_on_an_evenly_spaced_grid_use_keras_buckets_and_agree():
    grid = [i / 10 for i in range(11)]  # Keras's optimized path; the strict `>` still holds at 0.5

    def ref(t, p, w):  # float64 NumPy: weight of positives strictly above each threshold
        w = np.ones_like(p) if w is None else w
        return np.array([np.sum(w * (t == 1) * (p > np.float32(th))) for th in grid])

    check_metric(lambda: metrics.TruePositives(thresholds=grid), ref, make_batches(binary("flat")))
    assert metrics.TruePositives(thresholds=[0.0, 0.5, 1.0])([1, 1, 1], [0.5, 1.0, 0.0]).tolist() == [2.0, 1.0, 0.0]


# --- binary precision / recall ---------------------------------------------------------------------
@pytest.mark.parametrize("score", sorted(SCORERS))
@pytest.mark.parametrize("shape", ["flat", "column"])
@pytest.mark.parametrize("thresholds", [0.7, [0.2, 0.5, 0.65]])
def test_binary_precision_recall_match_sklearn(score, shape, thresholds):
    cls, sk = SCORERS[score]
    listed = [0.5] if thresholds is None else (thresholds if isinstance(thresholds, list) else [thresholds])

    def ref(t, p, w):
        out = [sk(t.ravel().astype(int), (p.ravel() > th).astype(int), sample_weight=w, zero_division=0)
               for th in listed]
        return out[0] if len(out) == 1 else np.array(out)

    check_metric(lambda: cls(thresholds=thresholds), ref, make_batches(binary(shape)))


@pytest.mark.parametrize("score", sorted(SCORERS))
def test_from_logits_applies_a_sigmoid_before_the_probability_threshold(score):
    cls, sk = SCORERS[score]
    check_metric(lambda: cls(thresholds=0.8, from_logits=True),
                 lambda t, p, w: sk(t.astype(int), (expit(p) > 0.8).astype(int), sample_weight=w, zero_division=0),
                 make_batches(binary("flat", logits=True)))


# --- multi-class: arg-max, every average -----------------------------------------------------------
@pytest.mark.parametrize("score", sorted(SCORERS))
@pytest.mark.parametrize("labels,average", [(labels, average) for labels in ("sparse", "onehot")
                                            for average in ("auto", None, "micro", "macro", "weighted")]
                         + [("column", "auto"), ("column", "weighted")])
def test_multiclass_precision_recall_match_sklearn(score, labels, average):
    cls, sk = SCORERS[score]
    sk_average = "macro" if average == "auto" else average

    def ref(t, p, w):
        ids = t.argmax(-1) if t.ndim == 2 and t.shape[1] == K else t.ravel()
        return sk(ids.astype(int), p.argmax(-1), labels=list(range(K)), average=sk_average, sample_weight=w,
                  zero_division=0)

    check_metric(lambda: cls(average=average), ref, make_batches(multiclass(labels)))


def test_multiclass_logits_give_the_same_argmax_scores():
    rng = np.random.default_rng(3)
    ids, logits = rng.integers(0, K, 40), rng.normal(size=(40, K)).astype(np.float32)
    plain = metrics.Precision()(ids, logits)
    assert float(metrics.Precision(from_logits=True)(ids, logits)) == pytest.approx(float(plain), rel=1e-7)


# --- multi-label: thresholded cells, every average -------------------------------------------------
@pytest.mark.parametrize("score", sorted(SCORERS))
@pytest.mark.parametrize("average", ["auto", None, "micro", "macro", "weighted"])
def test_multilabel_precision_recall_match_sklearn(score, average):
    cls, sk = SCORERS[score]
    sk_average = "micro" if average == "auto" else average
    check_metric(lambda: cls(average=average),
                 lambda t, p, w: sk(t.astype(int), (p > 0.5).astype(int), average=sk_average, sample_weight=w,
                                    zero_division=0),
                 make_batches(multilabel))


@pytest.mark.parametrize("score", sorted(SCORERS))
def test_explicit_thresholds_on_one_hot_data_threshold_every_cell_like_keras(score):
    cls, sk = SCORERS[score]

    def ref(t, p, w):
        t, p, w = _flat(t, p, w, K)
        return np.array([sk(t, (p > th).astype(int), sample_weight=w, zero_division=0) for th in (0.3, 0.5)])

    check_metric(lambda: cls(thresholds=[0.3, 0.5]), ref, make_batches(multiclass("onehot")))


# --- top_k and class_id (Keras semantics) -----------------------------------------------------------
def _top_k_decisions(p, k, threshold):
    keep = np.zeros_like(p, dtype=bool)
    np.put_along_axis(keep, np.argsort(-p, axis=-1, kind="stable")[:, :k], True, axis=-1)
    return keep & (p > threshold)


@pytest.mark.parametrize("score", sorted(SCORERS))
@pytest.mark.parametrize("top_k,threshold", [(1, None), (2, 0.3)])
def test_top_k_matches_sklearn_on_the_kept_cells(score, top_k, threshold):
    cls, sk = SCORERS[score]

    def ref(t, p, w):
        decisions = _top_k_decisions(p, top_k, -1e10 if threshold is None else threshold)
        t, d, w = _flat(t, decisions.astype(float), w, K)
        return sk(t, d.astype(int), sample_weight=w, zero_division=0)

    check_metric(lambda: cls(thresholds=threshold, top_k=top_k), ref, make_batches(multilabel))


@pytest.mark.parametrize("score", sorted(SCORERS))
@pytest.mark.parametrize("labels", ["sparse", "onehot"])
def test_class_id_scores_one_column(score, labels):
    cls, sk = SCORERS[score]

    def ref(t, p, w):
        ids = t.argmax(-1) if t.ndim == 2 else t
        return sk((ids == 2).astype(int), (p[:, 2] > 0.5).astype(int), sample_weight=w, zero_division=0)

    check_metric(lambda: cls(class_id=2), ref, make_batches(multiclass(labels)))


# --- behaviour, config, errors ---------------------------------------------------------------------
def test_threshold_is_strict_and_division_by_zero_gives_zero():
    assert float(metrics.Precision()([1, 1], [0.5, 0.5])) == 0.0
    assert float(metrics.Recall()([0, 0], [0.9, 0.9])) == 0.0
    assert float(metrics.Precision()([1], [0.50001])) == 1.0


def test_shapes_of_results():
    y, p = np.eye(K)[[0, 1, 2, 3, 0]], np.random.default_rng(0).dirichlet(np.ones(K), 5)
    assert metrics.Precision(average=None)(y, p).shape == (K,)
    assert metrics.Precision(thresholds=[0.1, 0.2])(y, p).shape == (2,)
    assert metrics.Precision(thresholds=[0.1, 0.2], average=None)(y, p).shape == (2, K)
    assert metrics.Recall()(y, p).shape == ()
    assert metrics.TruePositives(thresholds=[0.1, 0.2, 0.3])(y, p).shape == (3,)
    assert metrics.Precision(average=None)([1, 0], [0.7, 0.2]).shape == (1,)


def test_one_hot_detection_switches_to_cells_once_a_row_is_multi_hot():
    m = metrics.Precision(average="micro")
    m.update_state([[1, 0, 0], [0, 1, 0]], [[0.4, 0.3, 0.3], [0.1, 0.45, 0.45]])
    assert float(m.result()) == 1.0  # one-hot rows: both arg-max classes are right (no cell is above 0.5)
    m.update_state([[1, 1, 0]], [[0.9, 0.2, 0.6]])
    # Multi-hot seen: every cell at 0.5 over all batches (Keras's flattened precision): 1 of 2 positives right.
    assert float(m.result()) == 0.5
    assert float(m.labels_one_hot) == 0.0


def test_states_reset_merge_and_width_errors():
    a, b = metrics.Precision(average=None), metrics.Precision(average=None)
    a.update_state([0, 1, 2], np.eye(3)[[0, 1, 1]])
    merged = metrics.Precision(average=None).merge_state([b, a])  # unbuilt copies merge too
    np.testing.assert_allclose(merged.result().numpy(), a.result().numpy())
    with pytest.raises(ValueError, match="columns"):
        a.update_state([0, 1], np.eye(4)[[0, 1]])
    a.reset_state()
    a.update_state([0, 1], np.eye(4)[[0, 1]])
    assert a.result().shape == (4,)


@pytest.mark.parametrize("bad", [{"thresholds": 1.5}, {"thresholds": [0.2, -0.1]}, {"thresholds": []},
                                 {"top_k": 0}, {"class_id": -1}, {"average": "samples"}])
def test_bad_arguments_name_the_fix(bad):
    with pytest.raises(ValueError):
        metrics.Precision(**bad)


def test_input_errors():
    with pytest.raises(ValueError, match="does not match"):
        metrics.Recall()(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="class_id"):
        metrics.Recall(class_id=5)(np.eye(3), np.eye(3))
    with pytest.raises(ValueError, match="sample_weight"):
        metrics.Recall()([0, 1, 1], [0.2, 0.6, 0.7], sample_weight=[1.0, 2.0])


@pytest.mark.parametrize("metric", [
    metrics.TruePositives(thresholds=[0.2, 0.4], from_logits=True), metrics.FalseNegatives(),
    metrics.Precision(thresholds=0.3, top_k=2, class_id=1, average=None, name="p"),
    metrics.Recall(average="weighted", from_logits=True),
])
def test_config_round_trip(metric):
    clone = type(metric).from_config(metric.get_config())
    assert clone.get_config() == metric.get_config()
    config = metrics.serialize(metric)
    assert metrics.deserialize(config).get_config() == metric.get_config()


def test_directions_and_names():
    assert metrics.TruePositives.higher_is_better is None and metrics.FalseNegatives.higher_is_better is None
    assert metrics.Precision.higher_is_better is True and metrics.Recall.higher_is_better is True
    assert metrics.Precision().name == "precision" and metrics.TrueNegatives().name == "true_negatives"
    assert metrics.get("precision").name == "precision" and metrics.get("Recall").name == "Recall"


def test_float64_metric_and_torch_inputs():
    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 2, 30), rng.uniform(size=30)
    m = metrics.Precision(dtype="float64")
    value = m(torch.from_numpy(y), torch.from_numpy(p))
    assert value.dtype == torch.float64
    assert float(value) == pytest.approx(precision_score(y, p > 0.5), rel=1e-12)
