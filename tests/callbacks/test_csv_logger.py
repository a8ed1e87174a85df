"""CSVLogger: Keras's columns and NA filling, append, and a file that is complete after every epoch."""
from __future__ import annotations

import csv

import pytest
from callback_helpers import regression_data, small_model

from plait.callbacks import Callback, CSVLogger


def _rows(path, sep=","):
    with open(path, newline="") as handle:
        return list(csv.reader(handle, delimiter=sep))


def test_columns_and_values_match_the_history(tmp_path):
    path = tmp_path / "log.csv"
    model = small_model(metrics=["mae"])
    x, y = regression_data()
    history = model.fit(x, y, epochs=3, verbose=0, validation_split=0.25, callbacks=[CSVLogger(path)])
    rows = _rows(path)
    assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    for i, row in enumerate(rows[1:]):
        for key, cell in zip(rows[0][1:], row[1:]):
            assert float(cell) == history.history[key][i]  # written with full precision


def test_missing_validation_columns_are_added_and_filled_with_na(tmp_path):
    path = tmp_path / "log.csv"
    model = small_model()
    x, y = regression_data()
    model.fit(x, y, epochs=4, verbose=0, validation_split=0.25, validation_freq=2, callbacks=[CSVLogger(path, ";")])
    rows = _rows(path, ";")
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert [r[2] for r in rows[1:]][0::2] == ["NA", "NA"]
    assert all(r[2] != "NA" for r in rows[1:][1::2])


def test_append_keeps_earlier_rows_without_a_second_header(tmp_path):
    path = tmp_path / "log.csv"
    model = small_model()
    x, y = regression_data()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[CSVLogger(path)])
    model.fit(x, y, epochs=2, verbose=0, callbacks=[CSVLogger(path, append=True)])
    rows = _rows(path)
    assert rows[0] == ["epoch", "loss", "val_loss"] and len(rows) == 5 and rows.count(rows[0]) == 1
    model.fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(path)])
    assert len(_rows(path)) == 2  # append=False starts afresh


class ReadFile(Callback):
    def __init__(self, path):
        super().__init__()
        self.path, self.seen = path, []

    def on_epoch_begin(self, epoch, logs=None):
        if epoch:
            self.seen.append(len(_rows(self.path)))


def test_the_file_is_complete_after_each_epoch(tmp_path):
    path = tmp_path / "log.csv"
    reader = ReadFile(path)
    model = small_model()
    x, y = regression_data()
    model.fit(x, y, epochs=4, verbose=0, callbacks=[CSVLogger(path), reader])
    assert reader.seen == [2, 3, 4]
    assert [p.name for p in tmp_path.iterdir()] == ["log.csv"]


def test_iterables_and_strings_are_written_like_keras(tmp_path):
    logger = CSVLogger(tmp_path / "log.csv")
    logger.on_train_begin()
    logger.on_epoch_end(0, {"a": [1, 2], "b": "text", "val_a": 0.5})
    rows = _rows(tmp_path / "log.csv")
    assert rows == [["epoch", "a", "b", "val_a"], ["0", '"[1, 2]"', "text", "0.5"]]
    with pytest.raises(ValueError, match="separator"):
        CSVLogger("x.csv", separator=";;")
