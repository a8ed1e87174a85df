"""Discretization, CategoryEncoding, Hashing and IntegerLookup against NumPy and pure-Python references, Keras's
documented examples and index layout, and their learned state through config, save and load_model."""
import math
import warnings

import numpy as np
import pytest
import torch

import plait
from plait.layers import CategoryEncoding, Dense, Discretization, Flatten, Hashing, IntegerLookup
from plait.layers.preprocessing.hashing import hash_bins, splitmix64

_M64 = (1 << 64) - 1


def _numpy_encode(ids, mode, depth, weights=None):
    """A loop-by-loop reference of Keras's encodings of rank-2 ids."""
    ids = np.asarray(ids)
    if mode == "one_hot":
        return np.eye(depth)[ids]
    out = np.zeros((ids.shape[0], depth))
    for i, row in enumerate(ids):
        for j, t in enumerate(row):
            out[i, t] += 1 if weights is None else weights[i][j]
    return (out > 0).astype(float) if mode == "multi_hot" else out


# ---------------------------------------------------------------------------------------------- Discretization
def test_discretization_buckets_as_numpy_digitize():
    x = np.random.default_rng(0).standard_normal((20, 3)).astype("float32")
    boundaries = [-1.0, -0.25, 0.0, 0.5, 1.5]
    out = Discretization(bin_boundaries=boundaries)(torch.from_numpy(x))
    assert out.dtype == torch.int64
    np.testing.assert_array_equal(out.numpy(), np.digitize(x, np.float32(boundaries)))
    # a value on a boundary goes to the bin above it
    assert Discretization(bin_boundaries=[0.0, 1.0])(torch.tensor([0.0, 1.0])).tolist() == [1, 2]


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
def test_discretization_output_modes(mode):
    x = np.array([[-2.0, 0.5, 0.7], [3.0, 3.0, -0.1]], dtype="float32")
    ids = np.digitize(x, [0.0, 1.0])
    out = Discretization(bin_boundaries=[0.0, 1.0], output_mode=mode)(torch.from_numpy(x))
    np.testing.assert_array_equal(out.numpy(), _numpy_encode(ids, mode, 3))


def test_discretization_adapt_learns_keras_quantiles():
    x = np.array([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]])
    layer = Discretization(num_bins=4, epsilon=0.01)
    layer.adapt(x)
    assert layer.bin_boundaries == [0.0, 0.5, 1.2999999523162842]  # Keras's documented result, float32 values
    np.testing.assert_array_equal(layer(torch.from_numpy(x)).numpy(), [[0, 2, 3, 2], [1, 3, 3, 1]])


def test_discretization_adapt_on_batches_equals_the_array_when_the_summary_is_exact():
    x = np.random.default_rng(1).standard_normal(60).astype("float32")  # fewer than 1 / epsilon values
    whole, batched = Discretization(num_bins=5), Discretization(num_bins=5)
    whole.adapt(x)
    batched.adapt(iter([x[:25], x[25:40], x[40:]]))
    assert whole.bin_boundaries == batched.bin_boundaries


def test_discretization_adapt_approximates_the_quantiles_within_epsilon():
    x = np.random.default_rng(2).standard_normal(20_000).astype("float32")
    for data in (x, [x[i:i + 1000] for i in range(0, len(x), 1000)]):
        layer = Discretization(num_bins=4, epsilon=0.01)
        layer.adapt(data)
        ranks = [np.mean(x < b) for b in layer.bin_boundaries]  # where each boundary falls in the data
        np.testing.assert_allclose(ranks, [0.25, 0.5, 0.75], atol=0.02)


def test_discretization_adapted_boundaries_survive_save_and_load(tmp_path):
    x = np.random.default_rng(3).standard_normal((200, 2)).astype("float32")
    layer = Discretization(num_bins=4, output_mode="one_hot", name="disc")
    layer.adapt(x)
    clone = Discretization.from_config(layer.get_config())
    assert clone.bin_boundaries == layer.bin_boundaries and clone.num_bins == 4
    model = plait.Sequential([plait.Input((2,)), layer, Flatten(), Dense(1)])
    model.save(tmp_path / "d.plait")
    restored = plait.load_model(tmp_path / "d.plait")
    assert restored.get_layer("disc").bin_boundaries == layer.bin_boundaries
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


def test_discretization_errors():
    with pytest.raises(ValueError, match="not both"):
        Discretization(bin_boundaries=[0.0], num_bins=2)
    with pytest.raises(ValueError, match="needs bin_boundaries"):
        Discretization()
    with pytest.raises(ValueError, match="call adapt"):
        Discretization(num_bins=3)(torch.zeros(2, 1))
    with pytest.raises(ValueError, match="sorted"):
        Discretization(bin_boundaries=[1.0, 0.0])
    with pytest.raises(ValueError, match="sparse=True"):
        Discretization(bin_boundaries=[0.0], output_mode="count", sparse=True)


# -------------------------------------------------------------------------------------------- CategoryEncoding
@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
def test_category_encoding_matches_a_numpy_reference(mode):
    ids = np.random.default_rng(0).integers(0, 6, (5, 4))
    layer = CategoryEncoding(num_tokens=6, output_mode=mode)
    np.testing.assert_array_equal(layer(torch.from_numpy(ids)).numpy(), _numpy_encode(ids, mode, 6))
    assert layer.compute_output_shape((None, 4)) == ((None, 4, 6) if mode == "one_hot" else (None, 6))


def test_category_encoding_keras_shapes_and_count_weights():
    assert tuple(CategoryEncoding(4, "one_hot")(torch.tensor([[3], [1]])).shape) == (2, 4)  # a unit axis is replaced
    assert tuple(CategoryEncoding(4, "multi_hot")(torch.tensor([3, 1])).shape) == (4,)  # rank 1: one sample
    weights = np.array([[0.1, 0.2], [0.1, 0.1], [0.2, 0.3], [0.4, 0.2]])
    ids = [[0, 1], [0, 0], [1, 2], [3, 1]]
    out = CategoryEncoding(4, "count")(torch.tensor(ids), count_weights=weights)
    np.testing.assert_allclose(out.numpy(), _numpy_encode(ids, "count", 4, weights), rtol=1e-6)


def test_category_encoding_refuses_what_keras_refuses():
    with pytest.raises(ValueError, match=r"outside \[0, 3\)"):
        CategoryEncoding(3)(torch.tensor([[0, 3]]))
    with pytest.raises(ValueError, match="IntegerLookup"):
        CategoryEncoding()
    with pytest.raises(ValueError, match="output_mode='count'"):
        CategoryEncoding(3, "multi_hot")(torch.tensor([[0]]), count_weights=torch.ones(1, 1))
    with pytest.raises(ValueError, match="integer ids"):
        CategoryEncoding(3)(torch.tensor([[0.5]]))


# ----------------------------------------------------------------------------------------------------- Hashing
def _splitmix64_python(x):
    z = (x + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def test_hash_is_splitmix64_computed_in_python_integers():
    values = [0, 1, 2, -1, -5, 2**62, -2**63, 2**63 - 1, 123456789]
    got = splitmix64(torch.tensor(values)).tolist()
    assert [g & _M64 for g in got] == [_splitmix64_python(v & _M64) for v in values]
    bins = hash_bins(torch.tensor(values), 7).tolist()
    assert bins == [(_splitmix64_python(v & _M64) & (2**63 - 1)) % 7 for v in values]


def test_hashing_is_deterministic_uniform_and_masks():
    ids = torch.arange(100_000)
    out = Hashing(10)(ids)
    assert torch.equal(out, Hashing(10)(ids)) and out.dtype == torch.int64
    counts = torch.bincount(out, minlength=10).numpy()
    assert np.abs(counts / 10_000 - 1).max() < 0.05  # uniform to a few percent
    masked = Hashing(3, mask_value=0)(torch.tensor([[0, 1, 2, 3, 0]]))
    assert masked[0, 0] == 0 and masked[0, 4] == 0 and bool((masked[0, 1:4] >= 1).all())
    assert not torch.equal(Hashing(1000, salt=1)(ids[:100]), Hashing(1000)(ids[:100]))
    assert torch.equal(Hashing(1000, salt=[1, 2])(ids[:100]), Hashing(1000, salt=(1, 2))(ids[:100]))
    multi = Hashing(4, output_mode="multi_hot")(torch.tensor([[5, 6]]))
    assert multi.shape == (1, 4) and multi.sum() in (1, 2)


def test_hashing_refuses_floats_and_bad_arguments():
    with pytest.raises(TypeError, match="integer inputs"):
        Hashing(3)(torch.tensor([0.5]))
    with pytest.raises(ValueError, match="num_bins >= 2"):
        Hashing(1, mask_value=0)
    with pytest.raises(ValueError, match="salt"):
        Hashing(3, salt="x")


# ----------------------------------------------------------------------------------------------- IntegerLookup
def test_integer_lookup_keras_examples():
    data = np.array([[12, 1138, 42], [42, 1000, 36]])
    layer = IntegerLookup(vocabulary=[12, 36, 1138, 42])
    np.testing.assert_array_equal(layer(torch.from_numpy(data)).numpy(), [[1, 3, 4], [4, 0, 2]])
    adapted = IntegerLookup()
    adapted.adapt(data)  # most frequent first, ties: the larger token first
    assert adapted.get_vocabulary() == [-1, 42, 1138, 1000, 36, 12]
    assert adapted.vocabulary_size() == 6 and adapted.get_vocabulary(include_special_tokens=False)[0] == 42
    np.testing.assert_array_equal(adapted(torch.from_numpy(data)).numpy(), [[5, 2, 1], [1, 3, 4]])
    masked = IntegerLookup(vocabulary=[12, 36, 1138, 42], mask_token=0)
    np.testing.assert_array_equal(masked(torch.tensor([[12, 1138, 42], [42, 0, 36]])).numpy(),
                                  [[2, 4, 5], [5, 0, 3]])
    several = IntegerLookup(vocabulary=[12, 36, 1138, 42], num_oov_indices=2)
    np.testing.assert_array_equal(several(torch.tensor([[12, 1138, 42], [37, 1000, 36]])).numpy(),
                                  [[2, 4, 5], [1, 0, 3]])  # 37 % 2 = 1, 1000 % 2 = 0
    inverse = IntegerLookup(vocabulary=[12, 36, 1138, 42], invert=True)
    np.testing.assert_array_equal(inverse(torch.tensor([[1, 3, 4], [4, 0, 2]])).numpy(),
                                  [[12, 1138, 42], [42, -1, 36]])


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
def test_integer_lookup_vector_modes_encode_the_indices(mode):
    vocab = [7, 3, 9]
    data = np.random.default_rng(0).integers(0, 11, (6, 4))
    index = {t: i + 1 for i, t in enumerate(vocab)}
    ids = np.vectorize(lambda t: index.get(t, 0))(data)
    out = IntegerLookup(vocabulary=vocab, output_mode=mode)(torch.from_numpy(data))
    np.testing.assert_array_equal(out.numpy(), _numpy_encode(ids, mode, 4))
    padded = IntegerLookup(vocabulary=vocab, output_mode="multi_hot", max_tokens=6, pad_to_max_tokens=True)
    assert tuple(padded(torch.from_numpy(data)).shape) == (6, 6)


def test_integer_lookup_mask_is_dropped_outside_int_mode():
    layer = IntegerLookup(vocabulary=[5, 6], mask_token=0, output_mode="multi_hot")
    assert layer.get_vocabulary() == [-1, 5, 6]
    np.testing.assert_array_equal(layer(torch.tensor([[0, 5, 9]])).numpy(), [[1, 1, 0]])


def test_integer_lookup_tf_idf_from_adapt():
    docs = np.array([[1, 2, 2], [2, 3, 3], [4, 4, 4]])
    layer = IntegerLookup(output_mode="tf_idf")
    layer.adapt(docs)
    vocab = layer.get_vocabulary(include_special_tokens=False)
    assert vocab == [4, 2, 3, 1]
    idf = [math.log(1 + 3 / (1 + sum(t in row for row in docs.tolist()))) for t in vocab]
    want_weights = [np.mean(idf)] + idf  # the OOV slot gets the mean weight, as Keras
    np.testing.assert_allclose(layer.idf_weights.numpy(), want_weights, rtol=1e-6)
    out = layer(torch.tensor([[2, 2, 9]]))
    np.testing.assert_allclose(out.numpy(), [[want_weights[0], 0, 2 * want_weights[2], 0, 0]], rtol=1e-6)
    clone = IntegerLookup.from_config(layer.get_config())
    assert torch.equal(clone.idf_weights, layer.idf_weights) and clone.get_vocabulary() == layer.get_vocabulary()


def test_integer_lookup_adapt_options_and_iterables():
    data = np.array([1, 1, 1, 2, 2, 3, -1, 0, 0, 0, 0])
    layer = IntegerLookup(max_tokens=3, mask_token=0)
    layer.adapt(data)  # the mask and OOV tokens are never learned; max_tokens counts the special indices
    assert layer.get_vocabulary() == [0, -1, 1]
    batched = IntegerLookup(max_tokens=3, mask_token=0)
    batched.adapt(iter([data[:4], data[4:]]))
    assert batched.get_vocabulary() == layer.get_vocabulary()


def test_integer_lookup_vocabulary_file_and_special_prefix(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("7\n3\n")
    assert IntegerLookup(vocabulary=str(path)).get_vocabulary() == [-1, 7, 3]
    assert IntegerLookup(vocabulary=[-1, 7, 3]).get_vocabulary() == [-1, 7, 3]  # special tokens recognized


@pytest.mark.parametrize("kwargs, error, message", [
    ({"vocabulary": [1, 1]}, ValueError, "repeats"),
    ({"vocabulary": [1, 0], "mask_token": 0}, ValueError, "mask_token"),
    ({"vocabulary": [1, 2, 3], "max_tokens": 3}, ValueError, "larger than max_tokens"),
    ({"invert": True, "output_mode": "count"}, ValueError, "must be 'int'"),
    ({"output_mode": "tf_idf", "vocabulary": [1]}, ValueError, "idf_weights"),
    ({"vocabulary": ["a"]}, TypeError, "StringLookup"),
    ({"max_tokens": 1}, ValueError, "greater than 1"),
])
def test_integer_lookup_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        IntegerLookup(**kwargs)


def test_integer_lookup_errors_at_call():
    with pytest.raises(ValueError, match=r"num_oov_indices=0 .* \[3\]"):
        IntegerLookup(num_oov_indices=0, vocabulary=[1, 2])(torch.tensor([1, 3]))
    with pytest.raises(RuntimeError, match="no vocabulary yet"):
        IntegerLookup(output_mode="multi_hot")(torch.tensor([[1]]))


def test_integer_lookup_adapted_vocabulary_survives_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 30, (64, 5))
    lookup = IntegerLookup(output_mode="multi_hot", name="lookup")
    lookup.adapt(x)
    model = plait.Sequential([plait.Input((5,), dtype="int64"), lookup, Dense(1)])
    model.compile("sgd", "mse")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, rng.standard_normal((64, 1)).astype("float32"), epochs=1, verbose=0)
    model.save(tmp_path / "l.plait")
    restored = plait.load_model(tmp_path / "l.plait")
    assert restored.get_layer("lookup").get_vocabulary() == lookup.get_vocabulary()
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
