"""Thresholds on multi-class models: `ThresholdChoice.class_id`, `predict_classes(x, threshold=...)` with a
choice, a dict or a list, checked against a per-sample re-derivation of the rule and against scikit-learn."""
import dataclasses

import numpy as np
import pytest
from sklearn import metrics as skm

import plait
from plait.evaluation import ThresholdChoice, classification_report, threshold_for
from plait.evaluation.model_api import model_report, predict_classes
from plait.evaluation.thresholds import class_thresholds, predict_with_thresholds


def _rule_by_hand(probs, thresholds):
    """The documented rule, one sample at a time in plain Python (an independent re-derivation)."""
    out = []
    k = probs.shape[1]
    for row in probs:
        firing = [c for c in range(k) if c in thresholds and row[c] > thresholds[c]]
        if firing:
            best = max(row[c] for c in firing)
            out.append(min(c for c in firing if row[c] == best))
            continue
        pool = [c for c in range(k) if c not in thresholds] or list(range(k))
        best = max(row[c] for c in pool)
        out.append(min(c for c in pool if row[c] == best))
    return np.array(out)


def _probs(n, k, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.2 * np.eye(k)[y]
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    p[:5] = 1.0 / k  # exact ties between classes, and probabilities exactly at a threshold below
    return y, p


@pytest.mark.parametrize("thresholds", [{}, {2: 0.3}, {0: 0.5, 3: 0.2}, {1: 0.25, 2: 0.25}, {0: 0.25},
                                        {0: 0.9, 1: 0.9, 2: 0.9, 3: 0.9}, {0: 0.1, 1: 0.1, 2: 0.1, 3: 0.1}])
def test_rule_matches_a_per_sample_rederivation(thresholds):
    _, p = _probs(400, 4, seed=0)
    np.testing.assert_array_equal(predict_with_thresholds(p, thresholds), _rule_by_hand(p, thresholds))


def test_the_rule_on_hand_made_rows():
    p = np.array([[0.5, 0.3, 0.2],    # class 2 (t=0.25) does not fire: arg-max over 0, 1 -> 0
                  [0.4, 0.3, 0.3],    # class 2 fires (0.3 > 0.25) and wins over unthresholded class 0
                  [0.2, 0.55, 0.25],  # 0.25 is not strictly above 0.25: arg-max of the rest -> 1
                  [0.1, 0.1, 0.8]])
    np.testing.assert_array_equal(predict_with_thresholds(p, {2: 0.25}), [0, 2, 1, 2])
    # Every class thresholded and none fires: the overall arg-max.
    np.testing.assert_array_equal(predict_with_thresholds(p, {0: 0.9, 1: 0.9, 2: 0.9}), [0, 0, 1, 2])
    # Two classes fire: the higher probability wins.
    np.testing.assert_array_equal(predict_with_thresholds(p, {0: 0.15, 2: 0.2}), [0, 0, 2, 2])


def _softmax_model(k, from_logits, seed=0):
    plait.set_random_seed(seed)
    activation = None if from_logits else "softmax"
    model = plait.Sequential([plait.Input(shape=(6,)), plait.layers.Dense(k, activation=activation)])
    model.compile(optimizer="adam", loss=plait.losses.SparseCategoricalCrossentropy(from_logits=from_logits))
    return model


@pytest.mark.parametrize("from_logits", [False, True])
def test_threshold_for_a_class_achieves_what_it_reports_through_predict_classes(from_logits):
    k = 5
    model = _softmax_model(k, from_logits)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 6)).astype("float32")
    out = model.predict(x, verbose=0).astype(np.float64)
    # Labels that follow the model loosely, so each class has positives and negatives.
    y = np.where(rng.random(600) < 0.6, out.argmax(1), rng.integers(0, k, 600))
    report = classification_report(y, out, from_logits=from_logits, n_bootstrap=0)
    probs = out
    if from_logits:  # the softmax predict_classes applies; thresholds are midpoints, so ulps do not matter
        e = np.exp(out - out.max(1, keepdims=True))
        probs = e / e.sum(1, keepdims=True)
    for class_id in (0, 2, 4):
        for target in (0.5, 0.9, 0.95):
            choice = report.threshold_for(recall=target, class_id=class_id)
            assert choice.class_id == class_id
            pred = model.predict_classes(x, threshold=choice)
            hit = pred == class_id
            assert skm.recall_score(y == class_id, hit) == pytest.approx(choice.recall, rel=1e-12)
            assert skm.precision_score(y == class_id, hit) == pytest.approx(choice.precision, rel=1e-12)
            assert choice.recall >= target
            np.testing.assert_array_equal(pred, _rule_by_hand(probs, {class_id: choice.threshold}))
        choice = report.threshold_for(precision=0.6, class_id=class_id)
        hit = model.predict_classes(x, threshold=choice) == class_id
        assert skm.precision_score(y == class_id, hit) == pytest.approx(choice.precision, rel=1e-12)
    # Several classes at once: dict of choices, dict of numbers and a list give the rule's answer.
    a, b = report.threshold_for(recall=0.9, class_id=1), report.threshold_for(recall=0.8, class_id=3)
    expected = _rule_by_hand(probs, {1: a.threshold, 3: b.threshold})
    for spec in ({1: a, 3: b}, {1: a.threshold, 3: float(b)}, [a, b], (b, a), {1: a, 3: b.threshold}):
        np.testing.assert_array_equal(model.predict_classes(x, threshold=spec), expected)


def test_binary_models_keep_their_behaviour_and_accept_the_new_forms():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 6)).astype("float32")
    plait.set_random_seed(0)
    sigmoid = plait.Sequential([plait.Input(shape=(6,)), plait.layers.Dense(1, activation="sigmoid")])
    sigmoid.compile(optimizer="adam", loss="binary_crossentropy")
    p = sigmoid.predict(x, verbose=0)[:, 0].astype(np.float64)
    np.testing.assert_array_equal(sigmoid.predict_classes(x), (p > 0.5).astype(int))
    np.testing.assert_array_equal(sigmoid.predict_classes(x, threshold=0.3), (p > 0.3).astype(int))
    np.testing.assert_array_equal(sigmoid.predict_classes(x, threshold={1: 0.3}), (p > 0.3).astype(int))
    np.testing.assert_array_equal(sigmoid.predict_classes(x, threshold={0: 0.6}), np.where(1 - p > 0.6, 0, 1))
    y = (rng.random(300) < p).astype(int)
    choice = classification_report(y, p, n_bootstrap=0).threshold_for(recall=0.9)
    assert choice.class_id is None  # plain binary: the positive class
    np.testing.assert_array_equal(sigmoid.predict_classes(x, threshold=choice), (p > choice.threshold).astype(int))
    two = _softmax_model(2, from_logits=False)
    q = two.predict(x, verbose=0).astype(np.float64)
    np.testing.assert_array_equal(two.predict_classes(x), q.argmax(1))
    np.testing.assert_array_equal(two.predict_classes(x, threshold=0.7), (q[:, 1] > 0.7).astype(int))
    np.testing.assert_array_equal(two.predict_classes(x, threshold={0: 0.7}), np.where(q[:, 0] > 0.7, 0, 1))


def test_threshold_choice_records_its_class():
    y, p = _probs(300, 3, seed=3)
    report = classification_report(y, p, n_bootstrap=0)
    choice = report.threshold_for(recall=0.9, class_id=2)
    assert choice.class_id == 2 and type(choice.class_id) is int
    assert choice.to_dict()["class_id"] == 2 and "class 2" in str(choice)
    with pytest.raises(dataclasses.FrozenInstanceError):
        choice.class_id = 1
    plain = threshold_for(y == 2, p[:, 2], recall=0.9)
    assert plain.class_id is None and "class" not in str(plain)
    assert dataclasses.replace(plain, class_id=2) == choice
    assert ThresholdChoice(0.5, 1.0, 1.0, 1.0, 0.0, 1, 0, 0, 1, "recall >= 1").class_id is None  # old positional form


@pytest.mark.parametrize("threshold, error, match", [
    (0.3, ValueError, r"one number, but this model has 4 classes.*threshold=\{2: 0.3\}"),
    ({7: 0.3}, ValueError, r"class id in 0\.\.3 .*got 7"),
    ({-1: 0.3}, ValueError, r"class id in 0\.\.3"),
    ({"2": 0.3}, TypeError, r"integer class id.*'2'"),
    ({True: 0.3}, TypeError, r"integer class id"),
    ({1: float("nan")}, ValueError, r"finite"),
    ({1: "0.3"}, TypeError, r"number or a ThresholdChoice"),
    ([0.3, 0.4], TypeError, r"threshold\[0\] must be a ThresholdChoice.*dict"),
    ("0.5", TypeError, r"number or a ThresholdChoice"),
])
def test_bad_thresholds_say_what_to_do(threshold, error, match):
    with pytest.raises(error, match=match):
        class_thresholds(threshold, 4)


def test_choices_that_disagree_with_the_model_or_each_other_are_refused():
    y, p = _probs(300, 4, seed=4)
    report = classification_report(y, p, n_bootstrap=0)
    c2, c3 = report.threshold_for(recall=0.9, class_id=2), report.threshold_for(recall=0.9, class_id=3)
    with pytest.raises(ValueError, match=r"chosen for class 2, not class 1.*key 2"):
        class_thresholds({1: c2}, 4)
    with pytest.raises(ValueError, match=r"two choices for class 2"):
        class_thresholds([c2, c2], 4)
    plain = threshold_for(y == 1, p[:, 1], recall=0.9)
    with pytest.raises(ValueError, match=r"without a class_id.*4 classes.*class_id=2"):
        class_thresholds(plain, 4)
    assert class_thresholds({1: plain}, 4) == {1: plain.threshold}  # the key says which class
    assert class_thresholds([c2, c3], 4) == {2: c2.threshold, 3: c3.threshold}
    with pytest.raises(ValueError, match=r"class id in 0\.\.2 \(the model has 3 classes\)"):
        class_thresholds(c3, 3)
    model = _softmax_model(4, from_logits=False)
    with pytest.raises(ValueError, match="4 classes"):
        predict_classes(model, np.zeros((2, 6), "float32"), 0.5)
    x, y4 = np.zeros((4, 6), "float32"), np.array([0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"chosen for class 2.*predict_classes"):
        model_report(model, x, y4, threshold=c2, n_bootstrap=0, diagnostics=False)
    with pytest.raises(TypeError, match="Per-class thresholds belong to predict_classes"):
        model_report(model, x, y4, threshold={2: 0.3}, n_bootstrap=0, diagnostics=False)
