"""fit / evaluate / predict / *_on_batch semantics, checked against hand-written torch computations."""
import numpy as np
import pytest
import torch

import plait
from plait.layers import Dense


def _linear_model(in_dim=3, out_dim=1, seed=0, **compile_kwargs):
    plait.set_random_seed(seed)
    model = plait.Sequential([Dense(out_dim, input_shape=(in_dim,))])
    compile_kwargs.setdefault("optimizer", plait.optimizers.SGD(learning_rate=0.1))
    compile_kwargs.setdefault("loss", "mse")
    model.compile(**compile_kwargs)
    return model


def _data(n=40, in_dim=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, in_dim)).astype("float32")
    y = (x @ rng.normal(size=(in_dim, 1)) + 0.1).astype("float32")
    return x, y


def _manual_sgd_step(kernel, bias, x, y, weights, lr):
    """One SGD step on a weighted MSE, written directly in torch (reduction: sum / number of samples)."""
    k = torch.tensor(kernel, requires_grad=True)
    b = torch.tensor(bias, requires_grad=True)
    pred = torch.tensor(x) @ k + b
    per_sample = ((pred - torch.tensor(y)) ** 2).mean(dim=1)
    loss = (per_sample * torch.tensor(weights, dtype=torch.float32)).sum() / len(x)
    gk, gb = torch.autograd.grad(loss, [k, b])
    return (k - lr * gk).detach().numpy(), (b - lr * gb).detach().numpy(), float(loss.detach())


def test_train_on_batch_matches_manual_step_with_sample_weight():
    model = _linear_model()
    x, y = _data(8)
    sw = np.linspace(0.5, 2.0, 8).astype("float32")
    kernel, bias = model.get_weights()
    exp_k, exp_b, exp_loss = _manual_sgd_step(kernel, bias, x, y, sw, 0.1)
    loss = model.train_on_batch(x, y, sample_weight=sw)
    np.testing.assert_allclose(loss, exp_loss, rtol=1e-6)
    np.testing.assert_allclose(model.get_weights()[0], exp_k, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(model.get_weights()[1], exp_b, rtol=1e-6, atol=1e-7)


def test_class_weight_multiplies_per_sample_loss():
    plait.set_random_seed(0)
    model = plait.Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    model.compile(optimizer=plait.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    x = np.random.rand(6, 4).astype("float32")
    y = np.array([0, 1, 2, 0, 1, 2])
    kernel, bias = model.get_weights()
    class_weight = {0: 2.0, 2: 0.5}  # class 1 missing -> weight 1
    k = torch.tensor(kernel, requires_grad=True)
    b = torch.tensor(bias, requires_grad=True)
    probs = torch.softmax(torch.tensor(x) @ k + b, dim=1).clamp(1e-7, 1 - 1e-7)
    per_sample = -torch.log(probs[torch.arange(6), torch.tensor(y)])
    w = torch.tensor([2.0, 1.0, 0.5, 2.0, 1.0, 0.5])
    loss = (per_sample * w).sum() / 6
    gk, gb = torch.autograd.grad(loss, [k, b])
    got = model.train_on_batch(x, y, class_weight=class_weight)
    np.testing.assert_allclose(got, float(loss.detach()), rtol=1e-5)
    np.testing.assert_allclose(model.get_weights()[0], (k - 0.5 * gk).detach().numpy(), rtol=1e-5, atol=1e-6)
    # The same weights through fit (one batch, no shuffling) give the same step.
    model2 = plait.Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    model2.compile(optimizer=plait.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    model2.set_weights([kernel, bias])
    model2.fit(x, y, batch_size=6, epochs=1, class_weight=class_weight, shuffle=False, verbose=0)
    np.testing.assert_allclose(model2.get_weights()[0], model.get_weights()[0], rtol=1e-6)


def test_validation_split_takes_the_last_rows_before_shuffling():
    x, y = _data(40)
    a = _linear_model(seed=3)
    history = a.fit(x, y, batch_size=8, epochs=1, validation_split=0.25, shuffle=False, verbose=0)
    b = _linear_model(seed=3)
    b.fit(x[:30], y[:30], batch_size=8, epochs=1, shuffle=False, verbose=0)
    # Exact: both fits see the same rows of the same buffer, batch for batch and in the same order.
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_allclose(history.history["val_loss"][0], a.evaluate(x[30:], y[30:], verbose=0), rtol=1e-6)


def test_epoch_loss_is_sample_weighted_mean_of_batch_losses():
    x, y = _data(10)
    model = _linear_model(optimizer=plait.optimizers.SGD(0.0))  # lr 0: weights fixed, losses comparable
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    kernel, bias = model.get_weights()
    per_sample = ((x @ kernel + bias - y) ** 2).mean(axis=1)
    np.testing.assert_allclose(history.history["loss"][0], per_sample.mean(), rtol=1e-5)


def test_history_epochs_initial_epoch_and_validation_freq():
    x, y = _data(20)
    model = _linear_model()
    history = model.fit(x, y, epochs=5, initial_epoch=2, verbose=0)
    assert history.epoch == [2, 3, 4] and len(history.history["loss"]) == 3
    history = model.fit(x, y, epochs=4, validation_data=(x, y), validation_freq=2, verbose=0)
    assert len(history.history["loss"]) == 4 and len(history.history["val_loss"]) == 2
    history = model.fit(x, y, epochs=3, validation_data=(x, y), validation_freq=[1, 3], verbose=0)
    assert len(history.history["val_loss"]) == 2
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 1}
    assert model.history is history


def test_steps_per_epoch_counts_steps_and_continues_the_stream():
    x, y = _data(20)
    model = _linear_model()
    seen = []
    cb = plait.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    model.fit(x, y, batch_size=8, epochs=2, steps_per_epoch=5, callbacks=[cb], verbose=0)
    assert seen == [0, 1, 2, 3, 4] * 2


def test_generator_and_dataloader_inputs():
    x, y = _data(32)
    model = _linear_model()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                         batch_size=8)
    history = model.fit(loader, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and history.params["steps"] == 4

    def gen():
        for i in range(0, 32, 8):
            yield x[i:i + 8], y[i:i + 8]

    history = model.fit(gen(), epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1
    np.testing.assert_allclose(model.evaluate(loader, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-5)
    with pytest.warns(UserWarning, match="ran out of data"):
        model.fit(gen(), epochs=3, steps_per_epoch=4, verbose=0)


def test_evaluate_return_forms_and_predict():
    x, y = _data(16)
    model = _linear_model(metrics=["mae"])
    result = model.evaluate(x, y, verbose=0)
    assert isinstance(result, list) and len(result) == 2
    as_dict = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(as_dict) == ["loss", "mae"] and all(isinstance(v, float) for v in as_dict.values())
    kernel, bias = model.get_weights()
    pred = x @ kernel + bias
    np.testing.assert_allclose(as_dict["loss"], ((pred - y) ** 2).mean(), rtol=1e-5)
    np.testing.assert_allclose(as_dict["mae"], np.abs(pred - y).mean(), rtol=1e-5)
    out = model.predict(x, batch_size=5, verbose=0)
    assert isinstance(out, np.ndarray) and out.shape == (16, 1)
    np.testing.assert_allclose(out, pred, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x), pred, rtol=1e-5, atol=1e-6)
    plain = _linear_model()
    assert isinstance(plain.evaluate(x, y, verbose=0), float)
    assert isinstance(plain.test_on_batch(x, y), float)
    assert set(plain.test_on_batch(x, y, return_dict=True)) == {"loss"}


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
    ({"batch_size": -4}, "batch_size must be a positive integer, got -4"),
    ({"epochs": -1}, "epochs must be a non-negative integer, got -1"),
    ({"validation_split": 1.5}, "validation_split must be a float in"),
    ({"verbose": 3}, "verbose must be"),
    ({"steps_per_epoch": 0}, "steps_per_epoch must be a positive integer"),
])
def test_fit_argument_errors(kwargs, message):
    x, y = _data(10)
    model = _linear_model()
    with pytest.raises(ValueError, match=message):
        model.fit(x, y, **kwargs)


def test_data_errors_leave_weights_untouched():
    x, y = _data(10)
    model = _linear_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match="same number of samples.*x: 10, y: 9"):
        model.fit(x, y[:9], verbose=0)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"x contains NaN values \(1 of 10 rows, first rows \[3\]\)"):
        model.fit(bad, y, verbose=0)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="inf"):
        model.fit(bad, y, verbose=0)
    with pytest.raises(ValueError, match="empty"):
        model.fit(x[:0], y[:0], verbose=0)
    with pytest.raises(ValueError, match="y is missing"):
        model.fit(x, verbose=0)
    with pytest.raises(TypeError, match="strings"):
        model.fit(x, np.array(["a"] * 10), verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_finite_check_is_exact_when_a_sum_of_finite_data_overflows():
    from plait.data.arrays import _all_finite

    huge = torch.full((4, 3), 3e38)  # finite float32 values whose sum is inf
    assert _all_finite(huge)
    huge[2, 1] = float("nan")
    assert not _all_finite(huge)
    mixed = torch.zeros(5, 2)
    mixed[0, 0], mixed[4, 1] = float("inf"), float("-inf")  # the sum is NaN; either way non-finite
    assert not _all_finite(mixed)
    assert _all_finite(torch.zeros(0, 3))


def test_fit_before_compile_and_unknown_ids():
    model = plait.Sequential([Dense(1, input_shape=(2,))])
    with pytest.raises(ValueError, match="must call compile"):
        model.fit(np.zeros((2, 2)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="Did you mean 'adam'"):
        model.compile(optimizer="adma", loss="mse")
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        model.compile(optimizer="adam", loss="categorical_crossentropi")
    with pytest.raises(ValueError, match="Did you mean 'mae'"):
        model.compile(optimizer="adam", loss="mse", metrics=["maee"])


def test_categorical_crossentropy_with_integer_labels_suggests_sparse():
    model = plait.Sequential([Dense(3, activation="softmax", input_shape=(2,))])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        model.fit(np.zeros((4, 2)), np.array([0, 1, 2, 1]), verbose=0)


@pytest.mark.parametrize("out_units, activation, loss, y, expected", [
    (1, "sigmoid", "binary_crossentropy", np.array([0, 1, 1, 0]), "BinaryAccuracy"),
    (1, "sigmoid", "binary_crossentropy", np.array([[0], [1], [1], [0]]), "BinaryAccuracy"),
    (3, "softmax", "sparse_categorical_crossentropy", np.array([0, 1, 2, 1]), "SparseCategoricalAccuracy"),
    (3, "softmax", "sparse_categorical_crossentropy", np.array([[0], [1], [2], [1]]), "SparseCategoricalAccuracy"),
    (3, "softmax", "categorical_crossentropy", np.eye(3)[[0, 1, 2, 1]], "CategoricalAccuracy"),
    # Keras 3 picks CategoricalAccuracy here (argmax over independent sigmoids); plait picks BinaryAccuracy.
    (3, "sigmoid", "binary_crossentropy", np.array([[1, 0, 1], [0, 1, 1], [0, 0, 0], [1, 1, 1]]), "BinaryAccuracy"),
])
def test_accuracy_string_resolves_from_shapes_and_loss(out_units, activation, loss, y, expected):
    model = plait.Sequential([Dense(out_units, activation=activation, input_shape=(2,))])
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy", "acc"])
    history = model.fit(np.random.rand(4, 2), y, epochs=1, verbose=0)
    assert type(model.metrics[1]).__name__ == expected
    assert {"accuracy", "acc"} <= set(history.history)


def test_multilabel_binary_accuracy_value():
    model = plait.Sequential([Dense(3, activation="sigmoid", input_shape=(2,))])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    x = np.random.rand(8, 2).astype("float32")
    y = np.random.randint(0, 2, size=(8, 3))
    acc = model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"]
    pred = model.predict(x, verbose=0)
    np.testing.assert_allclose(acc, ((pred > 0.5) == y).mean(), rtol=1e-6)


def test_learning_rate_settable_after_compile():
    x, y = _data(8)
    model = _linear_model()
    model.optimizer.learning_rate = 0.0
    before = model.get_weights()
    model.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_stop_training_from_callback():
    x, y = _data(8)
    model = _linear_model()

    class Stop(plait.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    history = model.fit(x, y, epochs=10, callbacks=[Stop()], verbose=0)
    assert history.epoch == [0, 1]


def test_seeded_runs_repeat_exactly():
    x, y = _data(64)

    def run():
        model = _linear_model(seed=7, optimizer="adam")
        return model.fit(x, y, epochs=3, batch_size=8, verbose=0).history["loss"], model.get_weights()

    (h1, w1), (h2, w2) = run(), run()
    assert h1 == h2
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)


def test_progress_output_verbose_2_and_redirected_1(capsys):
    x, y = _data(64)
    model = _linear_model(metrics=["mae"])
    model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    epoch_lines = [line for line in out.splitlines() if "ms/step" in line or "us/step" in line or "s/step" in line]
    assert len(epoch_lines) == 2 and all("loss:" in ln and "val_loss:" in ln and "mae:" in ln for ln in epoch_lines)
    model.fit(x, y, epochs=2, batch_size=16, verbose=1)  # captured stdout is not a terminal
    out = capsys.readouterr().out
    assert "\r" not in out
    assert len([ln for ln in out.splitlines() if "loss:" in ln]) == 2


def test_custom_train_step_override():
    class Custom(plait.Sequential):
        calls = 0

        def train_step(self, data):
            Custom.calls += 1
            return super().train_step(data)

    model = Custom([Dense(1, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    x, y = _data(16)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert Custom.calls == 4


def test_nan_policy_raise_keeps_weights_from_before_the_bad_step():
    x, y = _data(16)
    # The second batch of 8 holds a finite target whose squared error overflows float32: an infinite loss from
    # data that passes every check (a NaN in the data itself is refused before it reaches a step).
    y[9] = 1e30
    model = _linear_model()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                         batch_size=8)
    first = _linear_model()
    # shuffle=False: the first step must see the loader's batch row for row. The same rows in another order
    # sum the gradient in another order, which differs in the last bit on some CPUs (AVX-512 kernels).
    # In that order the kernels' inputs are identical by construction, so the weights are compared exactly.
    first.fit(x[:8], y[:8], batch_size=8, epochs=1, shuffle=False, verbose=0)
    with pytest.raises(FloatingPointError, match="became inf at epoch 1, step 2; that step was not applied"):
        model.fit(loader, epochs=1, nan_policy="raise", verbose=0)
    for a, b in zip(model.get_weights(), first.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="nan_policy"):
        model.fit(x[:8], y[:8], nan_policy="ignore")


def test_a_used_up_generator_stops_training_with_a_warning_and_keeps_the_history():
    x, y = _data(16)
    model = _linear_model()
    batches = ((x[i:i + 8], y[i:i + 8]) for i in range(0, 16, 8))  # one pass only
    with pytest.warns(UserWarning, match="ran out of data; interrupting training after epoch 1 of 3"):
        history = model.fit(batches, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1 and history.epoch == [0]
    empty = (b for b in [])
    with pytest.raises(ValueError, match="produced no batches"):
        model.fit(empty, epochs=2, verbose=0)
