"""fit / evaluate / predict inside a user's `torch.autocast` region, and predict on low-precision outputs.

Autocast caches its bf16 copy of each weight until the outermost region exits; a whole `fit` inside one region
used to train on the first step's weights (a flat loss). The references here are plain torch loops with autocast
around each forward pass, and plait's own `train_on_batch` with a fresh region per step.
"""
import numpy as np
import pytest
import torch

import plait
from plait.layers import Dense

DEV = plait.config.get_device()
BF16 = dict(device_type=DEV.type, dtype=torch.bfloat16)


def _data(n=64, d=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x @ rng.normal(size=(d, 1)) + 0.3 * np.sin(3 * x[:, :1])).astype("float32")
    return x, y


def _mlp(d=6, seed=0, lr=0.05):
    plait.set_random_seed(seed)
    model = plait.Sequential([plait.Input(shape=(d,)), Dense(8, activation="relu"), Dense(1)])
    model.compile(optimizer=plait.optimizers.SGD(learning_rate=lr), loss="mse")
    return model


def _torch_loop_autocast_per_forward(weights, x, y, lr, batch_size, steps):
    """The plain-torch mixed-precision loop: autocast around each forward, float32 loss and SGD update."""
    k1, b1, k2, b2 = (torch.tensor(w, device=DEV, requires_grad=True) for w in weights)
    xs, ys = torch.from_numpy(x).to(DEV), torch.from_numpy(y).to(DEV)
    losses = []
    for step in range(steps):
        i = slice(step * batch_size % len(x), step * batch_size % len(x) + batch_size)
        with torch.autocast(**BF16):
            out = torch.addmm(b2, torch.relu(torch.addmm(b1, xs[i], k1)), k2)
        loss = (out.float() - ys[i]).square().mean()
        grads = torch.autograd.grad(loss, [k1, b1, k2, b2])
        with torch.no_grad():
            for p, g in zip((k1, b1, k2, b2), grads):
                p -= lr * g
        losses.append(float(loss.detach()))
    return losses, [p.detach().cpu().numpy() for p in (k1, b1, k2, b2)]


def test_fit_inside_one_autocast_region_trains_on_current_weights():
    x, y = _data(n=80)
    (x, x_val), (y, y_val) = np.split(x, [64]), np.split(y, [64])
    model = _mlp()
    start = model.get_weights()
    with torch.autocast(**BF16):
        hist = model.fit(x, y, batch_size=16, epochs=4, shuffle=False, verbose=0, validation_data=(x_val, y_val))
    losses = hist.history["loss"]
    assert all(b < a for a, b in zip(losses, losses[1:])), losses  # was flat: the first step's weights every step
    ref_losses, ref_weights = _torch_loop_autocast_per_forward(start, x, y, lr=0.05, batch_size=16, steps=16)
    ref_epochs = np.mean(np.reshape(ref_losses, (4, 4)), axis=1)
    # The loops differ only in the float32 rounding of the loss and its gradient, which a bf16 cast of a weight
    # can amplify to one bf16 ulp (2**-8 relative) in a few entries; hence tolerances. (Measured: 1e-7 relative
    # on the losses, 2e-3 on the worst weight; the float32 run without autocast differs by 1e-3 on the losses.)
    np.testing.assert_allclose(losses, ref_epochs, rtol=2e-3)
    for got, ref in zip(model.get_weights(), ref_weights):
        np.testing.assert_allclose(got, ref, rtol=1e-2, atol=5e-3)


def test_fit_in_one_region_equals_train_on_batch_with_a_region_per_step():
    x, y = _data(seed=1)
    a, b = _mlp(seed=3), _mlp(seed=3)
    with torch.autocast(**BF16):
        a.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for _ in range(2):
        for i in range(0, len(x), 16):
            with torch.autocast(**BF16):
                b.train_on_batch(x[i:i + 16], y[i:i + 16])
    # Bit-exact: both run the same plait step with the same kernels on the same bf16 casts of the same weights.
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_train_on_batch_repeated_in_one_region_equals_a_region_per_step():
    x, y = _data(seed=2)
    a, b = _mlp(seed=4), _mlp(seed=4)
    with torch.autocast(**BF16):
        losses = [a.train_on_batch(x[:16], y[:16]) for _ in range(4)]
    for _ in range(4):
        with torch.autocast(**BF16):
            b.train_on_batch(x[:16], y[:16])
    assert losses[-1] < losses[0]  # before: the same loss four times (the first step's cached weight casts)
    # Bit-exact: the same plait step, kernels and bf16 casts of the same weights on both sides.
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_autocast_region_is_left_as_the_user_set_it():
    x, y = _data(n=16)
    model = _mlp()
    with torch.autocast(**BF16):
        model.fit(x, y, epochs=1, verbose=0)
        assert torch.is_autocast_cache_enabled()
        assert torch.is_autocast_enabled(DEV.type) and torch.get_autocast_dtype(DEV.type) == torch.bfloat16
    with torch.autocast(**BF16, cache_enabled=False):
        model.fit(x, y, epochs=1, verbose=0)
        assert not torch.is_autocast_cache_enabled()
    assert not torch.is_autocast_enabled(DEV.type)


def test_fit_without_autocast_does_not_touch_the_cache_setting():
    x, y = _data(n=16)
    model = _mlp()
    model.fit(x, y, epochs=1, verbose=0)
    assert torch.is_autocast_cache_enabled()


def test_evaluate_and_predict_after_fit_in_the_same_region_see_the_trained_weights():
    x, y = _data()
    model = _mlp()
    x_test, y_test = _data(n=32, seed=5)
    with torch.autocast(**BF16):
        model.fit(x, y, batch_size=16, epochs=3, verbose=0)
        loss_in_region = model.evaluate(x_test, y_test, verbose=0)
        pred_in_region = model.predict(x_test, verbose=0)
    with torch.autocast(**BF16):  # a fresh region: no cached casts
        pred_fresh = model.predict(x_test, verbose=0)
        loss_fresh = model.evaluate(x_test, y_test, verbose=0)
    # Bit-exact: the same bf16 casts of the same (trained) weights, the same kernels.
    np.testing.assert_array_equal(pred_in_region, pred_fresh)
    assert loss_in_region == loss_fresh
    assert pred_in_region.dtype == np.float32  # a bf16 output comes back as float32 NumPy
    np.testing.assert_allclose(pred_fresh, model.predict(x_test, verbose=0), rtol=0.05, atol=0.05)


def test_predict_after_an_in_place_weight_update_in_the_same_region_uses_current_weights():
    x, y = _data(n=16)
    model = _mlp()
    with torch.autocast(**BF16):
        before = model.predict(x, verbose=0)
        model.set_weights([w * 2 for w in model.get_weights()])  # an in-place update, as an optimizer does
        after = model.predict(x, verbose=0)
        after_batch = model.predict_on_batch(x)
    with torch.autocast(**BF16):
        fresh = model.predict(x, verbose=0)
    assert not np.array_equal(before, after)
    np.testing.assert_array_equal(after, fresh)  # bit-exact: same casts, same kernels
    np.testing.assert_array_equal(after_batch, fresh)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_predict_on_a_low_precision_model_returns_float32_numpy(dtype):
    x, _ = _data(n=10)
    model = _mlp()
    expected = model.predict(x, verbose=0)
    model.to(dtype)
    for out in (model.predict(x, verbose=0), model.predict_on_batch(x)):
        assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (10, 1)
        # Reference: the same forward in torch in `dtype`, cast to float32 (exact for bf16/fp16 values).
        with torch.no_grad():
            ref = model(torch.from_numpy(x).to(DEV, dtype)).float().cpu().numpy()
        np.testing.assert_array_equal(out, ref)  # bit-exact: identical kernels and inputs, an exact upcast
        np.testing.assert_allclose(out, expected, rtol=0.05, atol=0.05)


def test_predict_under_autocast_returns_float32_numpy_for_dict_outputs():
    inp = plait.Input(shape=(6,), name="x")
    h = Dense(4)(inp)
    model = plait.Model(inp, {"a": Dense(2)(h), "b": Dense(1)(h)})
    x, _ = _data(n=5)
    with torch.autocast(**BF16):
        out = model.predict(x, verbose=0)
    assert set(out) == {"a", "b"}
    assert out["a"].dtype == np.float32 and out["a"].shape == (5, 2)
    assert out["b"].dtype == np.float32 and out["b"].shape == (5, 1)
