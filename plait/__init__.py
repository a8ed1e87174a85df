"""plait: Keras-style deep learning on PyTorch. Build in five lines, train with fit, know whether to trust it.

Example:
    >>> import plait
    >>> model = plait.Sequential([plait.layers.Dense(16, activation="relu", input_shape=(4,)),
    ...                           plait.layers.Dense(3, activation="softmax")])
    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
"""
from plait import (activations, callbacks, config, diagnostics, evaluation, initializers, layers, losses, metrics,
                   ops, optimizers, plotting, random, regularizers, saving, utils)
from plait.config import set_random_seed
from plait.layers import Input, Layer
from plait.models import Model, Sequential
from plait.plotting import plot_history
from plait.saving import load_model
from plait.training.tape import GradientTape
from plait.variables import Variable
from plait.version import __version__

__all__ = ["GradientTape", "Input", "Layer", "Model", "Sequential", "Variable", "__version__", "activations",
           "callbacks", "config", "diagnostics", "evaluation", "initializers", "layers", "load_model", "losses",
           "metrics", "ops", "optimizers", "plot_history", "plotting", "random", "regularizers", "saving",
           "set_random_seed", "utils"]
