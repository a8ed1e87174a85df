"""End to end on real data: a Sequential MLP on scikit-learn's digits reaches >= 95% test accuracy in 20 epochs."""
import numpy as np

import plait
from plait.cli import _load_digits


def test_mlp_on_digits_reaches_95_percent():
    plait.set_random_seed(0)
    x_train, x_test, y_train, y_test = _load_digits()
    model = plait.Sequential([
        plait.Input(shape=(64,)),
        plait.layers.Dense(128, activation="relu"),
        plait.layers.Dense(64, activation="relu"),
        plait.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=20, batch_size=32, validation_split=0.1, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    predicted = model.predict(x_test, verbose=0).argmax(axis=1)
    assert np.isclose(accuracy, (predicted == y_test).mean(), atol=1e-6)
    assert accuracy >= 0.95, accuracy
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_quickstart_command_prints_real_metrics(capsys):
    results = plait.cli.main(["quickstart", "--epochs", "3", "--verbose", "2"])
    out = capsys.readouterr().out
    assert results == 0
    assert "Test loss:" in out and "test accuracy:" in out and "Epoch 3/3" in out
