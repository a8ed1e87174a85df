"""One owner for a fit's state: `model.fit_run` (training/run.py), read by steps and callbacks.

Also Keras's override contract: a `train_step` that unpacks `x, y = data` and drives its own metrics.
"""
import numpy as np
import pytest

import plait
from plait.layers import Dense
from plait.training import FitRun

# Private attributes that used to carry a fit's state between packages; none may come back.
_OLD_CHANNELS = ("_train_vars_cache", "_regularized_cache", "_nan_guard", "_nonfinite_loss", "_initial_epoch",
                 "_output_sink", "_diagnostics_fingerprint", "_replaying_batches")


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32") + 0.1).astype("float32")


def _model(seed=0, **compile_kwargs):
    plait.set_random_seed(seed)
    model = plait.Sequential([Dense(1, input_shape=(3,))])
    model.compile(optimizer=plait.optimizers.SGD(learning_rate=0.05), loss="mse", **compile_kwargs)
    return model


class _Recorder(plait.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_begin(self, logs=None):
        run = self.model.fit_run
        self.seen.append((run.kind, run.epochs, run.initial_epoch, run.data.num_samples,
                          run.validation_data.num_samples, run.split_at, run.nan_guard))

    def on_epoch_end(self, epoch, logs=None):
        self.model.evaluate(*_data(8, seed=1), verbose=0)  # a nested run must not replace the fit's
        assert self.model.fit_run.kind == "fit"


def test_callbacks_read_the_run_and_it_is_gone_after_fit():
    model = _model()
    recorder = _Recorder()
    model.fit(*_data(), epochs=2, validation_split=0.25, callbacks=[recorder], verbose=0)
    assert recorder.seen == [("fit", 2, 0, 30, 10, 30, False)]
    assert model.fit_run is None
    for name in _OLD_CHANNELS:
        assert not hasattr(model, name), name


def test_a_failed_fit_leaves_no_run_behind():
    model = _model()

    class Boom(plait.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        model.fit(*_data(), callbacks=[Boom()], verbose=0)
    assert model.fit_run is None


def test_resume_at_moves_the_start_and_replayed_batches_fire_no_hooks():
    x, y = _data(40)
    model = _model()
    events = []

    class Resume(plait.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.model.fit_run.resume_at(2, replay_steps=3, after_replay=lambda: events.append("replayed"))

        def on_train_batch_end(self, batch, logs=None):
            events.append(batch)

        def on_epoch_begin(self, epoch, logs=None):
            events.append(f"epoch {epoch}")

    history = model.fit(x, y, batch_size=10, epochs=4, shuffle=False, callbacks=[Resume()], verbose=0)
    assert history.epoch == [2, 3]
    assert events == ["epoch 2", "replayed", 3, "epoch 3", 0, 1, 2, 3]
    assert "train_step" not in vars(model)  # resuming replaces no method on the instance

    # The replayed batches were not trained on: the weights are those of 1 + 4 steps from the start.
    reference = _model()
    reference.fit(x[30:], y[30:], batch_size=10, epochs=1, shuffle=False, verbose=0, diagnostics=False)
    reference.fit(x, y, batch_size=10, epochs=1, shuffle=False, verbose=0, diagnostics=False)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        # The same batches in the same order through the same kernels: identical inputs, so equal bits.
        np.testing.assert_array_equal(a, b)


def test_observers_see_each_validation_pass_and_nothing_of_training():
    x, y = _data(40)

    class Rows(plait.metrics.Metric):
        def __init__(self):
            super().__init__(name="rows")
            self.add_state("n", 0.0)

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.n = self.n + y_true.shape[0]

        def result(self):
            return self.n

    rows = Rows()
    passes = []

    class Observe(plait.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.model.fit_run.observers.append(rows)

        def on_epoch_end(self, epoch, logs=None):
            passes.append(float(rows.result()))

    model = _model()
    history = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, callbacks=[Observe()], verbose=0)
    assert passes == [10.0, 10.0, 10.0]  # reset at each pass; the 30 training rows never counted
    assert "rows" not in history.history  # observed, never logged


def test_evaluate_runs_with_its_own_run():
    model = _model()
    kinds = []

    class Look(plait.callbacks.Callback):
        def on_test_begin(self, logs=None):
            kinds.append((self.model.fit_run.kind, self.model.fit_run.data.num_samples))

    model.evaluate(*_data(12), callbacks=[Look()], verbose=0)
    assert kinds == [("evaluate", 12)] and model.fit_run is None


def test_keras_style_train_step_unpacks_x_y_and_drives_its_metrics():
    """The train_step of Keras's "customizing fit" guide, with plait's GradientTape: `x, y = data`."""

    class Custom(plait.Sequential):
        def train_step(self, data):
            x, y = data
            with plait.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    x, y = _data(40)
    plait.set_random_seed(0)
    custom = Custom([Dense(1, input_shape=(3,))])
    custom.compile(optimizer=plait.optimizers.SGD(learning_rate=0.05), loss="mse", metrics=["mae"])
    history = custom.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, diagnostics=False)
    builtin = _model(metrics=["mae"])
    expected = builtin.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, diagnostics=False)
    assert list(history.history) == ["loss", "mae"]
    # The same update rule on the same batches; autograd through the tape may order the sums differently.
    for key in ("loss", "mae"):
        np.testing.assert_allclose(history.history[key], expected.history[key], rtol=1e-5)
    for a, b in zip(custom.get_weights(), builtin.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_batches_follow_keras_tuple_lengths():
    seen = []

    class Look(plait.Sequential):
        def train_step(self, data):
            seen.append(len(data))
            return super().train_step(data)

    plait.set_random_seed(0)
    model = Look([Dense(1, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    x, y = _data(8)
    model.fit(x, y, batch_size=8, verbose=0, diagnostics=False)
    model.fit(x, y, sample_weight=np.ones(8), batch_size=8, verbose=0, diagnostics=False)
    model.fit(x, y, class_weight={0: 1.0}, batch_size=8, verbose=0, diagnostics=False)
    assert seen == [2, 3, 3]


def test_fit_run_defaults():
    run = FitRun()
    assert (run.kind, run.initial_epoch, run.replaying, run.observers) == ("fit", 0, False, [])
    calls = []
    run.resume_at(3, replay_steps=2, after_replay=lambda: calls.append(1))
    assert run.initial_epoch == 3 and run.replaying
    run.replayed_one()
    assert calls == [] and run.replaying
    run.replayed_one()
    assert calls == [1] and not run.replaying
