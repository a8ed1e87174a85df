"""plait.utils against NumPy derivations and Keras's documented examples."""
import random

import numpy as np
import pytest
import torch

import plait.config
import plait.utils
from plait.utils import normalize, pad_sequences, split_dataset, to_categorical


def test_exports_exactly_the_keras_names():
    assert sorted(plait.utils.__all__) == ["Progbar", "model_to_dot", "normalize", "pad_sequences", "plot_model",
                                           "set_random_seed", "split_dataset", "to_categorical"]
    assert plait.utils.set_random_seed is plait.config.set_random_seed


# ---------------------------------------------------------------- to_categorical

def test_to_categorical_keras_example():
    got = to_categorical([0, 1, 2, 3], num_classes=4)
    assert got.dtype == np.float64  # Keras 3 returns float64 for array input
    np.testing.assert_array_equal(got, np.eye(4))


@pytest.mark.parametrize("shape", [(50,), (50, 1), (5, 10), (5, 10, 1), (2, 3, 4)])
def test_to_categorical_matches_eye_indexing(shape):
    labels = np.random.default_rng(0).integers(0, 6, size=shape)
    got = to_categorical(labels, num_classes=7)
    squeezed = labels[..., 0] if len(shape) > 1 and shape[-1] == 1 else labels
    np.testing.assert_array_equal(got, np.eye(7)[squeezed])
    assert got.shape == squeezed.shape + (7,)


def test_to_categorical_infers_num_classes_and_accepts_integral_floats():
    np.testing.assert_array_equal(to_categorical(np.array([2.0, 0.0, 4.0])), np.eye(5)[[2, 0, 4]])
    np.testing.assert_array_equal(to_categorical([[1], [0]]), np.eye(2)[[1, 0]])
    np.testing.assert_array_equal(to_categorical(np.array([True, False])), np.eye(2)[[1, 0]])


def test_to_categorical_tensor_input():
    labels = torch.tensor([[2], [0], [1]])
    got = to_categorical(labels, num_classes=4)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32 and got.shape == (3, 4)
    np.testing.assert_array_equal(got.numpy(), np.eye(4)[[2, 0, 1]])
    np.testing.assert_array_equal(to_categorical(torch.tensor([3, 1])).numpy(), np.eye(4)[[3, 1]])


@pytest.mark.parametrize("labels, num_classes, match", [
    ([0, -1, 2], None, "negative label"),
    ([0, 3], 3, "num_classes=3"),
    ([0.5, 1.0], None, "non-integer"),
    ([0, 1], 0, "positive integer"),
    ([], None, "empty"),
    (["a", "b"], None, "integer class labels"),
])
def test_to_categorical_errors(labels, num_classes, match):
    with pytest.raises(ValueError, match=match):
        to_categorical(labels, num_classes=num_classes)
    if labels and not isinstance(labels[0], str) and (num_classes is None or num_classes > 0):
        with pytest.raises(ValueError, match=match):
            to_categorical(torch.tensor(labels), num_classes=num_classes)


# ---------------------------------------------------------------- normalize

@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_normalize_numpy_matches_derivation(axis, order):
    x = np.random.default_rng(1).normal(size=(6, 5))
    norm = (np.abs(x) ** order).sum(axis=axis, keepdims=True) ** (1.0 / order)
    np.testing.assert_allclose(normalize(x, axis=axis, order=order), x / norm, rtol=1e-12)


def test_normalize_keeps_zero_rows_and_dtype():
    x = np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32)
    got = normalize(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(normalize([3, 4]), [0.6, 0.8], rtol=1e-12)


def test_normalize_axis_none_uses_the_flattened_norm():
    x = np.arange(1.0, 7.0).reshape(2, 3)
    np.testing.assert_allclose(normalize(x, axis=None), x / np.sqrt((x ** 2).sum()), rtol=1e-12)
    t = torch.from_numpy(x)
    np.testing.assert_allclose(normalize(t, axis=None).numpy(), x / np.sqrt((x ** 2).sum()), rtol=1e-12)


@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("order", [1, 2])
def test_normalize_tensor_matches_numpy(axis, order):
    x = np.random.default_rng(2).normal(size=(4, 7))
    got = normalize(torch.from_numpy(x), axis=axis, order=order)
    assert isinstance(got, torch.Tensor)
    np.testing.assert_allclose(got.numpy(), normalize(x, axis=axis, order=order), rtol=1e-6)


def test_normalize_tensor_zero_vector_and_order_check():
    got = normalize(torch.zeros(2, 3))
    assert torch.equal(got, torch.zeros(2, 3))
    with pytest.raises(ValueError, match="order"):
        normalize(torch.ones(3), order=0)


# ---------------------------------------------------------------- pad_sequences

SEQ = [[1], [2, 3], [4, 5, 6]]


def test_pad_sequences_keras_examples():
    got = pad_sequences(SEQ)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, [[0, 0, 1], [0, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(SEQ, value=-1), [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(SEQ, padding="post"), [[1, 0, 0], [2, 3, 0], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(SEQ, maxlen=2), [[0, 1], [2, 3], [5, 6]])


def test_pad_sequences_truncating_post_and_longer_maxlen():
    np.testing.assert_array_equal(pad_sequences(SEQ, maxlen=2, truncating="post"), [[0, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(pad_sequences(SEQ, maxlen=4, padding="post", value=9),
                                  [[1, 9, 9, 9], [2, 3, 9, 9], [4, 5, 6, 9]])


def test_pad_sequences_random_against_loop():
    rng = np.random.default_rng(3)
    seqs = [rng.normal(size=rng.integers(0, 9)).tolist() for _ in range(30)]
    got = pad_sequences(seqs, maxlen=5, dtype="float64", padding="post", truncating="pre", value=-1.0)
    for row, s in zip(got, seqs):
        kept = s[-5:] if s else []
        np.testing.assert_array_equal(row, kept + [-1.0] * (5 - len(kept)))


def test_pad_sequences_element_arrays_strings_and_edges():
    seqs = [np.ones((1, 2)), np.full((3, 2), 2.0)]
    got = pad_sequences(seqs, dtype="float32")
    assert got.shape == (2, 3, 2) and got[0, :2].sum() == 0 and got[0, 2].tolist() == [1.0, 1.0]
    words = pad_sequences([["a"], ["b", "c"]], dtype=object, value="<pad>")
    assert words.tolist() == [["<pad>", "a"], ["b", "c"]]
    assert pad_sequences([]).shape == (0, 0)
    assert pad_sequences([[], [1, 2]]).tolist() == [[0, 0], [1, 2]]
    assert pad_sequences(SEQ, maxlen=0).shape == (3, 0)


@pytest.mark.parametrize("kwargs, match", [
    ({"padding": "middle"}, "Padding type"),
    ({"truncating": "both"}, "Truncating type"),
    ({"maxlen": -1}, "maxlen"),
    ({"value": "x"}, "dtype=object"),
])
def test_pad_sequences_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pad_sequences(SEQ, **kwargs)


def test_pad_sequences_data_errors():
    with pytest.raises(ValueError, match="non-iterable"):
        pad_sequences([[1], 2])
    with pytest.raises(ValueError, match="expected shape"):
        pad_sequences([np.ones((2, 2)), np.ones((2, 3))])


# ---------------------------------------------------------------- split_dataset

def test_split_dataset_keras_example():
    data = np.random.random(size=(1000, 4))
    left, right = split_dataset(data, left_size=0.8)
    assert left.shape == (800, 4) and right.shape == (200, 4)
    np.testing.assert_array_equal(np.concatenate([left, right]), data)


@pytest.mark.parametrize("left_size, right_size, sizes", [
    (0.8, None, (8, 2)), (None, 0.3, (7, 3)), (6, None, (6, 4)), (None, 4, (6, 4)),
    (0.25, 0.25, (2, 2)),  # round(2.5) == 2, as in Keras (banker's rounding)
    (3, 2, (3, 2)),
])
def test_split_dataset_sizes(left_size, right_size, sizes):
    x = np.arange(10)
    left, right = split_dataset(x, left_size=left_size, right_size=right_size)
    np.testing.assert_array_equal(left, x[: sizes[0]])
    np.testing.assert_array_equal(right, x[10 - sizes[1]:])  # the right part comes from the end


def test_split_dataset_shuffle_matches_keras_order():
    n, seed = 50, 1337
    x, y = np.arange(n) * 10, np.arange(n)
    keras_order = list(range(n))  # Keras: random.seed(seed); random.shuffle(list_of_samples)
    random.seed(seed)
    random.shuffle(keras_order)
    (lx, ly), (rx, ry) = split_dataset((x, y), left_size=0.6, shuffle=True, seed=seed)
    np.testing.assert_array_equal(ly, keras_order[:30])
    np.testing.assert_array_equal(ry, keras_order[30:])
    np.testing.assert_array_equal(lx, ly * 10)
    np.testing.assert_array_equal(rx, ry * 10)


def test_split_dataset_unseeded_shuffle_follows_set_random_seed():
    x = np.arange(40)
    plait.config.set_random_seed(7)
    a = split_dataset(x, left_size=0.5, shuffle=True)
    plait.config.set_random_seed(7)
    b = split_dataset(x, left_size=0.5, shuffle=True)
    np.testing.assert_array_equal(a[0], b[0])
    assert sorted(np.concatenate(a).tolist()) == list(range(40)) and not np.array_equal(a[0], x[:20])


def test_split_dataset_containers():
    x, y = np.arange(12).reshape(6, 2), np.arange(6)
    left, right = split_dataset([x, y], right_size=2)
    assert isinstance(left, list) and left[0].shape == (4, 2) and right[1].tolist() == [4, 5]
    left, right = split_dataset({"a": x, "b": y}, left_size=0.5)
    assert set(left) == {"a", "b"} and left["b"].tolist() == [0, 1, 2] and right["a"].shape == (3, 2)
    t = torch.arange(6.0)
    left, right = split_dataset((t, torch.from_numpy(y)), left_size=4, shuffle=True, seed=0)
    assert isinstance(left[0], torch.Tensor) and torch.equal(left[0].long(), left[1])
    ds = torch.utils.data.TensorDataset(t)
    left, right = split_dataset(ds, left_size=0.5)
    assert isinstance(left, torch.utils.data.Subset) and [s[0].item() for s in right] == [3.0, 4.0, 5.0]


def test_split_dataset_copies_rather_than_views():
    x = np.arange(10)
    left, _ = split_dataset(x, left_size=5)
    left[0] = 99
    assert x[0] == 0


@pytest.mark.parametrize("kwargs, error, match", [
    ({}, ValueError, "At least one"),
    ({"left_size": 0, "right_size": 0}, ValueError, "Both"),
    ({"left_size": 10}, ValueError, "smaller than 10"),
    ({"left_size": 1.0}, ValueError, "left_size"),
    ({"right_size": -0.2}, ValueError, "right_size"),
    ({"left_size": 0.7, "right_size": 0.5}, ValueError, "greater than 1"),
    ({"left_size": 7, "right_size": 5}, ValueError, "at most"),
    ({"left_size": 0.01}, ValueError, "empty"),
    ({"left_size": "half"}, TypeError, "left_size"),
])
def test_split_dataset_size_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        split_dataset(np.arange(10), **kwargs)


def test_split_dataset_data_errors():
    with pytest.raises(ValueError, match="same number of samples"):
        split_dataset((np.arange(5), np.arange(6)), left_size=0.5)
    with pytest.raises(TypeError, match="np.asarray"):
        split_dataset([1, 2, 3, 4], left_size=0.5)
    with pytest.raises(ValueError, match="empty"):
        split_dataset(np.zeros((0, 3)), left_size=0.5)


def test_plot_model_writes_dot_text_and_names_what_an_image_needs(tmp_path, monkeypatch):
    import builtins

    inputs = plait.Input((3,), name="features")
    hidden = plait.layers.Dense(4, activation="relu", name="hidden")(inputs)
    model = plait.Model(inputs, [plait.layers.Dense(1, name="a")(hidden), plait.layers.Dense(2, name="b")(hidden)])
    path = plait.utils.plot_model(model, tmp_path / "model.dot", show_shapes=True, show_layer_activations=True)
    dot = open(path).read()
    assert dot.startswith('digraph "') and "hidden (Dense)" in dot and "activation: relu" in dot
    assert "output: (None, 4)" in dot and dot.count("->") == 3  # features -> hidden -> a, hidden -> b
    real_import = builtins.__import__

    def no_pydot(name, *args, **kwargs):
        if name == "pydot":
            raise ImportError("no pydot here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pydot)
    with pytest.raises(ImportError, match="pip install pydot"):
        plait.utils.plot_model(model, tmp_path / "model.png")
    assert not (tmp_path / "model.png").exists()
    assert isinstance(plait.utils.Progbar(10), plait.utils.Progbar)
