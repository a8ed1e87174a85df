"""Weight initializers under Keras 3's names and defaults; each returns a torch tensor on the CPU.

Shapes follow Keras's layout (a Dense kernel is `(in, out)`, a conv kernel `(*kernel_size, in, out)`),
because fan-in and fan-out are read from it exactly as Keras's `compute_fans` does. A layer that
stores its weight in torch's layout draws in Keras's layout and then permutes.

Seeds: an initializer built with an integer `seed` returns the same values on every call (as in
Keras 3). An unseeded one draws from torch's global generator, so every call gives new values and
`plait.set_random_seed` makes a whole run repeatable. (Deliberate difference: an unseeded Keras 3
initializer fixes a hidden seed at construction and repeats its values on every call.)
"""
from plait.initializers.base import INITIALIZERS, Initializer, compute_fans, deserialize, get, serialize
from plait.initializers.constant import Constant, Identity, Ones, Zeros
from plait.initializers.random_initializers import (GlorotNormal, GlorotUniform, HeNormal, HeUniform, LecunNormal,
                                                    LecunUniform, Orthogonal, RandomNormal, RandomUniform,
                                                    TruncatedNormal, VarianceScaling)

__all__ = [
    "INITIALIZERS", "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity",
    "Initializer", "LecunNormal", "LecunUniform", "Ones", "Orthogonal", "RandomNormal", "RandomUniform",
    "TruncatedNormal", "VarianceScaling", "Zeros", "compute_fans", "deserialize", "get", "serialize",
]

