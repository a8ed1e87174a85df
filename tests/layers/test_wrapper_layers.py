"""Lambda and TorchModuleWrapper: a function or any torch.nn.Module as a layer (Keras 3 names)."""
import numpy as np
import pytest
import torch

import plait
from plait.layers import Lambda, TorchModuleWrapper


def _rows(n=16, features=4, seed=0):
    return np.random.default_rng(seed).random((n, features)).astype("float32")


def test_lambda_computes_its_function_and_infers_or_takes_the_output_shape():
    model = plait.Sequential([plait.Input((4,)), Lambda(lambda x, k: x[:, :k] * 2, arguments={"k": 3})])
    assert model.output_shape == (None, 3)
    np.testing.assert_array_equal(model.predict(_rows(2), verbose=0), _rows(2)[:, :3] * 2)
    declared = Lambda(lambda x: x.sum(-1, keepdim=True), output_shape=(1,))
    assert declared.compute_output_shape((None, 4)) == (None, 1)
    assert Lambda(lambda x: x, output_shape=lambda s: s).compute_output_shape((None, 7)) == (None, 7)
    with pytest.raises(TypeError, match="Lambda takes a function"):
        Lambda(3)


def test_a_lambda_saves_only_a_function_a_file_can_name(tmp_path):
    anonymous = plait.Sequential([plait.Input((4,)), Lambda(lambda x: x + 1)])
    with pytest.raises(ValueError, match="plait never stores code.*register_serializable"):
        anonymous.save(tmp_path / "anonymous.plait")
    assert not (tmp_path / "anonymous.plait").exists()

    @plait.saving.register_serializable(package="tests")
    def shift(x, by=1.0):
        return x + by

    model = plait.Sequential([plait.Input((4,)), Lambda(shift, arguments={"by": 2.0}), Lambda(plait.activations.relu)])
    model.save(tmp_path / "named.plait")
    loaded = plait.load_model(tmp_path / "named.plait")
    # The same functions on the same rows: the same bits.
    np.testing.assert_array_equal(loaded.predict(_rows(3), verbose=0), model.predict(_rows(3), verbose=0))


def test_a_torch_module_trains_in_fit_and_saves_with_the_model(tmp_path):
    plait.set_random_seed(0)
    model = plait.Sequential([plait.Input((4,)), torch.nn.Linear(4, 8), torch.nn.ReLU(), plait.layers.Dense(1)])
    assert isinstance(model.layers[0], TorchModuleWrapper) and len(model.trainable_weights) == 4
    model.compile(optimizer="adam", loss="mse")
    x = _rows(64)
    y = x.sum(axis=1, keepdims=True)
    before = model.layers[0].module.weight.detach().clone()
    history = model.fit(x, y, epochs=20, verbose=0, diagnostics=False)
    assert not torch.equal(before, model.layers[0].module.weight)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "torch_modules.plait")
    loaded = plait.load_model(tmp_path / "torch_modules.plait")
    # Saved weights, rebuilt torch.nn modules, the same rows: the same kernels on the same values.
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_torch_lstm_in_a_functional_model_matches_torch():
    plait.set_random_seed(0)
    lstm = torch.nn.LSTM(3, 5, batch_first=True)
    inputs = plait.Input((6, 3))
    sequences = TorchModuleWrapper(lstm)(inputs)  # torch's LSTM returns (output, (h, c))
    last = Lambda(lambda out: out[0][:, -1])(sequences)
    model = plait.Model(inputs, last)
    x = np.random.default_rng(1).random((2, 6, 3)).astype("float32")
    with torch.no_grad():
        expected = lstm(torch.from_numpy(x))[0][:, -1].numpy()
    np.testing.assert_array_equal(model.predict(x, verbose=0), expected)  # one module, the same call


def test_torch_module_wrapper_refuses_what_it_cannot_save_and_rebuild(tmp_path):
    class Mine(torch.nn.Module):
        def forward(self, x):
            return x * 2

    model = plait.Sequential([plait.Input((4,)), Mine()])
    with pytest.raises(ValueError, match="not one of torch.nn's own modules"):
        model.save(tmp_path / "mine.plait")
    with pytest.raises(TypeError, match="wraps a torch.nn.Module"):
        TorchModuleWrapper(plait.layers.Dense(2))
    config = {"name": "w", "trainable": True, "module": "os", "arguments": {}}
    with pytest.raises(plait.saving.FormatError, match="Unknown torch module 'os'"):
        TorchModuleWrapper.from_config(config)
    with pytest.raises(plait.saving.FormatError, match="Unknown torch module"):
        TorchModuleWrapper.from_config({**config, "module": "functional"})  # a torch.nn submodule, not a class


def test_ops_on_symbolic_tensors_build_graph_nodes_that_save(tmp_path):
    from plait import ops

    inputs = plait.Input((4,))
    x = plait.layers.Conv1D(2, 2)(ops.expand_dims(inputs, -1))
    pooled = ops.mean(x, axis=1)
    outputs = ops.concatenate([pooled, ops.square(pooled)], axis=-1)
    model = plait.Model(inputs, outputs)
    assert model.output_shape == (None, 4)
    rows = _rows(3)
    with torch.no_grad():
        conv = model.layers[1]
        expected = conv(torch.from_numpy(rows)[..., None]).mean(1)
        expected = torch.cat([expected, expected.square()], -1).numpy()
    np.testing.assert_allclose(model.predict(rows, verbose=0), expected, rtol=1e-6)
    model.save(tmp_path / "ops.plait")
    # The same graph of the same ops on the same rows: the same bits.
    np.testing.assert_array_equal(plait.load_model(tmp_path / "ops.plait").predict(rows, verbose=0),
                                  model.predict(rows, verbose=0))
    with pytest.raises(TypeError, match="takes tensors, numbers and strings"):
        ops.add(inputs, object())
    config = {"name": "o", "trainable": True, "op": "__import__", "arguments": [[], {}]}
    with pytest.raises(plait.saving.FormatError, match="not a plait.ops function"):
        plait.layers.OpLayer.from_config(config)
