"""TerminateOnNaN and nan_policy='raise': training stops at a bad batch and keeps the weights from before it."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from callback_helpers import WeightsAtBatchEnd, regression_data, same_weights, small_model

from plait.callbacks import TerminateOnNaN


def log_target_error(y_true, y_pred):
    """Squared error weighted by sqrt(y_true): NaN (loss and gradients) exactly for a negative target."""
    return ((y_true - y_pred).square() * torch.sqrt(y_true)).mean(dim=-1)


def _poisoned(bad_batch: int = 2, batch_size: int = 8):
    x, y = regression_data(40)
    y = np.abs(y) + 0.1
    y[bad_batch * batch_size + 3, 0] = -1.0
    return x, y


def _model():
    return small_model(optimizer="adam", loss=log_target_error)


def test_stops_at_the_bad_batch_with_the_weights_from_before_it():
    x, y = _poisoned()
    model = _model()
    recorder = WeightsAtBatchEnd()
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=[recorder, TerminateOnNaN()])
    assert model.stop_training and len(history.history["loss"]) == 1
    assert len(recorder.weights) == 3  # batches 0, 1 and the bad batch 2
    assert same_weights(recorder.weights[2], recorder.weights[1])  # the bad step was not applied
    assert same_weights(model.get_weights(), recorder.weights[1])
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert int(model.optimizer.iterations) == 2
    assert np.isnan(history.history["loss"][0])


def test_without_the_guard_nan_reaches_the_weights():
    x, y = _poisoned()
    model = _model()
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert not all(np.isfinite(w).all() for w in model.get_weights())


def test_raise_error_and_nan_policy_raise():
    x, y = _poisoned(bad_batch=1)
    model = _model()
    recorder = WeightsAtBatchEnd()
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 1"):
        model.fit(x, y, batch_size=8, shuffle=False, verbose=0, callbacks=[recorder, TerminateOnNaN(raise_error=True)])
    assert same_weights(model.get_weights(), recorder.weights[0])
    model = _model()
    with pytest.raises(FloatingPointError, match="epoch 1, step 2"):
        model.fit(x, y, batch_size=8, shuffle=False, verbose=0, nan_policy="raise")
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_outside_fit_it_reads_the_logged_loss():
    model = small_model()
    callback = TerminateOnNaN()
    callback.set_model(model)
    model.stop_training = False
    callback.on_batch_end(0, {"loss": 1.0})
    assert not model.stop_training
    callback.on_batch_end(1, {"loss": float("inf")})
    assert model.stop_training
    assert TerminateOnNaN.requires_finite_loss
