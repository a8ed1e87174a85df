"""Planted pitfalls in fit/evaluate: each triggers its warning with the right figures; clean data triggers none."""
import warnings

import numpy as np
import pytest

import plait
from plait.diagnostics import (
    AccuracyParadoxWarning,
    ClassImbalanceWarning,
    DataLeakageWarning,
    NoValidationNotice,
    OverfittingWarning,
    PitfallWarning,
    SplitWarning,
)
from plait.evaluation import diagnostics as diagnostics_module


@pytest.fixture(autouse=True)
def _fresh_notice(monkeypatch):
    # The no-validation notice is once per process; each test starts as a fresh session.
    monkeypatch.setattr(diagnostics_module, "_noticed_no_validation", False)


def _binary_model(features, hidden=16, lr=0.01):
    model = plait.Sequential([plait.layers.Dense(hidden, activation="relu", input_shape=(features,)),
                              plait.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=plait.optimizers.Adam(lr), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _pitfalls(caught):
    return [w for w in caught if issubclass(w.category, PitfallWarning)]


def _run(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, _pitfalls(caught)


def _linear_data(rng, n, features=8, noise=0.3):
    x = rng.normal(size=(n, features)).astype("float32")
    w = np.linspace(-1.0, 1.0, features)
    y = (x @ w + noise * rng.normal(size=n) > 0).astype("float32")
    return x, y


def test_clean_balanced_well_split_data_raises_nothing():
    plait.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = _linear_data(rng, 1000)
    model = _binary_model(8)
    history, found = _run(lambda: model.fit(x[:600], y[:600], validation_data=(x[600:800], y[600:800]),
                                            epochs=6, batch_size=64, verbose=0))
    assert found == [] and history.diagnostics == []
    _, found = _run(lambda: model.evaluate(x[800:], y[800:], verbose=0))
    assert found == []
    report, found = _run(lambda: model.report(x[800:], y[800:], n_bootstrap=50))
    assert found == [] and report.diagnostics == []
    # validation_split on shuffled data and multi-class softmax are clean too.
    labels = np.argmax(x[:, :3], axis=1)
    multi = plait.Sequential([plait.layers.Dense(3, activation="softmax", input_shape=(8,))])
    multi.compile(optimizer=plait.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    history, found = _run(lambda: multi.fit(x, labels, validation_split=0.25, epochs=6, verbose=0))
    assert found == [] and history.diagnostics == []


def test_validation_rows_copied_from_training_are_counted():
    plait.set_random_seed(0)
    rng = np.random.default_rng(1)
    x, y = _linear_data(rng, 1000)
    x_val, y_val = x[800:].copy(), y[800:].copy()
    copied = rng.choice(200, size=40, replace=False)  # 20% of the validation rows
    source = rng.choice(800, size=40, replace=False)
    x_val[copied], y_val[copied] = x[source], y[source]
    history, found = _run(lambda: _binary_model(8).fit(x[:800], y[:800], validation_data=(x_val, y_val),
                                                       epochs=1, verbose=0))
    leaks = [w for w in found if w.category is DataLeakageWarning]
    assert len(leaks) == 1
    finding = leaks[0].message.finding
    assert finding.figures["count"] == 40 and finding.figures["fraction"] == pytest.approx(0.2)
    assert "40 of 200 validation samples" in str(leaks[0].message)
    assert set(finding.figures["first_rows"]) <= set(copied.tolist())
    assert [f.kind for f in history.diagnostics] == ["data_leakage"]
    assert leaks[0].filename == __file__  # the warning points at the user's fit call


def test_evaluating_on_training_rows_is_leakage_and_natural_duplicates_are_not():
    rng = np.random.default_rng(2)
    x, y = _linear_data(rng, 300)
    model = _binary_model(8)
    _run(lambda: model.fit(x[:200], y[:200], validation_data=(x[200:], y[200:]), epochs=1, verbose=0))
    _, found = _run(lambda: model.evaluate(x[150:250], y[150:250], verbose=0))
    leaks = [w.message.finding for w in found if w.category is DataLeakageWarning]
    assert len(leaks) == 1 and leaks[0].figures["count"] == 50 and leaks[0].stage == "evaluate"
    # Three binary features: rows repeat everywhere, so validation rows found in training are expected.
    xd = rng.integers(0, 2, size=(600, 3)).astype("float32")
    yd = ((xd.sum(1) + rng.normal(size=600)) > 1.5).astype("float32")
    _, found = _run(lambda: _binary_model(3).fit(xd[:400], yd[:400], validation_data=(xd[400:], yd[400:]),
                                                 epochs=1, verbose=0))
    assert not [w for w in found if w.category is DataLeakageWarning]


def test_fraud_like_data_predicting_the_majority_is_the_accuracy_paradox():
    plait.set_random_seed(0)
    rng = np.random.default_rng(3)
    n = 3000
    x = rng.normal(size=(n, 8)).astype("float32")  # no signal: the model learns to say "not fraud"
    y = np.zeros(n, "float32")
    y[rng.choice(n, size=n // 50, replace=False)] = 1.0  # 2% positives
    model = _binary_model(8, lr=0.01)
    history, found = _run(lambda: model.fit(x[:2000], y[:2000], validation_data=(x[2000:], y[2000:]), epochs=5,
                                            batch_size=64, verbose=0))
    assert (model.predict_classes(x[2000:]) == 0).all()
    imbalance = [w.message.finding for w in found if w.category is ClassImbalanceWarning]
    assert len(imbalance) == 1 and imbalance[0].figures["classes"] == [1]
    weights = imbalance[0].figures["suggested_class_weight"]
    counts = np.bincount(y[:2000].astype(int))
    assert weights[1] == pytest.approx(2000 / (2 * counts[1]), rel=1e-3)
    paradox = [w for w in found if w.category is AccuracyParadoxWarning]
    assert len(paradox) == 1
    figures = paradox[0].message.finding.figures
    assert figures["class"] == 1 and figures["recall"] == 0.0
    assert figures["baseline"] == pytest.approx(1 - y[2000:].mean())
    assert figures["accuracy"] == pytest.approx(figures["baseline"])
    message = str(paradox[0].message)
    assert "class 1 has recall 0.00" in message and "class_weight" in message and "threshold" in message
    assert {f.kind for f in history.diagnostics} == {"class_imbalance", "accuracy_paradox"}
    _, found = _run(lambda: model.evaluate(x[2000:], y[2000:], verbose=0))
    assert [w.category for w in found] == [AccuracyParadoxWarning]


def test_small_net_trained_long_on_few_noisy_samples_overfits_with_the_right_best_epoch():
    plait.set_random_seed(0)
    rng = np.random.default_rng(4)
    x, y = _linear_data(rng, 330, features=10, noise=2.0)
    model = plait.Sequential([plait.layers.Dense(64, activation="relu", input_shape=(10,)),
                              plait.layers.Dense(64, activation="relu"),
                              plait.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=plait.optimizers.Adam(0.01), loss="binary_crossentropy")
    history, found = _run(lambda: model.fit(x[:30], y[:30], validation_data=(x[30:], y[30:]), epochs=60,
                                            batch_size=30, verbose=0))
    overfit = [w for w in found if w.category is OverfittingWarning]
    assert len(overfit) == 1
    figures = overfit[0].message.finding.figures
    best = int(np.argmin(history.history["val_loss"]))
    assert figures["best_epoch"] == history.epoch[best]
    assert figures["best_val_loss"] == pytest.approx(history.history["val_loss"][best])
    assert f"lowest at epoch {best + 1} of 60" in str(overfit[0].message)
    assert "EarlyStopping" in str(overfit[0].message)
    # Following the advice: EarlyStopping that restores the best weights leaves nothing to report.
    plait.set_random_seed(0)
    stopper = plait.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    history, found = _run(lambda: model.fit(x[:30], y[:30], validation_data=(x[30:], y[30:]), epochs=60,
                                            batch_size=30, verbose=0, callbacks=[stopper]))
    assert len(history.epoch) < 60 and not [w for w in found if w.category is OverfittingWarning]


def test_validation_split_on_label_sorted_data_warns_before_training():
    rng = np.random.default_rng(5)
    x, y = _linear_data(rng, 500)
    order = np.argsort(y, kind="stable")
    _, found = _run(lambda: _binary_model(8).fit(x[order], y[order], validation_split=0.2, epochs=1, verbose=0))
    split = [w.message.finding for w in found if w.category is SplitWarning]
    assert len(split) == 1
    assert split[0].figures["only_in_training"] == [0]
    assert split[0].figures["validation_counts"] == {0: 0, 1: 100}
    # The same rows in random order split fine.
    _, found = _run(lambda: _binary_model(8).fit(x, y, validation_split=0.2, epochs=1, verbose=0))
    assert not [w for w in found if w.category is SplitWarning]


def test_no_validation_notice_is_shown_once_and_diagnostics_false_is_silent():
    rng = np.random.default_rng(6)
    x, y = _linear_data(rng, 200)
    model = _binary_model(8)
    history, found = _run(lambda: model.fit(x, y, epochs=1, verbose=0))
    assert [w.category for w in found] == [NoValidationNotice]
    assert history.diagnostics[0].kind == "no_validation"
    _, found = _run(lambda: model.fit(x, y, epochs=1, verbose=0))
    assert found == []
    y_rare = np.zeros(200, "float32")
    y_rare[:5] = 1
    history, found = _run(lambda: model.fit(x, y_rare, epochs=1, verbose=0, diagnostics=False))
    assert found == [] and history.diagnostics == []
    _, found = _run(lambda: model.evaluate(x, y_rare, verbose=0, diagnostics=False))
    assert found == []


def test_a_feature_that_copies_the_label_is_leakage_but_an_easy_feature_is_not():
    rng = np.random.default_rng(7)
    x, y = _linear_data(rng, 400)
    leaky = np.c_[x, y * 3.0].astype("float32")
    history, found = _run(lambda: _binary_model(9).fit(leaky[:300], y[:300], validation_data=(leaky[300:], y[300:]),
                                                       epochs=1, verbose=0))
    perfect = [w.message.finding for w in found if w.category is DataLeakageWarning]
    assert len(perfect) == 1 and perfect[0].kind == "perfect_feature" and perfect[0].figures["features"] == [8]
    # Two well separated blobs: feature 0 separates them perfectly, but with spread in each class.
    blobs = np.r_[rng.normal(-5, 1, size=(150, 2)), rng.normal(5, 1, size=(150, 2))].astype("float32")
    labels = np.r_[np.zeros(150), np.ones(150)].astype("float32")
    idx = rng.permutation(300)
    _, found = _run(lambda: _binary_model(2).fit(blobs[idx][:200], labels[idx][:200],
                                                 validation_data=(blobs[idx][200:], labels[idx][200:]),
                                                 epochs=1, verbose=0))
    assert not [w for w in found if w.category is DataLeakageWarning]


def test_diagnostics_do_not_change_training():
    rng = np.random.default_rng(8)
    x, y = _linear_data(rng, 300)
    losses = []
    for diagnostics in (False, True):
        plait.set_random_seed(3)
        model = _binary_model(8)
        history, _ = _run(lambda model=model, diagnostics=diagnostics: model.fit(
            x, y, validation_split=0.2, epochs=3, verbose=0, diagnostics=diagnostics))
        losses.append(history.history["val_loss"])
    assert losses[0] == losses[1]


def test_early_stopping_that_restores_the_best_weights_silences_overfitting(monkeypatch):
    from plait.evaluation.fit_diagnostics import FitDiagnostics

    class Restorer(plait.callbacks.Callback):
        restore_best_weights = True

    monitor = FitDiagnostics()
    monitor.set_callbacks([Restorer(), monitor])
    monitor.set_params({"epochs": 10})
    for epoch, (loss, val) in enumerate(zip(np.linspace(1, 0.1, 10), [1, 0.5, 0.4, 0.6, 0.8, 1, 1.2, 1.4, 1.6, 2])):
        monitor.on_epoch_end(epoch, {"loss": loss, "val_loss": val})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor.on_train_end()
    assert _pitfalls(caught) == []
    monitor.others = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor.on_train_end()
    assert [w.category for w in caught] == [OverfittingWarning]
    assert caught[0].message.finding.figures["best_epoch"] == 2
