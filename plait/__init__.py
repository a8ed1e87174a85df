"""plait: Keras-style deep learning on PyTorch. Build in five lines, train with fit, know whether to trust it.

Example:
    >>> import plait
    >>> model = plait.Sequential([plait.layers.Dense(16, activation="relu", input_shape=(4,)),
    ...                           plait.layers.Dense(3, activation="softmax")])
    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
"""
from plait import activations, callbacks, config, initializers, layers, losses, metrics, optimizers, regularizers, utils
from plait.config import set_random_seed
from plait.layers import Input, Layer
from plait.models import Model, Sequential
from plait.training.tape import GradientTape
from plait.variables import Variable
from plait import saving
from plait.saving import load_model

__version__ = "0.1.0"

__all__ = ["GradientTape", "Input", "Layer", "Model", "Sequential", "Variable", "activations", "callbacks", "config",
           "initializers", "layers", "losses", "metrics", "optimizers", "regularizers", "set_random_seed", "utils", "__version__",
           "saving", "load_model"]
