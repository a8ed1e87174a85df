"""The small utilities Keras users reach for, under Keras's names (`keras.utils.*`)."""
from plait.config import set_random_seed
from plait.utils.dataset_utils import split_dataset
from plait.utils.model_visualization import model_to_dot, plot_model
from plait.utils.numerical_utils import normalize, to_categorical
from plait.utils.progbar import Progbar
from plait.utils.sequence_utils import pad_sequences

__all__ = ["Progbar", "model_to_dot", "normalize", "pad_sequences", "plot_model", "set_random_seed", "split_dataset",
           "to_categorical"]
