"""plait.data on its own: Batch, adapt for each kind of data, shuffling, splits, class_weight, EpochIterator.

class_weight is checked against a float64 NumPy re-derivation of Keras's rule (the one-hot argmax or the
rounded label picks the weight; missing classes weigh 1.0), multiplied into any sample weight.
"""
import copy
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from plait import tree
from plait.data import (ArrayAdapter, Batch, DataAdapter, EpochIterator, IterableAdapter, adapt, apply_class_weight,
                        check_class_weight, pack_x_y_sample_weight, train_validation_split, unpack_x_y_sample_weight)
from plait.evaluation.fingerprint import Fingerprint

CPU = torch.device("cpu")


def rows(batch_x: torch.Tensor) -> list[int]:
    """The row ids of a batch drawn from `arange_data` (column 0 holds the row number)."""
    return batch_x[:, 0].long().tolist()


def arange_data(n: int = 10, **kwargs) -> ArrayAdapter:
    x = np.stack([np.arange(n), np.zeros(n)], axis=1).astype("float32")
    return adapt(x, np.arange(n) % 3, device=CPU, **kwargs)


# ------------------------------------------------------------------ Batch, unpack, pack
def test_batch_lengths_follow_keras():
    x, y, sw = torch.zeros(4, 2), torch.ones(4), torch.full((4,), 2.0)
    assert len(Batch(x)) == 1 and len(Batch(x, y)) == 2 and len(Batch(x, y, sw)) == 3
    assert len(Batch(x, None, sw)) == 3  # weights without targets are kept, not dropped
    a, b = Batch(x, y)  # a Keras-style train_step's `x, y = data`
    assert a is x and b is y
    (only,) = Batch(x)
    assert only is x


def test_batch_attributes():
    x, y, sw = torch.zeros(5, 2), torch.ones(5), torch.full((5,), 2.0)
    full = Batch(x, y, sw)
    assert full.x is x and full.y is y and full.sample_weight is sw and full.size == 5
    bare = Batch(x)
    assert bare.y is None and bare.sample_weight is None
    nested = Batch({"b": torch.zeros(3, 1), "a": torch.zeros(3, 4)})
    assert nested.size == 3
    assert isinstance(full, tuple) and repr(bare).startswith("Batch(")


def test_batch_survives_copy_pickle_and_tree():
    batch = Batch(torch.arange(3.0), torch.ones(3))
    for other in (copy.copy(batch), copy.deepcopy(batch), pickle.loads(pickle.dumps(batch))):
        assert type(other) is Batch and len(other) == 2 and torch.equal(other.x, batch.x)
    doubled = tree.map_structure(lambda t: t * 2, batch)
    assert type(doubled) is Batch and doubled.x.tolist() == [0.0, 2.0, 4.0] and len(doubled) == 2


def test_unpack_and_pack():
    x, y, sw = object(), object(), object()
    assert unpack_x_y_sample_weight(x) == (x, None, None)
    assert unpack_x_y_sample_weight((x,)) == (x, None, None)
    assert unpack_x_y_sample_weight([x, y]) == (x, y, None)
    assert unpack_x_y_sample_weight((x, y, sw)) == (x, y, sw)
    for packed in (pack_x_y_sample_weight(x), pack_x_y_sample_weight(x, y), pack_x_y_sample_weight(x, y, sw)):
        assert type(packed) is Batch
    assert unpack_x_y_sample_weight(pack_x_y_sample_weight(x, y)) == (x, y, None)
    assert unpack_x_y_sample_weight(Batch(x, None, sw)) == (x, None, sw)
    with pytest.raises(ValueError, match="got a sequence of 4"):
        unpack_x_y_sample_weight((x, y, sw, sw))


# ------------------------------------------------------------------ adapt, per kind of data
def test_numpy_arrays_become_one_array_adapter():
    x, y = np.random.rand(7, 3), np.arange(7)
    data = adapt(x, y, np.ones(7), device=CPU)
    assert isinstance(data, ArrayAdapter) and isinstance(data, DataAdapter)
    assert data.num_samples == 7 and data.num_batches(3) == 3
    assert data.x.dtype == torch.float32 and data.y.dtype == torch.int64  # floats become floatx
    np.testing.assert_allclose(data.x.numpy(), x.astype("float32"))
    batch = data.all()
    assert type(batch) is Batch and len(batch) == 3 and batch.size == 7
    assert batch.x.data_ptr() == data.x.data_ptr()  # a view, no copy


def test_torch_pandas_and_list_inputs():
    t = torch.arange(12.0).reshape(6, 2)
    assert adapt(t, device=CPU).x.data_ptr() == t.data_ptr()  # already float32 on the CPU: no copy
    frame = pd.DataFrame({"a": np.arange(6.0), "b": np.ones(6)})
    data = adapt(frame, pd.Series(np.arange(6)), device=CPU)
    assert data.x.shape == (6, 2) and data.y.tolist() == list(range(6))
    listed = adapt([[1, 2], [3, 4], [5, 6]], [0, 1, 0], device=CPU)
    assert listed.x.shape == (3, 2) and listed.y.tolist() == [0, 1, 0]


def test_dict_and_list_inputs_keep_their_structure():
    x = {"b": np.zeros((4, 1)), "a": np.ones((4, 3))}
    data = adapt(x, [np.zeros(4), np.ones((4, 2))], device=CPU)
    assert list(data.x) == ["b", "a"] and isinstance(data.y, list)
    batch = data.take(torch.tensor([3, 1]))
    assert batch.x["a"].shape == (2, 3) and batch.y[1].shape == (2, 2) and batch.size == 2


@pytest.mark.parametrize("kwargs, kind, message", [
    ({"x": None}, ValueError, "No input data"),
    ({"x": np.zeros((3, 1)), "require_y": True}, ValueError, "y is missing"),
    ({"x": np.zeros((3, 1)), "y": np.zeros(4)}, ValueError, "cardinality is ambiguous.*x: 3, y: 4"),
    ({"x": np.zeros((0, 1))}, ValueError, "The data is empty"),
    ({"x": np.float32(3.0)}, ValueError, "x is a scalar"),
    ({"x": np.array([[1.0], [np.nan]])}, ValueError, r"x contains NaN values \(1 of 2 rows, first rows \[1\]\)"),
    ({"x": np.zeros((2, 1)), "sample_weight": np.array([1.0, -1.0])}, ValueError, "negative"),
    ({"x": np.array(["a", "b"])}, TypeError, "x holds strings"),
    ({"x": pd.DataFrame({"c": ["u", "v"]})}, TypeError, "x is a pandas DataFrame.*'c'"),
    ({"x": iter([(np.zeros((2, 1)), np.zeros(2))]), "y": np.zeros(2)}, ValueError,
     "y must not be given when x is a list_iterator"),
])
def test_adapt_errors(kwargs, kind, message):
    with pytest.raises(kind, match=message):
        adapt(**kwargs, device=CPU)


def test_check_finite_off_lets_nan_through():
    assert adapt(np.array([[np.nan]]), device=CPU, check_finite=False).num_samples == 1


class Batches:
    """A re-iterable source with a length, as a user's own Sequence-like class would be."""

    def __init__(self, items: list) -> None:
        self.items = items

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def batches_of(n: int, size: int):
    for i in range(0, n, size):
        yield np.full((min(size, n - i), 2), float(i)), np.arange(i, min(n, i + size))


def test_dataloader_and_generator_become_iterable_adapters():
    dataset = torch.utils.data.TensorDataset(torch.arange(10.0)[:, None], torch.arange(10))
    loader = torch.utils.data.DataLoader(dataset, batch_size=4)
    data = adapt(loader, device=CPU)
    assert isinstance(data, IterableAdapter) and isinstance(data, DataAdapter)
    assert data.num_samples is None and data.num_batches(32) == 3
    got = list(data.batches(32, shuffle=True))  # the loader's own batching and order
    assert [b.size for b in got] == [4, 4, 2] and got[2].y.tolist() == [8, 9]
    assert len(list(data.batches(32, shuffle=False))) == 3  # a loader restarts on each pass
    gen = adapt(batches_of(5, 2), device=CPU)
    assert gen.num_batches(2) is None
    first = list(gen.batches(2, shuffle=False))
    assert [b.size for b in first] == [2, 2, 1] and first[0].x.dtype == torch.float32
    assert first[0].sample_weight is None and len(first[0]) == 2
    assert list(gen.batches(2, shuffle=False)) == []  # a generator iterates once


def test_iterable_batches_are_converted_and_checked():
    source = [(np.zeros((2, 1)), np.zeros(2), np.ones(2)), (np.zeros((1, 1)),)]
    got = list(adapt(source_iter := iter(source), device=CPU).batches(1, False))
    assert len(got[0]) == 3 and torch.is_tensor(got[0].sample_weight) and len(got[1]) == 1
    assert next(source_iter, None) is None
    with pytest.raises(ValueError, match="x in batch 0 of the list_iterator is a scalar"):
        list(adapt(iter([(np.float32(1.0), np.zeros(1))]), device=CPU).batches(1, False))
    with pytest.raises(ValueError, match="sample_weight must not be given"):
        adapt(iter(source), sample_weight=np.ones(2), device=CPU)


# ------------------------------------------------------------------ shuffle, split
def test_shuffle_true_draws_a_permutation_of_all_rows_each_epoch():
    torch.manual_seed(0)
    iterator = EpochIterator(arange_data(10), 3, shuffle=True)
    orders = []
    for _ in range(3):
        order = [r for _, batch in iterator.epoch() for r in rows(batch.x)]
        assert sorted(order) == list(range(10))
        orders.append(order)
    assert len({tuple(o) for o in orders}) > 1


def test_shuffle_batch_keeps_chunks_and_false_keeps_order():
    torch.manual_seed(0)
    data = arange_data(10)
    chunks = [rows(b.x) for b in data.batches(4, "batch")]
    assert sorted(chunks) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [rows(b.x) for b in data.batches(4, False)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    with pytest.raises(ValueError, match="shuffle must be True, False or 'batch', got 'yes'"):
        EpochIterator(data, 4, shuffle="yes")


def test_shuffled_batches_keep_x_y_and_weights_together():
    torch.manual_seed(1)
    data = adapt(np.arange(8.0)[:, None], np.arange(8), np.arange(8.0), device=CPU)
    for batch in data.batches(3, True):
        assert batch.x[:, 0].tolist() == batch.y.float().tolist() == batch.sample_weight.tolist()


def test_train_validation_split_takes_the_last_rows():
    data = arange_data(10)
    train, val = train_validation_split(data, 0.25)
    assert (train.num_samples, val.num_samples) == (7, 3)
    assert rows(val.x) == [7, 8, 9] and val.y.tolist() == [1, 2, 0]
    assert val.x.data_ptr() != data.x.data_ptr() and val.x.untyped_storage().data_ptr() == \
        data.x.untyped_storage().data_ptr()  # views of the same memory
    with pytest.raises(ValueError, match="validation_split must be a float in"):
        train_validation_split(data, 1.5)
    with pytest.raises(ValueError, match="leaves no training samples out of 10"):
        train_validation_split(data, 0.95)


# ------------------------------------------------------------------ class_weight
def reference_weights(y: np.ndarray, class_weight: dict, sample_weight: np.ndarray | None = None) -> np.ndarray:
    labels = y.argmax(-1) if y.ndim > 1 and y.shape[-1] > 1 else np.round(y.reshape(len(y), -1)[:, 0])
    weights = np.array([class_weight.get(int(c), 1.0) for c in labels], dtype=np.float64)
    return weights if sample_weight is None else weights * sample_weight


@pytest.mark.parametrize("one_hot", [False, True])
@pytest.mark.parametrize("with_sample_weight", [False, True])
def test_class_weight_matches_a_float64_reference(one_hot, with_sample_weight):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=23)  # class 3 is missing from class_weight: weight 1.0
    y = np.eye(4)[labels] if one_hot else labels.astype("float32")
    sw = rng.uniform(0.1, 2.0, size=23) if with_sample_weight else None
    class_weight = {0: 2.0, 1: 0.3, 2: 1.7}
    data = adapt(np.zeros((23, 2)), y, sw, device=CPU)
    iterator = EpochIterator(data, 5, class_weight=class_weight)
    got = torch.cat([batch.sample_weight for _, batch in iterator.epoch()])
    expected = reference_weights(y, class_weight, None if sw is None else sw.astype("float32"))
    np.testing.assert_allclose(got.double().numpy(), expected, rtol=1e-6)
    # Bit for bit what folding the weights into the whole array at once gives.
    whole = apply_class_weight(data.all(), class_weight).sample_weight
    assert torch.equal(got, whole)


def test_class_weight_applies_to_iterables_and_single_batches():
    source = [(np.zeros((3, 1)), np.array([0, 1, 5])), (np.zeros((2, 1)), np.array([1, 1]), np.array([2.0, 0.5]))]
    iterator = EpochIterator(adapt(Batches(source), device=CPU), None, class_weight={1: 4.0})
    got = [batch.sample_weight.tolist() for _, batch in iterator.epoch()]
    assert got == [[1.0, 4.0, 1.0], [8.0, 2.0]]
    batch = apply_class_weight(Batch(torch.zeros(2, 1), torch.tensor([[0.2], [0.9]])), {1: 3.0})
    assert batch.sample_weight.tolist() == [1.0, 3.0] and len(batch) == 3
    assert apply_class_weight(batch, None) is batch


def test_class_weight_table_is_built_once_per_device():
    class_weight = check_class_weight({0: 2.0})
    y = torch.tensor([0, 1])
    class_weight.sample_weights(y)
    table = class_weight._tables[CPU]
    class_weight.sample_weights(y)
    assert class_weight._tables[CPU] is table and check_class_weight(class_weight) is class_weight


@pytest.mark.parametrize("class_weight, batch, kind, message", [
    ([1.0, 2.0], None, TypeError, r"class_weight must be a dict \{class_index: weight\}, got list"),
    ({"a": 1.0}, None, ValueError, r"keys must be integer class indices, got keys \['a'\]"),
    ({0: "heavy"}, None, ValueError, r"values must be numbers .*\['heavy'\]"),
    ({0: 2.0}, Batch(torch.zeros(2, 1), [torch.zeros(2), torch.zeros(2)]), ValueError, "single output"),
    ({0: 2.0}, Batch(torch.zeros(2, 1)), ValueError, "class_weight needs targets"),
])
def test_class_weight_errors(class_weight, batch, kind, message):
    with pytest.raises(kind, match=message):
        if batch is None:
            check_class_weight(class_weight)
        else:
            apply_class_weight(batch, class_weight)


# ------------------------------------------------------------------ EpochIterator
def test_num_steps():
    assert EpochIterator(arange_data(10), 4).num_steps == 3
    assert EpochIterator(arange_data(10), 4, steps_per_epoch=7).num_steps == 7
    assert EpochIterator(arange_data(10), None).num_steps == 1  # Keras's default batch size, 32
    assert EpochIterator(adapt(Batches([(np.zeros((1, 1)),)] * 5), device=CPU), 32).num_steps == 5
    assert EpochIterator(adapt(batches_of(4, 2), device=CPU), 32).num_steps is None


def test_steps_per_epoch_continues_across_epochs_for_arrays():
    iterator = EpochIterator(arange_data(5), 2, steps_per_epoch=2)
    epochs = [[rows(batch.x) for _, batch in iterator.epoch()] for _ in range(3)]
    assert epochs == [[[0, 1], [2, 3]], [[4], [0, 1]], [[2, 3], [4]]]
    assert [step for step, _ in iterator.epoch()] == [0, 1] and not iterator.exhausted


def test_steps_per_epoch_continues_across_epochs_for_iterables():
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.arange(5.0)[:, None]), batch_size=2)
    iterator = EpochIterator(adapt(loader, device=CPU), None, steps_per_epoch=2)
    epochs = [[batch.x[:, 0].tolist() for _, batch in iterator.epoch()] for _ in range(2)]
    assert epochs == [[[0.0, 1.0], [2.0, 3.0]], [[4.0], [0.0, 1.0]]]  # the loader restarts when a pass ends


def test_exhausted_source_warns_and_stops():
    iterator = EpochIterator(adapt(batches_of(3, 1), device=CPU), None, steps_per_epoch=2)
    assert len(list(iterator.epoch())) == 2
    with pytest.warns(UserWarning, match="Your input ran out of data.*2 per epoch"):
        assert len(list(iterator.epoch())) == 1
    assert iterator.exhausted


def test_one_pass_epochs_of_a_generator_end_empty_without_warning():
    iterator = EpochIterator(adapt(batches_of(3, 2), device=CPU), None)
    assert [step for step, _ in iterator.epoch()] == [0, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list(iterator.epoch()) == []  # the loop, which knows the epoch number, reports this
    assert not iterator.exhausted


# ------------------------------------------------------------------ fingerprint of nested x
def test_fingerprint_of_a_dict_does_not_depend_on_key_order():
    a, b = torch.rand(6, 2), torch.rand(6, 3)
    first, second = Fingerprint.of({"a": a, "b": b}), Fingerprint.of({"b": b, "a": a})
    assert torch.equal(first.hashes, second.hashes)
    assert bool(first.contains({"b": b, "a": a}).all())
