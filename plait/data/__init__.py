"""Data adapters: arrays, tensors, pandas, DataLoaders and generators -> batches on the model's device."""
from plait.data.adapter import (ArrayData, EpochIterator, adapt, class_weight_to_sample_weight,
                                train_validation_split, unpack_x_y_sample_weight)

__all__ = ["ArrayData", "EpochIterator", "adapt", "class_weight_to_sample_weight", "train_validation_split",
           "unpack_x_y_sample_weight"]
