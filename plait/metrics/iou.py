"""Intersection-over-union metrics: IoU, MeanIoU, BinaryIoU, OneHotIoU, OneHotMeanIoU (Keras's).

All accumulate a weighted (num_classes x num_classes) confusion matrix. For class c,
`IoU_c = TP / (TP + FP + FN)`; the result is the mean over the target classes whose denominator is
non-zero (classes absent from both labels and predictions are left out of the mean, as in Keras).
plait divides exactly where Keras adds 1e-7 to the denominator, and keeps float counts, so sample
weights need not be integers (Keras's default int dtype truncates them).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from plait.metrics.confusion_matrix import confusion_counts
from plait.metrics.counting import COUNT_DTYPE, divide_no_nan
from plait.metrics.inputs import sample_weight_shape
from plait.metrics.metric import METRICS, Metric


class _IoUBase(Metric):
    higher_is_better = True

    def __init__(self, num_classes: int, name: str | None = None, dtype: str | torch.dtype | None = None,
                 ignore_class: int | None = None, sparse_y_true: bool = True, sparse_y_pred: bool = True,
                 axis: int = -1) -> None:
        super().__init__(dtype=dtype, name=name)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}.")
        if ignore_class is not None and (isinstance(ignore_class, bool) or not isinstance(ignore_class, int)):
            raise ValueError(f"ignore_class must be an integer class id or None, got {ignore_class!r}.")
        self.num_classes = num_classes
        self.ignore_class = ignore_class
        self.sparse_y_true = bool(sparse_y_true)
        self.sparse_y_pred = bool(sparse_y_pred)
        self.axis = axis
        self.add_state("total_cm", torch.zeros(num_classes, num_classes, dtype=COUNT_DTYPE), reduce="sum")

    def _ids(self, y_true: Any, y_pred: Any) -> tuple[torch.Tensor, torch.Tensor]:
        y_pred = self._to_tensor(y_pred)
        y_true = self._to_tensor(y_true)
        if not self.sparse_y_true:
            y_true = y_true.argmax(dim=self.axis)
        if not self.sparse_y_pred:
            y_pred = y_pred.argmax(dim=self.axis)
        return y_true, y_pred

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds one batch of class ids (or one-hot / score rows, per `sparse_y_true` / `sparse_y_pred`).

        Args:
            y_true: class ids of any shape (or one-hot rows when `sparse_y_true=False`).
            y_pred: class ids with as many entries as y_true (or score rows when `sparse_y_pred=False`).
            sample_weight: None, one weight per sample, or one per id.
        """
        y_true, y_pred = self._ids(y_true, y_pred)
        weight = None
        if sample_weight is not None:
            w = self._to_tensor(sample_weight, dtype=COUNT_DTYPE)
            while w.dim() > y_true.dim() and w.shape[-1] == 1:
                w = w.squeeze(-1)
            while w.dim() < y_true.dim():
                w = w.unsqueeze(-1)
            try:
                weight = w.broadcast_to(y_true.shape).reshape(-1)
            except RuntimeError as err:
                raise ValueError(f"{self.name}: sample_weight of shape {sample_weight_shape(sample_weight)} does not "
                                 f"broadcast to y_true of shape {tuple(y_true.shape)}.") from err
        y_true, y_pred = y_true.reshape(-1), y_pred.reshape(-1)
        if y_true.shape != y_pred.shape:
            raise ValueError(f"{self.name}: y_true has {y_true.numel()} class ids but y_pred has {y_pred.numel()}; "
                             "pass one predicted id per label (or set sparse_y_pred=False for score rows).")
        if self.ignore_class is not None:
            # An out-of-range id leaves the pair out of the matrix, without a host read.
            y_true = torch.where(y_true == self.ignore_class, -1, y_true.long())
        self.total_cm.add_(confusion_counts(y_true, y_pred, weight, self.num_classes))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_classes": self.num_classes, "ignore_class": self.ignore_class,
                "sparse_y_true": self.sparse_y_true, "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


def _check_targets(target_class_ids: Sequence[int], num_classes: int) -> list[int]:
    ids = list(target_class_ids)
    if not ids or any(isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < num_classes for i in ids):
        raise ValueError(f"target_class_ids must be class ids in [0, {num_classes}), got {target_class_ids!r}.")
    return ids


@METRICS.register("iou")
class IoU(_IoUBase):
    """Intersection-over-union of the target classes, averaged: `TP / (TP + FP + FN)` per class.

    Args:
        num_classes: number of classes.
        target_class_ids: the classes whose IoU is averaged.
        name: name of the metric.
        dtype: dtype of the result.
        ignore_class: a label id left out of the matrix (e.g. a 'void' class).
        sparse_y_true: y_true holds class ids (else one-hot rows along `axis`).
        sparse_y_pred: y_pred holds class ids (else scores along `axis`, arg-maxed).
        axis: the class axis of non-sparse inputs.

    Example:
        >>> m = IoU(num_classes=2, target_class_ids=[0])
        >>> round(float(m([0, 0, 1, 1], [0, 1, 0, 1], sample_weight=[0.3, 0.3, 0.3, 0.1])), 4)
        0.3333
    """

    def __init__(self, num_classes: int, target_class_ids: Sequence[int], name: str | None = None,
                 dtype: str | torch.dtype | None = None, ignore_class: int | None = None,
                 sparse_y_true: bool = True, sparse_y_pred: bool = True, axis: int = -1) -> None:
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)
        self.target_class_ids = _check_targets(target_class_ids, num_classes)
        self._target_ids: dict[torch.device, torch.Tensor] = {}

    def per_class(self) -> torch.Tensor:
        """IoU of every class (0 where a class is absent from labels and predictions)."""
        cm = self.total_cm
        tp = cm.diagonal()
        return divide_no_nan(tp, cm.sum(dim=0) + cm.sum(dim=1) - tp)

    def result(self) -> torch.Tensor:
        cm = self.total_cm
        tp = cm.diagonal()
        denominator = cm.sum(dim=0) + cm.sum(dim=1) - tp
        ids = self._target_ids.get(cm.device)
        if ids is None:  # cached: a host-to-device copy per call would synchronize the device
            ids = self._target_ids[cm.device] = torch.tensor(self.target_class_ids, device=cm.device)
        tp, denominator = tp.index_select(0, ids), denominator.index_select(0, ids)
        valid = denominator > 1e-9
        iou = torch.where(valid, divide_no_nan(tp, denominator), 0.0)
        return divide_no_nan(iou.sum(), valid.sum().to(iou.dtype)).to(self._dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_class_ids": self.target_class_ids}


@METRICS.register("binary_iou")
class BinaryIoU(IoU):
    """IoU of a binary problem: predictions `y_pred >= threshold` are class 1 (Keras's rule: >=).

    Args:
        target_class_ids: which of the classes (0, 1) to average.
        threshold: decision threshold.
        name: name of the metric.
        dtype: dtype of the result.
        from_logits: apply a sigmoid to `y_pred` first (plait addition).

    Example:
        >>> m = BinaryIoU(target_class_ids=[0, 1], threshold=0.3)
        >>> round(float(m([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7])), 4)
        0.3333
    """

    def __init__(self, target_class_ids: Sequence[int] = (0, 1), threshold: float = 0.5, name: str | None = None,
                 dtype: str | torch.dtype | None = None, *, from_logits: bool = False) -> None:
        super().__init__(2, target_class_ids, name=name, dtype=dtype)
        self.threshold = float(threshold)
        self.from_logits = bool(from_logits)

    def _ids(self, y_true: Any, y_pred: Any) -> tuple[torch.Tensor, torch.Tensor]:
        y_pred = self._to_tensor(y_pred)
        if not y_pred.is_floating_point():
            y_pred = y_pred.to(self._dtype)
        if self.from_logits:
            y_pred = torch.sigmoid(y_pred)
        return self._to_tensor(y_true), (y_pred >= self.threshold).long()

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "target_class_ids": self.target_class_ids,
                "threshold": self.threshold, "from_logits": self.from_logits}


@METRICS.register("mean_iou")
class MeanIoU(IoU):
    """Mean IoU over all classes present in labels or predictions (the usual segmentation score).

    Args:
        num_classes: number of classes.
        name: name of the metric.
        dtype: dtype of the result.
        ignore_class: a label id left out of the matrix.
        sparse_y_true: y_true holds class ids (else one-hot rows along `axis`).
        sparse_y_pred: y_pred holds class ids (else scores along `axis`).
        axis: the class axis of non-sparse inputs.

    Example:
        >>> m = MeanIoU(num_classes=2)
        >>> round(float(m([0, 0, 1, 1], [0, 1, 0, 1])), 4)
        0.3333
    """

    def __init__(self, num_classes: int, name: str | None = None, dtype: str | torch.dtype | None = None,
                 ignore_class: int | None = None, sparse_y_true: bool = True, sparse_y_pred: bool = True,
                 axis: int = -1) -> None:
        super().__init__(num_classes, list(range(num_classes)), name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["target_class_ids"]
        return config


@METRICS.register("one_hot_iou")
class OneHotIoU(IoU):
    """`IoU` for one-hot labels and score rows (`sparse_y_true=False`).

    Args:
        num_classes: number of classes.
        target_class_ids: the classes whose IoU is averaged.
        name: name of the metric.
        dtype: dtype of the result.
        ignore_class: a label id left out of the matrix.
        sparse_y_pred: y_pred holds class ids instead of score rows.
        axis: the class axis.

    Example:
        >>> m = OneHotIoU(num_classes=3, target_class_ids=[0, 2])
        >>> y_true = [[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]]
        >>> y_pred = [[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1], [0.1, 0.4, 0.5]]
        >>> round(float(m(y_true, y_pred, sample_weight=[0.1, 0.2, 0.3, 0.4])), 4)
        0.0714
    """

    def __init__(self, num_classes: int, target_class_ids: Sequence[int], name: str | None = None,
                 dtype: str | torch.dtype | None = None, ignore_class: int | None = None,
                 sparse_y_pred: bool = False, axis: int = -1) -> None:
        super().__init__(num_classes, target_class_ids, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["sparse_y_true"]
        return config


@METRICS.register("one_hot_mean_iou")
class OneHotMeanIoU(MeanIoU):
    """`MeanIoU` for one-hot labels and score rows (`sparse_y_true=False`).

    Args:
        num_classes: number of classes.
        name: name of the metric.
        dtype: dtype of the result.
        ignore_class: a label id left out of the matrix.
        sparse_y_pred: y_pred holds class ids instead of score rows.
        axis: the class axis.

    Example:
        >>> m = OneHotMeanIoU(num_classes=3)
        >>> y_true = [[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]]
        >>> y_pred = [[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1], [0.1, 0.4, 0.5]]
        >>> round(float(m(y_true, y_pred, sample_weight=[0.1, 0.2, 0.3, 0.4])), 4)
        0.0476
    """

    def __init__(self, num_classes: int, name: str | None = None, dtype: str | torch.dtype | None = None,
                 ignore_class: int | None = None, sparse_y_pred: bool = False, axis: int = -1) -> None:
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["sparse_y_true"]
        return config
