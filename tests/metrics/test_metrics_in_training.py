"""The new metrics inside training: compile string ids, fit with train and val_ values, evaluate, weighted
metrics, logits models, a GradientTape loop, and a 10-class softmax model with metrics=['precision', 'recall',
'f1_score'] -- each checked against scikit-learn on the model's own predictions."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import expit
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

import plait
from plait import metrics
from plait.layers import Dense


def binary_data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.5 * rng.normal(size=n) > 0).astype(np.float32)
    return x, y[:, None]


def classes_data(n=300, k=10, seed=1):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(k, 6))
    labels = rng.integers(0, k, size=n)
    return (centers[labels] + rng.normal(size=(n, 6))).astype(np.float32), labels


def test_binary_fit_logs_train_and_val_values_named_by_the_ids():
    plait.set_random_seed(0)
    x, y = binary_data()
    x_val, y_val = binary_data(80, seed=9)
    model = plait.Sequential([Dense(8, activation="relu", input_shape=(4,)), Dense(1, activation="sigmoid")])
    ids = ["accuracy", "precision", "Recall", "auc", "prc", "f1_score", "AUC"]
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=ids)
    history = model.fit(x, y, epochs=2, batch_size=64, validation_data=(x_val, y_val), verbose=0)
    assert set(history.history) == {"loss", "val_loss", *ids, *(f"val_{i}" for i in ids)}
    for name in ids:
        values = history.history[name]
        assert len(values) == 2 and all(0.0 <= v <= 1.0 for v in values), (name, values)
    # The last epoch's val_ values are the metrics of the final weights on the validation data.
    p = model.predict(x_val, verbose=0).ravel()
    t = y_val.ravel()
    last = {k: v[-1] for k, v in history.history.items()}
    assert last["val_precision"] == pytest.approx(precision_score(t, p > 0.5, zero_division=0), rel=1e-6)
    assert last["val_Recall"] == pytest.approx(recall_score(t, p > 0.5), rel=1e-6)
    assert last["val_f1_score"] == pytest.approx(f1_score(t, p > 0.5), rel=1e-6)
    assert last["val_auc"] == pytest.approx(roc_auc_score(t, p), abs=5e-3)
    assert last["val_auc"] == last["val_AUC"]
    assert last["val_prc"] == pytest.approx(average_precision_score(t, p), abs=3e-2)


@pytest.mark.parametrize("labels", ["sparse", "onehot"])
def test_ten_class_softmax_model_with_precision_recall_f1(labels):
    plait.set_random_seed(1)
    x_all, ids_all = classes_data(400)
    x, ids, x_test, ids_test = x_all[:300], ids_all[:300], x_all[300:], ids_all[300:]
    y = ids if labels == "sparse" else np.eye(10, dtype=np.float32)[ids]
    y_test = ids_test if labels == "sparse" else np.eye(10, dtype=np.float32)[ids_test]
    loss = "sparse_categorical_crossentropy" if labels == "sparse" else "categorical_crossentropy"
    model = plait.Sequential([Dense(16, activation="relu", input_shape=(6,)), Dense(10, activation="softmax")])
    model.compile(optimizer=plait.optimizers.Adam(learning_rate=0.03), loss=loss,
                  metrics=["precision", "recall", "f1_score"])
    history = model.fit(x, y, epochs=3, batch_size=64, validation_split=0.2, verbose=0)
    assert {"precision", "recall", "f1_score", "val_precision", "val_recall", "val_f1_score"} <= set(history.history)
    assert history.history["precision"][-1] > history.history["precision"][0]
    logs = model.evaluate(x_test, y_test, batch_size=64, verbose=0, return_dict=True)
    pred = model.predict(x_test, verbose=0).argmax(-1)
    labels_all = list(range(10))
    assert logs["precision"] == pytest.approx(precision_score(ids_test, pred, average="macro", labels=labels_all,
                                                              zero_division=0), rel=1e-6)
    assert logs["recall"] == pytest.approx(recall_score(ids_test, pred, average="macro", labels=labels_all,
                                                        zero_division=0), rel=1e-6)
    # The 'f1_score' id is the macro average (one number); F1Score() itself keeps Keras's per-class vector.
    assert logs["f1_score"] == pytest.approx(f1_score(ids_test, pred, average="macro", labels=labels_all,
                                                      zero_division=0), rel=1e-6)
    assert isinstance(history.history["f1_score"][-1], float)


def test_weighted_metrics_and_logits_model_in_evaluate():
    plait.set_random_seed(2)
    x_train, y_train = binary_data()
    x, y = binary_data(200, seed=11)
    w = np.random.default_rng(3).uniform(0.1, 2.0, size=len(x)).astype(np.float32)
    model = plait.Sequential([Dense(1, input_shape=(4,))])  # logits
    model.compile(optimizer="adam", loss=plait.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[metrics.Precision(from_logits=True), metrics.AUC(from_logits=True, exact=True)],
                  weighted_metrics=[metrics.Recall(from_logits=True, name="wrecall")])
    model.fit(x_train, y_train, epochs=1, batch_size=64, validation_split=0.2, verbose=0)
    logs = model.evaluate(x, y, sample_weight=w, batch_size=50, verbose=0, return_dict=True)
    p = expit(model.predict(x, verbose=0).ravel())
    t = y.ravel()
    assert logs["precision"] == pytest.approx(precision_score(t, p > 0.5, zero_division=0), rel=1e-6)
    assert logs["auc"] == pytest.approx(roc_auc_score(t, p), rel=1e-6)
    assert logs["wrecall"] == pytest.approx(recall_score(t, p > 0.5, sample_weight=w), rel=1e-6)


def test_metrics_inside_a_gradient_tape_loop():
    plait.set_random_seed(4)
    x, y = binary_data()
    model = plait.Sequential([Dense(1, activation="sigmoid", input_shape=(4,))])
    optimizer = plait.optimizers.Adam(learning_rate=0.05)
    loss_fn = plait.losses.BinaryCrossentropy()
    tracked = [metrics.Precision(), metrics.AUC(exact=True), metrics.F1Score(average="micro"),
               metrics.ConfusionMatrix(2)]
    seen = []
    for start in range(0, len(x), 40):
        xb, yb = torch.from_numpy(x[start:start + 40]), torch.from_numpy(y[start:start + 40])
        with plait.GradientTape() as tape:
            pred = model(xb, training=True)
            loss = loss_fn(yb, pred)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        for m in tracked:
            m.update_state(yb, pred)  # an autograd-tracked tensor: update_state detaches
        seen.append(pred.detach().numpy().ravel())
    p, t = np.concatenate(seen), y.ravel()
    assert float(tracked[0].result()) == pytest.approx(precision_score(t, p > 0.5, zero_division=0), rel=1e-6)
    assert float(tracked[1].result()) == pytest.approx(roc_auc_score(t, p), rel=1e-6)
    assert float(tracked[2].result()) == pytest.approx(f1_score(t, p > 0.5), rel=1e-6)
    assert tracked[3].result().sum() == len(t)
    assert not any(m.result().requires_grad for m in tracked)


def test_standalone_on_numpy_lists_and_tensors_agree():
    y, p = binary_data()[1].ravel(), np.random.default_rng(5).uniform(size=240).astype(np.float32)
    for cls in (metrics.Precision, metrics.Recall, metrics.AUC, metrics.F1Score):
        values = [cls()(y, p), cls()(y.tolist(), p.tolist()), cls()(torch.from_numpy(y), torch.from_numpy(p))]
        for v in values[1:]:
            np.testing.assert_allclose(v.numpy(), values[0].numpy(), rtol=1e-6)


# --- streaming hygiene: no host reads in update_state, states follow the device ------------------------
def _streaming_cases():
    g = torch.Generator().manual_seed(0)
    n, k = 16, 4
    y_bin, p_bin = torch.randint(0, 2, (n,), generator=g), torch.rand(n, generator=g)
    ids, probs = torch.randint(0, k, (n,), generator=g), torch.softmax(torch.randn(n, k, generator=g), -1)
    one_hot = torch.nn.functional.one_hot(ids, k).float()
    multi = (torch.rand(n, k, generator=g) < 0.5).float()
    binary = (y_bin, p_bin)
    return [
        (metrics.TruePositives(thresholds=[0.2, 0.7]), binary), (metrics.FalseNegatives(), binary),
        (metrics.Precision(), binary), (metrics.Recall(thresholds=[0.1, 0.4, 0.35, 0.9, 0.2, 0.3, 0.5, 0.6, 0.7, 0.8]),
                                        binary),
        (metrics.Precision(), (ids, probs)), (metrics.Recall(average=None), (one_hot, probs)),
        (metrics.Precision(top_k=2), (multi, probs)), (metrics.Recall(class_id=1, from_logits=True), (ids, probs)),
        (metrics.F1Score(average="macro"), (ids, probs)),
        (metrics.FBetaScore(beta=2.0, threshold=0.3), (multi, probs)),
        (metrics.FBetaScore(beta=0.5, threshold=0.3), (ids, probs)),
        (metrics.AUC(), binary),
        (metrics.AUC(curve="PR", multi_label=True, label_weights=[1, 2, 3, 4]), (multi, probs)),
        (metrics.AUC(exact=True), binary), (metrics.AUC(curve="PR", exact=True, multi_label=True), (multi, probs)),
        (metrics.SensitivityAtSpecificity(0.5), binary), (metrics.RecallAtPrecision(0.6, class_id=2), (ids, probs)),
        (metrics.ConfusionMatrix(), (ids, probs)), (metrics.ConfusionMatrix(2), binary),
        (metrics.MeanIoU(k), (ids, probs.argmax(-1))), (metrics.OneHotIoU(k, [1, 2]), (one_hot, probs)),
        (metrics.BinaryIoU(), binary), (metrics.BinaryCrossentropy(), binary),
        (metrics.SparseCategoricalCrossentropy(ignore_class=0), (ids, probs)),
        (metrics.CategoricalCrossentropy(), (one_hot, probs)), (metrics.KLDivergence(), (one_hot, probs)),
        (metrics.R2Score(), (torch.randn(n, 2, generator=g), torch.randn(n, 2, generator=g))),
    ]


CASES = _streaming_cases()
_SYNCING = ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__")


@pytest.mark.parametrize("case", range(len(CASES)), ids=[type(m).__name__ for m, _ in CASES])
def test_update_state_never_reads_tensor_values_on_the_host(case, monkeypatch):
    metric, (y_true, y_pred) = CASES[case]
    metric = type(metric).from_config(metric.get_config())
    weight = torch.rand(len(y_true))
    metric.update_state(y_true, y_pred)  # the first batch may build the states

    def forbidden(*args, **kwargs):
        raise AssertionError("host read inside update_state/result")

    for attr in _SYNCING:
        monkeypatch.setattr(torch.Tensor, attr, forbidden)
    metric.update_state(y_true, y_pred, sample_weight=weight)
    metric.update_state(y_true, y_pred)
    metric.result()
    monkeypatch.undo()
    assert torch.isfinite(metric.result()).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA to observe device synchronizations")
@pytest.mark.parametrize("case", range(len(CASES)), ids=[type(m).__name__ for m, _ in CASES])
def test_on_cuda_states_follow_and_nothing_synchronizes(case):
    metric, (y_true, y_pred) = CASES[case]
    reference = type(metric).from_config(metric.get_config())
    reference.update_state(y_true, y_pred)
    reference.update_state(y_true, y_pred, sample_weight=torch.linspace(0.1, 1.0, len(y_true)))
    metric = type(metric).from_config(metric.get_config())
    y_true, y_pred = y_true.cuda(), y_pred.cuda()
    weight = torch.linspace(0.1, 1.0, len(y_true), device="cuda")
    metric.update_state(y_true, y_pred)  # moves the states (a synchronizing copy) once
    metric.result()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        metric.update_state(y_true, y_pred, sample_weight=weight)
        result = metric.result()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert result.device.type == "cuda"
    torch.testing.assert_close(result.cpu(), reference.result(), rtol=1e-6, atol=1e-6)
