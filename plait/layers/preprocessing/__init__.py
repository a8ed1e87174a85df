"""Preprocessing layers for numbers and images, and the image augmentation layers (Keras's names and defaults).

They run inside the model, on its device, and are saved with it: learned state (Normalization's statistics)
in weights, vocabularies and bin boundaries in the layer's config. String preprocessing (StringLookup,
TextVectorization) needs string data in plait's data path and is not here yet.
"""
from plait.layers.preprocessing.augmentation import RandomBrightness, RandomContrast, RandomCrop, RandomFlip
from plait.layers.preprocessing.category_encoding import CategoryEncoding
from plait.layers.preprocessing.discretization import Discretization
from plait.layers.preprocessing.geometric import RandomRotation, RandomTranslation, RandomZoom
from plait.layers.preprocessing.hashing import Hashing
from plait.layers.preprocessing.image import CenterCrop, Resizing
from plait.layers.preprocessing.integer_lookup import IntegerLookup
from plait.layers.preprocessing.normalization import Normalization
from plait.layers.preprocessing.rescaling import Rescaling

__all__ = ["CategoryEncoding", "CenterCrop", "Discretization", "Hashing", "IntegerLookup", "Normalization",
           "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip", "RandomRotation", "RandomTranslation",
           "RandomZoom", "Rescaling", "Resizing"]
