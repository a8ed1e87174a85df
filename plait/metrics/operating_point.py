"""Operating-point metrics: the best value of one rate while another stays above a target.

`SensitivityAtSpecificity`, `SpecificityAtSensitivity`, `PrecisionAtRecall` and `RecallAtPrecision`
(Keras's `SensitivitySpecificityBase` family) count TP/FP/TN/FN at `num_thresholds` thresholds
`[0, 1/(n-1), ..., 1]` (just `[0.5]` when n == 1) and return, over the thresholds where the constrained
rate reaches the target, the largest value of the other rate (0 when no threshold reaches it).
Every cell is pooled unless `class_id` picks one column.
"""
from __future__ import annotations

from typing import Any

import torch

from plait.metrics.confusion import ThresholdedConfusion
from plait.metrics.counting import divide_no_nan
from plait.metrics.metric import METRICS


def _grid(num_thresholds: Any) -> list[float]:
    if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int) or num_thresholds <= 0:
        raise ValueError(f"num_thresholds must be an integer > 0, got {num_thresholds!r}.")
    if num_thresholds == 1:
        return [0.5]
    return [0.0] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] + [1.0]


class _OperatingPoint(ThresholdedConfusion):
    higher_is_better = True
    _target: str = ""

    def __init__(self, value: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: str | torch.dtype | None = None, *,
                 from_logits: bool = False) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(f"{self._target} must be a number in [0, 1], got {value!r}.")
        super().__init__(_grid(num_thresholds), class_id=class_id, from_logits=from_logits, per_label=False,
                         name=name, dtype=dtype)
        self.value = float(value)
        self.num_thresholds = num_thresholds
        setattr(self, self._target, value)

    def _rates(self) -> dict[str, torch.Tensor]:
        tp, fp = self.true_positives[:, 0], self.false_positives[:, 0]
        tn, fn = self.true_negatives[:, 0], self.false_negatives[:, 0]
        recall = divide_no_nan(tp, tp + fn)
        return {"sensitivity": recall, "recall": recall, "specificity": divide_no_nan(tn, tn + fp),
                "precision": divide_no_nan(tp, tp + fp)}

    def _best(self, dependent: str) -> torch.Tensor:
        rates = self._rates()
        feasible = rates[self._target] >= self.value
        best = torch.where(feasible, rates[dependent], 0.0).amax().clamp_min(0.0)
        return best.to(self._dtype)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "num_thresholds": self.num_thresholds,
                "class_id": self.class_id, self._target: getattr(self, self._target),
                "from_logits": self.from_logits}


_DOC = """The best {dependent} over the thresholds where {target} >= `{target}`.

    Args:
        {target}: the target {target}, in [0, 1].
        num_thresholds: thresholds `[0, 1/(n-1), ..., 1]` to try (n == 1 tries 0.5 only).
        class_id: score only this column of a (batch, k) input (integer class ids are accepted).
        name: name of the metric.
        dtype: dtype of the result.
        from_logits: apply a sigmoid to `y_pred` first (plait addition).

    Example:
        >>> m = {cls}({value}, num_thresholds=5)
        >>> round(float(m([0, 0, 0, 1, 1], [0.0, 0.3, 0.8, 0.3, 0.8])), 4)
        {result}
    """


@METRICS.register()
class SensitivityAtSpecificity(_OperatingPoint):
    __doc__ = _DOC.format(dependent="sensitivity (recall)", target="specificity", cls="SensitivityAtSpecificity",
                          value=0.5, result="0.5")
    _target = "specificity"

    def __init__(self, specificity: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: str | torch.dtype | None = None, *,
                 from_logits: bool = False) -> None:
        super().__init__(specificity, num_thresholds, class_id, name, dtype, from_logits=from_logits)

    def result(self) -> torch.Tensor:
        return self._best("sensitivity")


@METRICS.register()
class SpecificityAtSensitivity(_OperatingPoint):
    __doc__ = _DOC.format(dependent="specificity", target="sensitivity", cls="SpecificityAtSensitivity",
                          value=0.5, result="0.6667")
    _target = "sensitivity"

    def __init__(self, sensitivity: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: str | torch.dtype | None = None, *,
                 from_logits: bool = False) -> None:
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype, from_logits=from_logits)

    def result(self) -> torch.Tensor:
        return self._best("specificity")


@METRICS.register()
class PrecisionAtRecall(_OperatingPoint):
    __doc__ = _DOC.format(dependent="precision", target="recall", cls="PrecisionAtRecall", value=0.5,
                          result="0.5")
    _target = "recall"

    def __init__(self, recall: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: str | torch.dtype | None = None, *,
                 from_logits: bool = False) -> None:
        super().__init__(recall, num_thresholds, class_id, name, dtype, from_logits=from_logits)

    def result(self) -> torch.Tensor:
        return self._best("precision")


@METRICS.register()
class RecallAtPrecision(_OperatingPoint):
    __doc__ = _DOC.format(dependent="recall", target="precision", cls="RecallAtPrecision", value=0.5,
                          result="1.0")
    _target = "precision"

    def __init__(self, precision: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: str | torch.dtype | None = None, *,
                 from_logits: bool = False) -> None:
        super().__init__(precision, num_thresholds, class_id, name, dtype, from_logits=from_logits)

    def result(self) -> torch.Tensor:
        return self._best("recall")
