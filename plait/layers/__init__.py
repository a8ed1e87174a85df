"""Layers: the building blocks of models (Keras names and defaults)."""
from plait.layers.attention import AdditiveAttention, Attention
from plait.layers.grouped_query_attention import GroupedQueryAttention, GroupQueryAttention
from plait.layers.multi_head_attention import MultiHeadAttention
from plait.layers.activation import ELU, Activation, LeakyReLU, PReLU, ReLU, Softmax
from plait.layers.activity_regularization import ActivityRegularization
from plait.layers.conv import Conv1D, Conv2D, Conv3D
from plait.layers.conv_transpose import Conv1DTranspose, Conv2DTranspose, Conv3DTranspose
from plait.layers.dense import Dense
from plait.layers.dropout import Dropout, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D
from plait.layers.embedding import Embedding
from plait.layers.identity import Identity
from plait.layers.input_layer import Input, InputLayer
from plait.layers.lambda_layer import Lambda
from plait.layers.op_layer import OpLayer
from plait.layers.layer import LAYERS, Layer
from plait.layers.masking import Masking
from plait.layers.merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average,
                                  concatenate, dot, maximum, minimum, multiply, subtract)
from plait.layers.noise import AlphaDropout, GaussianDropout, GaussianNoise
from plait.layers.normalization import (BatchNormalization, GroupNormalization, LayerNormalization,
                                        UnitNormalization)
from plait.layers.padding import (Cropping1D, Cropping2D, Cropping3D, ZeroPadding1D, ZeroPadding2D,
                                  ZeroPadding3D)
from plait.layers.pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D, GlobalAveragePooling1D,
                                  GlobalAveragePooling2D, GlobalAveragePooling3D, GlobalMaxPooling1D,
                                  GlobalMaxPooling2D, GlobalMaxPooling3D, MaxPooling1D, MaxPooling2D, MaxPooling3D)
from plait.layers.preprocessing import (CategoryEncoding, CenterCrop, Discretization, Hashing, IntegerLookup,
                                        Normalization, RandomBrightness, RandomContrast, RandomCrop, RandomFlip,
                                        RandomRotation, RandomTranslation, RandomZoom, Rescaling, Resizing)
from plait.layers.reshaping import Flatten, Permute, RepeatVector, Reshape
from plait.layers.recurrent import GRU, LSTM, SimpleRNN
from plait.layers.rnn import RNN
from plait.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from plait.layers.rnn_wrappers import Bidirectional, TimeDistributed
from plait.layers.separable_conv import DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D
from plait.layers.symbolic import KerasTensor
from plait.layers.upsampling import UpSampling1D, UpSampling2D, UpSampling3D
from plait.layers.torch_module import TorchModuleWrapper

# Keras's aliases
Convolution1D, Convolution2D = Conv1D, Conv2D
Convolution3D = Conv3D
Convolution1DTranspose, Convolution2DTranspose, Convolution3DTranspose = (Conv1DTranspose, Conv2DTranspose,
                                                                          Conv3DTranspose)
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
MaxPool3D, AvgPool3D, GlobalAvgPool3D, GlobalMaxPool3D = (MaxPooling3D, AveragePooling3D, GlobalAveragePooling3D,
                                                          GlobalMaxPooling3D)
MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D = MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D

__all__ = ["Activation", "Add", "Average", "Concatenate", "Maximum", "Minimum", "Multiply", "Subtract",
           "AveragePooling1D", "AveragePooling2D", "AvgPool1D", "AvgPool2D", "BatchNormalization", "Conv1D",
           "Conv2D", "Convolution1D", "Convolution2D", "Dense", "Dropout", "Embedding", "Flatten",
           "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAvgPool1D", "GlobalAvgPool2D",
           "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "Input", "InputLayer",
           "KerasTensor", "LAYERS", "Lambda", "OpLayer", "TorchModuleWrapper", "Layer", "LayerNormalization",
           "MaxPool1D", "MaxPool2D", "MaxPooling1D", "MaxPooling2D", "Reshape"]
# Convolution variants, 3-D pooling, reshaping, noise and activation layers, and the merge functions.
__all__ += ["ActivityRegularization", "AlphaDropout", "AveragePooling3D", "AvgPool3D", "Conv1DTranspose",
            "Conv2DTranspose", "Conv3D", "Conv3DTranspose", "Convolution1DTranspose", "Convolution2DTranspose",
            "Convolution3D", "Convolution3DTranspose", "Cropping1D", "Cropping2D", "Cropping3D", "DepthwiseConv1D",
            "DepthwiseConv2D", "Dot", "ELU", "GaussianDropout", "GaussianNoise", "GlobalAveragePooling3D",
            "GlobalAvgPool3D", "GlobalMaxPool3D", "GlobalMaxPooling3D", "Identity", "LeakyReLU", "MaxPool3D",
            "MaxPooling3D", "PReLU", "Permute", "ReLU", "RepeatVector", "SeparableConv1D", "SeparableConv2D",
            "SeparableConvolution1D", "SeparableConvolution2D", "Softmax", "SpatialDropout1D", "SpatialDropout2D",
            "SpatialDropout3D", "UpSampling1D", "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D",
            "ZeroPadding3D", "add", "average", "concatenate", "dot", "maximum", "minimum", "multiply", "subtract"]
# Attention and the normalization layers beyond batch and layer normalization.
__all__ += ["AdditiveAttention", "Attention", "GroupNormalization", "GroupQueryAttention", "GroupedQueryAttention",
            "MultiHeadAttention", "UnitNormalization"]
# Recurrent layers, their cells and wrappers, and Masking.
__all__ += ["Bidirectional", "GRU", "GRUCell", "LSTM", "LSTMCell", "Masking", "RNN", "SimpleRNN", "SimpleRNNCell",
            "StackedRNNCells", "TimeDistributed"]
# Preprocessing layers for numbers and images, and the image augmentation layers.
__all__ += ["CategoryEncoding", "CenterCrop", "Discretization", "Hashing", "IntegerLookup", "Normalization",
            "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip", "RandomRotation", "RandomTranslation",
            "RandomZoom", "Rescaling", "Resizing"]
