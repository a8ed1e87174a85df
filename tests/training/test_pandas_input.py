"""pandas input: read-only frames (pandas 3) train without torch's warning; non-numeric columns get named."""
import warnings

import numpy as np
import pytest
import torch

import plait
from plait.layers import Dense
from plait.tensors import numpy_to_tensor

pd = pytest.importorskip("pandas")


def _model(seed=0):
    plait.set_random_seed(seed)
    model = plait.Sequential([plait.Input(shape=(3,)), Dense(4, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def _frame(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3))
    return pd.DataFrame(x, columns=["a", "b", "c"]), pd.Series((x[:, 0] > 0).astype("int64"), name="label")


def test_a_read_only_frame_trains_without_a_warning_and_like_numpy():
    df, s = _frame()
    frozen = np.asarray(df.to_numpy())
    frozen.flags.writeable = False  # what pandas 3's copy-on-write to_numpy returns
    a, b = _model(), _model()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # torch's "The given NumPy array is not writable" among them
        a.fit(df, s, epochs=2, batch_size=16, shuffle=False, verbose=0, diagnostics=False)
        b.fit(frozen, s.to_numpy(), epochs=2, batch_size=16, shuffle=False, verbose=0, diagnostics=False)
    # Exact: both inputs are the same float64 values rounded once to float32, fed in the same order and layout.
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_read_only_arrays_are_copied_once_and_writable_ones_shared():
    arr = np.arange(6.0).reshape(2, 3)
    shared = numpy_to_tensor(arr)
    assert shared.dtype == torch.float64 and shared.data_ptr() == arr.ctypes.data  # no copy
    arr.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        copied = numpy_to_tensor(arr)
    assert copied.dtype == torch.float32 and copied.data_ptr() != arr.ctypes.data  # one copy, already floatx
    np.testing.assert_array_equal(copied.numpy(), arr.astype("float32"))
    plait.config.set_floatx("bfloat16")  # a floatx NumPy has no type for: copied as it is, converted later
    try:
        kept = numpy_to_tensor(arr)
    finally:
        plait.config.set_floatx("float32")
    assert kept.dtype == torch.float64 and kept.data_ptr() != arr.ctypes.data


def test_non_numeric_columns_are_named_with_the_fix():
    df, s = _frame(8)
    model = _model()
    with pytest.raises(TypeError, match=r"strings or categories in column\(s\) 'c'.*pd.get_dummies"):
        model.fit(df.assign(c=["x", "y"] * 4), s, verbose=0)
    with pytest.raises(TypeError, match=r"strings or categories in column\(s\) 'c' \(category\)"):
        model.fit(df.assign(c=pd.Categorical(["x", "y"] * 4)), s, verbose=0)
    missing = df.astype({"a": "Float32"})
    missing.loc[3, "a"] = pd.NA
    with pytest.raises(TypeError, match=r"missing values \(pd.NA\) in column\(s\) 'a' \(1 missing\).*fillna"):
        model.fit(missing, s, verbose=0)
    with pytest.raises(TypeError, match=r"nullable dtypes in column\(s\) 'a' \(Float32\).*astype\('float32'\)"):
        model.fit(df.astype({"a": "Float32"}), s, verbose=0)
    with pytest.raises(TypeError, match=r"pandas Series.*'label'"):
        model.fit(df, s.map({0: "no", 1: "yes"}), verbose=0)
