"""Model-level saving: functional graphs, custom objects, weights files, suffixes and clear errors."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch

import plait
from plait import layers as L
from plait.saving import FormatError



def _xy(n: int = 16, features: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, features)).astype("float32"), rng.standard_normal((n, 2)).astype("float32")


def test_the_plait_file_layout(tmp_path):
    model = plait.Sequential([L.Dense(2, input_shape=(3,))])
    model.compile(optimizer="adam", loss="mse")
    model.fit(*_xy(8, 3), epochs=1, verbose=0)
    model.save(tmp_path / "m.plait")
    with zipfile.ZipFile(tmp_path / "m.plait") as archive:
        names = sorted(archive.namelist())
        metadata = json.loads(archive.read("metadata.json"))
        config = json.loads(archive.read("config.json"))
        weights = archive.read("model.weights.safetensors")
    assert names == ["config.json", "metadata.json", "model.weights.safetensors", "optimizer.safetensors"]
    assert metadata["format"] == "plait.model" and metadata["format_version"] == 1
    assert metadata["plait_version"] == plait.__version__
    assert config["class_name"] == "Sequential" and config["compile_config"]["optimizer"]["class_name"] == "Adam"
    assert config["build_config"] == {"input_shape": [None, 3]}
    (tmp_path / "w.safetensors").write_bytes(weights)
    loaded, _ = plait.saving.safetensors_format.load_file(tmp_path / "w.safetensors")
    np.testing.assert_array_equal(loaded["_stack.0.kernel"].numpy(), model.layers[0].kernel.detach().numpy())


def test_functional_multi_input_multi_output_shared_layers(tmp_path):
    plait.set_random_seed(2)
    a, b = plait.Input(shape=(4,), name="a"), plait.Input(shape=(4,), name="b")
    shared = L.Dense(5, activation="relu", name="shared")
    ha, hb = shared(a), shared(b)
    merged = L.Concatenate(name="cat")([ha, hb])
    out1 = L.Dense(2, name="out1")(merged)
    out2 = L.Dense(1, activation="sigmoid", name="out2")(L.Add(name="add")([ha, hb]))
    model = plait.Model([a, b], [out1, out2], name="two_heads")
    model.compile(optimizer="adam", loss=["mse", "binary_crossentropy"], loss_weights=[1.0, 0.5],
                  metrics=[["mae"], ["accuracy"]])
    rng = np.random.default_rng(0)
    xa, xb = rng.standard_normal((20, 4)).astype("float32"), rng.standard_normal((20, 4)).astype("float32")
    y1, y2 = rng.standard_normal((20, 2)).astype("float32"), rng.integers(0, 2, (20, 1)).astype("float32")
    model.fit([xa, xb], [y1, y2], batch_size=5, epochs=2, verbose=0)
    model.save(tmp_path / "f.plait")
    restored = plait.load_model(tmp_path / "f.plait")
    assert restored.get_config() == model.get_config()
    assert len(restored.layers) == len(model.layers)
    for got, expected in zip(restored.predict([xa, xb], verbose=0), model.predict([xa, xb], verbose=0)):
        np.testing.assert_array_equal(got, expected)
    assert restored.evaluate([xa, xb], [y1, y2], return_dict=True, verbose=0) == \
        model.evaluate([xa, xb], [y1, y2], return_dict=True, verbose=0)
    plait.set_random_seed(5)
    expected = model.fit([xa, xb], [y1, y2], batch_size=5, epochs=1, verbose=0).history
    plait.set_random_seed(5)
    assert restored.fit([xa, xb], [y1, y2], batch_size=5, epochs=1, verbose=0).history == expected


def test_functional_from_config_rebuilds_the_graph():
    inputs = plait.Input(shape=(3,))
    x = L.Dense(4, name="d1")(inputs)
    outputs = L.Dense(2, name="d2")(L.Activation("relu", name="act")(x))
    model = plait.Model(inputs, outputs)
    config = model.get_config()
    json.dumps(config)  # JSON-friendly
    node = config["layers"][2]["inbound_nodes"][0]["args"][0]
    assert node["config"]["keras_history"] == ["d1", 0, 0]
    clone = plait.Model.from_config(config)
    assert clone.get_config() == config
    clone.set_weights(model.get_weights())
    x_data = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(clone.predict(x_data, verbose=0), model.predict(x_data, verbose=0))
    assert plait.saving.model_from_json(model.to_json()).get_config() == config


@plait.saving.register_serializable(package="issue5")
class ScaledDense(L.Layer):
    """A custom layer with its own config."""

    def __init__(self, units: int, scale: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.scale = units, scale

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1], self.units), "glorot_uniform", name="w")

    def call(self, x):
        return self.scale * (x @ self.w)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "scale": self.scale}


@plait.saving.register_serializable(package="issue5")
def cubed_error(y_true, y_pred):
    return ((y_true - y_pred).abs() ** 3).mean(dim=-1)


@plait.saving.register_serializable(package="issue5")
def soft_relu(x):
    return torch.nn.functional.softplus(x) - 0.5


def test_registered_custom_layer_loss_and_activation(tmp_path):
    assert plait.saving.get_registered_name(ScaledDense) == "issue5>ScaledDense"
    assert plait.saving.get_registered_object("issue5>cubed_error") is cubed_error
    plait.set_random_seed(0)
    model = plait.Sequential([ScaledDense(3, scale=0.5, input_shape=(4,)), L.Dense(2, activation=soft_relu)])
    model.compile(optimizer="sgd", loss=cubed_error, metrics=[cubed_error])
    x, y = _xy()
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "custom.plait")
    config = json.loads(zipfile.ZipFile(tmp_path / "custom.plait").read("config.json"))
    assert config["config"]["layers"][1]["config"]["activation"] == "issue5>soft_relu"
    restored = plait.load_model(tmp_path / "custom.plait")
    assert isinstance(restored.layers[0], ScaledDense) and restored.layers[0].scale == 0.5
    assert restored.layers[1].activation is soft_relu
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    assert restored.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    # The scope that made them visible is gone afterwards: the plait registries are untouched.
    assert "issue5>soft_relu" not in plait.activations.ACTIVATIONS
    assert "ScaledDense" not in plait.layers.LAYERS


class Unregistered(L.Layer):
    def call(self, x):
        return x * 3.0


def test_custom_objects_argument(tmp_path):
    model = plait.Sequential([L.Dense(2, input_shape=(3,)), Unregistered(name="triple")])
    model.save(tmp_path / "u.plait")
    with pytest.raises(FormatError, match="Unregistered"):
        plait.load_model(tmp_path / "u.plait")
    restored = plait.load_model(tmp_path / "u.plait", custom_objects={"Unregistered": Unregistered})
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


@plait.saving.register_serializable(package="issue5")
class TwoLayerNet(plait.Model):
    def __init__(self, hidden: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hidden
        self.d1, self.d2 = L.Dense(hidden, activation="relu"), L.Dense(2)

    def call(self, x, training=None):
        return self.d2(self.d1(x))

    def get_config(self):
        return {"hidden": self.hidden, "name": self.name}


def test_subclassed_model(tmp_path):
    plait.set_random_seed(1)
    model = TwoLayerNet(hidden=5, name="net")
    model.compile(optimizer="adam", loss="mse")
    x, y = _xy()
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "sub.plait")
    restored = plait.load_model(tmp_path / "sub.plait")
    assert isinstance(restored, TwoLayerNet) and restored.hidden == 5
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    plait.set_random_seed(2)
    expected = model.fit(x, y, epochs=1, verbose=0).history
    plait.set_random_seed(2)
    assert restored.fit(x, y, epochs=1, verbose=0).history == expected


def test_weights_files(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    plait.set_random_seed(3)
    model = plait.Sequential([L.Dense(3, input_shape=(4,), name="a"), L.BatchNormalization(name="bn"),
                              L.Dense(2, name="b")])
    model.compile(optimizer="adam", loss="mse")
    model.fit(*_xy(), epochs=1, verbose=0)
    path = tmp_path / "m.weights.safetensors"
    model.save_weights(path)
    other = plait.Sequential([L.Dense(3, input_shape=(4,)), L.BatchNormalization(), L.Dense(2)])
    other.load_weights(path)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    theirs = safetensors_numpy.load_file(str(path))
    assert set(theirs) == set(model.state_dict())
    # And a file written by the safetensors package loads into the model.
    arrays = {k: v.detach().numpy() + 1.0 for k, v in model.state_dict().items()}
    safetensors_numpy.save_file(arrays, str(tmp_path / "theirs.safetensors"))
    other.load_weights(tmp_path / "theirs.safetensors")
    np.testing.assert_array_equal(other.layers[0].kernel.detach().numpy(), arrays["_stack.0.kernel"])
    # The weights of a .plait file load too.
    model.save(tmp_path / "m.plait")
    other.load_weights(tmp_path / "m.plait")
    np.testing.assert_array_equal(other.get_weights()[0], model.get_weights()[0])


def test_mismatched_weights_name_the_shapes_and_change_nothing(tmp_path):
    source = plait.Sequential([L.Dense(3, input_shape=(4,)), L.Dense(2)])
    source.save_weights(tmp_path / "w.weights.safetensors")
    target = plait.Sequential([L.Dense(5, input_shape=(4,), name="wide"), L.Dense(2, name="out")])
    before = target.get_weights()
    with pytest.raises(ValueError, match=r"'wide/kernel' \(key '_stack.0.kernel'\) has shape \(4, 5\) in the model "
                                         r"but \(4, 3\) in"):
        target.load_weights(tmp_path / "w.weights.safetensors")
    for a, b in zip(before, target.get_weights()):
        np.testing.assert_array_equal(a, b)  # a failed load writes nothing
    with pytest.warns(UserWarning, match="Skipped mismatched weights"):
        target.load_weights(tmp_path / "w.weights.safetensors", skip_mismatch=True)
    np.testing.assert_array_equal(target.get_weights()[0], before[0])
    np.testing.assert_array_equal(target.layers[1].bias.detach().numpy(), source.layers[1].bias.detach().numpy())
    shorter = plait.Sequential([L.Dense(3, input_shape=(4,))])
    with pytest.raises(ValueError, match="that the model does not have"):
        shorter.load_weights(tmp_path / "w.weights.safetensors")


def test_suffixes_overwrite_and_unbuilt_models(tmp_path):
    model = plait.Sequential([L.Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match=r"must end in '.plait'.*no other HDF5 \(Keras 2\) or pickle"):
        model.save(tmp_path / "m.h5")  # Keras 2's HDF5 model files (Keras 3's '.keras' files are read and written)
    with pytest.raises(ValueError, match=r"must end in '.safetensors'"):
        model.save_weights(tmp_path / "m.hdf5")
    with pytest.raises(ValueError, match=r"must end in '.safetensors'"):
        model.load_weights(tmp_path / "m.pt")
    model.save(tmp_path / "m.plait")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save(tmp_path / "m.plait", overwrite=False)
    unbuilt = plait.Sequential([L.Dense(2)])
    with pytest.raises(ValueError, match="has not created its weights"):
        unbuilt.save(tmp_path / "u.plait")
    with pytest.raises(ValueError, match="has not created its weights"):
        unbuilt.load_weights(tmp_path / "m.plait")
    with pytest.raises(TypeError, match="filepath"):
        model.save(3)


def test_deferred_build_sequential(tmp_path):
    model = plait.Sequential([L.Dense(3, activation="relu"), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).standard_normal((10, 6)).astype("float32")
    model.fit(x, x[:, :1], epochs=1, verbose=0)
    model.save(tmp_path / "d.plait")
    restored = plait.load_model(tmp_path / "d.plait")
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


def test_unserializable_config_is_a_clear_error(tmp_path):
    model = plait.Sequential([L.Dense(2, input_shape=(3,), activation=lambda t: t * 2)])
    with pytest.raises(ValueError, match="Cannot serialize activation"):
        model.save(tmp_path / "lambda.plait")
    assert not (tmp_path / "lambda.plait").exists()


def test_register_serializable_checks_its_arguments():
    with pytest.raises(ValueError, match="package"):
        plait.saving.register_serializable(package="a>b")
    with pytest.raises(ValueError, match="get_config"):
        plait.saving.register_serializable()(type("NoConfig", (), {}))
    with pytest.raises(TypeError, match="classes and functions"):
        plait.saving.register_serializable()(3)
    with plait.saving.custom_object_scope({"Unregistered": Unregistered}) as objects:
        assert plait.layers.LAYERS.lookup("Unregistered") is Unregistered and objects["Unregistered"] is Unregistered
    assert "Unregistered" not in plait.layers.LAYERS
