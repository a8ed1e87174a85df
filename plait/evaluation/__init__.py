"""Evaluation you can trust: pitfall diagnostics, the evaluation report, decision thresholds.

Example:
    >>> from plait.evaluation import classification_report
    >>> report = classification_report([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.9], n_bootstrap=0)
    >>> report.to_dict()["1"]["recall"]
    1.0
"""
from plait.evaluation.diagnostics import (
    AccuracyParadoxWarning,
    ClassImbalanceWarning,
    DataLeakageWarning,
    Finding,
    NoValidationNotice,
    OverfittingWarning,
    PitfallWarning,
    SplitWarning,
)
from plait.evaluation.report import ClassificationReport, RegressionReport, classification_report, regression_report
from plait.evaluation.thresholds import ThresholdChoice, threshold_for, threshold_table

__all__ = [
    "AccuracyParadoxWarning",
    "ClassImbalanceWarning",
    "ClassificationReport",
    "DataLeakageWarning",
    "Finding",
    "NoValidationNotice",
    "OverfittingWarning",
    "PitfallWarning",
    "RegressionReport",
    "SplitWarning",
    "ThresholdChoice",
    "classification_report",
    "regression_report",
    "threshold_for",
    "threshold_table",
]
