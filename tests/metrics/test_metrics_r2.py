"""R2Score against scikit-learn's r2_score: one and several outputs, every aggregation, weights, 1-D inputs,
adjusted R2, constant targets, per batch and accumulated, reset and merged."""
from __future__ import annotations

import numpy as np
import pytest
from metric_tester import check_metric, make_batches
from sklearn.metrics import r2_score

from plait import metrics

AGGREGATIONS = {"uniform_average": "uniform_average", "variance_weighted_average": "variance_weighted",
                None: "raw_values"}


def regression(width, offset=0.0):
    def make(rng, n):
        shape = (n,) if width == 0 else (n, width)
        y = (offset + rng.normal(size=shape) * np.arange(1, max(width, 1) + 1)).astype(np.float32)
        return y, (y + rng.normal(scale=0.7, size=shape)).astype(np.float32)
    return make


@pytest.mark.parametrize("aggregation", sorted(AGGREGATIONS, key=str))
@pytest.mark.parametrize("width", [0, 1, 3], ids=["rank1", "column", "three"])
def test_r2_matches_sklearn(aggregation, width):
    check_metric(lambda: metrics.R2Score(class_aggregation=aggregation),
                 lambda t, p, w: r2_score(t, p, sample_weight=w, multioutput=AGGREGATIONS[aggregation]),
                 make_batches(regression(width), sizes=(7, 16, 2, 33)))


def test_streaming_sums_keep_precision_with_a_large_mean():
    check_metric(metrics.R2Score, lambda t, p, w: r2_score(t, p, sample_weight=w),
                 make_batches(regression(2, offset=1e4), sizes=(64, 128, 32)))


def test_adjusted_r2():
    def ref(t, p, w, k=3):
        n = len(t)
        r2 = r2_score(t, p, sample_weight=w)
        return 1 - (1 - r2) * (n - 1) / (n - k - 1) if n - k - 1 > 0 else r2

    check_metric(lambda: metrics.R2Score(num_regressors=3), ref, make_batches(regression(1), sizes=(7, 16, 3, 33)))


def test_constant_targets_follow_sklearn_force_finite():
    assert float(metrics.R2Score()([[2.0], [2.0]], [[2.0], [2.0]])) == 1.0
    assert float(metrics.R2Score()([[2.0], [2.0]], [[1.0], [2.5]])) == 0.0
    assert float(metrics.R2Score()([1.0, 4.0, 3.0], [2.0, 4.0, 4.0])) == pytest.approx(0.5714286, rel=1e-6)


def test_validation_config_and_ids():
    with pytest.raises(ValueError):
        metrics.R2Score(class_aggregation="mean")
    with pytest.raises(ValueError):
        metrics.R2Score(num_regressors=-1)
    with pytest.raises(ValueError, match="same shape"):
        metrics.R2Score()(np.zeros((3, 2)), np.zeros((3, 3)))
    m = metrics.R2Score(class_aggregation=None, num_regressors=2, name="r")
    assert metrics.R2Score.from_config(m.get_config()).get_config() == m.get_config()
    assert metrics.get("r2").name == "r2" and isinstance(metrics.get("r2_score"), metrics.R2Score)
    assert metrics.R2Score.higher_is_better is True and metrics.R2Score().name == "r2_score"
