"""Loss base class, reductions, string ids, (de)serialization and error messages."""
import numpy as np
import pytest
import torch

from plait import losses


def _np(x):
    return x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)


ALIASES = {
    "mse": losses.MeanSquaredError, "MSE": losses.MeanSquaredError, "mean_squared_error": losses.MeanSquaredError,
    "MeanSquaredError": losses.MeanSquaredError, "meansquarederror": losses.MeanSquaredError,
    "mae": losses.MeanAbsoluteError, "MAE": losses.MeanAbsoluteError,
    "mape": losses.MeanAbsolutePercentageError, "MAPE": losses.MeanAbsolutePercentageError,
    "msle": losses.MeanSquaredLogarithmicError, "MSLE": losses.MeanSquaredLogarithmicError,
    "bce": losses.BinaryCrossentropy, "BCE": losses.BinaryCrossentropy,
    "binary_crossentropy": losses.BinaryCrossentropy,
    "kld": losses.KLDivergence, "KLD": losses.KLDivergence, "kl_divergence": losses.KLDivergence,
    "huber": losses.Huber, "Huber": losses.Huber, "log_cosh": losses.LogCosh, "LogCosh": losses.LogCosh,
    "categorical_crossentropy": losses.CategoricalCrossentropy,
    "sparse_categorical_crossentropy": losses.SparseCategoricalCrossentropy,
    "SparseCategoricalCrossentropy": losses.SparseCategoricalCrossentropy,
    "cosine_similarity": losses.CosineSimilarity, "hinge": losses.Hinge, "squared_hinge": losses.SquaredHinge,
    "categorical_hinge": losses.CategoricalHinge, "poisson": losses.Poisson,
}


@pytest.mark.parametrize("identifier", sorted(ALIASES))
def test_string_ids_resolve_to_class_instances(identifier):
    assert type(losses.get(identifier)) is ALIASES[identifier]


def test_get_passes_through_and_wraps():
    mse = losses.MeanSquaredError()
    assert losses.get(mse) is mse
    assert losses.get(None) is None
    assert isinstance(losses.get(losses.Huber), losses.Huber)

    def my_loss(y_true, y_pred):
        return (y_true - y_pred).abs().amax(dim=-1)

    wrapped = losses.get(my_loss)
    assert isinstance(wrapped, losses.LossFunctionWrapper) and wrapped.name == "my_loss"
    assert float(wrapped([[1.0, 5.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 2.0]])) == pytest.approx(3.5)
    with pytest.raises(TypeError, match="Could not interpret loss identifier"):
        losses.get(3)


def test_unknown_id_suggests_close_matches():
    with pytest.raises(ValueError, match="mean_squared_error") as info:
        losses.get("mean_sqared_error")
    assert "Did you mean" in str(info.value)
    with pytest.raises(ValueError, match="binary_crossentropy"):
        losses.get("binary_crossentopy")


def test_function_twins_and_aliases_are_exported():
    assert losses.mse is losses.MSE is losses.mean_squared_error
    assert losses.bce is losses.binary_crossentropy
    assert losses.kld is losses.kl_divergence
    for name in losses.__all__:
        assert hasattr(losses, name), name


CONFIGURED = [
    losses.MeanSquaredError(reduction="sum", name="m"),
    losses.MeanAbsoluteError(),
    losses.MeanAbsolutePercentageError(dtype="float64"),
    losses.MeanSquaredLogarithmicError(),
    losses.Huber(delta=2.5),
    losses.LogCosh(),
    losses.CosineSimilarity(axis=1),
    losses.Hinge(), losses.SquaredHinge(), losses.CategoricalHinge(),
    losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1, reduction=None),
    losses.CategoricalCrossentropy(label_smoothing=0.2, axis=1),
    losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255, reduction="mean_with_sample_weight"),
    losses.KLDivergence(), losses.Poisson(),
]


@pytest.mark.parametrize("loss", CONFIGURED, ids=lambda loss: type(loss).__name__)
def test_config_round_trip(loss):
    config = loss.get_config()
    clone = type(loss).from_config(config)
    assert clone.get_config() == config
    ser = losses.serialize(loss)
    assert ser == {"class_name": type(loss).__name__, "config": config}
    back = losses.deserialize(ser)
    assert type(back) is type(loss) and back.get_config() == config


def test_config_round_trip_preserves_numbers():
    rng = np.random.default_rng(0)
    labels, logits = rng.integers(0, 4, 8), rng.normal(size=(8, 4))
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=2)
    back = losses.deserialize(losses.serialize(loss))
    assert _np(back(labels, logits)) == pytest.approx(_np(loss(labels, logits)), rel=1e-7)


def test_loss_function_wrapper_serialization():
    wrapped = losses.LossFunctionWrapper(losses.huber, delta=0.3, reduction="sum")
    config = losses.serialize(wrapped)
    assert config["config"]["fn"] == "huber" and config["config"]["delta"] == 0.3
    back = losses.deserialize(config)
    assert back.fn is losses.huber and back.reduction == "sum"

    def custom(y_true, y_pred):
        return (y_true - y_pred).sum(dim=-1)

    config = losses.serialize(custom)
    with pytest.raises(ValueError, match="custom_objects"):
        losses.deserialize(config)
    assert losses.deserialize(config, custom_objects={"custom": custom}).fn is custom
    with pytest.raises(ValueError, match="class_name"):
        losses.deserialize({"config": {}})


def test_custom_loss_subclass():
    class Twice(losses.Loss):
        def call(self, y_true, y_pred):
            return 2.0 * (y_true - y_pred).abs().mean(dim=-1)

    loss = Twice()
    assert loss.name == "twice"
    t, p = np.array([[1.0, 2.0], [3.0, 4.0]]), np.zeros((2, 2))
    assert float(loss(t, p, sample_weight=[1.0, 0.0])) == pytest.approx(1.5)
    back = losses.deserialize(losses.serialize(loss), custom_objects={"Twice": Twice})
    assert isinstance(back, Twice)
    with pytest.raises(NotImplementedError):
        losses.Loss()(t, p)


def test_reduction_validation_and_repr():
    with pytest.raises(ValueError, match="Invalid reduction 'avg'"):
        losses.MeanSquaredError(reduction="avg")
    assert "MeanSquaredError" in repr(losses.MeanSquaredError())


def test_sample_weight_shape_error():
    with pytest.raises(ValueError, match=r"sample_weight of shape \(3,\).*\(4,\)"):
        losses.MeanSquaredError()(np.zeros((4, 2)), np.ones((4, 2)), sample_weight=np.ones(3))


def test_reductions_with_zero_weights_and_empty_batch():
    p = torch.tensor([[0.5], [2.0]], requires_grad=True)
    out = losses.MeanSquaredError(reduction="mean_with_sample_weight")([[0.0], [0.0]], p, sample_weight=[0.0, 0.0])
    assert float(out.detach()) == 0.0
    out.backward()
    assert torch.isfinite(p.grad).all()
    empty = losses.MeanSquaredError()(np.zeros((0, 2)), np.zeros((0, 2)))
    assert float(empty) == 0.0


def test_per_timestep_values_take_per_sample_weights():
    rng = np.random.default_rng(1)
    labels, logits = rng.integers(0, 3, (4, 5)), rng.normal(size=(4, 5, 3))
    w = rng.uniform(0.5, 1.5, 4)
    per_step = _np(losses.SparseCategoricalCrossentropy(True, reduction=None)(labels, logits))
    out = losses.SparseCategoricalCrossentropy(True, reduction="mean_with_sample_weight")(labels, logits, w)
    np.testing.assert_allclose(_np(out), np.sum(per_step * w[:, None]) / (5 * w.sum()), rtol=1e-6)


def test_reduce_weighted_values_matches_numpy():
    rng = np.random.default_rng(2)
    values = torch.tensor(rng.uniform(size=(5, 3)))
    mask = torch.tensor(rng.uniform(size=(5, 3)) > 0.4)
    out = losses.reduce_weighted_values(values, None, mask, "sum_over_batch_size")
    v, m = values.numpy(), mask.numpy()
    np.testing.assert_allclose(out.numpy(), (v * m).sum() / (m.sum() + 1e-7), rtol=1e-12)
