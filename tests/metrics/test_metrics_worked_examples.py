"""The seed pages' worked examples, reproduced exactly: standalone metrics on arrays built with the pages'
counts, and the same numbers through `compile(metrics=[...])` + `evaluate` on a model whose predictions are
set by hand (a Dense(1) layer with kernel 1 and bias 0 passes the prepared scores through)."""
from __future__ import annotations

import numpy as np
import pytest

import plait
from plait import metrics
from plait.layers import Dense


def page_scores(tp: int, fp: int, fn: int, tn: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities with exactly these counts at the 0.5 threshold."""
    y_true = np.array([1] * (tp + fn) + [0] * (fp + tn), dtype=np.float32)
    y_pred = np.array([0.9] * tp + [0.1] * fn + [0.8] * fp + [0.2] * tn, dtype=np.float32)
    return y_true, y_pred


# Page 002 (spam filter): TP=40, FP=10, FN=5, TN=45 -> precision 0.8, recall 0.8889, accuracy 0.85, F1 0.8421.
SPAM = dict(tp=40, fp=10, fn=5, tn=45)
SPAM_VALUES = {"precision": 0.8, "recall": 40 / 45, "accuracy": 0.85, "f1": 2 * 0.8 * (40 / 45) / (0.8 + 40 / 45)}
# Pages 000/001: TP=80, FP=10, FN=20 (TN=90) -> precision 0.89 (80/90), recall 0.8.
PAGE_000 = dict(tp=80, fp=10, fn=20, tn=90)


def test_page_002_standalone():
    y_true, y_pred = page_scores(**SPAM)
    assert float(metrics.Precision()(y_true, y_pred)) == pytest.approx(0.8, rel=1e-6)
    assert float(metrics.Recall()(y_true, y_pred)) == pytest.approx(0.8889, abs=5e-5)
    assert float(metrics.BinaryAccuracy()(y_true, y_pred)) == pytest.approx(0.85, rel=1e-6)
    assert float(metrics.F1Score(average="micro")(y_true, y_pred)) == pytest.approx(0.8421, abs=5e-5)
    assert float(metrics.F1Score()(y_true, y_pred)[0]) == pytest.approx(SPAM_VALUES["f1"], rel=1e-6)
    counts = [float(cls()(y_true, y_pred)) for cls in (metrics.TruePositives, metrics.FalsePositives,
                                                       metrics.FalseNegatives, metrics.TrueNegatives)]
    assert counts == [40.0, 10.0, 5.0, 45.0]
    np.testing.assert_array_equal(metrics.ConfusionMatrix(2)(y_true, y_pred).numpy(), [[45, 10], [5, 40]])


def test_page_000_standalone():
    y_true, y_pred = page_scores(**PAGE_000)
    assert round(float(metrics.Precision()(y_true, y_pred)), 2) == 0.89
    assert float(metrics.Precision()(y_true, y_pred)) == pytest.approx(80 / 90, rel=1e-6)
    assert float(metrics.Recall()(y_true, y_pred)) == pytest.approx(0.8, rel=1e-6)


def _pass_through_model() -> plait.Sequential:
    model = plait.Sequential([Dense(1, input_shape=(1,))])
    model.layers[0].set_weights([np.ones((1, 1), np.float32), np.zeros(1, np.float32)])
    return model


@pytest.mark.parametrize("page,expected", [
    (SPAM, SPAM_VALUES),
    (PAGE_000, {"precision": 80 / 90, "recall": 0.8, "accuracy": 170 / 200, "f1": 2 * 80 / (2 * 80 + 10 + 20)}),
])
def test_pages_through_compile_and_evaluate(page, expected):
    y_true, y_pred = page_scores(**page)
    model = _pass_through_model()
    model.compile(optimizer="sgd", loss="binary_crossentropy",
                  metrics=["accuracy", "precision", "recall", "f1_score", metrics.F1Score(average="micro", name="f1"),
                           metrics.ConfusionMatrix(2, name="cm")])
    logs = model.evaluate(y_pred[:, None], y_true[:, None], batch_size=16, verbose=0, return_dict=True)
    np.testing.assert_allclose(model.predict(y_pred[:, None], verbose=0).ravel(), y_pred, rtol=1e-6)
    for key in ("precision", "recall", "accuracy", "f1"):
        assert logs[key] == pytest.approx(expected[key], rel=1e-6), key
    assert logs["f1_score"] == pytest.approx(expected["f1"], rel=1e-6)  # a one-class vector becomes a float
    tp, fp, fn, tn = page["tp"], page["fp"], page["fn"], page["tn"]
    np.testing.assert_array_equal(logs["cm"], [[tn, fp], [fn, tp]])


def test_page_002_rounded_as_printed():
    y_true, y_pred = page_scores(**SPAM)
    m = [metrics.Precision(), metrics.Recall(), metrics.BinaryAccuracy(), metrics.F1Score(average="micro")]
    assert [round(float(x(y_true, y_pred)), 4) for x in m] == [0.8, 0.8889, 0.85, 0.8421]
