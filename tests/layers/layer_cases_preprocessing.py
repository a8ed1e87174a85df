"""Harness cases of the preprocessing and augmentation layers (merged into `test_every_layer.CASES`).

Every one of them is harnessed: a layer that learns its state with `adapt` is given it in the constructor here
(Discretization's boundaries, IntegerLookup's vocabulary) or runs on its initial weights (Normalization: mean 0,
variance 1); tests/layers/test_preprocessing_numeric.py adapts each and checks save/load with learned state.
The augmentation layers pass a `seed`, so that their training-mode draws, and so `training_differs`, are fixed.
"""
from layer_harness import case

CASES = {
    "Normalization": case({"axis": -1}, (4, 3), (4, 3)),
    "Rescaling": case({"scale": 1 / 255, "offset": 0.5}, (4, 3), (4, 3)),
    # 8 x 8 -> 4 x 6
    "Resizing": case({"height": 4, "width": 6}, (2, 8, 8, 3), (2, 4, 6, 3)),
    "CenterCrop": case({"height": 4, "width": 3}, (2, 6, 6, 2), (2, 4, 3, 2)),
    # 3 boundaries -> ids 0..3, int64
    "Discretization": case({"bin_boundaries": [-1.0, 0.0, 1.0]}, (4, 3), (4, 3)),
    # multi-hot over the last axis: (4, 3) ids -> (4, num_tokens)
    "CategoryEncoding": case({"num_tokens": 6}, (4, 3), (4, 6), input_dtype="int64", int_high=6),
    "Hashing": case({"num_bins": 5, "salt": 7}, (4, 3), (4, 3), input_dtype="int64", int_high=50),
    # 'count' over [OOV, 1, 3, 5, 7]: (4, 3) -> (4, 5)
    "IntegerLookup": case({"vocabulary": [1, 3, 5, 7], "output_mode": "count"}, (4, 3), (4, 5),
                          input_dtype="int64", int_high=10),
    "RandomFlip": case({"seed": 1}, (4, 5, 5, 2), (4, 5, 5, 2), training_differs=True),
    "RandomRotation": case({"factor": 0.2, "seed": 1}, (2, 5, 5, 2), (2, 5, 5, 2), training_differs=True),
    "RandomZoom": case({"height_factor": 0.3, "seed": 1}, (2, 5, 5, 2), (2, 5, 5, 2), training_differs=True),
    "RandomTranslation": case({"height_factor": 0.2, "width_factor": (-0.3, 0.3), "fill_mode": "constant",
                               "seed": 1}, (2, 5, 5, 2), (2, 5, 5, 2), training_differs=True),
    # the training crop is random; inference resizes the whole 6 x 6 image (same aspect ratio) to 4 x 4
    "RandomCrop": case({"height": 4, "width": 4, "seed": 1}, (2, 6, 6, 2), (2, 4, 4, 2), training_differs=True),
    "RandomContrast": case({"factor": 0.5, "value_range": (-5, 5), "seed": 1}, (2, 4, 4, 3), (2, 4, 4, 3),
                           training_differs=True),
    "RandomBrightness": case({"factor": 0.3, "value_range": (-5, 5), "seed": 1}, (2, 4, 4, 3), (2, 4, 4, 3),
                             training_differs=True),
}
