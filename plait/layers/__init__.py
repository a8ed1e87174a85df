"""Layers: the building blocks of models (Keras names and defaults)."""
from plait.layers.activation import Activation
from plait.layers.dense import Dense
from plait.layers.dropout import Dropout
from plait.layers.input_layer import Input, InputLayer, KerasTensor
from plait.layers.layer import LAYERS, Layer
from plait.layers.reshaping import Flatten, Reshape

__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "KerasTensor", "LAYERS", "Layer",
           "Reshape"]
