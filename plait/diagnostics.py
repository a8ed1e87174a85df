"""The pitfall warnings, importable as `plait.diagnostics.PitfallWarning` and friends.

Filter them all with `warnings.simplefilter("ignore", plait.diagnostics.PitfallWarning)`, or turn them
into errors in a test suite with `warnings.simplefilter("error", plait.diagnostics.PitfallWarning)`;
`fit(..., diagnostics=False)` and `evaluate(..., diagnostics=False)` skip the checks altogether.
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

__all__ = ["AccuracyParadoxWarning", "ClassImbalanceWarning", "DataLeakageWarning", "Finding", "NoValidationNotice",
           "OverfittingWarning", "PitfallWarning", "SplitWarning"]
