"""torch.export and ONNX export of plait models with the usual dynamic batch spec, against the models' own outputs."""
import numpy as np
import pytest
import torch
from torch import nn

import plait
from plait.layers import Dense


class _Subclassed(plait.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = Dense(6, activation="relu")
        self.torch_head = nn.Linear(6, 2)

    def call(self, x, training=None):
        return self.torch_head(self.hidden(x))


def _models():
    plait.set_random_seed(0)
    sequential = plait.Sequential([Dense(16, activation="relu", input_shape=(8,)), Dense(2, activation="softmax")])
    inputs = plait.Input((8,))
    functional = plait.Model(inputs, Dense(2)(Dense(4, activation="tanh")(inputs)))
    subclassed = _Subclassed().to(plait.config.get_device())  # the nn.Linear is made on torch's default device
    subclassed(np.zeros((1, 8), "float32"))
    return {"sequential": sequential, "functional": functional, "subclassed": subclassed}


@pytest.mark.parametrize("kind", ["sequential", "functional", "subclassed"])
def test_torch_export_with_a_dynamic_batch(kind):
    model = _models()[kind]
    x = torch.randn(10, 8, generator=torch.Generator().manual_seed(1)).to(model._device())
    batch = torch.export.Dim("batch")
    program = torch.export.export(model, (x[:4],), dynamic_shapes=({0: batch},))  # F5.1: no extra nesting
    exported = program.module()
    for n in (3, 10):  # batch sizes other than the example's
        torch.testing.assert_close(exported(x[:n]), model(x[:n]))


@pytest.mark.parametrize("kind", ["sequential", "functional", "subclassed"])
def test_forward_hooks_still_see_each_call(kind):
    model = _models()[kind]
    x = torch.randn(5, 8).to(model._device())
    seen = []
    handle = model.register_forward_hook(lambda module, args, out: seen.append((args[0].shape, out.shape)))
    try:
        out = model(x)
        again = model.forward(x)
    finally:
        handle.remove()
    assert seen == [(x.shape, out.shape)]  # forward() called directly bypasses nn.Module's hooks, as in torch
    torch.testing.assert_close(again, out)


# torch.onnx's own deprecation warning
@pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning")
def test_onnx_export_runs_in_onnxruntime(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    model = _models()["sequential"]
    x = np.random.default_rng(2).normal(size=(10, 8)).astype("float32")
    batch = torch.export.Dim("batch")
    program = torch.onnx.export(model.cpu(), (torch.from_numpy(x[:4]),), dynamo=True, dynamic_shapes=({0: batch},),
                                verbose=False)
    program.save(str(tmp_path / "model.onnx"))
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    (feed,) = session.get_inputs()
    assert feed.name == "inputs" and feed.shape == ["batch", 8]
    for n in (1, 3, 10):
        (out,) = session.run(None, {feed.name: x[:n]})
        np.testing.assert_allclose(out, model.predict(x[:n], verbose=0), rtol=1e-5, atol=1e-6)
