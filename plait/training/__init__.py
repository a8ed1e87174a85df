"""The training loop, GradientTape, compile-time resolution and the state of one fit (`FitRun`)."""
from plait.training.run import FitRun, TrainableModel

__all__ = ["FitRun", "TrainableModel"]
