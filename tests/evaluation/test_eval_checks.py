"""The diagnostics' building blocks: statistics (vs scipy), row fingerprints, and each check's rule."""
import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.utils.class_weight import compute_class_weight

import plait
from plait.evaluation import data_checks
from plait.evaluation.diagnostics import check_accuracy_paradox, check_overfitting
from plait.evaluation.fingerprint import Fingerprint, row_hashes
from plait.evaluation.labels import Task, target_labels, task_from_loss
from plait.evaluation.stats import hypergeom_two_sided, wilson_interval


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (50, 100), (98, 100), (100, 100), (7, 1000)])
def test_wilson_interval_matches_scipy(k, n):
    expected = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
    assert wilson_interval(k, n) == pytest.approx((expected.low, expected.high), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("x,population,successes,draws", [(0, 500, 250, 100), (50, 500, 250, 100),
                                                          (3, 60, 10, 20), (10, 60, 10, 20), (7, 1000, 30, 200)])
def test_hypergeometric_p_value_matches_fishers_exact_test(x, population, successes, draws):
    table = [[x, successes - x], [draws - x, population - successes - draws + x]]
    expected = stats.fisher_exact(table, alternative="two-sided").pvalue
    assert hypergeom_two_sided(x, population, successes, draws) == pytest.approx(expected, rel=1e-6)


def test_row_hashes_are_equal_for_equal_rows_only():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(5000, 17)).astype("float32"))
    h = row_hashes(x)
    assert torch.unique(h).numel() == 5000
    perm = torch.randperm(5000)
    assert torch.equal(row_hashes(x[perm]), h[perm])  # a row's hash does not depend on its position
    y = x.clone()
    y[:, 3] = torch.nextafter(y[:, 3], torch.tensor(10.0))  # one bit in one feature
    assert not (row_hashes(y) == h).any()
    zeros = torch.zeros(2, 3)
    zeros[1, 1] = -0.0
    assert row_hashes(zeros)[0] == row_hashes(zeros)[1]
    for dtype in (torch.float64, torch.int64, torch.int32, torch.bool):
        t = (x * 1000).to(dtype)
        t = torch.cat([t, t[:10]])
        hashes = row_hashes(t)
        assert torch.equal(hashes[-10:], hashes[:10])
        assert torch.unique(hashes).numel() == torch.unique(t, dim=0).shape[0]
    nested = {"a": x[:100], "b": x[:100, :2].long()}
    swapped = {"a": x[:100], "b": x[:100, 2:4].long()}
    assert not (row_hashes(nested) == row_hashes(swapped)).all()


def test_fingerprint_membership_and_duplicate_rate():
    rng = np.random.default_rng(1)
    train = torch.from_numpy(rng.normal(size=(1000, 5)).astype("float32"))
    fp = Fingerprint.of(train)
    assert fp.duplicate_rate == 0.0 and fp.num_samples == 1000
    other = torch.from_numpy(rng.normal(size=(200, 5)).astype("float32"))
    other[[3, 50, 199]] = train[[10, 20, 30]]
    assert torch.nonzero(fp.contains(other)).flatten().tolist() == [3, 50, 199]
    repeated = Fingerprint.of(torch.cat([train, train[:100]]))
    assert repeated.duplicate_rate == pytest.approx(200 / 1100)
    finding = data_checks.check_leakage(fp, other)[0]
    assert finding.figures["count"] == 3 and finding.figures["fraction"] == pytest.approx(3 / 200)


def test_perfect_feature_rule():
    rng = np.random.default_rng(2)
    n = 400
    y = torch.from_numpy(rng.integers(0, 3, n))
    x = torch.from_numpy(rng.normal(size=(n, 6)).astype("float32"))
    assert data_checks.check_perfect_feature(x, y) == []
    codes = torch.tensor([7.0, -1.0, 4.0])[y]  # a label encoding, not even monotone
    refunds = torch.where(y == 2, torch.rand(n) + 1.0, torch.zeros(n))  # 0 for every negative of "y == 2"
    leaky = torch.cat([x, codes[:, None]], dim=1)
    found = data_checks.check_perfect_feature(leaky, y)
    assert found[0].figures["features"] == [6] and found[0].figures["distinct_values"] == [3]
    binary = (y == 2).long()
    found = data_checks.check_perfect_feature(torch.cat([x, refunds[:, None]], dim=1), binary)
    assert found[0].figures["features"] == [6]
    # Continuous and separable but spread within every class: an easy feature, not a leak.
    separable = torch.where(binary == 1, torch.rand(n) + 2.0, torch.rand(n))
    assert data_checks.check_perfect_feature(torch.cat([x, separable[:, None]], dim=1), binary) == []
    # Large inputs screen a row sample first and still find the planted column.
    wide = torch.randn(5000, 1000)
    labels = torch.from_numpy(rng.integers(0, 2, 5000))
    wide[:, 123] = labels.float()
    # A copy of the labels with one row wrong passes the row-sample screen but fails on all rows.
    wide[:, 456] = labels.float()
    wide[4321, 456] = 1.0 - wide[4321, 456]
    assert data_checks.check_perfect_feature(wide, labels)[0].figures["features"] == [123]


def test_class_imbalance_rule_and_weights():
    balanced = torch.arange(1000) % 10  # ten classes at 10% each: not imbalanced
    assert data_checks.check_class_imbalance(balanced) == []
    labels = np.r_[np.zeros(600), np.ones(350), np.full(50, 2)].astype(np.int64)
    found = data_checks.check_class_imbalance(torch.from_numpy(labels))
    assert found[0].figures["classes"] == [2]
    expected = compute_class_weight("balanced", classes=np.arange(3), y=labels)
    assert list(found[0].figures["suggested_class_weight"].values()) == pytest.approx(expected, rel=1e-3)


def test_sorted_split_rule_has_no_false_alarms_on_random_orders():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, 400)
    labels[:6] = 4  # a rare class
    for _ in range(50):
        shuffled = torch.from_numpy(rng.permutation(labels))
        assert data_checks.check_sorted_split(shuffled, 320, 0.2) == []
    ordered = np.sort(labels)
    found = data_checks.check_sorted_split(torch.from_numpy(ordered), 320, 0.2)
    assert found[0].figures["only_in_training"] == sorted(set(ordered[:320]) - set(ordered[320:]))
    assert found[0].figures["only_in_validation"] == sorted(set(ordered[320:]) - set(ordered[:320])) == [4]


def test_accuracy_paradox_rules():
    assert check_accuracy_paradox(np.array([[50, 50], [50, 50]])) == []  # chance on balanced data: not the paradox
    assert check_accuracy_paradox(np.array([[950, 10], [20, 20]])) == []  # minority recall 0.5
    found = check_accuracy_paradox(np.array([[980, 0], [20, 0]]), ["ok", "fraud"])
    assert found[0].figures["class_name"] == "fraud" and found[0].figures["recall"] == 0.0
    assert "class fraud has recall 0.00" in found[0].message
    high = np.array([[300, 5, 5], [5, 300, 5], [10, 12, 8]])  # accuracy 0.92, class 2 recall 0.27
    assert check_accuracy_paradox(high)[0].figures["class"] == 2
    assert check_accuracy_paradox(np.array([[95, 0], [2, 0]])) == []  # 2 samples: too few to judge


def test_overfitting_rules():
    epochs = list(range(12))
    falling = list(np.linspace(1.0, 0.1, 12))
    plateau = [1.0, 0.6, 0.5, 0.45, 0.44, 0.45, 0.44, 0.46, 0.45, 0.44, 0.45, 0.46]
    assert check_overfitting(epochs, falling, plateau) == []  # noise around a plateau
    rising = [1.0, 0.6, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3]
    found = check_overfitting(epochs, falling, rising, total_epochs=12)
    assert found[0].figures["best_epoch"] == 2 and found[0].figures["epochs_since_best"] == 9
    assert check_overfitting(epochs[:5], falling[:5], rising[:5]) == []  # best only 2 rounds back
    # Training loss flat but validation far above it and rising: the gap form.
    flat = [0.1] * 12
    assert check_overfitting(epochs, flat, rising)[0].figures["gap_ratio"] == pytest.approx(13.0)
    assert check_overfitting(epochs, [1.0] * 12, rising) == []  # rising, but no divergence and no gap
    # validation_freq=2: the best epoch is reported by its epoch index, not its position.
    found = check_overfitting([1, 3, 5, 7, 9, 11], falling[:6], [0.5, 0.4, 0.5, 0.6, 0.7, 0.8])
    assert found[0].figures["best_epoch"] == 3


def test_task_from_loss_and_target_labels():
    assert task_from_loss("binary_crossentropy") == Task("binary", False)
    assert task_from_loss(plait.losses.BinaryCrossentropy(from_logits=True)) == Task("binary", True)
    assert task_from_loss("sparse_categorical_crossentropy").kind == "sparse"
    assert task_from_loss(plait.losses.CategoricalCrossentropy()).kind == "categorical"
    assert task_from_loss("hinge") == Task("binary", True, signed_labels=True)
    assert task_from_loss("mse") is None and task_from_loss(["mse", "mae"]) is None
    assert task_from_loss("crossentropy").kind == "auto"
    y = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert target_labels(y, Task("categorical")).tolist() == [1, 0]
    assert target_labels(torch.tensor([0.0, 1.0, 1.0]), Task("binary")).tolist() == [0, 1, 1]
    assert target_labels(torch.tensor([[0.0, 1.0], [1.0, 1.0]]), Task("binary")) is None  # multi-label
    assert target_labels(torch.tensor([0.5, 1.5]), Task("auto")) is None  # regression-like values
