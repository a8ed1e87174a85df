"""Layers: the building blocks of models (Keras names and defaults)."""
from plait.layers.activation import Activation
from plait.layers.conv import Conv1D, Conv2D
from plait.layers.dense import Dense
from plait.layers.dropout import Dropout
from plait.layers.embedding import Embedding
from plait.layers.input_layer import Input, InputLayer
from plait.layers.layer import LAYERS, Layer
from plait.layers.merging import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from plait.layers.normalization import BatchNormalization, LayerNormalization
from plait.layers.pooling import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
                                  GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D)
from plait.layers.reshaping import Flatten, Reshape
from plait.layers.symbolic import KerasTensor

# Keras's aliases
Convolution1D, Convolution2D = Conv1D, Conv2D
MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D = MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D

__all__ = ["Activation", "Add", "Average", "Concatenate", "Maximum", "Minimum", "Multiply", "Subtract",
           "AveragePooling1D", "AveragePooling2D", "AvgPool1D", "AvgPool2D", "BatchNormalization", "Conv1D",
           "Conv2D", "Convolution1D", "Convolution2D", "Dense", "Dropout", "Embedding", "Flatten",
           "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAvgPool1D", "GlobalAvgPool2D",
           "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "Input", "InputLayer",
           "KerasTensor", "LAYERS", "Layer", "LayerNormalization", "MaxPool1D", "MaxPool2D", "MaxPooling1D",
           "MaxPooling2D", "Reshape"]
