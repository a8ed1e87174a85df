"""torch modules inside plait models: a lazily built plait layer next to them (F5.2), and saving a subclass (F5.3)."""
import numpy as np
import pytest
import torch
from torch import nn

import plait
from plait.layers import Dense
from plait.saving import FormatError


class Mixed(plait.Model):
    """The review's repro: an nn.LSTM next to a plait Dense that builds on its first call."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lstm = nn.LSTM(4, 8, batch_first=True)
        self.head = Dense(1, activation="sigmoid")

    def call(self, x, training=None):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def _sequences(n=64):
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(n, 10, 4)).astype("float32")
    return xs, (xs[:, :, 0].mean(1) > 0).astype("float32")


def test_torch_module_next_to_a_lazily_built_layer_trains_without_a_build_call():
    xs, ys = _sequences()
    model = Mixed().to(plait.config.get_device())  # the nn.LSTM is made on torch's default device
    model.compile(optimizer="adam", loss="binary_crossentropy")
    lstm_before = model.lstm.weight_ih_l0.detach().clone()
    history = model.fit(xs, ys, batch_size=32, epochs=3, verbose=0, diagnostics=False)
    assert not torch.equal(lstm_before, model.lstm.weight_ih_l0)
    assert int(model.optimizer.iterations) == 6  # every step applied, the first one included
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_the_first_step_of_a_lazily_built_model_updates_the_weights():
    # Before the fix, the first step's optimizer saw no variables (the layers did not exist before the forward
    # pass) and skipped the update: a lazily built model trained one step less than a built one.
    x = np.random.default_rng(1).normal(size=(8, 3)).astype("float32")
    y = x[:, :1]
    lazy = plait.Sequential([Dense(1)])
    built = plait.Sequential([Dense(1, input_shape=(3,))])
    for model in (lazy, built):
        model.compile(optimizer=plait.optimizers.SGD(0.1), loss="mse")
    lazy.fit(x, y, batch_size=8, verbose=0, diagnostics=False)  # builds, then one step
    built.set_weights(lazy.get_weights())
    built.fit(x, y, batch_size=8, verbose=0, diagnostics=False)
    assert int(lazy.optimizer.iterations) == 1
    kernel, bias = built.get_weights()
    assert not np.allclose(kernel, lazy.get_weights()[0])  # `built` took its own step from lazy's weights


class NoKwargs(plait.Model):
    def __init__(self):
        super().__init__()
        self.head = Dense(1)

    def call(self, x, training=None):
        return self.head(x)


class WithKwargs(plait.Model):
    def __init__(self, units=1, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.head = Dense(units)

    def call(self, x, training=None):
        return self.head(x)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class Scale(plait.layers.Layer):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def call(self, x):
        return x * self.factor


def test_saving_a_subclass_without_kwargs_names_the_fix_at_save_time(tmp_path):
    model = NoKwargs()
    model(np.zeros((1, 3), "float32"))
    with pytest.raises(ValueError, match=r"unexpected keyword argument 'name'.*\*\*kwargs.*super\(\).__init__"):
        model.save(tmp_path / "m.plait")
    assert not (tmp_path / "m.plait").exists()
    sequential = plait.Sequential([Dense(2, input_shape=(3,)), Scale(2.0)])
    with pytest.raises(ValueError, match=r"Scale.*missing a required argument: 'factor'.*get_config"):
        sequential.save(tmp_path / "s.plait")
    good = WithKwargs(units=2)
    good(np.zeros((1, 3), "float32"))
    good.save(tmp_path / "good.plait")
    loaded = plait.load_model(tmp_path / "good.plait", custom_objects={"WithKwargs": WithKwargs})
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), good.predict(x, verbose=0))


def test_loading_an_old_file_of_such_a_subclass_names_the_fix(tmp_path, monkeypatch):
    from plait.saving import model_io

    model = NoKwargs()
    model(np.zeros((1, 3), "float32"))
    monkeypatch.setattr(model_io, "_check_rebuildable", lambda model: None)  # as files saved before the check
    model.save(tmp_path / "m.plait")
    with pytest.raises(FormatError, match=r"unexpected keyword argument 'name'.*\*\*kwargs"):
        plait.load_model(tmp_path / "m.plait", custom_objects={"NoKwargs": NoKwargs})
