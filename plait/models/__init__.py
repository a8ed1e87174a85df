"""Models: Model (functional or subclassed) and Sequential."""
from plait.models.model import Model
from plait.models.sequential import Sequential

__all__ = ["Model", "Sequential"]
