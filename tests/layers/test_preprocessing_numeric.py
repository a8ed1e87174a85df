"""Normalization and Rescaling against float64 NumPy: `adapt` on arrays, tensors and iterables of batches, the
streaming moments, epsilon and `invert`, and adapted statistics carried by get_weights, save and load_model."""
import warnings

import numpy as np
import pytest
import torch

import plait
from plait.layers import Dense, Normalization, Rescaling
from plait.layers.preprocessing.adapt_data import iter_batches
from plait.layers.preprocessing.normalization import _batch_moments, combine_moments

# float32 statistics against float64 references: a few float32 ulps.
F32 = {"rtol": 2e-6, "atol": 0}


def _data(rows=1000, seed=0):
    rng = np.random.default_rng(seed)
    # very different scales and a large offset: the sums a naive E[x^2] - E[x]^2 would lose digits on
    return (rng.standard_normal((rows, 4)) * [1, 10, 100, 1e3] + [5, -3, 1e4, 0]).astype("float32")


def _stats(layer):
    return layer.mean.detach().numpy(), layer.variance.detach().numpy()


def test_streaming_moments_are_exact_to_float64():
    x = _data().astype("float64")
    total = None
    for start in range(0, len(x), 37):  # uneven batches, the last one short
        total = combine_moments(total, _batch_moments(torch.from_numpy(x[start:start + 37]), (0,)))
    count, mean, m2 = total
    assert count == len(x)
    np.testing.assert_allclose(mean.numpy(), x.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose((m2 / count).numpy(), x.var(axis=0), rtol=1e-12)


def test_adapt_on_array_matches_numpy_over_all_rows():
    x = _data()
    layer = Normalization()
    layer.adapt(x)
    mean, var = _stats(layer)
    np.testing.assert_allclose(mean, x.astype("float64").mean(axis=0), **F32)
    np.testing.assert_allclose(var, x.astype("float64").var(axis=0), **F32)
    assert [w.shape for w in layer.get_weights()] == [(4,), (4,), ()]  # Keras's mean, variance, count


@pytest.mark.parametrize("source", ["tensor", "generator", "list", "dataloader", "dataset", "batch_size", "steps"])
def test_adapt_on_iterables_gives_the_statistics_of_the_array(source):
    x = _data()
    whole = Normalization()
    whole.adapt(x)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.zeros(len(x)))
    data, kwargs = x, {}
    if source == "tensor":
        data = torch.from_numpy(x)
    elif source == "generator":  # uneven batches of (x, y) tuples
        data = ((x[i:i + 37], None) for i in range(0, len(x), 37))
    elif source == "list":
        data = [x[:300], x[300:]]
    elif source == "dataloader":  # [x, y] batches give x
        data = torch.utils.data.DataLoader(dataset, batch_size=64)
    elif source == "dataset":  # a map-style Dataset yields samples: batched first
        data, kwargs = dataset, {"batch_size": 100}
    elif source == "batch_size":
        kwargs = {"batch_size": 128}
    elif source == "steps":  # an endless stream, cut after 10 batches of 100 rows: all 1000 rows once
        data, kwargs = (x[(i % 10) * 100:(i % 10) * 100 + 100] for i in range(10**9)), {"steps": 10}
    layer = Normalization()
    layer.adapt(data, **kwargs)
    # The same float64 moments combined in another order: equal up to float64 rounding, so float32-equal
    # but for a possible last-bit rounding difference.
    for got, want in zip(_stats(layer), _stats(whole)):
        np.testing.assert_allclose(got, want, rtol=1.2e-7, atol=0)


def test_normalizes_as_keras_and_invert_undoes_it():
    x = _data()
    layer = Normalization()
    layer.adapt(x)
    x64 = x.astype("float64")
    want = (x64[:10] - x64.mean(0)) / np.sqrt(x64.var(0))
    np.testing.assert_allclose(layer(x[:10]).numpy(), want, rtol=1e-5, atol=1e-5)
    inverse = Normalization(invert=True)
    inverse.adapt(x)
    np.testing.assert_allclose(inverse(layer(x[:10])).numpy(), x[:10], rtol=1e-6, atol=1e-3)


def test_keras_docstring_examples():
    layer = Normalization(axis=None)
    layer.adapt(np.array([1.0, 2.0, 3.0, 4.0, 5.0], dtype="float32"))
    np.testing.assert_allclose(layer(np.array([1.0, 2.0, 3.0], dtype="float32")).numpy(),
                               [-1.4142135, -0.70710677, 0.0], rtol=1e-6)
    adapt_data = np.array([[0.0, 7.0, 4.0], [2.0, 9.0, 6.0], [0.0, 7.0, 4.0], [2.0, 9.0, 6.0]], dtype="float32")
    layer = Normalization(axis=-1)
    layer.adapt(adapt_data)
    np.testing.assert_allclose(layer(np.array([[0.0, 7.0, 4.0]], dtype="float32")).numpy(), [[-1.0, -1.0, -1.0]])
    inverse = Normalization(axis=-1, invert=True)
    inverse.adapt(adapt_data)
    np.testing.assert_allclose(inverse(np.array([[1.0, 2.0, 3.0]], dtype="float32")).numpy(), [[2.0, 10.0, 8.0]])
    given = Normalization(mean=3.0, variance=2.0)
    np.testing.assert_allclose(given(np.array([[1.0], [2.0], [3.0]], dtype="float32")).numpy(),
                               [[-1.4142135], [-0.70710677], [0.0]], rtol=1e-6)


def test_constant_feature_divides_by_epsilon_not_zero():
    x = np.stack([np.full(10, 3.0), np.arange(10.0)], axis=1).astype("float32")
    layer = Normalization()
    layer.adapt(x)
    out = layer(x).numpy()
    assert np.isfinite(out).all() and (out[:, 0] == 0).all()
    np.testing.assert_allclose(Normalization(mean=0.0, variance=0.0)(torch.ones(1, 1)).numpy(),
                               [[1 / plait.config.epsilon()]], rtol=1e-6)


@pytest.mark.parametrize("axis, kept", [((1, 2), (3, 4)), (None, ()), (1, (3,)), (-2, (3,))])
def test_axes_keep_their_own_statistics(axis, kept):
    x = np.random.default_rng(1).standard_normal((50, 3, 4))
    layer = Normalization(axis=axis)
    layer.adapt(x)
    assert tuple(layer.mean.shape) == kept
    reduce = tuple(d for d in range(3) if d not in {a % 3 for a in ((axis,) if isinstance(axis, int) else axis or ())})
    np.testing.assert_allclose(layer.mean.detach().numpy(), x.mean(axis=reduce), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(layer.variance.detach().numpy(), x.var(axis=reduce), rtol=1e-6)


def test_given_mean_and_variance_broadcast_to_the_kept_axes():
    layer = Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0])
    np.testing.assert_allclose(layer(torch.tensor([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]])).numpy(),
                               [[0, 0, 0], [1, 1, 1]])
    assert layer.get_weights() == []  # given statistics are config, not weights (as Keras)
    assert layer.get_config()["mean"] == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("kwargs, message", [
    ({"mean": 1.0}, "together"),
    ({"mean": [1.0, 2.0], "variance": [1.0]}, "same shape"),
    ({"axis": "x"}, "axis must be"),
])
def test_bad_arguments_say_what_to_do(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        Normalization(**kwargs)


def test_bad_adapt_data_is_refused_clearly():
    layer = Normalization()
    layer.adapt(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="built for inputs of rank 2"):
        layer.adapt(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="got no data"):
        Normalization().adapt(np.zeros((0, 3)))
    with pytest.raises(TypeError, match="String data"):
        Normalization().adapt([["a", "b"]])
    with pytest.raises(ValueError, match="nothing to adapt"):
        Normalization(mean=0.0, variance=1.0).adapt(np.zeros((4, 1)))
    with pytest.raises(ValueError, match="batch axis"):
        Normalization(axis=0).build((None, 3))
    with pytest.raises(ValueError, match="positive integer"):
        Normalization().adapt(np.zeros((4, 3)), batch_size=0)


def test_iter_batches_takes_x_of_tuples_and_numbers_as_one_array():
    assert [b.shape for b in iter_batches([[1.0, 2.0], [3.0, 4.0]])] == [(2, 2)]
    assert [tuple(b.shape) for b in iter_batches([(torch.ones(3, 2), torch.zeros(3), None)])] == [(3, 2)]
    with pytest.raises(TypeError, match="dict"):
        list(iter_batches([{"a": np.zeros(2)}]))


def test_adapted_statistics_survive_save_and_load_bit_for_bit(tmp_path):
    x = _data()
    plait.set_random_seed(0)
    norm = Normalization(name="norm")
    norm.adapt(x)
    model = plait.Sequential([plait.Input((4,)), norm, Dense(2)])
    model.compile("sgd", "mse")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, np.zeros((len(x), 2), "float32"), epochs=1, verbose=0)
    for w in norm.weights:  # the statistics are not trained
        assert not w.requires_grad
    np.testing.assert_allclose(norm.mean.detach().numpy(), x.astype("float64").mean(0), **F32)
    path = tmp_path / "m.plait"
    model.save(path)
    restored = plait.load_model(path)
    for a, b in zip(norm.get_weights(), restored.get_layer("norm").get_weights()):
        np.testing.assert_array_equal(a, b)
    # Bit-exact: the loaded statistics are the saved bytes and the kernels are the same.
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


def test_rescaling_matches_numpy_and_takes_per_channel_lists():
    x = np.random.default_rng(0).integers(0, 256, (2, 3, 3, 3)).astype("uint8")
    out = Rescaling(1 / 255)(torch.from_numpy(x))
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), x / 255, rtol=1e-6)
    per_channel = Rescaling([1.0, 2.0, 3.0], offset=[0.0, 1.0, -1.0])
    np.testing.assert_allclose(per_channel(torch.from_numpy(x)).numpy(), x * [1, 2, 3] + [0, 1, -1], rtol=1e-6)
    assert Rescaling.from_config(per_channel.get_config()).get_config() == per_channel.get_config()
    with pytest.raises(TypeError, match="number or a list"):
        Rescaling("big")


def test_scalar_statistics_adapt_on_a_column_for_a_model_fed_rows_of_one():
    """Keras's regression tutorial: Normalization(input_shape=[1], axis=None) adapted on a (n,) column."""
    column = np.random.default_rng(0).uniform(50, 200, 100).astype("float32")
    norm = Normalization(input_shape=[1], axis=None)
    norm.adapt(column)
    model = plait.Sequential([norm, Dense(1, kernel_initializer="ones")])
    want = (column - column.astype("float64").mean()) / column.astype("float64").std()
    np.testing.assert_allclose(model.predict(column[:, None], verbose=0)[:, 0], want, rtol=1e-4, atol=1e-5)
    assert norm(torch.from_numpy(column[:6]).reshape(2, 3)).shape == (2, 3)


def test_adapt_reads_a_pandas_frame_as_its_values():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 7.0]})
    layer = Normalization()
    layer.adapt(frame)
    np.testing.assert_allclose(layer.mean.detach().numpy(), frame.mean().to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(layer.variance.detach().numpy(), frame.var(ddof=0).to_numpy(), rtol=1e-6)
