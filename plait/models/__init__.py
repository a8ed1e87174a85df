"""Models: Model (functional or subclassed) and Sequential, with Keras's `keras.models` functions."""
from plait.models.cloning import clone_model
from plait.models.model import Model
from plait.models.sequential import Sequential
from plait.saving import load_model, model_from_json, save_model

__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]
