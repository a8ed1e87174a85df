"""A dict of input data is matched to a functional model's inputs by name (Keras's rule), never by key order.

Keras matches a data dict to the `Input` names for a model built on a list of Inputs, and to the keys for a
model built on a dict of Inputs; a missing name raises `Missing data for input "..."`. Keys that match no
input are ignored with a warning, as tf.keras did (Keras 3 ignores them silently).
"""
import re
import warnings

import numpy as np
import pytest
import torch

import plait
from plait.layers import Concatenate, Dense


def _two_input_model(seed=0):
    plait.set_random_seed(seed)
    z = plait.Input(shape=(4,), name="zeta")
    a = plait.Input(shape=(3,), name="alpha")
    # Different widths: swapped inputs would fail to build, so the swapped model below uses equal widths.
    out = Dense(1)(Concatenate()([Dense(5)(z), Dense(5)(a)]))
    return plait.Model([z, a], out)


def _equal_width_model(seed=0):
    plait.set_random_seed(seed)
    z = plait.Input(shape=(4,), name="zeta")
    a = plait.Input(shape=(4,), name="alpha")
    out = Dense(1)(Concatenate()([Dense(3)(z), Dense(3)(a)]))
    return plait.Model([z, a], out)


def _np(t):
    """A weight or output as float64 NumPy on the host (the reference is computed in float64)."""
    return t.detach().cpu().double().numpy()


def _arrays(n=10, seed=0, widths=(4, 3)):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, w)).astype("float32") for w in widths]


def test_dict_matches_the_input_names_not_the_sorted_keys():
    model = _equal_width_model()
    xz, xa = _arrays(widths=(4, 4))
    p_list = model.predict([xz, xa], verbose=0)
    # Bit-exact: the same arrays reach the same layers, so the kernels see identical inputs.
    np.testing.assert_array_equal(model.predict({"zeta": xz, "alpha": xa}, verbose=0), p_list)
    np.testing.assert_array_equal(model.predict({"alpha": xa, "zeta": xz}, verbose=0), p_list)
    with torch.no_grad():
        dev = plait.config.get_device()
        direct = model({"alpha": torch.from_numpy(xa).to(dev), "zeta": torch.from_numpy(xz).to(dev)})
    direct = direct.cpu().numpy()
    np.testing.assert_array_equal(direct, p_list)
    np.testing.assert_array_equal(model.predict_on_batch({"alpha": xa, "zeta": xz}), p_list)
    assert not np.allclose(model.predict([xa, xz], verbose=0), p_list)  # the order does matter


def test_dict_result_equals_a_hand_computed_forward_pass():
    model = _two_input_model()
    xz, xa = _arrays()
    dense_z, dense_a, head = (layer for layer in model.layers if isinstance(layer, Dense))
    hz = xz.astype(np.float64) @ _np(dense_z.kernel) + _np(dense_z.bias)
    ha = xa.astype(np.float64) @ _np(dense_a.kernel) + _np(dense_a.bias)
    expected = np.concatenate([hz, ha], axis=1) @ _np(head.kernel) + _np(head.bias)
    np.testing.assert_allclose(model.predict({"alpha": xa, "zeta": xz}, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_misspelt_key_raises_naming_the_missing_input():
    model = _two_input_model()
    xz, xa = _arrays()
    expected = ("Missing data for input \"alpha\". You passed a data dictionary with keys ['zeta', 'alphaa']. "
                "Expected the following keys: ['zeta', 'alpha']")
    with pytest.raises(ValueError, match=re.escape(expected)):
        model.predict({"zeta": xz, "alphaa": xa}, verbose=0)
    with pytest.raises(ValueError, match='Missing data for input "zeta"'):
        model.predict({"alpha": xa}, verbose=0)


def test_extra_key_is_ignored_with_a_warning():
    model = _two_input_model()
    xz, xa = _arrays()
    with pytest.warns(UserWarning, match=r"keys \['label'\] which did not match any model input"):
        out = model.predict({"zeta": xz, "label": xa, "alpha": xa}, verbose=0)
    np.testing.assert_array_equal(out, model.predict([xz, xa], verbose=0))  # bit-exact: same inputs


def test_single_input_model_takes_a_dict_keyed_by_its_name():
    plait.set_random_seed(0)
    inp = plait.Input(shape=(3,), name="features")
    model = plait.Model(inp, Dense(2)(inp))
    (x,) = _arrays(widths=(3,))
    np.testing.assert_array_equal(model.predict({"features": x}, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match=r'Missing data for input "features".*\[\'feature\'\]'):
        model.predict({"feature": x}, verbose=0)


def test_dict_of_inputs_model_matches_by_key():
    plait.set_random_seed(0)
    # Keys differ from the Input names and from their sorted order: the keys are what a data dict must use.
    first = plait.Input(shape=(2,), name="first_input")
    second = plait.Input(shape=(2,), name="second_input")
    model = plait.Model({"b": first, "a": second}, Dense(1)(Concatenate()([first, second])))
    rng = np.random.default_rng(1)
    x1, x2 = rng.normal(size=(6, 2)).astype("float32"), rng.normal(size=(6, 2)).astype("float32")
    dense = model.layers[-1]
    expected = np.concatenate([x1, x2], axis=1).astype(np.float64) @ _np(dense.kernel) + _np(dense.bias)
    np.testing.assert_allclose(model.predict({"a": x2, "b": x1}, verbose=0), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"Missing data for input \"b\"\. .*Expected the following keys: \['b', 'a'\]"):
        model.predict({"a": x2, "first_input": x1}, verbose=0)


def test_nested_dict_of_inputs():
    plait.set_random_seed(0)
    u, v, w = (plait.Input(shape=(2,), name=n) for n in ("u", "v", "w"))
    model = plait.Model({"pair": {"v": v, "u": u}, "w": w}, Dense(1)(Concatenate()([u, v, w])))
    rng = np.random.default_rng(2)
    xu, xv, xw = (rng.normal(size=(5, 2)).astype("float32") for _ in range(3))
    dense = model.layers[-1]
    expected = np.concatenate([xu, xv, xw], axis=1).astype(np.float64) @ _np(dense.kernel) + _np(dense.bias)
    got = model.predict({"w": xw, "pair": {"u": xu, "v": xv}}, verbose=0)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match='Missing data for input "v"'):
        model.predict({"w": xw, "pair": {"u": xu, "vv": xv}}, verbose=0)


def test_fit_and_evaluate_with_dict_x_equal_list_x():
    xz, xa = _arrays(n=48, seed=3)
    y = (xz[:, :1] - xa[:, 1:2]).astype("float32")
    results = []
    for x in ([xz, xa], {"alpha": xa, "zeta": xz}):
        model = _two_input_model(seed=4)
        model.compile(optimizer=plait.optimizers.SGD(0.05), loss="mse")
        hist = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, validation_split=0.25, verbose=0)
        x_test = [xz[::-1] * 0.5, xa[::-1] * 0.5] if isinstance(x, list) else {k: v[::-1] * 0.5 for k, v in x.items()}
        results.append((hist.history, model.evaluate(x_test, y, verbose=0), model.get_weights()))
    (h_list, e_list, w_list), (h_dict, e_dict, w_dict) = results
    # Bit-exact: the same batches reach the same layers in the same order, so every kernel sees identical inputs.
    assert h_dict == h_list
    assert e_dict == e_list
    for a, b in zip(w_dict, w_list):
        np.testing.assert_array_equal(a, b)
    assert h_list["loss"][-1] < h_list["loss"][0]


def test_dict_for_nested_list_inputs_says_to_pass_a_list():
    plait.set_random_seed(0)
    a, b, c = (plait.Input(shape=(2,), name=n) for n in ("a", "b", "c"))
    model = plait.Model([[a, b], c], Dense(1)(Concatenate()([a, b, c])))
    x = torch.zeros(2, 2, device=plait.config.get_device())
    assert model([[x, x], x]).shape == (2, 1)
    with pytest.raises(TypeError, match="Pass the data as a list with the same nesting"):
        model({"a": x, "b": x, "c": x})


def test_no_warning_when_the_keys_match():
    model = _two_input_model()
    xz, xa = _arrays()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict({"alpha": xa, "zeta": xz}, verbose=0)
