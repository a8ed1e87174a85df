"""Losses: Keras's classes, function twins and string ids (`get("mse")`, `get("binary_crossentropy")`, ...)."""
from plait.losses.loss import (LOSS_FUNCTIONS, LOSSES, Loss, LossFunctionWrapper, deserialize,
                               reduce_weighted_values)
from plait.losses.probabilistic import (BinaryCrossentropy, CategoricalCrossentropy, KLDivergence,
                                        LossShapeWarning, Poisson, SparseCategoricalCrossentropy, binary_crossentropy,
                                        categorical_crossentropy, kl_divergence, poisson,
                                        sparse_categorical_crossentropy)
from plait.losses.regression import (CategoricalHinge, CosineSimilarity, Hinge, Huber, LogCosh,
                                     MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError,
                                     MeanSquaredLogarithmicError, SquaredHinge, categorical_hinge,
                                     cosine_similarity, hinge, huber, log_cosh, mean_absolute_error,
                                     mean_absolute_percentage_error, mean_squared_error,
                                     mean_squared_logarithmic_error, squared_hinge)
# `get`/`serialize` also take torch.nn losses (nn.CrossEntropyLoss()), as TorchLoss; saved configs name it.
from plait.losses.torch_loss import TorchLoss, get, serialize

# Keras's short function aliases (keras.losses.mse is mean_squared_error, and so on).
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kl_divergence
bce = BCE = binary_crossentropy

__all__ = [
    "LOSSES", "LOSS_FUNCTIONS", "Loss", "LossFunctionWrapper", "TorchLoss", "get", "serialize", "deserialize",
    "reduce_weighted_values", "LossShapeWarning",
    "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError",
    "Huber", "LogCosh", "CosineSimilarity", "Hinge", "SquaredHinge", "CategoricalHinge",
    "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "KLDivergence", "Poisson",
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "huber", "log_cosh", "cosine_similarity", "hinge", "squared_hinge",
    "categorical_hinge", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "kl_divergence", "poisson", "mse", "MSE", "mae", "MAE", "mape", "MAPE", "msle", "MSLE", "kld", "KLD",
    "bce", "BCE",
]
