"""Data adapters: arrays, tensors, pandas, DataLoaders and generators -> batches on the model's device.

`adapt` picks the `DataAdapter` for the data (`ArrayAdapter` or `IterableAdapter`), `EpochIterator` draws
its epochs of `Batch`es, and `apply_class_weight` folds `class_weight` into sample weights; see
`plait.data.adapter` for which of them owns which `fit` argument.
"""
from plait.data.adapter import (ClassWeight, DataAdapter, EpochIterator, adapt, apply_class_weight,
                                check_class_weight)
from plait.data.arrays import ArrayAdapter, train_validation_split
from plait.data.batch import Batch, pack_x_y_sample_weight, unpack_x_y_sample_weight
from plait.data.iterables import IterableAdapter

__all__ = ["ArrayAdapter", "Batch", "ClassWeight", "DataAdapter", "EpochIterator", "IterableAdapter", "adapt",
           "apply_class_weight", "check_class_weight", "pack_x_y_sample_weight", "train_validation_split",
           "unpack_x_y_sample_weight"]
