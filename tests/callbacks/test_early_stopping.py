"""EarlyStopping and the shared monitor, against hand-computed schedules (Keras 3.16's rules)."""
from __future__ import annotations

import numpy as np
import pytest
from callback_helpers import Script, WeightsAtEpochEnd, regression_data, same_weights, small_model

from plait.callbacks import EarlyStopping, MonitorCallback


def _run(values, epochs=10, key="val_loss", metrics=None, **kwargs):
    model = small_model(metrics=metrics)
    x, y = regression_data()
    recorder = WeightsAtEpochEnd()
    stop = EarlyStopping(monitor=key, **kwargs)
    history = model.fit(x, y, batch_size=10, epochs=epochs, verbose=0,
                        callbacks=[Script(**{key: values}), recorder, stop])
    return model, history, stop, recorder


# (values, kwargs, epochs run, stopped_epoch, best_epoch) worked out by hand from Keras's rules:
# wait += 1 each watched epoch; an improvement (beating the baseline too) resets it; stop when wait >= patience
# at an epoch after the first.
SCHEDULES = [
    ([1.0, 0.8, 0.9, 0.85, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2], {"patience": 2}, 4, 3, 1),
    ([1.0, 0.8, 0.9, 0.85, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2], {"patience": 0}, 3, 2, 1),
    ([1.0, 0.95, 0.85, 0.9, 0.1, 0, 0, 0, 0, 0], {"patience": 1, "min_delta": 0.1}, 2, 1, 0),
    ([1.0, 0.95, 0.85, 0.9, 0.1, 0, 0, 0, 0, 0], {"patience": 1, "min_delta": -0.1}, 2, 1, 0),
    ([0.9, 0.95, 0.97, 0.1, 0, 0, 0, 0, 0, 0], {"patience": 2, "baseline": 0.5}, 2, 1, 0),
    ([0.9, 0.8, 0.7, 0.6, 0.55, 0.52, 0.51, 0.505, 0.501, 0.5005], {"patience": 2, "baseline": 0.5}, 10, 0, 9),
    ([5.0, 4.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 9.5], {"patience": 0, "start_from_epoch": 2}, 4, 3, 2),
    ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], {"patience": 3}, 4, 3, 0),
    ([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1], {"patience": 0}, 10, 0, 9),
]


@pytest.mark.parametrize("values, kwargs, ran, stopped, best", SCHEDULES)
def test_stops_at_the_hand_computed_epoch(values, kwargs, ran, stopped, best):
    _, history, stop, _ = _run(values, restore_best_weights=True, **kwargs)
    assert len(history.history["loss"]) == ran
    assert history.epoch == list(range(ran))
    assert stop.stopped_epoch == stopped
    assert stop.best_epoch == best


def test_max_mode_from_a_compiled_metric_and_restores_the_best_weights():
    values = [0.5, 0.6, 0.7, 0.65, 0.69, 0.9, 1, 1, 1, 1]
    model, history, stop, recorder = _run(values, key="val_r2", metrics=[_r2()], patience=2,
                                          restore_best_weights=True)
    assert stop._higher_is_better is True  # R2Score says higher is better
    assert len(history.history["loss"]) == 5 and stop.stopped_epoch == 4 and stop.best_epoch == 2
    assert same_weights(model.get_weights(), recorder.weights[2])
    assert not same_weights(model.get_weights(), recorder.weights[-1])


def _r2():
    from plait.metrics import R2Score

    return R2Score(name="r2")


def test_restores_best_weights_even_without_stopping_early():
    # Keras 3.16: the best weights are put back at the end whenever they were recorded.
    model, history, stop, recorder = _run([0.5, 0.7, 0.9], epochs=3, patience=5, restore_best_weights=True)
    assert stop.stopped_epoch == 0 and len(history.history["loss"]) == 3
    assert same_weights(model.get_weights(), recorder.weights[0])
    model, _, _, recorder = _run([0.5, 0.7, 0.9], epochs=3, patience=5, restore_best_weights=False)
    assert same_weights(model.get_weights(), recorder.weights[-1])


def test_monitor_missing_warns_and_unknown_direction_raises():
    model = small_model()
    x, y = regression_data()
    with pytest.warns(UserWarning, match="not available"):
        history = model.fit(x, y, epochs=3, verbose=0, callbacks=[EarlyStopping(monitor="val_loss", patience=0)])
    assert len(history.history["loss"]) == 3
    with pytest.raises(ValueError, match="mode='max'"):
        model.fit(x, y, epochs=2, verbose=0, callbacks=[Script(score=[1, 2]), EarlyStopping(monitor="score")])
    history = model.fit(x, y, epochs=5, verbose=0,
                        callbacks=[Script(score=[1, 2, 1, 1, 1]), EarlyStopping(monitor="score", mode="max")])
    assert len(history.history["loss"]) == 3


def test_monitor_callback_rules():
    with pytest.raises(ValueError, match="mode must be one of"):
        MonitorCallback(mode="minimum")
    with pytest.raises(ValueError, match="min_delta"):
        MonitorCallback(min_delta=float("nan"))
    low = MonitorCallback(monitor="val_loss", min_delta=-0.5)  # the sign of min_delta is ignored
    low._set_monitor_op()
    assert low._is_improvement(0.4, 1.0) and not low._is_improvement(0.6, 1.0) and low._is_improvement(9, None)
    high = MonitorCallback(monitor="val_auc", mode="max", min_delta=0.01)
    assert high._is_improvement(0.52, 0.5) and not high._is_improvement(0.505, 0.5)
    model = small_model(metrics=["mae", "accuracy"])
    x, y = regression_data()
    model.fit(x, y, epochs=1, verbose=0)
    for name, expected in (("val_mae", False), ("mae", False), ("val_loss", False), ("val_accuracy", True)):
        monitor = MonitorCallback(monitor=name)
        monitor.set_model(model)
        monitor._set_monitor_op()
        assert monitor._higher_is_better is expected, name
    assert np.isclose(MonitorCallback(baseline=0.3).best, 0.3)


def test_argument_validation():
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="start_from_epoch"):
        EarlyStopping(start_from_epoch=1.5)
