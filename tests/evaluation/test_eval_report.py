"""Report numbers against scikit-learn on the same predictions; bootstrap intervals; thresholds."""
import numpy as np
import pytest
import torch
from sklearn import metrics as skm

import plait
from plait.evaluation import classification_report, regression_report, threshold_for, threshold_table
from plait.evaluation.bootstrap_stats import classification_statistics, regression_statistics


def _binary(n, seed, prevalence=0.3):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(np.int64)
    p = np.clip(0.25 * y + 0.75 * rng.random(n), 0, 1)
    p[rng.choice(n, n // 10)] = 0.5  # ties, and scores exactly at the threshold
    return y, p


def _multiclass(n, k, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, p


def _assert_matches_sklearn(report, y_true, y_pred):
    expected = skm.classification_report(y_true, y_pred, output_dict=True, zero_division=0)
    got = report.to_dict()
    assert set(got) == set(expected)
    for key, value in expected.items():
        if isinstance(value, dict):
            for field, number in value.items():
                assert got[key][field] == pytest.approx(number, rel=1e-9, abs=1e-12), (key, field)
        else:
            assert got[key] == pytest.approx(value, rel=1e-9)
    np.testing.assert_array_equal(report.confusion_matrix, skm.confusion_matrix(y_true, y_pred))


@pytest.mark.parametrize("seed", [0, 1])
def test_binary_report_equals_sklearn(seed):
    y, p = _binary(500, seed)
    report = classification_report(y, p, n_bootstrap=0)
    y_pred = (p > 0.5).astype(int)
    _assert_matches_sklearn(report, y, y_pred)
    assert report.roc_auc == pytest.approx(skm.roc_auc_score(y, p), rel=1e-9)
    assert report.pr_auc == pytest.approx(skm.average_precision_score(y, p), rel=1e-9)
    assert report.baseline == pytest.approx(max(np.mean(y), 1 - np.mean(y)))
    assert report.averages["micro avg"]["f1-score"] == pytest.approx(skm.f1_score(y, y_pred, average="micro"))
    # (n, 1) probabilities, one-hot y_true and a 2-column softmax give the same numbers.
    two_cols = classification_report(np.eye(2)[y], np.c_[1 - p, p], n_bootstrap=0)
    assert two_cols.to_dict() == report.to_dict() and two_cols.roc_auc == report.roc_auc


def test_binary_report_at_another_threshold_and_from_logits():
    y, p = _binary(400, 3)
    logits = np.log(np.clip(p, 1e-6, 1 - 1e-6) / np.clip(1 - p, 1e-6, 1))
    report = classification_report(y, logits, threshold=0.3, from_logits=True, n_bootstrap=0)
    probs = 1 / (1 + np.exp(-logits))
    _assert_matches_sklearn(report, y, (probs > 0.3).astype(int))
    assert report.roc_auc == pytest.approx(skm.roc_auc_score(y, logits), rel=1e-9)


@pytest.mark.parametrize("k", [3, 5])
def test_multiclass_report_equals_sklearn(k):
    y, p = _multiclass(600, k, seed=k)
    report = classification_report(y, p, class_names=[f"c{i}" for i in range(k)], n_bootstrap=0)
    expected = skm.classification_report(y, p.argmax(1), output_dict=True, target_names=[f"c{i}" for i in range(k)])
    for key, value in expected.items():
        if isinstance(value, dict):
            for field in value:
                assert report.to_dict()[key][field] == pytest.approx(value[field], rel=1e-9)
    np.testing.assert_array_equal(report.confusion_matrix, skm.confusion_matrix(y, p.argmax(1)))
    assert report.roc_auc == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr"), rel=1e-9)
    onehot = np.eye(k)[y]
    assert report.pr_auc == pytest.approx(skm.average_precision_score(onehot, p, average="macro"), rel=1e-9)


def test_absent_classes_and_hard_predictions_follow_sklearn_labels():
    rng = np.random.default_rng(4)
    y = rng.choice([0, 2, 5], size=200)
    y_pred = np.where(rng.random(200) < 0.7, y, rng.choice([0, 2, 3], size=200))
    report = classification_report(y, y_pred, n_bootstrap=0)
    _assert_matches_sklearn(report, y, y_pred)
    assert report.roc_auc is None and report.labels == [0, 2, 3, 5]
    with pytest.raises(ValueError, match="hard class predictions"):
        report.threshold_for(recall=0.9)


def test_bootstrap_matches_point_estimates_and_intervals_contain_them_and_shrink():
    y, p = _binary(300, 5)
    report = classification_report(y, p, n_bootstrap=200, seed=1)
    statistics, points = classification_statistics(report)
    at_ones = statistics(torch.ones(1, y.size, dtype=torch.float64))  # the weighted formulas at weight 1
    for name, value in points.items():
        assert float(at_ones[name][0]) == pytest.approx(value, rel=1e-9), name
        lo, hi = report.intervals[name]
        assert lo <= value <= hi and hi > lo
    widths = []
    for n in (100, 800, 4000):
        y, p = _binary(n, 6)
        widths.append(classification_report(y, p, n_bootstrap=100, seed=2).intervals)
    for name in ("accuracy", "macro_f1", "roc_auc", "pr_auc", "recall"):
        w = [iv[name][1] - iv[name][0] for iv in widths]
        assert w[0] > w[1] > w[2], (name, w)
        assert w[2] < 0.5 * w[0]
    y, p = _multiclass(400, 4, seed=7)
    report = classification_report(y, p, n_bootstrap=100)
    for name in ("accuracy", "macro_f1", "roc_auc", "pr_auc"):
        lo, hi = report.intervals[name]
        assert lo <= report.summary()[name] <= hi


def test_bootstrap_intervals_are_reproducible_and_resample_correctly():
    y, p = _binary(200, 8)
    a = classification_report(y, p, n_bootstrap=50, seed=3).intervals
    assert a == classification_report(y, p, n_bootstrap=50, seed=3).intervals
    assert a != classification_report(y, p, n_bootstrap=50, seed=4).intervals
    # One resample by hand: sklearn on the drawn rows equals the count-weighted statistic.
    from plait.evaluation.stats import bootstrap_weights

    weights = next(bootstrap_weights(y.size, 3, seed=5))
    counts = weights[0].numpy().astype(int)
    rows = np.repeat(np.arange(y.size), counts)
    report = classification_report(y, p, n_bootstrap=0)
    statistics, _ = classification_statistics(report)
    got = statistics(weights[:1])
    assert float(got["roc_auc"][0]) == pytest.approx(skm.roc_auc_score(y[rows], p[rows]), rel=1e-9)
    assert float(got["pr_auc"][0]) == pytest.approx(skm.average_precision_score(y[rows], p[rows]), rel=1e-9)
    assert float(got["macro_f1"][0]) == pytest.approx(skm.f1_score(y[rows], p[rows] > 0.5, average="macro"))


def _brute_force(y, p):
    """Precision and recall of the rule p >= s at every distinct score s, by direct counting."""
    chosen = p[None, :] >= np.unique(p)[:, None]
    tp = (chosen & (y[None, :] == 1)).sum(1)
    return tp / chosen.sum(1), tp / (y == 1).sum()


def test_threshold_for_recall_and_precision_against_a_brute_force_search():
    y, p = _binary(400, 9)
    p = p + np.random.default_rng(0).normal(0, 1e-3, p.size)  # mostly distinct scores
    for target in (0.5, 0.8, 0.95, 1.0):
        choice = threshold_for(y, p, recall=target)
        for rule in (p > choice.threshold, p >= choice.threshold):
            assert skm.recall_score(y, rule) == pytest.approx(choice.recall)
            assert skm.precision_score(y, rule) == pytest.approx(choice.precision)
        precision, recall = _brute_force(y, p)
        assert choice.precision == pytest.approx(precision[recall >= target].max())
        assert choice.recall >= target
    for target in (0.5, 0.7):
        choice = threshold_for(y, p, precision=target)
        rule = p > choice.threshold
        assert skm.precision_score(y, rule) == pytest.approx(choice.precision) and choice.precision >= target
        precision, recall = _brute_force(y, p)
        assert choice.recall == pytest.approx(recall[precision >= target].max())
    with pytest.raises(ValueError, match="exactly one target"):
        threshold_for(y, p)
    with pytest.raises(ValueError, match="in \\(0, 1\\]"):
        threshold_for(y, p, recall=1.5)


def test_threshold_table_matches_sklearn_counts():
    y, p = _binary(300, 10)
    rows = threshold_table(y, p)
    assert [r["threshold"] for r in rows] == pytest.approx(np.linspace(0.1, 0.9, 9))
    for row in rows:
        pred = p > row["threshold"]
        tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
        assert (row["true_positives"], row["false_positives"], row["false_negatives"], row["true_negatives"]) == \
            (tp, fp, fn, tn)
        assert row["precision"] == pytest.approx(skm.precision_score(y, pred, zero_division=0))
        assert row["f1"] == pytest.approx(skm.f1_score(y, pred, zero_division=0))


def test_multiclass_thresholds_need_a_class():
    y, p = _multiclass(300, 3, seed=11)
    report = classification_report(y, p, n_bootstrap=0)
    with pytest.raises(ValueError, match="class_id"):
        report.threshold_for(recall=0.9)
    choice = report.threshold_for(recall=0.9, class_id=2)
    assert skm.recall_score(y == 2, p[:, 2] > choice.threshold) == pytest.approx(choice.recall)


def test_regression_report_equals_sklearn():
    rng = np.random.default_rng(12)
    y = rng.normal(size=(300, 2))
    pred = y + rng.normal(scale=0.4, size=y.shape)
    report = regression_report(y, pred, n_bootstrap=100)
    assert report.mse == pytest.approx(skm.mean_squared_error(y, pred), rel=1e-9)
    assert report.mae == pytest.approx(skm.mean_absolute_error(y, pred), rel=1e-9)
    assert report.rmse == pytest.approx(np.sqrt(skm.mean_squared_error(y, pred)), rel=1e-9)
    assert report.r2 == pytest.approx(skm.r2_score(y, pred), rel=1e-9)
    np.testing.assert_allclose(report.residuals, y - pred)
    statistics = regression_statistics(report.y_true, report.y_pred)
    at_ones = statistics(torch.ones(1, 300, dtype=torch.float64))
    for name in ("mse", "rmse", "mae", "r2"):
        assert float(at_ones[name][0]) == pytest.approx(getattr(report, name), rel=1e-9)
        lo, hi = report.intervals[name]
        assert lo <= getattr(report, name) <= hi
    with pytest.raises(ValueError, match="same shape"):
        regression_report(y, pred[:, :1])


def test_model_report_and_predict_classes():
    plait.set_random_seed(0)
    rng = np.random.default_rng(13)
    x = rng.normal(size=(400, 4)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    model = plait.Sequential([plait.layers.Dense(1, input_shape=(4,))])
    model.compile(optimizer=plait.optimizers.Adam(0.05), loss=plait.losses.BinaryCrossentropy(from_logits=True))
    history = model.fit(x[:300], y[:300], validation_data=(x[300:], y[300:]), epochs=5, verbose=0)
    report = model.report(x[300:], y[300:], n_bootstrap=0)
    probs = 1 / (1 + np.exp(-model.predict(x[300:], verbose=0)[:, 0].astype(np.float64)))
    _assert_matches_sklearn(report, y[300:], (probs > 0.5).astype(int))
    assert report.roc_auc == pytest.approx(skm.roc_auc_score(y[300:], probs), rel=1e-6)
    assert report.history is history
    choice = report.threshold_for(recall=0.95)
    classes = model.predict_classes(x[300:], threshold=choice)
    assert skm.recall_score(y[300:], classes) == pytest.approx(choice.recall)
    np.testing.assert_array_equal(model.predict_classes(x[300:]), (probs > 0.5).astype(int))
    regressor = plait.Sequential([plait.layers.Dense(1, input_shape=(4,))])
    regressor.compile(optimizer="sgd", loss="mse")
    target = x @ np.array([1.0, -2.0, 0.5, 0.0], dtype="float32")
    regressor.fit(x, target, epochs=2, verbose=0, diagnostics=False)
    reg = regressor.report(x, target, n_bootstrap=0, diagnostics=False)
    assert reg.mse == pytest.approx(skm.mean_squared_error(target, regressor.predict(x, verbose=0)), rel=1e-5)
    softmax = plait.Sequential([plait.layers.Dense(3, activation="softmax", input_shape=(4,))])
    softmax.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    np.testing.assert_array_equal(softmax.predict_classes(x), softmax.predict(x, verbose=0).argmax(1))
    with pytest.raises(ValueError, match=r"3 classes.*threshold=\{2: 0.3\}"):
        softmax.predict_classes(x, threshold=0.3)


def test_bad_inputs_say_what_to_do():
    with pytest.raises(ValueError, match="non-integer"):
        classification_report([0.5, 1.0], [0.2, 0.3])
    with pytest.raises(ValueError, match="one prediction per sample"):
        classification_report([0, 1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="n_bootstrap"):
        classification_report([0, 1], [0.2, 0.8], n_bootstrap=-1)
    with pytest.raises(TypeError, match="numeric"):
        classification_report(["a", "b"], [0.2, 0.8])
