"""F-scores: FBetaScore and F1Score, per class from (batch, k) predictions, with Keras's averaging.

Built on the per-label counts of `ThresholdedConfusion`: with one decision per cell, the
per-class F-beta is `(1 + b^2) TP / ((1 + b^2) TP + b^2 FN + FP)`, 0 when the denominator is 0
(scikit-learn's `zero_division=0`; Keras adds 1e-7 to its denominators instead, which moves results
by less than 1e-7 relative).
"""
from __future__ import annotations

from typing import Any

import torch

from plait.metrics.confusion import ThresholdedConfusion
from plait.metrics.counting import AVERAGES, COUNT_DTYPE, average_scores, count_hits_for_ids, row_blocks
from plait.metrics.metric import METRICS


@METRICS.register()
class FBetaScore(ThresholdedConfusion):
    """F-beta score, the weighted harmonic mean of precision and recall, per class or averaged.

    `y_pred` is (batch, k) scores; `y_true` is one-hot / multi-hot of the same shape or, a plait
    addition, integer class ids ((batch,) or (batch, 1)). 1-D / (batch, 1) inputs are one binary class.

    A prediction counts as positive for a class when:

    - `threshold=None` with k > 1 columns: its score is the row maximum (every tied maximum counts;
      an all-zero row predicts nothing), Keras's rule for single-label multi-class data;
    - `threshold=None` with one column: `y_pred > 0.5` (plait: Keras would take the maximum of a
      single column, so every non-zero prediction would be positive);
    - otherwise: `y_pred > threshold`, per cell (multi-label data).

    The string ids 'fbeta_score' / 'f_beta_score' give `average='macro'` (one number per epoch).

    Args:
        average: None (per-class vector, Keras's default), 'micro' (pooled counts), 'macro' (mean over
            all k classes) or 'weighted' (mean weighted by each class's true count).
        beta: weight of recall relative to precision, > 0.
        threshold: decision threshold in (0, 1], or None (see above).
        name: name of the metric.
        dtype: dtype of the result.
        from_logits: apply a sigmoid to `y_pred` first (plait addition; the arg-max rule is unchanged).

    Example:
        >>> m = FBetaScore(beta=2.0, threshold=0.5)
        >>> y_true = [[1, 1, 1], [1, 0, 0], [1, 1, 0]]
        >>> y_pred = [[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]]
        >>> [round(v, 4) for v in m(y_true, y_pred).tolist()]
        [0.3846, 0.9091, 0.8333]
    """

    higher_is_better = True

    def __init__(self, average: str | None = None, beta: float = 1.0, threshold: float | None = None,
                 name: str = "fbeta_score", dtype: str | torch.dtype | None = None, *,
                 from_logits: bool = False) -> None:
        if average not in AVERAGES:
            raise ValueError(f"average must be one of None, 'micro', 'macro', 'weighted', got {average!r}.")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0:
            raise ValueError(f"beta must be a number > 0, got {beta!r}.")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                      or not 0 < threshold <= 1):
            raise ValueError(f"threshold must be a number with 0 < threshold <= 1, or None, got {threshold!r}; "
                             "for logits keep a probability threshold and pass from_logits=True.")
        super().__init__(None, average=average, from_logits=from_logits, name=name, dtype=dtype)
        self.beta = float(beta)
        self.threshold = None if threshold is None else float(threshold)

    def _decisions(self, y_pred: torch.Tensor) -> torch.Tensor:
        if self.threshold is not None:
            return y_pred > self.threshold
        if y_pred.shape[-1] == 1:
            return y_pred > 0.5
        row_max = y_pred.amax(dim=-1, keepdim=True)
        # Keras's `(y_pred >= row max) & (|y_pred| > 1e-9)`: the chosen cells equal the row maximum, so the
        # second test is a per-row one, which saves a pass over the scores.
        return (y_pred >= row_max) & (row_max.abs() > 1e-9)

    def _update_from_ids(self, y_pred: torch.Tensor, ids: torch.Tensor, weight: torch.Tensor | None) -> bool:
        # The decisions of `_decisions`, block by block: the labelled cell is read with one gather, the
        # comparisons are written straight as 0./1. floats into a reused buffer, and the predicted cells
        # of each class are summed by one matrix product (rows failing the row test get weight 0).
        m, k = y_pred.shape
        step = row_blocks(m, k, y_pred.device)
        dtype = y_pred.dtype if weight is None else COUNT_DTYPE
        buffer = torch.empty(min(step, m), k, dtype=dtype, device=y_pred.device)
        hit = torch.empty(m, dtype=torch.bool, device=y_pred.device)
        predicted = torch.zeros(k, dtype=COUNT_DTYPE, device=y_pred.device)
        safe_ids = ids.clamp(max=k - 1).unsqueeze(1)
        ones = torch.ones(min(step, m), dtype=dtype, device=y_pred.device)
        with torch.autocast(y_pred.device.type, enabled=False):  # half precision would round the counts
            for start in range(0, m, step):
                block, cells = y_pred[start:start + step], buffer[:min(step, m - start)]
                labelled = block.gather(1, safe_ids[start:start + step]).squeeze(1)
                per_row = ones[:block.shape[0]] if weight is None else weight[start:start + step].to(dtype)
                if self.threshold is not None:
                    torch.gt(block, self.threshold, out=cells)
                    torch.gt(labelled, self.threshold, out=hit[start:start + step])
                else:
                    row_max = block.amax(dim=-1)
                    rows = row_max.abs() > 1e-9
                    torch.ge(block, row_max.unsqueeze(-1), out=cells)
                    torch.logical_and(labelled >= row_max, rows, out=hit[start:start + step])
                    per_row = per_row * rows
                predicted += (per_row @ cells).to(COUNT_DTYPE)
        counts = count_hits_for_ids(predicted, hit, ids, weight)
        for state, value in zip(("true_positives", "false_positives", "true_negatives", "false_negatives"), counts):
            getattr(self, state).add_(value)
        return True

    def result(self) -> torch.Tensor:
        tp, fp, fn = self.true_positives[0], self.false_positives[0], self.false_negatives[0]
        b2 = self.beta ** 2
        num = (1.0 + b2) * tp
        return average_scores(num, num + b2 * fn + fp, tp + fn, self.average).to(self._dtype)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "average": self.average, "beta": self.beta,
                "threshold": self.threshold, "from_logits": self.from_logits}


@METRICS.register()
class F1Score(FBetaScore):
    """F1 score, the harmonic mean of precision and recall: `FBetaScore` with `beta=1`.

    The string id 'f1_score' in `compile` (and `plait.metrics.get`) gives `average='macro'`, one number
    per epoch; the class keeps Keras's default `average=None`, the per-class vector.

    Args:
        average: None (per-class vector, Keras's default), 'micro', 'macro' or 'weighted'.
        threshold: decision threshold in (0, 1], or None for the row maximum (see `FBetaScore`).
        name: name of the metric.
        dtype: dtype of the result.
        from_logits: apply a sigmoid to `y_pred` first (plait addition).

    Example:
        >>> m = F1Score(average="macro")
        >>> round(float(m([0, 1, 2, 2], [[.8, .1, .1], [.2, .7, .1], [.1, .2, .7], [.6, .3, .1]])), 4)
        0.7778
    """

    def __init__(self, average: str | None = None, threshold: float | None = None, name: str = "f1_score",
                 dtype: str | torch.dtype | None = None, *, from_logits: bool = False) -> None:
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype,
                         from_logits=from_logits)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["beta"]
        return config


def _f1_score_id() -> F1Score:
    # The string id gives one number per epoch (the macro average) where the class keeps Keras's default
    # per-class vector, so `metrics=['f1_score']` logs a float next to 'precision' and 'recall'.
    return F1Score(average="macro")


def _fbeta_score_id() -> FBetaScore:
    return FBetaScore(average="macro")


METRICS.add("f1_score", _f1_score_id)
METRICS.add("fbeta_score", _fbeta_score_id)
METRICS.add("f_beta_score", _fbeta_score_id)
