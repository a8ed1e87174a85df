"""The small utilities Keras users reach for, under Keras's names (`keras.utils.*`)."""
from plait.config import set_random_seed
from plait.utils.dataset_utils import split_dataset
from plait.utils.numerical_utils import normalize, to_categorical
from plait.utils.sequence_utils import pad_sequences

__all__ = ["normalize", "pad_sequences", "set_random_seed", "split_dataset", "to_categorical"]
