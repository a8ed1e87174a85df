"""The README's usage snippets run as written (on the bundled digits data)."""
import numpy as np
import pytest

import plait
from plait.cli import _load_digits
from plait.layers import Dense, Dropout


@pytest.fixture(scope="module")
def digits():
    return _load_digits()


def test_quick_start_and_trust_snippets(digits, tmp_path):
    x_train, x_test, y_train, y_test = digits
    plait.set_random_seed(0)
    model = plait.Sequential([plait.Input(shape=(64,)), Dense(128, activation="relu"), Dropout(0.2),
                              Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", "precision", "recall", "f1_score"])
    history = model.fit(x_train, y_train, epochs=5, batch_size=32, validation_split=0.1, verbose=0)
    assert {"accuracy", "precision", "recall", "f1_score", "val_f1_score"} <= set(history.history)
    assert isinstance(history.diagnostics, list)
    loss, accuracy, precision, recall, f1 = model.evaluate(x_test, y_test, verbose=0)
    assert 0.8 < accuracy <= 1 and 0 < f1 <= 1
    assert model.predict(x_test, verbose=0).shape == (len(x_test), 10)
    report = model.report(x_test, y_test, n_bootstrap=50)
    assert "precision" in str(report).lower()

    binary = (y_train == 3).astype("int64"), (y_test == 3).astype("int64")
    clf = plait.Sequential([plait.Input(shape=(64,)), Dense(16, activation="relu"), Dense(1, activation="sigmoid")])
    clf.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy", "auc"])
    clf.fit(x_train, binary[0], epochs=5, verbose=0, diagnostics=False)
    report = clf.report(x_test, binary[1], n_bootstrap=50)
    choice = report.threshold_for(recall=0.95)
    labels = clf.predict_classes(x_test, threshold=choice)
    assert set(np.unique(labels)) <= {0, 1}
    assert ((labels == 1) & (binary[1] == 1)).sum() / binary[1].sum() >= 0.95 - 1e-9


def test_keep_snippets(digits, tmp_path):
    x_train, x_test, y_train, y_test = digits
    plait.set_random_seed(1)
    model = plait.Sequential([plait.Input(shape=(64,)), Dense(32, activation="relu"), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = [plait.callbacks.EarlyStopping(patience=3, restore_best_weights=True),
                 plait.callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.2f}.plait"),
                                                 save_best_only=True),
                 plait.callbacks.BackupAndRestore(str(tmp_path / "backup"))]
    model.fit(x_train, y_train, epochs=3, validation_split=0.1, callbacks=callbacks, verbose=0)
    assert list(tmp_path.glob("ckpt-01-*.plait"))
    model.save(str(tmp_path / "model.plait"))
    loaded = plait.load_model(str(tmp_path / "model.plait"))
    np.testing.assert_array_equal(loaded.predict(x_test, verbose=0), model.predict(x_test, verbose=0))
    model.save_weights(str(tmp_path / "w.weights.safetensors"))
    loaded.load_weights(str(tmp_path / "w.weights.safetensors"))
