"""Keras 3's `.keras` and `.weights.h5` files: reading Keras-written fixtures, plait write -> read round trips,
and the refusals (modules outside the allow-list, settings plait lacks, mismatched or oversized weights, links).

The fixtures in `keras_files/` were written by Keras 3.15.1 (JAX backend) with fixed seeds, each with its inputs
(`<name>_x*.npy`) and Keras's `predict` output (`<name>_y.npy`). That plait's `.keras` files load in Keras with
the same predictions is checked outside the test suite (Keras is not a test dependency).
"""
from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import plait
from plait.errors import FormatError

h5py = pytest.importorskip("h5py")
FIXTURES = Path(__file__).parent / "keras_files"
L = plait.layers


def _inputs(name: str):
    xs = [np.load(p) for p in sorted(FIXTURES.glob(f"{name}_x*.npy"))]
    return xs if len(xs) > 1 else xs[0]


def _rewrite(src: Path, dst: Path, *, config=None, members=None) -> Path:
    """A copy of the .keras archive `src` with its config.json edited by `config` and extra `members`."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "config.json" and config is not None:
                spec = json.loads(data)
                config(spec)
                data = json.dumps(spec).encode()
            zout.writestr(info.filename, data)
        for name, data in (members or {}).items():
            zout.writestr(name, data)
    return dst


@pytest.mark.parametrize("name", ["mlp", "two_inputs", "conv", "lstm"])
def test_keras_written_files_load_with_keras_predictions(name):
    model = plait.load_model(FIXTURES / f"{name}.keras")
    np.testing.assert_allclose(model.predict(_inputs(name), verbose=0), np.load(FIXTURES / f"{name}_y.npy"),
                               atol=1e-5, rtol=0)


def test_keras_compile_config_is_followed():
    model = plait.load_model(FIXTURES / "mlp.keras")
    assert model.compiled and type(model.optimizer).__name__ == "Adam"
    assert not plait.load_model(FIXTURES / "mlp.keras", compile=False).compiled


def test_load_weights_from_a_keras_file_into_a_model_built_in_code(tmp_path):
    model = plait.Sequential([L.Input((8, 8, 2)), L.Conv2D(4, 3, padding="same", activation="relu"),
                              L.MaxPooling2D(), L.Conv2D(3, 2), L.AveragePooling2D(2), L.Flatten(), L.Dense(2)])
    model.load_weights(FIXTURES / "conv.keras")
    np.testing.assert_allclose(model.predict(_inputs("conv"), verbose=0), np.load(FIXTURES / "conv_y.npy"), atol=1e-5)
    model.save_weights(tmp_path / "conv.weights.h5")
    other = plait.models.clone_model(model)
    other.load_weights(tmp_path / "conv.weights.h5")
    np.testing.assert_allclose(other.predict(_inputs("conv"), verbose=0), np.load(FIXTURES / "conv_y.npy"), atol=1e-5)


def _models():
    a, b = L.Input((4,), name="a"), L.Input((3,), name="b")
    h = L.Dense(5, activation="tanh")(a)
    h = L.Concatenate()([h, L.Add()([h, L.Dense(5)(b)])])
    h = L.Activation("relu")(L.LayerNormalization()(h))
    q = L.Input((5, 6))
    attended = L.GlobalAveragePooling1D()(L.MultiHeadAttention(2, 3)(q, q))
    return {
        "mlp": (plait.Sequential([L.Input((4,)), L.Dense(8, activation="relu"), L.BatchNormalization(),
                                  L.Dropout(0.3), L.Dense(3, activation="softmax")]), (5, 4)),
        "functional": (plait.Model([a, b], L.Dense(2)(h)), [(5, 4), (5, 3)]),
        "conv": (plait.Sequential([L.Input((10, 3)), L.Conv1D(4, 3), L.MaxPooling1D(2), L.Reshape((4, 4)),
                                   L.SimpleRNN(4, return_sequences=True), L.Flatten(), L.Dense(1)]), (3, 10, 3)),
        "rnn": (plait.Sequential([L.Input((6,)), L.Embedding(20, 4), L.LSTM(5, return_sequences=True), L.GRU(3),
                                  L.Dense(1)]), "tokens"),
        "mha": (plait.Model(q, L.Dense(2)(attended)), (2, 5, 6)),
    }


@pytest.mark.parametrize("name", ["mlp", "functional", "conv", "rnn", "mha"])
def test_plait_keras_files_round_trip(tmp_path, name):
    plait.utils.set_random_seed(0)
    model, shape = _models()[name]
    rng = np.random.default_rng(0)
    if shape == "tokens":
        x = rng.integers(0, 20, size=(4, 6))
    elif isinstance(shape, list):
        x = [rng.normal(size=s).astype("float32") for s in shape]
    else:
        x = rng.normal(size=shape).astype("float32")
    if name == "mlp":
        model.compile(optimizer="adam", loss="mse")
    want = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    assert sorted(zipfile.ZipFile(tmp_path / "m.keras").namelist()) == ["config.json", "metadata.json",
                                                                         "model.weights.h5"]
    loaded = plait.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), want, atol=1e-6)
    assert loaded.compiled == (name == "mlp")
    model.save_weights(tmp_path / "m.weights.h5")
    fresh = plait.models.clone_model(model)
    fresh.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), want, atol=1e-6)


def test_written_layout_is_keras(tmp_path):
    model, _ = _models()["rnn"]
    model.save(tmp_path / "m.keras")
    archive = zipfile.ZipFile(tmp_path / "m.keras")
    config = json.loads(archive.read("config.json"))
    assert config["module"] == "keras" and config["class_name"] == "Sequential"
    first, dense = config["config"]["layers"][0], config["config"]["layers"][-1]
    assert first["class_name"] == "InputLayer" and first["config"]["batch_shape"] == [None, 6]
    assert dense["module"] == "keras.layers" and dense["config"]["dtype"]["class_name"] == "DTypePolicy"
    assert json.loads(archive.read("metadata.json"))["keras_version"].startswith("3.")
    with h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as f:
        shapes: dict = {}

        def collect(name, obj):  # returns None, so that visititems goes on
            if isinstance(obj, h5py.Dataset):
                shapes[name] = obj.shape
        f.visititems(collect)
    assert shapes == {"layers/embedding/vars/0": (20, 4), "layers/lstm/cell/vars/0": (4, 20),
                      "layers/lstm/cell/vars/1": (5, 20), "layers/lstm/cell/vars/2": (20,),
                      "layers/gru/cell/vars/0": (5, 9), "layers/gru/cell/vars/1": (3, 9),
                      "layers/gru/cell/vars/2": (2, 9), "layers/dense/vars/0": (3, 1), "layers/dense/vars/1": (1,)}


# ------------------------------------------------------------------------------------------------------ refusals
def test_module_outside_the_allow_list_is_refused(tmp_path):
    def evil(spec):
        spec["config"]["layers"][1]["module"] = "os"
    path = _rewrite(FIXTURES / "mlp.keras", tmp_path / "evil.keras", config=evil)
    with pytest.raises(FormatError, match="not one of Keras's"):
        plait.load_model(path)


def test_unknown_class_is_refused_not_imported(tmp_path):
    def evil(spec):
        spec["config"]["layers"][1]["class_name"] = "subprocess.Popen"
    with pytest.raises(FormatError, match="never imports"):
        plait.load_model(_rewrite(FIXTURES / "mlp.keras", tmp_path / "evil.keras", config=evil))


def test_a_setting_plait_lacks_is_refused(tmp_path):
    def renorm(spec):
        spec["config"]["layers"][2]["config"]["renorm"] = True
    with pytest.raises(FormatError, match="has no argument 'renorm'"):
        plait.load_model(_rewrite(FIXTURES / "mlp.keras", tmp_path / "r.keras", config=renorm))


def test_training_only_settings_are_dropped_with_a_warning(tmp_path):
    def constrain(spec):
        spec["config"]["layers"][1]["config"]["kernel_constraint"] = {"module": "keras.constraints",
                                                                       "class_name": "NonNeg", "config": {}}
    path = _rewrite(FIXTURES / "mlp.keras", tmp_path / "c.keras", config=constrain)
    with pytest.warns(UserWarning, match="kernel_constraint"):
        model = plait.load_model(path)
    np.testing.assert_allclose(model.predict(_inputs("mlp"), verbose=0), np.load(FIXTURES / "mlp_y.npy"), atol=1e-5)


def test_extra_archive_members_are_refused(tmp_path):
    path = _rewrite(FIXTURES / "mlp.keras", tmp_path / "x.keras", members={"payload.pkl": b"\x80\x04."})
    with pytest.raises(FormatError, match="unexpected archive member"):
        plait.load_model(path)


def test_weights_of_another_shape_are_refused_before_reading(tmp_path):
    def wider(spec):
        spec["config"]["layers"][1]["config"]["units"] = 9
    with pytest.raises(FormatError, match="shape"):
        plait.load_model(_rewrite(FIXTURES / "mlp.keras", tmp_path / "w.keras", config=wider))
    small = plait.Sequential([L.Input((4,)), L.Dense(2)])
    before = small.get_weights()
    with pytest.raises(FormatError, match="layers/dense/vars/0"):
        small.load_weights(FIXTURES / "mlp.keras")
    for old, new in zip(before, small.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_oversized_weights_file_is_refused_without_reading(tmp_path):
    model = plait.Sequential([L.Input((2,)), L.Dense(1)])
    path = tmp_path / "big.weights.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("layers/dense/vars/0", data=np.zeros((2, 1), "float32"))
        f.create_dataset("padding", data=np.zeros(1 << 20, "float64"))
    with pytest.raises(FormatError, match="more than"):
        model.load_weights(path)


def test_external_links_are_not_followed(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("w", data=np.zeros((2, 1), "float32"))
    path = tmp_path / "link.weights.h5"
    with h5py.File(path, "w") as f:
        f["layers/dense/vars/0"] = h5py.ExternalLink(os.fspath(other), "w")
        f.create_dataset("layers/dense/vars/1", data=np.zeros(1, "float32"))
    with pytest.raises(FormatError, match="ExternalLink"):
        plait.Sequential([L.Input((2,)), L.Dense(1)]).load_weights(path)


def test_non_numeric_datasets_are_refused(tmp_path):
    path = tmp_path / "s.weights.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("layers/dense/vars/0", data=np.array([["a"], ["b"]], dtype=object),
                         dtype=h5py.string_dtype())
        f.create_dataset("layers/dense/vars/1", data=np.zeros(1, "float32"))
    with pytest.raises(FormatError, match="dtype"):
        plait.Sequential([L.Input((2,)), L.Dense(1)]).load_weights(path)


def test_without_h5py_the_error_names_the_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match="pip install h5py"):
        plait.load_model(FIXTURES / "mlp.keras")
    with pytest.raises(ImportError, match="pip install h5py"):
        plait.Sequential([L.Input((2,)), L.Dense(1)]).save(tmp_path / "m.keras")
