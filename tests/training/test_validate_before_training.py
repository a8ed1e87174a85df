"""Bad input is refused before the first weight changes, and a refused call leaves the model as it was.

Also: streaming batches (generators, DataLoaders) are checked as they arrive, and concurrent calls on one
model give the serial results.
"""
import threading

import numpy as np
import pytest
import torch

import plait


def _data(n=64, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)).astype("float32"), rng.integers(0, classes, n)


def _trained_classifier(loss="sparse_categorical_crossentropy", units=3, activation="softmax"):
    plait.set_random_seed(0)
    model = plait.Sequential([plait.Input((4,)), plait.layers.Dense(units, activation=activation)])
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    x, y = _data(classes=max(units, 2))
    if loss == "binary_crossentropy":
        targets = (y > 0).astype("float32")
    elif loss == "categorical_crossentropy":
        targets = np.eye(units, dtype="float32")[y]
    else:
        targets = y
    model.fit(x, targets, epochs=1, verbose=0, diagnostics=False)
    return model


def _snapshot(model):
    return [w.copy() for w in model.get_weights()], {k: v.clone() for k, v in model.optimizer.state_dict().items()}


def _assert_unchanged(model, snapshot):
    weights, optimizer = snapshot
    # Nothing ran between the snapshot and here, so the values must be the very same bits.
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)
    state = model.optimizer.state_dict()
    assert state.keys() == optimizer.keys()
    for key, value in optimizer.items():
        assert torch.equal(state[key], value), key


def _bad_last_row(y, value):
    y = y.copy()
    y[-1] = value
    return y


x, y = _data()
BAD_FIT_CALLS = {
    "batch_size=0": dict(x=x, y=y, batch_size=0),
    "epochs=-1": dict(x=x, y=y, epochs=-1),
    "verbose=5": dict(x=x, y=y, verbose=5),
    "nan_policy": dict(x=x, y=y, nan_policy="ignore"),
    "validation_split=1.5": dict(x=x, y=y, validation_split=1.5),
    "validation_freq=0": dict(x=x, y=y, validation_freq=0, validation_split=0.25),
    "validation_freq=[0, 2]": dict(x=x, y=y, validation_freq=[0, 2], validation_split=0.25),
    "validation_freq='2'": dict(x=x, y=y, validation_freq="2", validation_split=0.25),
    "steps_per_epoch=0": dict(x=x, y=y, steps_per_epoch=0),
    "shuffle='rows'": dict(x=x, y=y, shuffle="rows"),
    "class_weight negative": dict(x=x, y=y, class_weight={0: -1.0}),
    "class_weight NaN": dict(x=x, y=y, class_weight={0: float("nan")}),
    "class_weight inf": dict(x=x, y=y, class_weight={1: float("inf")}),
    "class_weight unknown class": dict(x=x, y=y, class_weight={0: 1.0, 7: 2.0}),
    "class_weight not a dict": dict(x=x, y=y, class_weight=[1.0, 2.0]),
    "label out of range (last row)": dict(x=x, y=_bad_last_row(y, 3)),
    "negative label": dict(x=x, y=_bad_last_row(y, -1)),
    "fractional label": dict(x=x, y=_bad_last_row(y.astype("float32"), 1.5)),
    "NaN in x": dict(x=np.where(np.arange(64)[:, None] == 63, np.nan, x).astype("float32"), y=y),
    "rows differ": dict(x=x, y=y[:-1]),
    "negative sample_weight": dict(x=x, y=y, sample_weight=-np.ones(64)),
    "validation labels out of range": dict(x=x, y=y, validation_data=(x[:8], _bad_last_row(y[:8], 9))),
    "validation NaN": dict(x=x, y=y, validation_data=(np.full((8, 4), np.nan, "float32"), y[:8])),
    "validation_data of 4 items": dict(x=x, y=y, validation_data=(x, y, None, None)),
    "a dict to a one-input Sequential": dict(x={"a": x}, y=y),
    "two arrays to a one-input Sequential": dict(x=[x, x], y=y),
    "5 features for an Input of 4": dict(x=np.zeros((64, 5), "float32"), y=y),
}


@pytest.mark.parametrize("case", list(BAD_FIT_CALLS))
def test_a_refused_fit_leaves_weights_and_optimizer_state_as_they_were(case):
    model = _trained_classifier()
    snapshot = _snapshot(model)
    calls = []

    class Spy(plait.callbacks.Callback):
        def on_train_begin(self, logs=None):
            calls.append("train_begin")

    with pytest.raises((ValueError, TypeError)):
        model.fit(**BAD_FIT_CALLS[case], callbacks=[Spy()], verbose=0)
    _assert_unchanged(model, snapshot)
    assert calls == []  # refused before any callback ran


def test_binary_and_categorical_targets_are_checked_over_every_row():
    binary = _trained_classifier("binary_crossentropy", units=1, activation="sigmoid")
    snapshot = _snapshot(binary)
    labels = np.zeros(64, "float32")
    labels[-1] = 2.0
    with pytest.raises(ValueError, match=r"target 2 \(rows \[63\]\).*probabilities in \[0, 1\].*one unit per class"):
        binary.fit(x, labels, verbose=0)
    _assert_unchanged(binary, snapshot)
    categorical = _trained_classifier("categorical_crossentropy")
    onehot = np.eye(3, dtype="float32")[y]
    onehot[5, 0] = -1.0
    with pytest.raises(ValueError, match=r"rows \[5\].*'categorical_crossentropy' takes probabilities"):
        categorical.fit(x, onehot, verbose=0)


def test_label_errors_name_the_rows_and_the_fix():
    model = _trained_classifier()
    with pytest.raises(ValueError, match=r"label 3 \(rows \[63\]\), outside the range \[0, 3\).*subtract 1"):
        model.fit(x, _bad_last_row(y, 3), verbose=0)
    with pytest.raises(ValueError, match=r"fractional labels \(rows \[63\], e.g. 1.5\).*categorical_crossentropy"):
        model.fit(x, _bad_last_row(y.astype("float32"), 1.5), verbose=0)
    with pytest.raises(ValueError, match=r"class_weight names the classes \[7\].*3 classes"):
        model.fit(x, y, class_weight={7: 2.0}, verbose=0)
    with pytest.raises(ValueError, match="finite and non-negative"):
        model.fit(x, y, class_weight={0: -1.0}, verbose=0)
    with pytest.raises(ValueError, match="validation targets holds the label 9"):
        model.fit(x, y, validation_data=(x[:8], _bad_last_row(y[:8], 9)), verbose=0)
    with pytest.raises(ValueError, match="label 5"):  # evaluate checks every row too
        model.evaluate(x, _bad_last_row(y, 5), verbose=0)


def test_ignore_class_labels_pass_the_range_check():
    plait.set_random_seed(0)
    model = plait.Sequential([plait.Input((4,)), plait.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss=plait.losses.SparseCategoricalCrossentropy(ignore_class=-1))
    model.fit(x, _bad_last_row(y, -1), verbose=0, diagnostics=False)


@pytest.mark.parametrize("weights", [-1.0, float("nan"), float("inf"), "heavy", [1.0, -0.5]])
def test_loss_weights_must_be_finite_and_non_negative(weights):
    model = plait.Sequential([plait.Input((4,)), plait.layers.Dense(3)])
    with pytest.raises((ValueError, TypeError), match="loss_weights"):
        model.compile(optimizer="sgd", loss="mse", loss_weights=weights)


def test_a_nan_batch_from_a_generator_is_refused_before_it_is_trained_on():
    def batches(bad):
        yield x[:32], y[:32]
        second = x[32:].copy()
        if bad:
            second[3, 1] = np.nan
        yield second, y[32:]

    model = _trained_classifier()
    reference = _trained_classifier()
    with pytest.raises(ValueError, match=r"The x of batch 1 of the generator contains NaN values .*first rows \[3\]"):
        model.fit(batches(bad=True), verbose=0, diagnostics=False)
    reference.fit(iter([(x[:32], y[:32])]), verbose=0, diagnostics=False)
    # Both trained on the same first batch through the same kernels (identical inputs), then the NaN batch was
    # refused before its step: the same bits.
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("batch, message", [
    (None, "Batch 0 of the list_iterator has no x"),
    ((None, np.zeros(4)), "has no x"),
    ((np.zeros((4, 4), "float32"),), "has no targets .* yield \\(x, y\\)"),
    ((np.zeros((4, 4), "float32"), None), "has no targets"),
    ((np.array(["a", "b", "c", "d"]), np.zeros(4)), "x in batch 0 of the list_iterator holds strings"),
    ((np.zeros((4, 4)), np.zeros(4), np.ones(4), np.ones(4)), "Batch 0 of the list_iterator: Expected a batch"),
])
def test_malformed_batches_name_the_input_kind_and_the_expected_structure(batch, message):
    model = _trained_classifier()
    with pytest.raises((ValueError, TypeError), match=message):
        model.fit(iter([batch]), verbose=0, diagnostics=False)


def test_a_dataloader_batch_with_nan_targets_is_refused():
    labels = y.astype("float32")
    labels[40] = np.nan
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(labels)),
                                         batch_size=16)
    model = _trained_classifier()
    with pytest.raises(ValueError, match=r"The y of batch 2 of the DataLoader contains NaN values"):
        model.fit(loader, verbose=0, diagnostics=False)


def test_concurrent_evaluate_and_predict_give_the_serial_results():
    model = _trained_classifier()
    big_x, big_y = _data(2000, seed=3)
    serial = model.evaluate(big_x, big_y, batch_size=16, verbose=0, diagnostics=False)
    predicted = model.predict(big_x, batch_size=16, verbose=0)
    results, predictions = [None] * 4, [None] * 4

    def work(i):
        results[i] = model.evaluate(big_x, big_y, batch_size=16, verbose=0, diagnostics=False)
        predictions[i] = model.predict(big_x, batch_size=16, verbose=0)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [serial] * 4
    for p in predictions:  # the same rows through the same kernels: the same bits
        np.testing.assert_array_equal(p, predicted)


def test_a_callback_may_evaluate_inside_fit_on_the_same_thread():
    model = _trained_classifier()
    seen = []

    class Evaluate(plait.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(self.model.evaluate(x, y, verbose=0, diagnostics=False))

    model.fit(x, y, epochs=2, callbacks=[Evaluate()], verbose=0, diagnostics=False)
    assert len(seen) == 2
