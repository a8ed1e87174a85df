"""Callbacks: objects called at each stage of `fit`, `evaluate` and `predict`."""
from plait.callbacks.callback import Callback
from plait.callbacks.callback_list import CallbackList
from plait.callbacks.history import History
from plait.callbacks.lambda_callback import LambdaCallback
from plait.callbacks.progbar_logger import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "LambdaCallback", "ProgbarLogger"]
