"""Hostile configs: sizes the weights in the file do not back, counts and dtypes outside their allow-lists, layer
calls with arguments no layer takes. Each is refused with FormatError at load, before anything large is allocated
and without importing anything a string names; plait's own files, old and new, still load."""
from __future__ import annotations

import base64
import json
import os
import time

import numpy as np
import pytest
import torch
from hostile_helpers import config_of, load_in_fresh_process, rewrite, with_config

import plait
from plait import layers as L
from plait.saving import FormatError
from plait.saving.limits import COUNT_LIMITS, MAX_LAYERS, MAX_SAMPLE_ELEMENTS


def _save(model, path, compile_model=True):
    if compile_model:
        model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.save(path)
    return path


@pytest.fixture()
def dense(tmp_path):
    return _save(plait.Sequential([L.Dense(4, input_shape=(3,)), L.Dense(2)]), tmp_path / "dense.plait")


@pytest.fixture()
def functional(tmp_path):
    inputs = plait.Input((3,), name="x")
    hidden = L.Dense(4, name="hidden")(inputs)
    return _save(plait.Model(inputs, L.Dense(2, name="out")(hidden)), tmp_path / "functional.plait")


def _layer(config: dict, index: int) -> dict:
    return config["config"]["layers"][index]["config"]


def _refused(path, match: str = "") -> FormatError:
    start = time.perf_counter()
    with pytest.raises(FormatError, match=match) as info:
        plait.load_model(path)
    assert time.perf_counter() - start < 5, "a refusal must be quick"
    return info.value


# ------------------------------------------------------------------------------------------ sizes against weights
_BIG = 10**12
_SIZES = {
    "Dense units": (lambda: plait.Sequential([L.Dense(4, input_shape=(3,))]), 0, {"units": _BIG}),
    "Conv2D filters": (lambda: plait.Sequential([L.Conv2D(2, 3, input_shape=(8, 8, 1))]), 0, {"filters": _BIG}),
    "Conv2D kernel_size": (lambda: plait.Sequential([L.Conv2D(2, 3, input_shape=(8, 8, 1))]), 0,
                           {"kernel_size": [10**6, 10**6]}),
    "Conv1D kernel": (lambda: plait.Sequential([L.Conv1D(2, 3, input_shape=(8, 1))]), 0, {"kernel_size": [10**9]}),
    "Embedding input_dim": (lambda: plait.Sequential([L.Embedding(10, 3, input_shape=(5,))]), 0,
                            {"input_dim": _BIG}),
    "Embedding output_dim": (lambda: plait.Sequential([L.Embedding(10, 3, input_shape=(5,))]), 0,
                             {"output_dim": _BIG}),
    "BatchNormalization axis": (lambda: plait.Sequential([L.Dense(4, input_shape=(3,)), L.BatchNormalization()]), 1,
                                {"axis": [-1, 0]}),
    "Dense units (modest)": (lambda: plait.Sequential([L.Dense(4, input_shape=(3,))]), 0, {"units": 5 * 10**7}),
}


@pytest.mark.parametrize("case", sorted(_SIZES))
def test_a_layer_size_the_weights_do_not_back_is_refused_naming_the_layer(case, tmp_path):
    factory, index, change = _SIZES[case]
    model = factory()
    name = model.layers[index].name
    path = _save(model, tmp_path / "model.plait")
    error = _refused(with_config(path, tmp_path / "big.plait", lambda c: _layer(c, index).update(change)))
    assert name in str(error) or "could not rebuild" in str(error)


def test_sizes_in_functional_configs_and_input_shapes(functional, tmp_path):
    _refused(with_config(functional, tmp_path / "f.plait", lambda c: _layer(c, 1).update(units=10**8)),
             r"weight 'hidden/kernel' .* has shape \(3, 100000000\) in the model but \(3, 4\)")
    _refused(with_config(functional, tmp_path / "i.plait",
                         lambda c: _layer(c, 0).update(batch_shape=[None, _BIG])), "hidden")


def test_a_layer_that_outputs_too_much_per_sample_is_refused(tmp_path):
    inputs = plait.Input((3,))
    path = _save(plait.Model(inputs, L.RepeatVector(2)(inputs)), tmp_path / "repeat.plait")
    _refused(with_config(path, tmp_path / "r.plait", lambda c: _layer(c, 1).update(n=_BIG)),
             rf"outputs 3000000000000 elements per sample .* over the limit of {MAX_SAMPLE_ELEMENTS}")
    path = _save(plait.Sequential([plait.Input((3, 2)), L.UpSampling1D(2), L.Flatten(), L.Dense(1)]),
                 tmp_path / "up.plait")
    _refused(with_config(path, tmp_path / "u.plait", lambda c: _layer(c, 0).update(size=10**10)))


def test_more_layers_than_the_limit_are_refused_before_any_is_built(dense, tmp_path, monkeypatch):
    def many(c):
        c["config"]["layers"][1:1] = [{"class_name": "Activation", "config": {"activation": "linear"}}] * MAX_LAYERS

    built = []
    monkeypatch.setattr(L.Activation, "__init__", lambda *a, **k: built.append(1))
    _refused(with_config(dense, tmp_path / "many.plait", many), f"over the limit of {MAX_LAYERS}")
    assert not built


# ------------------------------------------------------------------------------------------ values no weight shows
@pytest.mark.parametrize("metric", [
    {"class_name": "AUC", "config": {"num_thresholds": _BIG}},
    {"class_name": "SensitivityAtSpecificity", "config": {"specificity": 0.5, "num_thresholds": _BIG}},
    {"class_name": "MeanIoU", "config": {"num_classes": _BIG}},
    {"class_name": "AUC", "config": {"num_thresholds": 10, "multi_label": True, "num_labels": _BIG}},
])
def test_counts_over_their_documented_limit_are_refused(dense, tmp_path, metric):
    error = _refused(with_config(dense, tmp_path / "m.plait", lambda c: c["compile_config"].update(metrics=[metric])),
                     "over the limit")
    key = next(k for k in metric["config"] if k in COUNT_LIMITS and metric["config"][k] == _BIG)
    assert key in str(error) and str(COUNT_LIMITS[key]) in str(error)


def test_metric_state_beyond_the_budget_is_refused_before_it_is_allocated(dense, tmp_path):
    metric = {"class_name": "MeanIoU", "config": {"num_classes": 100_000}}  # 80 GB of int64 counts
    _refused(with_config(dense, tmp_path / "iou.plait", lambda c: c["compile_config"].update(metrics=[metric])),
             r"asks for 74.5 GiB \(the largest tensor, 74.5 GiB, while building MeanIoU")
    modest = {"class_name": "MeanIoU", "config": {"num_classes": 10}}
    ok = with_config(dense, tmp_path / "ok.plait", lambda c: c["compile_config"].update(metrics=[modest]))
    assert plait.load_model(ok).compiled


def test_a_model_that_cannot_be_built_on_meta_is_held_to_the_budget(tmp_path):
    class ReadsValues(L.Layer):  # reads a tensor's value while building: impossible on the meta device
        def __init__(self, units: int = 2, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.scale = float(torch.ones(1).sum())
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units))

        def call(self, x):
            return self.scale * x @ self.kernel

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    path = _save(plait.Sequential([ReadsValues(input_shape=(3,))]), tmp_path / "custom.plait")
    objects = {"ReadsValues": ReadsValues}
    assert plait.load_model(path, custom_objects=objects).output_shape == (None, 2)
    big = with_config(path, tmp_path / "big.plait", lambda c: _layer(c, 0).update(units=_BIG))
    with pytest.raises(FormatError, match="in one tensor while building ReadsValues"):
        plait.load_model(big, custom_objects=objects)


# ------------------------------------------------------------------------------------------ unknown arguments
def test_unknown_arguments_in_a_config_are_refused_at_load(dense, functional, tmp_path):
    _refused(with_config(dense, tmp_path / "s.plait", lambda c: _layer(c, 0).update(bogus=1)), "bogus")
    _refused(with_config(functional, tmp_path / "f.plait", lambda c: _layer(c, 1).update(bogus=1)), "bogus")
    _refused(with_config(functional, tmp_path / "i.plait", lambda c: _layer(c, 0).update(bogus=1)), "bogus")

    def call_kwargs(c):
        c["config"]["layers"][1]["inbound_nodes"][0]["kwargs"]["bogus"] = 1

    _refused(with_config(functional, tmp_path / "k.plait", call_kwargs),
             r"calls layer 'hidden' \(Dense\) with .* \['bogus'\], which its call\(\) does not take")

    def call_args(c):
        c["config"]["layers"][2]["inbound_nodes"][0]["args"].append(5)

    _refused(with_config(functional, tmp_path / "a.plait", call_args), "call")


# ------------------------------------------------------------------------------------------ strings
_LAZY = ["onnx", "_dynamo", "_inductor", "_export", "torch.onnx", "distributed", "__import__", "os"]


def _dtype_edits() -> dict:
    def metric(c, name):
        c["compile_config"]["metrics"] = [{"class_name": "Mean", "config": {"dtype": name}}]

    def loss(c, name):
        c["compile_config"]["loss"] = {"class_name": "MeanSquaredError", "config": {"dtype": name}}

    return {"layer": lambda c, name: _layer(c, 0).update(dtype=name),
            "input layer": lambda c, name: _layer(c, 0).update(dtype=name),
            "keras tensor": lambda c, name: c["config"]["layers"][1]["inbound_nodes"][0]["args"][0]["config"].update(
                dtype=name),
            "metric": metric, "loss": loss,
            "policy dict": lambda c, name: _layer(c, 1).update(dtype={"class_name": "DTypePolicy",
                                                                       "config": {"name": name}})}


@pytest.mark.parametrize("where", sorted(_dtype_edits()))
@pytest.mark.parametrize("name", _LAZY)
def test_a_dtype_string_outside_the_allow_list_is_refused(functional, tmp_path, where, name):
    out = with_config(functional, tmp_path / "d.plait", lambda c: _dtype_edits()[where](c, name))
    _refused(out, "not a dtype plait reads")


def test_nothing_a_dtype_string_names_is_imported(functional, tmp_path):
    files = [("model", with_config(functional, tmp_path / f"{i}.plait",
                                   lambda c, name=name, edit=edit: edit(c, name)))
             for i, (name, edit) in enumerate((n, e) for n in _LAZY[:4] for e in _dtype_edits().values())]
    report = load_in_fresh_process(str(functional), files)
    assert report["imported"] == []
    assert all(r["outcome"].startswith("FormatError") for r in report["results"]), report


def test_a_string_naming_a_torch_class_or_module_never_resolves(dense, tmp_path):
    optimizer = {"class_name": "TorchOptimizer", "config": {"optimizer": "swa_utils", "arguments": {}}}
    _refused(with_config(dense, tmp_path / "o.plait", lambda c: c["compile_config"].update(optimizer=optimizer)),
             "Unknown torch optimizer")
    for name in ("onnx", "Linear"):
        _refused(with_config(dense, tmp_path / "l.plait",
                             lambda c, name=name: c["compile_config"].update(loss=name)), "Unknown loss")


# ------------------------------------------------------------------------------------------ cost, and what still loads
def test_hostile_configs_cost_neither_memory_nor_time_in_a_fresh_process(dense, tmp_path):
    def metric(class_name: str, **config):
        return lambda c: c["compile_config"].update(metrics=[{"class_name": class_name, "config": config}])

    cases = [lambda c: _layer(c, 0).update(units=5 * 10**7),   # 600 MB of kernel if it were allocated
             lambda c: _layer(c, 1).update(units=5 * 10**7),
             metric("MeanIoU", num_classes=20_000),              # 3.2 GB of counts
             metric("AUC", num_thresholds=_BIG)]
    files = [("model", with_config(dense, tmp_path / f"{i}.plait", edit)) for i, edit in enumerate(cases)]
    report = load_in_fresh_process(str(dense), files)
    for result in report["results"]:
        assert result["outcome"].startswith("FormatError"), result
        assert result["seconds"] < 5, result
        assert result["peak_mib_over_base"] < 64, result


def test_plaits_own_files_with_every_kind_of_content_still_load(tmp_path):
    inputs = plait.Input((6,), dtype="int64")
    x = L.Embedding(20, 4)(inputs)
    x = L.Conv1D(3, 2, padding="same")(x)
    x = L.BatchNormalization()(L.Flatten()(x))
    model = plait.Model(inputs, L.Dense(3, activation="softmax", dtype="float64")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", plait.metrics.AUC(num_thresholds=1000)])
    data = np.random.default_rng(0).integers(0, 20, (16, 6))
    model.fit(data, np.arange(16) % 3, epochs=1, verbose=0)
    model.save(tmp_path / "m.plait")
    restored = plait.load_model(tmp_path / "m.plait")
    np.testing.assert_array_equal(restored.predict(data, verbose=0), model.predict(data, verbose=0))
    assert restored.optimizer.iterations == model.optimizer.iterations
    assert config_of(tmp_path / "m.plait") == json.loads(json.dumps(config_of(tmp_path / "m.plait")))


def test_a_file_saved_before_these_checks_still_loads(tmp_path):
    path = tmp_path / "saved_by_plait_0.1.0.plait"
    path.write_bytes(base64.b64decode("".join(OLD_FILE)))
    model = plait.load_model(path)
    np.testing.assert_allclose(model.predict(np.array(OLD_X), verbose=0), OLD_PREDICTION, rtol=1e-5, atol=1e-7)
    rewrite(path, tmp_path / "copy.plait")
    assert plait.load_model(tmp_path / "copy.plait").optimizer.iterations == 1
    assert os.path.getsize(path) < 4096


# A functional model (Embedding, pooling, two Dense heads, Add) saved by plait 0.1.0 before these checks, with
# its inputs and predictions.
OLD_FILE = (
    "UEsDBBQAAAAIAOOMhF0Rl4YEVgAAAG0AAAANAAAAbWV0YWRhdGEuanNvbqtWSssvyk0sUbJSUCrIScws0cvNT0nNUdJRgErEl6UWFWfm5wEVGOpA"
    "1SCJKRnoGeoZgJSnJJakxhcnlqWmgISNDIzMdA2NdA1MHAzNrYwtrQzMlGoBUEsDBBQAAAAIAOOMhF0zrgtjAgQAAMoXAAALAAAAY29uZmlnLmpz"
    "b27tWEuP2zYQvvtXCDpvDW82DZDcAmwbFOihaNFLiwUxkmibXYpU+fDGXfi/d/iQTL3WXidBk2J5kTgzHM58nBmO9LjI8lpWltP8XZY3HJhZ4pxy"
    "HR75FQqUHLQmAmov9KMVpWFSQGRKsWYbZDwusixvhbrFWW4UMAGF38EoSz2Rw54qjZQ/ceaXZmNDgtCSicYa4ideYza06Ccn8HOPnxrlCAWYckv0"
    "FhrabopDWM6v4vub8LyL87wyey+br7kEc/MqbxntrolZ5Dr3zEPcXtEN04YqWrU2HneaWR+ZTBTSClyG+Hl47had3qdRonVBq4qJzTRGP4zYQ4ha"
    "yaGi6RMMxjoPKlYj/dWqpUprjuTXLbXTqgkTzDDg7B88r277sV+JmF4qEJWs06W6NW/o6a9e9HfB1lLVidDAX7cjEzuM4nfZd6vl6vurIx0+Bnqf"
    "rCmt4lFG2qHTPn3igXt4fmyMDnMUF0F1Bx6oTUI+MkboEHJPFWhiqNBSEdIBNAmR83qQM26keePGm+P7XUKfzSHPDHZsEQyp9oMNJpMjjFVvkmzc"
    "vR4Wg5fOpvz+IQL1eEjP5uwka6Tksyn2gcsC+Psd+rWhvwTJ69uT+bbxywiEdSRucV2dTL8KDBAX5GCcnnILQmDhRtS06RbfU9pgKjqf18A1fX4s"
    "nrDvaw/NdPL6s8fpqFj68Z/GaIXw0ekIve2x5gISTkaexTLsLLxpCYAdwQ5cV+AUYHxQUJ0WqykpGOiBEsQVw/VL3waYlEqac26Di8t765Dz8SJ3"
    "0BhtQJg5H/6gSuop259pYEQcZS0HFU1MEiZ4MGY/v2bAt1EcPn89OFXM/fi2y0PxUh7i2byUhwvLQ/FSHr7W8lBTtZntcN9X1enuoZrvXC+4SKqL"
    "+8wj8Om5nx0203EzHTijyMlukkkaO08Hz9PRk3RmYaz6s3TL43sXK8d69T9CpPg0RBYD7pl5tIiS6WeqbmE5C9AhlEMQE/jCx3W0bA6sOZimP6Rb"
    "mFZ9n3yAtP9vvqxTN5/kVFJj5lxZeG/mi0xeWMYr0v97GcDqWd3Z7I7hLmotZd0wTgerZWNYnd7soxrbSegWsB6qv324nQFyJIFdFPZQAis1UWAc"
    "b7VcXUfWA2WbrSEVLWHfL6slZ41wnU6PGm+laaaj7oDbQYF2XRutof2tEKlIIbWsqTC29ja9fZtwJF57D4oZStaK/m2pKAfmcYlo6BIQ2jX2jFIN"
    "7FRQMdRNoCxtjV2I6ygJHm+j+4I9E1btlUJdIMhd+icklMT59ihkhDPLoV/H7jjYGVBOd85rahQre6QghYoneMoKQrEPUHyf4ph7j0iDGUs/0tLG"
    "vtmfbv4XMySGn78frZE5RuXi8C9QSwMELQAAAAAA44yEXbFXGhz//////////xkAFABtb2RlbC53ZWlnaHRzLnNhZmV0ZW5zb3JzAQAQAHgDAAAA"
    "AAAAeAMAAAAAAAC4AQAAAAAAAHsiX19tZXRhZGF0YV9fIjp7ImZvcm1hdCI6InBsYWl0LndlaWdodHMifSwiX2dyYXBoX2xheWVycy4wLmVtYmVk"
    "ZGluZ3MiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6WzIwLDRdLCJkYXRhX29mZnNldHMiOlswLDMyMF19LCJfZ3JhcGhfbGF5ZXJzLjIuYmlhcyI6"
    "eyJkdHlwZSI6IkYzMiIsInNoYXBlIjpbM10sImRhdGFfb2Zmc2V0cyI6WzMyMCwzMzJdfSwiX2dyYXBoX2xheWVycy4yLmtlcm5lbCI6eyJkdHlw"
    "ZSI6IkYzMiIsInNoYXBlIjpbNCwzXSwiZGF0YV9vZmZzZXRzIjpbMzMyLDM4MF19LCJfZ3JhcGhfbGF5ZXJzLjMuYmlhcyI6eyJkdHlwZSI6IkYz"
    "MiIsInNoYXBlIjpbM10sImRhdGFfb2Zmc2V0cyI6WzM4MCwzOTJdfSwiX2dyYXBoX2xheWVycy4zLmtlcm5lbCI6eyJkdHlwZSI6IkYzMiIsInNo"
    "YXBlIjpbNCwzXSwiZGF0YV9vZmZzZXRzIjpbMzkyLDQ0MF19fSAgc9pEPFqTST1sFIs8xgqZuzQSTTyH9Ou8Vw0svT3/Gb1sxSu9si4oPIKxHzww"
    "Kq68IjFIvVvl3TzWRui8aikJvIWyK701Aee8ENaqPNzNPr3Ieum8230ZPR/x0bycnKq8hwJmvFcWrzyzVwa9WkakO90spzw0i227Re8TPDArHL3g"
    "F7k8bRSZPKe4zbteTim9EeCjPCudBT3iKQ+8mPvAPGfIlzyEwKO8zClku5DqSz3NhHc5RwsjvbP4brvjxcs8Q8+FvKZ11rxrqSg95c7YPCAtC7yA"
    "aCc7Gkitu6cwPjzcouk6mur3vMvlFzxyLKo6T3hSO90XnLwtr1E8cIklvTSqdDwwAN489rG0u7QGH71nlj65mtmUODj9ML2j2hC9bW09PT0nGT1n"
    "AOM8guANPZ6enTyggeY8L6AHPZZGP7x85oO3he0Jt956tbciCPG9pf8oP+rTrrkROBq/7MY3v8aNBD/sUUQ/eRA4P43FHT57miM/TZtZv7/BKr98"
    "5oO3he0Jt956tbfXDmS/hvQ+P1xBCbzjRNq+ZWWgPvlwsb5BARi/5dO2PrOVLT4luim//xscv/FA3j5QSwMELQAAAAAA44yEXfw0Oq3/////////"
    "/xUAFABvcHRpbWl6ZXIuc2FmZXRlbnNvcnMBABAAyAAAAAAAAADIAAAAAAAAALAAAAAAAAAAeyJfX21ldGFkYXRhX18iOnsiZm9ybWF0IjoicGxh"
    "aXQub3B0aW1pemVyIn0sIml0ZXJhdGlvbnMiOnsiZHR5cGUiOiJJNjQiLCJzaGFwZSI6W10sImRhdGFfb2Zmc2V0cyI6WzAsOF19LCJsZWFybmlu"
    "Z19yYXRlIjp7ImR0eXBlIjoiRjY0Iiwic2hhcGUiOltdLCJkYXRhX29mZnNldHMiOls4LDE2XX19ICAgICABAAAAAAAAAHsUrkfheoQ/UEsBAhQD"
    "FAAAAAgA44yEXRGXhgRWAAAAbQAAAA0AAAAAAAAAAAAAAIABAAAAAG1ldGFkYXRhLmpzb25QSwECFAMUAAAACADjjIRdM64LYwIEAADKFwAACwAA"
    "AAAAAAAAAAAAgAGBAAAAY29uZmlnLmpzb25QSwECLQMtAAAAAADjjIRdsVcaHHgDAAB4AwAAGQAAAAAAAAAAAAAAgAGsBAAAbW9kZWwud2VpZ2h0"
    "cy5zYWZldGVuc29yc1BLAQItAy0AAAAAAOOMhF38NDqtyAAAAMgAAAAVAAAAAAAAAAAAAACAAW8IAABvcHRpbWl6ZXIuc2FmZXRlbnNvcnNQSwUG"
    "AAAAAAQABAD+AAAAfgkAAAAA"
)
OLD_X = [[8, 15, 0, 3, 15, 10], [1, 3, 3, 2, 4, 10], [14, 9, 5, 19, 5, 3], [19, 16, 7, 10, 12, 4]]
OLD_PREDICTION = [
    [-0.007683004252612591, 0.02158336155116558, 0.004550622776150703],
    [0.0256514735519886, -0.02967795357108116, -0.0012333975173532963],
    [-0.013032826595008373, -0.023429980501532555, 0.00278428103774786],
    [0.004353574477136135, 0.03641430661082268, 0.006707741413265467],
]
