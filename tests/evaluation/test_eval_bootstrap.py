"""BCa and percentile bootstrap intervals against `scipy.stats.bootstrap`, the jackknife behind BCa's
acceleration, the fallback to percentile, and the settings that choose the method."""
import types

import numpy as np
import pytest
import scipy.stats
import torch
from sklearn import metrics as skm

from plait.evaluation import classification_report, regression_report
from plait.evaluation.bootstrap_stats import classification_statistics, regression_statistics
from plait.evaluation.stats import bca_interval, bca_levels, bootstrap, jackknife, jackknife_weights


def _near_perfect(n=60, seed=17):
    """The review's case: a small test set and an almost perfect ROC-AUC (0.993 here)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    p = 1 / (1 + np.exp(-(2.5 * (2 * y - 1) + rng.normal(0, 1.3, n))))
    return y, p


def _rank_auc(y, p):
    """ROC-AUC by the Mann-Whitney rank sum, vectorised over resamples of indices (another way than plait's)."""
    def statistic(i, axis=-1):
        labels, ranks = y[i], scipy.stats.rankdata(p[i], axis=-1)
        pos = labels.sum(-1)
        return ((ranks * labels).sum(-1) - pos * (pos + 1) / 2) / (pos * (labels.shape[-1] - pos))
    return statistic


def _scipy_on_our_resamples(samples, statistic, n, method, confidence=0.95):
    """scipy's interval from plait's own bootstrap distribution (n_resamples=0 + bootstrap_result): scipy
    then computes the bias correction from these resamples and the acceleration from its own exact
    leave-one-out jackknife of `statistic` on the sample indices."""
    previous = types.SimpleNamespace(bootstrap_distribution=samples)
    result = scipy.stats.bootstrap((np.arange(n),), statistic, vectorized=False, n_resamples=0, method=method,
                                   bootstrap_result=previous, confidence_level=confidence)
    return result.confidence_interval


@pytest.mark.parametrize("method", ["BCa", "percentile"])
def test_intervals_equal_scipy_on_the_same_resamples(method):
    # Same resamples and the same statistic, so the intervals agree to rounding: the only differences are
    # float summation orders in the AUC (count-weighted torch kernel vs sklearn on the drawn rows).
    y, p = _near_perfect()
    report = classification_report(y, p, n_bootstrap=2000, seed=3, ci_method=method)
    statistics, _ = classification_statistics(report)
    samples = bootstrap(statistics, y.size, 2000, seed=3)
    assert np.isfinite(samples["roc_auc"]).all()  # no resample without a class: nothing dropped on our side
    expected = _scipy_on_our_resamples(samples["roc_auc"], lambda i: skm.roc_auc_score(y[i], p[i]), y.size, method)
    assert report.intervals["roc_auc"] == pytest.approx((expected.low, expected.high), rel=1e-12)
    assert report.interval_methods["roc_auc"] == method.lower()
    rng = np.random.default_rng(5)
    t = rng.normal(size=150)
    pred = t + rng.standard_exponential(150) - 1.0  # skewed errors: a clearly non-zero acceleration
    reg = regression_report(t, pred, n_bootstrap=1000, seed=4, ci_method=method, confidence=0.9)
    samples = bootstrap(regression_statistics(reg.y_true, reg.y_pred), 150, 1000, seed=4)
    for name, fn in (("mse", lambda i: np.mean((t[i] - pred[i]) ** 2)),
                     ("mae", lambda i: np.mean(abs(t[i] - pred[i])))):
        expected = _scipy_on_our_resamples(samples[name], fn, 150, method, confidence=0.9)
        assert reg.intervals[name] == pytest.approx((expected.low, expected.high), rel=1e-12), name


def test_the_reviews_small_near_perfect_case_gets_a_lower_bound_well_below_the_percentile_one():
    y, p = _near_perfect()
    assert skm.roc_auc_score(y, p) == pytest.approx(0.9933, abs=1e-4)
    bca = classification_report(y, p, n_bootstrap=2000).intervals["roc_auc"]
    percentile = classification_report(y, p, n_bootstrap=2000, ci_method="percentile").intervals["roc_auc"]
    assert bca[0] < percentile[0] - 0.01  # here 0.960 against 0.976 (scipy's own BCa run below: 0.959)
    assert bca[1] == percentile[1] == 1.0
    # scipy's BCa with its own, independent resamples: the lower bound is an extreme quantile (about the
    # 0.3% level); over 12 seeds its spread at 2000 resamples was 0.0035 for scipy and for plait alike, so
    # the difference of two runs has a spread of about 0.005; 0.02 is 4 of them.
    own = scipy.stats.bootstrap((np.arange(y.size),), _rank_auc(y, p), n_resamples=2000, method="BCa",
                                rng=np.random.default_rng(1)).confidence_interval
    assert abs(bca[0] - own.low) < 0.02 and own.low < percentile[0] - 0.01


def test_bca_agrees_with_scipy_on_independent_resamples_within_monte_carlo_error():
    # A smooth, skewed statistic with many resamples: the two endpoints are the 2.5%-ish quantiles of
    # 20000 resamples; their standard error is about 0.02 sigma each (sqrt(p(1-p)/B) / density), so the
    # difference of two independent runs is within 0.04 of the interval's width (~4 sigma) by > 5 SE.
    rng = np.random.default_rng(6)
    t = rng.normal(size=200)
    pred = t + rng.standard_exponential(200) ** 1.5
    ours = regression_report(t, pred, n_bootstrap=20000, seed=7).intervals["mse"]
    theirs = scipy.stats.bootstrap((t, pred), lambda a, b, axis: np.mean((a - b) ** 2, axis=axis), paired=True,
                                   n_resamples=20000, method="BCa", rng=np.random.default_rng(8)).confidence_interval
    width = theirs.high - theirs.low
    assert abs(ours[0] - theirs.low) < 0.04 * width and abs(ours[1] - theirs.high) < 0.04 * width


def test_grouped_jackknife_acceleration_is_close_to_the_exact_one():
    rng = np.random.default_rng(9)
    n = 1600
    y = (rng.random(n) < 0.2).astype(int)
    p = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    statistics, _ = classification_statistics(classification_report(y, p, n_bootstrap=0))

    def accel(values):
        d = values.mean() - values
        return (d ** 3).sum() / (6 * (d ** 2).sum() ** 1.5)

    exact = jackknife(statistics, n, seed=0, groups=n)
    grouped = jackknife(statistics, n, seed=0)  # 200 groups of 8
    assert grouped["roc_auc"].shape == (200,)
    for name in ("accuracy", "roc_auc", "pr_auc", "f1"):
        # The grouped estimate's standard error is about sqrt(15) / (6 * 200) = 0.003; 0.01 is 3 of them.
        assert abs(accel(grouped[name]) - accel(exact[name])) < 0.01, name
    # Leave-one-out rows by hand: the weighted statistic with a zero weight equals sklearn without that row.
    assert exact["roc_auc"][7] == pytest.approx(skm.roc_auc_score(np.delete(y, 7), np.delete(p, 7)), rel=1e-12)


@pytest.mark.parametrize("n, groups", [(10, 200), (1003, 200), (5000, 7)])
def test_jackknife_groups_leave_each_sample_out_once_and_are_balanced(n, groups):
    rows = torch.cat(list(jackknife_weights(n, groups, seed=1, max_cells=50_000)))
    assert rows.shape == (min(n, groups), n)
    left_out = 1 - rows
    assert torch.equal(left_out.sum(0), torch.ones(n, dtype=torch.float64))  # every sample in exactly one group
    sizes = left_out.sum(1)
    assert sizes.max() - sizes.min() <= 1


def test_bca_falls_back_to_percentile_where_it_is_undefined():
    y = np.array([0, 0, 1, 1, 0, 1, 0, 1] * 5)
    perfect = classification_report(y, y * 0.8 + 0.1, n_bootstrap=200)  # every resample: accuracy 1, AUC 1
    assert perfect.interval_methods == dict.fromkeys(perfect.intervals, "percentile")
    assert perfect.intervals["roc_auc"] == (1.0, 1.0) and perfect.intervals["accuracy"] == (1.0, 1.0)
    assert "percentile where BCa is undefined: accuracy" in str(perfect)
    samples = np.linspace(0.0, 1.0, 101)
    jack = np.linspace(0.4, 0.6, 11) ** 2
    assert bca_levels(samples, 2.0, jack) is None  # every resample below the estimate: z0 infinite
    assert bca_levels(samples, 0.5, np.full(11, 0.3)) is None  # constant jackknife
    assert bca_levels(samples, 0.5, np.r_[jack, np.nan]) is None  # undefined somewhere in the jackknife
    assert bca_levels(np.full(50, 0.5), 0.5, jack) is None  # every resample equal
    assert bca_interval(np.r_[samples, np.nan], 0.5, jack) == bca_interval(samples, 0.5, jack)  # NaN resamples left out
    lo, hi = bca_levels(samples, 0.5, np.linspace(0.4, 0.6, 11))  # symmetric: z0 = 0, a = 0 -> percentile levels
    assert (lo, hi) == pytest.approx((0.025, 0.975), rel=1e-12)


def test_method_setting_is_validated_and_shown():
    y, p = _near_perfect()
    with pytest.raises(ValueError, match=r"ci_method must be 'bca' .* or 'percentile', got 'normal'"):
        classification_report(y, p, ci_method="normal")
    with pytest.raises(ValueError, match="ci_method"):
        regression_report([1.0, 2.0], [1.0, 2.5], ci_method=None)
    report = classification_report(y, p, n_bootstrap=100, ci_method="BCa")
    assert report.ci_method == "bca" and set(report.interval_methods.values()) == {"bca"}
    assert "ROC-AUC 0.993 (95% BCa CI" in str(report) and "95% BCa bootstrap intervals (100 resamples)." in str(report)
    assert "95% BCa bootstrap interval</th>" in report.to_html()
    report = regression_report([1.0, 2.0, 3.0, 5.0], [1.1, 1.9, 3.3, 4.0], n_bootstrap=100, ci_method="percentile")
    assert "(95% percentile CI" in str(report) and "95% percentile bootstrap interval</th>" in report.to_html()
    assert "No confidence intervals (n_bootstrap=0)" in str(regression_report([1.0, 2.0], [1.0, 2.5], n_bootstrap=0))


def test_model_report_threads_the_method_and_checks_it_before_predicting():
    import plait
    from plait.evaluation.model_api import model_report

    plait.set_random_seed(0)
    model = plait.Sequential([plait.Input(shape=(3,)), plait.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x = np.random.default_rng(0).normal(size=(80, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    report = model_report(model, x, y, n_bootstrap=50, ci_method="percentile", diagnostics=False)
    assert report.ci_method == "percentile" and set(report.interval_methods.values()) == {"percentile"}
    calls = []
    model.predict = lambda *a, **k: calls.append(1)
    with pytest.raises(ValueError, match="ci_method"):
        model_report(model, x, y, ci_method="bc")
    assert not calls
