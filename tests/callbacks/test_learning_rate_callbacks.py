"""ReduceLROnPlateau and LearningRateScheduler: hand-computed rate schedules, and that training really used them."""
from __future__ import annotations

import pytest
from callback_helpers import Script, WeightsAtEpochEnd, regression_data, same_weights, small_model

from plait import optimizers
from plait.callbacks import LearningRateScheduler, ReduceLROnPlateau


def _fit(callbacks, epochs, lr=1.0, optimizer=None):
    model = small_model(optimizer=optimizer or optimizers.SGD(learning_rate=lr))
    x, y = regression_data()
    recorder = WeightsAtEpochEnd()
    history = model.fit(x, y, batch_size=10, epochs=epochs, verbose=0, shuffle=False,
                        callbacks=[*callbacks, recorder])
    return model, history, recorder


def _reference(lrs, lr0=1.0):
    """The same training with the rate set by hand before each epoch: an independent path to the weights."""
    model = small_model(optimizer=optimizers.SGD(learning_rate=lr0))
    x, y = regression_data()
    for epoch, lr in enumerate(lrs):
        model.optimizer.learning_rate = lr
        model.fit(x, y, batch_size=10, epochs=epoch + 1, initial_epoch=epoch, verbose=0, shuffle=False)
    return model


def test_reduce_lr_on_plateau_follows_the_hand_computed_schedule():
    # patience 2, cooldown 1, factor 0.5, floor 0.001, from 0.01; improvements at epochs 0 and 6 only.
    # e2: wait 2 -> 0.005 (cooldown); e3: cooldown ends, wait 1; e4: wait 2 -> 0.0025; e5: wait 1; e6: improves;
    # e7: wait 1; e8: wait 2 -> max(0.00125, 0.001) = 0.00125; e9: wait 1.
    values = [1.0] * 6 + [0.5] * 4
    reduce = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, cooldown=1, min_lr=0.001, min_delta=0)
    model, history, recorder = _fit([Script(val_loss=values), reduce], epochs=10, lr=0.01)
    used = [0.01, 0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025, 0.0025, 0.0025, 0.00125]
    assert recorder.lr_at_begin == used
    assert history.history["learning_rate"] == used  # the rate in use during each epoch
    assert float(model.optimizer.learning_rate) == 0.00125
    reference = _reference(used, 0.01).get_weights()
    assert same_weights(model.get_weights(), reference)
    assert not same_weights(reference, _reference([0.01] * 10, 0.01).get_weights())


def test_reduce_lr_respects_min_lr_and_min_delta():
    reduce = ReduceLROnPlateau(monitor="val_loss", factor=0.1, patience=1, min_lr=0.1, min_delta=0.05)
    # 0.98 is not an improvement on 1.0 with min_delta 0.05: e1 -> max(0.03, 0.1) = 0.1; then it stays at the floor.
    _, history, _ = _fit([Script(val_loss=[1.0, 0.98, 0.97, 0.96]), reduce], epochs=4, lr=0.3)
    assert history.history["learning_rate"] == [0.3, 0.3, 0.1, 0.1]


def test_reduce_lr_arguments():
    with pytest.raises(ValueError, match="factor >= 1.0"):
        ReduceLROnPlateau(factor=1.0)
    with pytest.warns(DeprecationWarning, match="min_delta"):
        assert ReduceLROnPlateau(epsilon=0.5).min_delta == 0.5
    with pytest.raises(ValueError, match="Unrecognized"):
        ReduceLROnPlateau(patients=3)


def test_learning_rate_scheduler_two_and_one_argument_schedules():
    def halve_after_two(epoch, lr):
        return lr if epoch < 2 else lr * 0.5

    model, history, recorder = _fit([LearningRateScheduler(halve_after_two)], epochs=5, lr=0.2)
    used = [0.2, 0.2, 0.1, 0.05, 0.025]
    assert recorder.lr_at_begin == used and history.history["learning_rate"] == used
    assert same_weights(model.get_weights(), _reference(used, 0.2).get_weights())

    _, history, _ = _fit([LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))], epochs=3)
    assert history.history["learning_rate"] == [0.1, 0.05, 0.1 / 3]


def test_learning_rate_scheduler_errors_are_not_hidden():
    def broken(epoch, lr):
        raise TypeError("bug inside the schedule")

    with pytest.raises(TypeError, match="bug inside"):
        _fit([LearningRateScheduler(broken)], epochs=1)
    with pytest.raises(ValueError, match="finite, non-negative float"):
        _fit([LearningRateScheduler(lambda epoch: "fast")], epochs=1)
    with pytest.raises(TypeError, match="function"):
        LearningRateScheduler(0.1)
