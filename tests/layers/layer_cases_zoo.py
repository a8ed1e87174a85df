"""Harness cases of the convolution variants, 3-D pooling, reshaping, noise and activation layers and `Dot`
(merged into `test_every_layer.CASES`).

Each output shape is worked out by hand in the comment beside it, from Keras's documented formulas.
"""
from layer_harness import case

CASES = {
    # 4 - 3 + 1 = 2 on each spatial axis
    "Conv3D": case({"filters": 3, "kernel_size": 3}, (2, 4, 4, 4, 1), (2, 2, 2, 2, 3)),
    # 'valid': (5 - 1) * 2 + max(3, 2) = 11
    "Conv1DTranspose": case({"filters": 2, "kernel_size": 3, "strides": 2}, (2, 5, 3), (2, 11, 2)),
    # 'same': 4 * 2 = 8 (an odd kernel and an even stride: the crop torch's padding cannot do)
    "Conv2DTranspose": case({"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"},
                            (2, 4, 4, 3), (2, 8, 8, 2)),
    # 'valid' with output_padding 1: (2 - 1) * 2 + 2 + 1 = 5 (one zero-filled row before the bias)
    "Conv3DTranspose": case({"filters": 2, "kernel_size": 2, "strides": 2, "output_padding": 1,
                             "bias_initializer": "ones"}, (2, 2, 2, 2, 1), (2, 5, 5, 5, 2)),
    # 6 - 3 + 1 = 4 steps, 4 filters
    "SeparableConv1D": case({"filters": 4, "kernel_size": 3, "depth_multiplier": 2}, (2, 6, 3), (2, 4, 4)),
    # 'same' with stride 2: ceil(5 / 2) = 3
    "SeparableConv2D": case({"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"},
                            (2, 5, 5, 2), (2, 3, 3, 4)),
    # 6 - 3 + 1 = 4 steps, 3 channels * 2
    "DepthwiseConv1D": case({"kernel_size": 3, "depth_multiplier": 2}, (2, 6, 3), (2, 4, 6)),
    "DepthwiseConv2D": case({"kernel_size": 2}, (2, 4, 4, 3), (2, 3, 3, 3)),
    "MaxPooling3D": case({}, (2, 4, 4, 4, 2), (2, 2, 2, 2, 2)),
    "AveragePooling3D": case({"pool_size": 2, "strides": 1, "padding": "same"}, (2, 3, 3, 3, 2), (2, 3, 3, 3, 2)),
    "GlobalMaxPooling3D": case({}, (2, 3, 3, 3, 2), (2, 2)),
    "GlobalAveragePooling3D": case({"keepdims": True}, (2, 3, 3, 3, 2), (2, 1, 1, 1, 2)),
    "UpSampling1D": case({"size": 3}, (2, 4, 3), (2, 12, 3)),
    "UpSampling2D": case({"size": (2, 1), "interpolation": "bilinear"}, (2, 3, 3, 2), (2, 6, 3, 2)),
    "UpSampling3D": case({}, (2, 2, 2, 2, 1), (2, 4, 4, 4, 1)),
    # 4 + 1 + 2
    "ZeroPadding1D": case({"padding": (1, 2)}, (2, 4, 3), (2, 7, 3)),
    # 3 + 1 + 0 rows, 3 + 2 + 1 columns
    "ZeroPadding2D": case({"padding": ((1, 0), (2, 1))}, (2, 3, 3, 2), (2, 4, 6, 2)),
    "ZeroPadding3D": case({"padding": 1}, (2, 2, 2, 2, 1), (2, 4, 4, 4, 1)),
    # 6 - 1 - 2
    "Cropping1D": case({"cropping": (1, 2)}, (2, 6, 3), (2, 3, 3)),
    # 5 - 2 rows, 5 - 2 columns
    "Cropping2D": case({"cropping": ((1, 1), (0, 2))}, (2, 5, 5, 2), (2, 3, 3, 2)),
    "Cropping3D": case({"cropping": 1}, (2, 4, 4, 4, 1), (2, 2, 2, 2, 1)),
    "Permute": case({"dims": (2, 1)}, (2, 3, 4), (2, 4, 3)),
    "RepeatVector": case({"n": 3}, (2, 4), (2, 3, 4)),
    "Identity": case({}, (2, 3), (2, 3)),
    # x (3, 4) without axis 1 -> (4,); y (5, 3) without axis 2 -> (5,)
    "Dot": case({"axes": (1, 2), "normalize": True}, [(2, 3, 4), (2, 5, 3)], (2, 4, 5)),
    "SpatialDropout1D": case({"rate": 0.5, "seed": 1}, (4, 5, 6), (4, 5, 6), training_differs=True),
    "SpatialDropout2D": case({"rate": 0.5, "seed": 1}, (4, 3, 3, 6), (4, 3, 3, 6), training_differs=True),
    "SpatialDropout3D": case({"rate": 0.5, "seed": 1, "data_format": "channels_first"}, (4, 6, 2, 2, 2),
                             (4, 6, 2, 2, 2), training_differs=True),
    "GaussianNoise": case({"stddev": 0.5, "seed": 1}, (4, 6), (4, 6), training_differs=True),
    "GaussianDropout": case({"rate": 0.3, "seed": 1}, (4, 6), (4, 6), training_differs=True),
    "ActivityRegularization": case({"l1": 0.01, "l2": 0.001}, (4, 6), (4, 6)),
    "AlphaDropout": case({"rate": 0.3, "seed": 1}, (4, 6), (4, 6), training_differs=True),
    "ReLU": case({"max_value": 1.0, "negative_slope": 0.1, "threshold": 0.2}, (4, 3), (4, 3)),
    "LeakyReLU": case({"negative_slope": 0.2}, (4, 3), (4, 3)),
    # alpha (1, 5): shared over axis 1
    "PReLU": case({"shared_axes": [1]}, (4, 3, 5), (4, 3, 5)),
    "ELU": case({"alpha": 0.5}, (4, 3), (4, 3)),
    "Softmax": case({"axis": -1}, (4, 3), (4, 3)),
}
