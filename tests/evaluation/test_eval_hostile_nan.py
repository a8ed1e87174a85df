"""NaN and labels outside the classes in `predict_classes`, `model.report` and the threshold helpers: a clear
`ValueError` naming the rows and the fix, never a confident class 0 read from NaN (the NaN policy of
plait/evaluation/model_api.py)."""
import re

import numpy as np
import pytest

import plait
from plait.evaluation import classification_report, regression_report, threshold_for, threshold_table
from plait.evaluation.data_checks import nonfinite_rows
from plait.evaluation.thresholds import binary_curve, predict_with_thresholds


def _softmax_model(classes=3):
    model = plait.Sequential([plait.Input(shape=(4,)), plait.layers.Dense(classes, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def _x(n=10):
    return np.random.default_rng(0).normal(size=(n, 4)).astype("float32")


def test_nonfinite_rows_matches_a_direct_scan_on_large_and_small_arrays():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 700)).astype("float32")  # over one scan block: the rows are found block by block
    x[[5, 1499, 2999], [0, 350, 699]] = [np.nan, np.inf, -np.inf]
    np.testing.assert_array_equal(nonfinite_rows(x), np.flatnonzero(~np.isfinite(x).all(axis=1)))
    big = np.full((4, 2), 3e38, dtype="float32")  # the sum overflows, yet every value is finite
    assert nonfinite_rows(big).size == 0
    import torch

    assert nonfinite_rows(torch.from_numpy(x)).tolist() == [5, 1499, 2999]
    assert nonfinite_rows(np.arange(6).reshape(3, 2)).size == 0


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_predict_classes_refuses_nonfinite_input_rows(bad):
    model = _softmax_model()
    x = _x()
    x[[2, 7], 1] = bad
    kind = "NaN" if np.isnan(bad) else "inf"
    with pytest.raises(ValueError, match=rf"x holds {kind} values in 2 of 10 rows \(first rows \[2, 7\]\)\. "
                                         r"predict_classes chooses no class from missing values .* np\.nan_to_num"):
        model.predict_classes(x)
    np.testing.assert_array_equal(model.predict_classes(np.nan_to_num(x, posinf=0.0)),
                                  model.predict(np.nan_to_num(x, posinf=0.0), verbose=0).argmax(1))


def _two_input_model():
    """A functional model taking two inputs (so a list of arrays is scanned input by input)."""
    a, b = plait.Input(shape=(2,)), plait.Input(shape=(2,))
    out = plait.layers.Dense(3, activation="softmax")(plait.layers.Concatenate()([a, b]))
    return plait.Model([a, b], out)


def test_predict_classes_refuses_nan_outputs_of_a_model_with_nan_weights():
    model = _softmax_model()
    weights = model.get_weights()
    weights[0][1, 2] = np.nan
    model.set_weights(weights)
    with pytest.raises(ValueError, match=r"The model's output holds NaN values in 10 of 10 rows .* The model itself "
                                         r"is broken: its weights \['dense\w*/kernel'\] hold NaN or inf"):
        model.predict_classes(_x())
    with pytest.raises(ValueError, match=r"its weights .* hold NaN"):
        model.report(_x(), np.zeros(10, dtype="int64"), n_bootstrap=0)


def test_predict_classes_names_a_model_that_computes_nan_from_finite_inputs_and_weights():
    model = _softmax_model()
    weights = model.get_weights()
    weights[0][:] = 3e38  # finite, but the logits overflow to inf and softmax(inf) is NaN
    model.set_weights(weights)
    with pytest.raises(ValueError, match=r"those rows of x are finite, but it computes NaN or inf from them"):
        model.predict_classes(np.abs(_x()) + 1.0)


def test_predict_classes_on_a_stream_says_the_rows_could_not_be_checked_first():
    model = _softmax_model()

    def batches():
        yield np.full((3, 4), np.nan, dtype="float32")

    with pytest.raises(ValueError, match=r"x is a stream, so its rows could not be checked in advance"):
        model.predict_classes(batches())


def test_two_input_model_is_scanned_input_by_input():
    model = _two_input_model()
    a, b = _x()[:, :2], _x()[:, 2:]
    b[4, 0] = np.nan
    with pytest.raises(ValueError, match=r"x\[1\] holds NaN values in 1 of 10 rows \(first rows \[4\]\)"):
        model.predict_classes([a, b])


def test_report_refuses_nan_inputs_targets_and_a_nan_threshold():
    model = _softmax_model()
    x, y = _x(), np.arange(10) % 3
    bad = x.copy()
    bad[:] = np.nan  # all-NaN features
    with pytest.raises(ValueError, match=r"x holds NaN values in 10 of 10 rows .* report scores no prediction"):
        model.report(bad, y, n_bootstrap=0)
    with pytest.raises(ValueError, match=r"y holds NaN values in 1 of 10 rows \(first rows \[3\]\)"):
        model.report(x, np.where(np.arange(10) == 3, np.nan, y), n_bootstrap=0)
    with pytest.raises(ValueError, match=r"threshold must be a finite number"):
        model.report(x, y, threshold=float("nan"), n_bootstrap=0)


@pytest.mark.parametrize("y, match", [
    (np.array([0, 1, 2, 5] * 2 + [0, 1]), r"class id 5 \(rows \[3, 7\]\), outside the model's 3 classes 0\.\.2"),
    (np.array([0, -2] * 5), r"class id -2 .* outside the model's 3 classes"),
    (np.array([0.0, 2.5] * 5), r"fractional labels \(rows \[1, 3, 5, 7, 9\], e\.g\. 2\.5\)"),
    (np.eye(4)[np.arange(10) % 4], r"y has 4 columns \(one-hot rows for 4 classes\), but the model outputs 3"),
    (np.zeros((10, 3)), r"rows that are not one-hot \(rows \[0, 1, 2, 3, 4\]\)"),
], ids=["too-large", "negative", "fractional", "one-hot-width", "empty-one-hot"])
def test_report_refuses_labels_outside_the_models_classes(y, match):
    with pytest.raises(ValueError, match=match):
        _softmax_model().report(_x(), y, n_bootstrap=0)


def test_report_of_binary_and_hinge_models_checks_their_label_sets():
    sigmoid = plait.Sequential([plait.Input(shape=(4,)), plait.layers.Dense(1, activation="sigmoid")])
    sigmoid.compile(optimizer="adam", loss="binary_crossentropy")
    with pytest.raises(ValueError, match=r"y holds the label -1 .* labels are 0 and 1"):
        sigmoid.report(_x(), np.array([0, 1, -1, 1, 0] * 2), n_bootstrap=0)
    hinge = plait.Sequential([plait.Input(shape=(4,)), plait.layers.Dense(1)])
    hinge.compile(optimizer="adam", loss="hinge")
    report = hinge.report(_x(), np.array([-1, 1] * 5), n_bootstrap=0)  # hinge takes -1/1 labels
    assert report.labels == [0, 1]
    with pytest.raises(ValueError, match=r"labels are -1, 0 and 1"):
        hinge.report(_x(), np.array([-1, 2] * 5), n_bootstrap=0)


def test_report_on_good_data_is_unchanged():
    model = _softmax_model()
    x, y = _x(), np.arange(10) % 3
    report = model.report(x, y, n_bootstrap=0)
    assert report.y_pred.tolist() == model.predict(x, verbose=0).argmax(1).tolist()


def test_reports_and_thresholds_refuse_nan_scores():
    y = np.array([0, 1, 1, 0])
    p = np.array([0.2, np.nan, 0.7, 0.1])
    with pytest.raises(ValueError, match=r"y_prob holds NaN values in 1 of 4 rows \(first rows \[1\]\)"):
        classification_report(y, p, n_bootstrap=0)
    with pytest.raises(ValueError, match=r"y_pred holds inf values"):
        regression_report([1.0, 2.0], [1.0, np.inf], n_bootstrap=0)
    with pytest.raises(ValueError, match=r"y_true holds NaN"):
        classification_report([0.0, np.nan], [0.2, 0.9], n_bootstrap=0)
    for call in (lambda: binary_curve(y, p), lambda: threshold_for(y, p, recall=0.5), lambda: threshold_table(y, p)):
        with pytest.raises(ValueError, match=r"scores holds NaN values in 1 of 4 rows .* cannot rank a missing score"):
            call()
    probs = np.array([[0.2, 0.8], [np.nan, np.nan]])
    for thresholds in ({}, {1: 0.5}):
        with pytest.raises(ValueError, match=re.escape("probs holds NaN values in 1 of 2 rows (first rows [1])")):
            predict_with_thresholds(probs, thresholds)
