"""Streaming metrics: accumulate per batch on the device with `update_state`, read with `result`.

The exact-match function twin of `Accuracy` is `plait.metrics.accuracy.accuracy`; it is not re-exported
here because its name would hide the `plait.metrics.accuracy` module (Keras does not export it either).
"""
from plait.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    binary_accuracy,
    categorical_accuracy,
    in_top_k,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from plait.metrics.auc import AUC, exact_average_precision, exact_roc_auc
from plait.metrics.confusion import (
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    ThresholdedConfusion,
    TrueNegatives,
    TruePositives,
)
from plait.metrics.confusion_matrix import ConfusionMatrix
from plait.metrics.f_score import F1Score, FBetaScore
from plait.metrics.iou import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from plait.metrics.identifiers import deserialize, get, serialize
from plait.metrics.metric import METRIC_FUNCTIONS, METRICS, Metric, combine_states
from plait.metrics.operating_point import (
    PrecisionAtRecall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
)
from plait.metrics.probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
)
from plait.metrics.reduction import Mean, MeanMetricWrapper, Sum, reduce_to_samplewise
from plait.metrics.regression import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    R2Score,
    RootMeanSquaredError,
    cosine_similarity,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
)
# `get` also takes torchmetrics objects, as TorchMetric (torchmetrics itself is never imported here).
from plait.metrics.torchmetrics_bridge import TorchMetric

__all__ = [
    "AUC",
    "Accuracy",
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "BinaryIoU",
    "CategoricalAccuracy",
    "CategoricalCrossentropy",
    "ConfusionMatrix",
    "CosineSimilarity",
    "F1Score",
    "FBetaScore",
    "FalseNegatives",
    "FalsePositives",
    "IoU",
    "KLDivergence",
    "LogCoshError",
    "METRICS",
    "METRIC_FUNCTIONS",
    "Mean",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanIoU",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Metric",
    "OneHotIoU",
    "OneHotMeanIoU",
    "Poisson",
    "Precision",
    "PrecisionAtRecall",
    "R2Score",
    "Recall",
    "RecallAtPrecision",
    "RootMeanSquaredError",
    "SensitivityAtSpecificity",
    "SparseCategoricalAccuracy",
    "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy",
    "SpecificityAtSensitivity",
    "Sum",
    "ThresholdedConfusion",
    "TopKCategoricalAccuracy",
    "TorchMetric",
    "TrueNegatives",
    "TruePositives",
    "binary_accuracy",
    "categorical_accuracy",
    "combine_states",
    "cosine_similarity",
    "deserialize",
    "exact_average_precision",
    "exact_roc_auc",
    "get",
    "in_top_k",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "reduce_to_samplewise",
    "serialize",
    "sparse_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy",
]
