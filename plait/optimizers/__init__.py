"""Optimizers (Keras 3 names and defaults) and learning-rate schedules.

Example:
    >>> from plait import optimizers
    >>> opt = optimizers.get("adam")
    >>> sched = optimizers.schedules.ExponentialDecay(0.1, decay_steps=100, decay_rate=0.9)
    >>> optimizers.SGD(learning_rate=sched).learning_rate
    0.1
"""
from plait.optimizers import schedules
from plait.optimizers.adagrad import Adagrad
from plait.optimizers.adam import Adam, Adamax, AdamW, Nadam
from plait.optimizers.clipping import clip_by_global_norm, clip_by_norm, clip_by_value
from plait.optimizers.optimizer import Optimizer
from plait.optimizers.serialization import OPTIMIZERS, deserialize, get, register_optimizer, serialize
from plait.optimizers.rmsprop import RMSprop
from plait.optimizers.sgd import SGD
from plait.optimizers.torch_optimizer import TorchOptimizer

__all__ = ["Optimizer", "TorchOptimizer", "SGD", "Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "Adagrad", "get",
           "serialize", "deserialize", "OPTIMIZERS", "register_optimizer", "clip_by_norm", "clip_by_global_norm",
           "clip_by_value", "schedules"]
