"""IoU metrics against scikit-learn's jaccard_score (per class), averaged over the target classes present,
per batch and accumulated, weighted, reset and merged; Keras's documented values."""
from __future__ import annotations

import numpy as np
import pytest
from metric_tester import check_metric, make_batches
from sklearn.metrics import confusion_matrix, jaccard_score

from plait import metrics

K = 4


def iou_reference(targets, ignore_class=None):
    def ref(t, p, w):
        t, p = t.ravel().astype(int), p.ravel().astype(int)
        w = np.ones(len(t)) if w is None else np.broadcast_to(w.reshape(len(w), -1), (len(w), t.size // len(w))).ravel()
        if ignore_class is not None:
            keep = t != ignore_class
            t, p, w = t[keep], p[keep], w[keep]
        per_class = jaccard_score(t, p, labels=targets, average=None, sample_weight=w, zero_division=0)
        cm = confusion_matrix(t, p, labels=list(range(K)), sample_weight=w)
        present = (cm.sum(0) + cm.sum(1))[targets] > 0  # Keras averages only over classes that occur
        return per_class[present].mean() if present.any() else 0.0
    return ref


def ids(rng, n):
    return rng.integers(0, K, size=n), rng.integers(0, K, size=n)


@pytest.mark.parametrize("targets", [[0], [1, 3], list(range(K))])
def test_iou_matches_sklearn_jaccard(targets):
    check_metric(lambda: metrics.IoU(K, targets), iou_reference(targets), make_batches(ids))


def test_mean_iou_with_ignore_class_and_segmentation_shaped_inputs():
    def masks(rng, n):
        return rng.integers(0, K, size=(n, 3, 3)), rng.integers(0, K, size=(n, 3, 3))

    check_metric(lambda: metrics.MeanIoU(K, ignore_class=2), iou_reference(list(range(K)), ignore_class=2),
                 make_batches(masks))


def test_one_hot_variants_take_the_argmax():
    def one_hot(rng, n):
        labels = rng.integers(0, K, size=n)
        return np.eye(K, dtype=np.float32)[labels], rng.dirichlet(np.ones(K), size=n).astype(np.float32)

    reference = iou_reference([0, 2])
    check_metric(lambda: metrics.OneHotIoU(K, [0, 2]), lambda t, p, w: reference(t.argmax(-1), p.argmax(-1), w),
                 make_batches(one_hot))
    mean_reference = iou_reference(list(range(K)))
    check_metric(lambda: metrics.OneHotMeanIoU(K),
                 lambda t, p, w: mean_reference(t.argmax(-1), p.argmax(-1), w), make_batches(one_hot))


@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_binary_iou_thresholds_with_greater_or_equal(threshold):
    def make(rng, n):
        return rng.integers(0, 2, size=n), rng.uniform(size=n).astype(np.float32)

    def ref(t, p, w):
        per_class = jaccard_score(t.astype(int), (p >= threshold).astype(int), labels=[0, 1], average=None,
                                  sample_weight=w, zero_division=0)
        return per_class.mean()

    check_metric(lambda: metrics.BinaryIoU(threshold=threshold), ref, make_batches(make, sizes=(7, 16, 12, 33)))
    assert float(metrics.BinaryIoU(target_class_ids=[1])([1], [0.5])) == 1.0  # 0.5 >= 0.5 is class 1


def test_keras_docstring_values_and_config():
    m = metrics.IoU(num_classes=2, target_class_ids=[0])
    assert float(m([0, 0, 1, 1], [0, 1, 0, 1], sample_weight=[0.3, 0.3, 0.3, 0.1])) == pytest.approx(1 / 3)
    y_true = [[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]]
    y_pred = [[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1], [0.1, 0.4, 0.5]]
    w = [0.1, 0.2, 0.3, 0.4]
    assert float(metrics.OneHotIoU(3, [0, 2])(y_true, y_pred, sample_weight=w)) == pytest.approx(0.0714286, rel=1e-5)
    assert float(metrics.OneHotMeanIoU(3)(y_true, y_pred, sample_weight=w)) == pytest.approx(0.0476190, rel=1e-5)
    for metric in (metrics.IoU(3, [1], ignore_class=0, sparse_y_pred=False), metrics.MeanIoU(3, name="miou"),
                   metrics.BinaryIoU([1], threshold=0.3, from_logits=True), metrics.OneHotIoU(3, [2]),
                   metrics.OneHotMeanIoU(3, ignore_class=1)):
        assert type(metric).from_config(metric.get_config()).get_config() == metric.get_config()
    assert metrics.MeanIoU(3).name == "mean_io_u" and metrics.MeanIoU.higher_is_better is True
    assert isinstance(metrics.get("binary_iou"), metrics.BinaryIoU)
    with pytest.raises(ValueError, match="target_class_ids"):
        metrics.IoU(3, [3])
    np.testing.assert_allclose(m.per_class().numpy(), [1 / 3, 0.1 / 0.7])
