"""torch.nn losses, torchmetrics metrics and torch.optim optimizers given to compile, against torch used by hand,
torchmetrics used by hand and scikit-learn."""
import copy
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import plait
from plait.layers import Dense
from plait.losses import TorchLoss
from plait.optimizers import TorchOptimizer


def _data(n=96, features=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    y = ((x[:, 0] > 0).astype("int64") + (x[:, 1] > 0.3)).astype("int64")  # 3 classes
    return x, y


def _twin_models(make, x):
    """Two models with the same initial weights."""
    a, b = make(), make()
    a(x[:1]), b(x[:1])
    b.set_weights(a.get_weights())
    return a, b


# ---------------------------------------------------------------------------------------------------- losses
@pytest.mark.parametrize("labels", ["flat", "column"])
def test_cross_entropy_loss_trains_like_sparse_categorical_crossentropy(labels):
    x, y = _data()
    y = y if labels == "flat" else y[:, None]  # (N,) and (N, 1) integer labels
    torch_model, plait_model = _twin_models(lambda: plait.Sequential([Dense(3)]), x)
    torch_model.compile(optimizer=plait.optimizers.SGD(0.1), loss=nn.CrossEntropyLoss())
    plait_model.compile(optimizer=plait.optimizers.SGD(0.1),
                        loss=plait.losses.SparseCategoricalCrossentropy(from_logits=True))
    kwargs = dict(batch_size=32, epochs=3, verbose=0, shuffle=False, diagnostics=False,
                  class_weight={0: 1.0, 1: 2.0, 2: 0.5})
    h_torch = torch_model.fit(x, y, **kwargs)
    h_plait = plait_model.fit(x, y, **kwargs)
    np.testing.assert_allclose(h_torch.history["loss"], h_plait.history["loss"], rtol=1e-5)
    for w_torch, w_plait in zip(torch_model.get_weights(), plait_model.get_weights()):
        np.testing.assert_allclose(w_torch, w_plait, rtol=1e-5, atol=1e-6)
    assert h_torch.history["loss"][-1] < h_torch.history["loss"][0]
    np.testing.assert_allclose(torch_model.evaluate(x, y, verbose=0, diagnostics=False),
                               plait_model.evaluate(x, y, verbose=0, diagnostics=False), rtol=1e-5)


def _weighted_mean_reference(values, sw, denominator):
    return (values * sw).sum() / denominator


_LOGITS = torch.randn(12, 3, generator=torch.Generator().manual_seed(1))
_LABELS = torch.tensor([0, 2, 1, 1, 0, 2, 2, 1, 0, 0, 1, 2])
_CLASS_WEIGHT = torch.tensor([1.0, 2.0, 0.5])
_SW = torch.linspace(0.2, 2.0, 12)


@pytest.mark.parametrize("module", [
    nn.CrossEntropyLoss(), nn.CrossEntropyLoss(label_smoothing=0.1), nn.CrossEntropyLoss(ignore_index=1),
    nn.CrossEntropyLoss(weight=_CLASS_WEIGHT, ignore_index=2, label_smoothing=0.2),
    nn.NLLLoss(weight=_CLASS_WEIGHT), nn.MultiMarginLoss(), nn.CrossEntropyLoss(reduction="sum"),
], ids=lambda m: type(m).__name__)
def test_class_id_losses_match_torch_and_weight_per_sample(module):
    pred = _LOGITS.log_softmax(-1) if isinstance(module, nn.NLLLoss) else _LOGITS
    loss = TorchLoss(module)
    expected = module(pred, _LABELS)
    # Called in plait's order with a (N, 1) float label column: torch's own number.
    torch.testing.assert_close(loss(_LABELS[:, None].float(), pred), expected)
    # Weights of 1 give the unweighted number; other weights scale each sample's loss, over torch's denominator.
    torch.testing.assert_close(loss(_LABELS, pred, sample_weight=torch.ones(12)), expected)
    unreduced = copy.deepcopy(module)
    unreduced.reduction = "none"
    values = unreduced(pred, _LABELS)
    if module.reduction == "sum":
        reference = (values * _SW).sum()
    else:
        valid = _LABELS != getattr(module, "ignore_index", -100)
        w = module.weight[_LABELS] if getattr(module, "weight", None) is not None else torch.ones(12)
        reference = _weighted_mean_reference(values, _SW, (w * valid).sum() if hasattr(module, "ignore_index")
                                             else values.numel())
    torch.testing.assert_close(loss(_LABELS, pred, sample_weight=_SW.numpy()), reference)


def test_elementwise_losses_take_targets_of_the_outputs_shape():
    pred = torch.randn(8, 1)
    target = torch.randn(8)  # (N,) targets for a (N, 1) output: no (N, N) broadcast
    torch.testing.assert_close(TorchLoss(nn.MSELoss())(target, pred), F.mse_loss(pred, target[:, None]))
    binary = (target > 0).long()  # integer labels become the float targets BCE needs
    bce = TorchLoss(nn.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0])))
    torch.testing.assert_close(bce(binary, pred), F.binary_cross_entropy_with_logits(
        pred, binary[:, None].float(), pos_weight=torch.tensor([2.0])))
    torch.testing.assert_close(bce(binary, pred, sample_weight=_SW[:8]), (F.binary_cross_entropy_with_logits(
        pred, binary[:, None].float(), pos_weight=torch.tensor([2.0]), reduction="none")[:, 0] * _SW[:8]).mean())


def test_kl_div_loss_keeps_torch_order():
    # Asymmetric with matching shapes: swapped arguments would give a wrong number silently.
    log_q = torch.randn(6, 4).log_softmax(-1)
    p = torch.randn(6, 4).softmax(-1)
    loss = TorchLoss(nn.KLDivLoss(reduction="batchmean"))
    torch.testing.assert_close(loss(p, log_q), (p * (p.log() - log_q)).sum() / 6)
    torch.testing.assert_close(loss(p, log_q, sample_weight=torch.ones(6)), (p * (p.log() - log_q)).sum() / 6)


def test_sequence_logits_with_the_class_axis_last():
    logits = torch.randn(2, 5, 3)  # plait's layout (batch, time, classes)
    labels = torch.randint(0, 3, (2, 5))
    torch.testing.assert_close(TorchLoss(nn.CrossEntropyLoss())(labels, logits),
                               F.cross_entropy(logits.reshape(-1, 3), labels.reshape(-1)))


@pytest.mark.parametrize("loss", ["torch", "plait"])
def test_bce_with_logits_and_accuracy_from_compile(loss):
    from sklearn.metrics import accuracy_score

    x, y = _data()
    y = (y > 0).astype("float32")
    model = plait.Sequential([Dense(1, input_shape=(4,))])
    loss = nn.BCEWithLogitsLoss() if loss == "torch" else plait.losses.BinaryCrossentropy(from_logits=True)
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    logs = model.evaluate(x, y, verbose=0, return_dict=True, diagnostics=False)
    logits = model.predict(x, verbose=0)[:, 0]
    np.testing.assert_allclose(logs["loss"], float(F.binary_cross_entropy_with_logits(
        torch.from_numpy(logits), torch.from_numpy(y))), rtol=1e-6)
    assert logs["accuracy"] == pytest.approx(accuracy_score(y, logits > 0))  # a logit of 0 is p = 0.5


def test_torch_loss_errors_name_the_fix():
    model = plait.Sequential([Dense(3, input_shape=(4,))])
    with pytest.raises(TypeError, match="takes 3 inputs"):
        model.compile(loss=nn.TripletMarginLoss())
    x, y = _data(16)
    model.compile(optimizer="sgd", loss=nn.CrossEntropyLoss(reduction="none"))
    with pytest.raises(ValueError, match="reduction='mean'"):
        model.fit(x, y, verbose=0, diagnostics=False)
    model.compile(optimizer="sgd", loss=nn.CrossEntropyLoss())
    with pytest.raises(ValueError, match=r"loss\(y_pred, y_true\)"):
        model.fit(x, np.zeros((16, 5), "float32"), verbose=0, diagnostics=False)


def test_model_with_torch_loss_saves_and_loads(tmp_path):
    x, y = _data(32)
    model = plait.Sequential([Dense(3, input_shape=(4,))])
    model.compile(optimizer="adam", loss=nn.CrossEntropyLoss(weight=_CLASS_WEIGHT, label_smoothing=0.1))
    model.fit(x, y, verbose=0, diagnostics=False)
    model.save(tmp_path / "m.plait")
    loaded = plait.load_model(tmp_path / "m.plait")
    module = loaded._compile_loss.spec.module
    assert isinstance(module, nn.CrossEntropyLoss) and module.label_smoothing == 0.1
    torch.testing.assert_close(module.weight, _CLASS_WEIGHT)
    assert loaded.evaluate(x, y, verbose=0, diagnostics=False) == pytest.approx(
        model.evaluate(x, y, verbose=0, diagnostics=False))


class _ScaledMSE(nn.modules.loss._Loss):
    """A user's torch loss that keeps its argument under another name, so a saved config cannot read it back."""

    def __init__(self, factor: float = 1.0) -> None:
        super().__init__()
        self._factor = factor

    def forward(self, pred, target):
        return self._factor * F.mse_loss(pred, target, reduction=self.reduction)


def test_a_torch_loss_whose_arguments_cannot_be_read_back_warns_at_save_and_refuses_to_compile_at_load(tmp_path):
    x = _data(16)[0]
    model = plait.Sequential([Dense(1, input_shape=(4,))])
    model.compile(optimizer="sgd", loss=_ScaledMSE(2.0))
    model.fit(x, x[:, :1], verbose=0, diagnostics=False)
    with pytest.warns(UserWarning, match=r"_ScaledMSE keeps no attribute for its argument\(s\) \['factor'\]") as seen:
        model.save(tmp_path / "m.plait")
    assert [w.filename for w in seen] == [__file__]  # pointed at the user's save call
    with pytest.raises(plait.saving.FormatError,
                       match=r"saved without its argument\(s\) \['factor'\].*compile=False"):
        plait.load_model(tmp_path / "m.plait", custom_objects={"_ScaledMSE": _ScaledMSE})
    loaded = plait.load_model(tmp_path / "m.plait", compile=False)
    # Exact: the same weights through the same kernels on the same input.
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# ---------------------------------------------------------------------------------------------------- metrics
def _classifier(x):
    plait.set_random_seed(3)
    model = plait.Sequential([Dense(3, activation="softmax", input_shape=(x.shape[1],))])
    return model


def test_torchmetrics_metric_per_batch_and_accumulated_against_sklearn():
    tm = pytest.importorskip("torchmetrics")
    from sklearn.metrics import accuracy_score, f1_score

    x, y = _data()
    probs = _classifier(x).predict(x, verbose=0)

    def macro_f1(rows):
        return f1_score(y[rows], probs[rows].argmax(1), average="macro")

    wrapped = plait.metrics.get(tm.classification.MulticlassF1Score(num_classes=3, average="macro"))
    by_hand = tm.classification.MulticlassF1Score(num_classes=3, average="macro")
    for start in range(0, len(x), 32):
        batch = slice(start, start + 32)
        one = plait.metrics.TorchMetric(tm.classification.MulticlassF1Score(num_classes=3, average="macro"))
        one.update_state(y[batch, None], probs[batch])  # (N, 1) labels, as Keras users hold them
        assert float(one.result()) == pytest.approx(macro_f1(batch), abs=1e-6)
        wrapped.update_state(y[batch], probs[batch])
        by_hand.update(torch.from_numpy(probs[batch]), torch.from_numpy(y[batch]))
        seen = slice(0, start + 32)
        assert float(wrapped.result()) == pytest.approx(float(by_hand.compute()), abs=1e-7)
        assert float(wrapped.result()) == pytest.approx(macro_f1(seen), abs=1e-6)
    # After a reset only the new batch counts. (With a class absent from a batch, torchmetrics' macro average
    # leaves it out, as scikit-learn does for labels in neither y_true nor y_pred.)
    wrapped.reset_state()
    wrapped.update_state(y[:10], probs[:10])
    assert float(wrapped.result()) == pytest.approx(macro_f1(slice(0, 10)), abs=1e-6)
    model = _classifier(x)
    model.compile(loss="sparse_categorical_crossentropy",
                  metrics=[tm.classification.MulticlassAccuracy(num_classes=3, average="micro")])
    for _ in range(2):  # reset between runs: the same number twice, not an accumulation
        logs = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True, diagnostics=False)
        assert logs["multiclass_accuracy"] == pytest.approx(accuracy_score(y, probs.argmax(1)), abs=1e-6)


def test_torchmetrics_binary_and_regression_metrics_in_fit():
    tm = pytest.importorskip("torchmetrics")
    from sklearn.metrics import f1_score, mean_squared_error

    x, y = _data()
    yb = (y > 0).astype("float32")
    model = plait.Sequential([Dense(1, activation="sigmoid", input_shape=(4,))])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[tm.classification.BinaryF1Score()])
    history = model.fit(x, yb, epochs=2, verbose=0, diagnostics=False)
    assert list(history.history) == ["loss", "binary_f1_score"]
    p = model.predict(x, verbose=0)[:, 0]
    logs = model.evaluate(x, yb, verbose=0, return_dict=True, diagnostics=False)
    assert logs["binary_f1_score"] == pytest.approx(f1_score(yb, p > 0.5), abs=1e-6)
    reg = plait.Sequential([Dense(1, input_shape=(4,))])
    reg.compile(optimizer="sgd", loss="mse", metrics=[tm.regression.MeanSquaredError()])
    logs = reg.evaluate(x, x[:, 0], verbose=0, return_dict=True, diagnostics=False)  # (N,) targets, (N, 1) output
    assert logs["mean_squared_error"] == pytest.approx(
        mean_squared_error(x[:, 0], reg.predict(x, verbose=0)[:, 0]), rel=1e-5)
    assert logs["mean_squared_error"] == pytest.approx(logs["loss"], rel=1e-5)


def test_torchmetrics_refusals_say_what_to_pass(tmp_path):
    tm = pytest.importorskip("torchmetrics")
    model = plait.Sequential([Dense(3, input_shape=(4,))])
    with pytest.raises(ValueError, match=r"metrics=\[\.\.\.\]"):
        model.compile(loss="mse", weighted_metrics=[tm.classification.MulticlassAccuracy(num_classes=3)])
    with pytest.raises(TypeError, match=r"MulticlassAccuracy\(num_classes=3\)"):
        model.compile(loss="mse", metrics=[tm.classification.MulticlassAccuracy])
    x, y = _data(32)
    model.compile(loss=nn.CrossEntropyLoss(), metrics=[tm.classification.MulticlassAccuracy(num_classes=3)])
    model.save(tmp_path / "m.plait")
    loaded = plait.load_model(tmp_path / "m.plait")
    assert loaded.evaluate(x, y, verbose=0, diagnostics=False) == pytest.approx(
        model.evaluate(x, y, verbose=0, diagnostics=False))


def test_importing_plait_imports_no_optional_dependency():
    code = "import sys, plait; print(sorted(m for m in ('torchmetrics', 'onnx', 'onnxruntime', 'sklearn') " \
           "if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------------- optimizers
def _mlp():
    return plait.Sequential([Dense(8, activation="tanh"), Dense(1)])


def test_fit_with_torch_adamw_matches_a_torch_loop():
    x, _ = _data()
    y = (x[:, :1] * 2 - x[:, 1:2]).astype("float32")
    fitted, looped = _twin_models(_mlp, x)
    fitted.compile(optimizer=torch.optim.AdamW(fitted.parameters(), lr=0.01, weight_decay=0.05), loss="mse")
    history = fitted.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, diagnostics=False)
    opt = torch.optim.AdamW(looped.parameters(), lr=0.01, weight_decay=0.05)
    xt, yt = torch.from_numpy(x).to(looped._device()), torch.from_numpy(y).to(looped._device())
    for _ in range(3):
        for start in range(0, len(x), 16):
            opt.zero_grad()
            F.mse_loss(looped(xt[start:start + 16], training=True), yt[start:start + 16]).backward()
            opt.step()
    for a, b in zip(fitted.get_weights(), looped.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert fitted.optimizer.torch_optimizer.state[fitted.trainable_variables[0]]["step"] == 18
    assert int(fitted.optimizer.iterations) == 18


def test_torch_lr_scheduler_and_plait_callbacks_drive_the_rate():
    x, _ = _data(32)
    y = x[:, :1]
    model = plait.Sequential([Dense(1, input_shape=(4,))])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    seen = []
    model.compile(optimizer=opt, loss="mse")
    model.fit(x, y, epochs=3, verbose=0, diagnostics=False, callbacks=[plait.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.append(model.optimizer.learning_rate),
        on_epoch_end=lambda epoch, logs: sched.step())])
    assert seen == pytest.approx([0.1, 0.05, 0.025])
    model.optimizer.learning_rate = 0.3  # what ReduceLROnPlateau and LearningRateScheduler do
    assert opt.param_groups[0]["lr"] == 0.3


def test_gradient_tape_applies_gradients_through_the_wrapper():
    model = plait.Sequential([Dense(2, input_shape=(3,))])
    reference = [w.detach().clone() for w in model.trainable_variables]
    opt = TorchOptimizer(torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9))
    x = torch.randn(4, 3, device=model._device())
    with plait.GradientTape() as tape:
        loss = (model(x) ** 2).mean()
    grads = tape.gradient(loss, model.trainable_variables)
    opt.apply_gradients(zip(grads, model.trainable_variables))
    for w, r, g in zip(model.trainable_variables, reference, grads):
        torch.testing.assert_close(w.detach(), r - 0.5 * g)  # the first SGD step: the momentum buffer is g
    assert all(w.grad is None for w in model.trainable_variables)


def test_torch_optimizer_for_a_model_built_later():
    x, _ = _data(32)
    y = x[:, :1]
    half_built = plait.Sequential([Dense(4, input_shape=(4,))])
    opt = torch.optim.Adam(half_built.parameters())
    half_built.add(Dense(1))  # built on the first call, after the optimizer was made
    half_built.compile(optimizer=opt, loss="mse")
    before = half_built.get_weights()[:2]
    with pytest.raises(ValueError, match=r"does not hold 2 of the 4 variables.*model\.build"):
        half_built.fit(x, y, verbose=0, diagnostics=False)
    for a, b in zip(before, half_built.get_weights()[:2]):
        np.testing.assert_array_equal(a, b)  # nothing was updated
    lazy = _mlp()
    lazy.compile(optimizer=torch.optim.Adam, loss="mse")  # a class: created from the variables at the first step
    lazy.fit(x, y, epochs=2, verbose=0, diagnostics=False)
    assert int(lazy.optimizer.iterations) == 2
    assert len(lazy.optimizer.torch_optimizer.param_groups[0]["params"]) == 4
    with pytest.raises(TypeError, match="closure"):
        lazy.compile(optimizer=torch.optim.LBFGS(lazy.parameters()), loss="mse")


def test_torch_optimizer_state_survives_save_and_load(tmp_path):
    x, _ = _data(64)
    y = x[:, :1]
    model = plait.Sequential([Dense(4, activation="tanh", input_shape=(4,)), Dense(1)])
    model.compile(optimizer=torch.optim.AdamW(model.parameters(), lr=0.02, betas=(0.8, 0.99)), loss="mse")
    model.fit(x, y, epochs=2, shuffle=False, verbose=0, diagnostics=False)
    model.save(tmp_path / "m.plait")
    loaded = plait.load_model(tmp_path / "m.plait")
    restored = loaded.optimizer.torch_optimizer
    assert type(restored) is torch.optim.AdamW and restored.param_groups[0]["betas"] == pytest.approx((0.8, 0.99))
    assert int(loaded.optimizer.iterations) == 4
    model.fit(x, y, epochs=1, shuffle=False, verbose=0, diagnostics=False)
    loaded.fit(x, y, epochs=1, shuffle=False, verbose=0, diagnostics=False)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        # Same weights, moments and step counts restored exactly, same batches: the same kernels on the same
        # inputs, so the results agree bit for bit.
        np.testing.assert_array_equal(a, b)
