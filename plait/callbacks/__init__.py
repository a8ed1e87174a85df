"""Callbacks: objects called at each stage of `fit`, `evaluate` and `predict`."""
from plait.callbacks.backup_and_restore import BackupAndRestore
from plait.callbacks.callback import Callback
from plait.callbacks.callback_list import CallbackList
from plait.callbacks.csv_logger import CSVLogger
from plait.callbacks.early_stopping import EarlyStopping
from plait.callbacks.history import History
from plait.callbacks.lambda_callback import LambdaCallback
from plait.callbacks.learning_rate_scheduler import LearningRateScheduler
from plait.callbacks.model_checkpoint import ModelCheckpoint
from plait.callbacks.monitor import MonitorCallback
from plait.callbacks.progbar_logger import ProgbarLogger
from plait.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from plait.callbacks.tensorboard import TensorBoard
from plait.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = ["BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History", "LambdaCallback",
           "LearningRateScheduler", "ModelCheckpoint", "MonitorCallback", "ProgbarLogger", "ReduceLROnPlateau",
           "TensorBoard", "TerminateOnNaN"]
