"""Initializers: fans, distributions against scipy with sampling-error tolerances, seeds, configs and ids."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

import plait.config
from plait import initializers as inits

BIG = (400, 600)  # 240,000 samples: fan_in=400, fan_out=600
N_SIGMA = 5.0  # tolerance in standard errors; tests draw with fixed seeds, so they are deterministic


@pytest.mark.parametrize("shape, fans", [
    ((), (1, 1)),
    ((7,), (7, 7)),
    ((3, 5), (3, 5)),
    ((5, 16, 8), (80, 40)),  # Conv1D kernel (kernel_size, in, out)
    ((3, 3, 16, 32), (144, 288)),  # Conv2D kernel
    ((2, 3, 4, 5, 6), (120, 144)),  # Conv3D kernel
])
def test_compute_fans_matches_keras(shape, fans):
    assert inits.compute_fans(shape) == fans


def check_moments(x: np.ndarray, mean: float, dist) -> None:
    """Sample mean and std against `dist`, within N_SIGMA standard errors of each estimate."""
    n = x.size
    std = dist.std()
    mu4 = dist.expect(lambda v: (v - mean) ** 4)
    se_mean = std / math.sqrt(n)
    se_std = math.sqrt(max(mu4 - std ** 4, 0.0) / n) / (2 * std)  # delta method on the sample variance
    assert abs(x.mean() - mean) < N_SIGMA * se_mean, (x.mean(), mean)
    assert abs(x.std() - std) < N_SIGMA * se_std, (x.std(), std)
    assert stats.kstest(x, dist.cdf).pvalue > 1e-4


def uniform(limit):
    return stats.uniform(loc=-limit, scale=2 * limit)


def truncnorm(stddev, mean=0.0):
    return stats.truncnorm(-2.0, 2.0, loc=mean, scale=stddev)


# (initializer, shape, expected distribution): expected values are Keras's formulas, written out.
CASES = {
    "glorot_uniform": (inits.GlorotUniform(seed=1), BIG, uniform(math.sqrt(6 / (400 + 600)))),
    "glorot_normal": (inits.GlorotNormal(seed=2), BIG, truncnorm(math.sqrt(2 / (400 + 600)) / 0.87962566103423978)),
    "he_uniform": (inits.HeUniform(seed=3), BIG, uniform(math.sqrt(6 / 400))),
    "he_normal": (inits.HeNormal(seed=4), BIG, truncnorm(math.sqrt(2 / 400) / 0.87962566103423978)),
    "lecun_uniform": (inits.LecunUniform(seed=5), BIG, uniform(math.sqrt(3 / 400))),
    "lecun_normal": (inits.LecunNormal(seed=6), BIG, truncnorm(math.sqrt(1 / 400) / 0.87962566103423978)),
    "he_normal_conv": (inits.HeNormal(seed=7), (3, 3, 64, 96), truncnorm(math.sqrt(2 / 576) / 0.87962566103423978)),
    "glorot_uniform_conv": (inits.GlorotUniform(seed=8), (3, 3, 64, 96),
                            uniform(math.sqrt(6 / (576 + 864)))),
    "vs_fan_out_untruncated": (inits.VarianceScaling(3.0, "fan_out", "untruncated_normal", seed=9), BIG,
                               stats.norm(scale=math.sqrt(3.0 / 600))),
    "vs_fan_avg_uniform": (inits.VarianceScaling(0.5, "fan_avg", "uniform", seed=10), BIG,
                           uniform(math.sqrt(3 * 0.5 / 500))),
    "vs_default": (inits.VarianceScaling(seed=11), BIG, truncnorm(math.sqrt(1 / 400) / 0.87962566103423978)),
    "random_normal": (inits.RandomNormal(seed=12), BIG, stats.norm(scale=0.05)),
    "random_uniform": (inits.RandomUniform(seed=13), BIG, uniform(0.05)),
    "truncated_normal": (inits.TruncatedNormal(seed=14), BIG, truncnorm(0.05)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_distribution_matches_keras_formula(case):
    init, shape, dist = CASES[case]
    x = init(shape)
    assert tuple(x.shape) == shape and x.dtype == torch.float32
    check_moments(x.double().numpy().ravel(), 0.0, dist)
    lo, hi = dist.support()
    if math.isfinite(hi):  # bounded: never outside, and the edges are reached
        assert lo <= x.min().item() and x.max().item() <= hi
        assert x.max().item() > hi - 1e-3 * (hi - lo) and x.min().item() < lo + 1e-3 * (hi - lo)


def test_truncated_variance_scaling_std_is_the_target():
    """The 0.8796 correction makes the std after truncation equal sqrt(scale / fan_in)."""
    x = inits.HeNormal(seed=0)(BIG).double()
    target = math.sqrt(2 / 400)
    se = target / math.sqrt(2 * x.numel())  # generous: the truncated law has lighter tails than the normal
    assert abs(x.std().item() - target) < N_SIGMA * se


def test_non_default_means_and_ranges():
    x = inits.RandomNormal(mean=1.5, stddev=0.2, seed=0)(BIG).double().numpy().ravel()
    check_moments(x, 1.5, stats.norm(loc=1.5, scale=0.2))
    x = inits.RandomUniform(minval=2.0, maxval=5.0, seed=0)(BIG).double().numpy().ravel()
    check_moments(x, 3.5, stats.uniform(loc=2.0, scale=3.0))
    x = inits.TruncatedNormal(mean=1.0, stddev=0.5, seed=0)(BIG).double().numpy().ravel()
    check_moments(x, 1.0, truncnorm(0.5, mean=1.0))
    assert x.min() >= 0.0 and x.max() <= 2.0


@pytest.mark.parametrize("shape, rows_orthonormal", [((40, 60), True), ((60, 40), False), ((50, 50), False)])
def test_orthogonal(shape, rows_orthonormal):
    q = inits.Orthogonal(seed=0)(shape).double()
    gram = q @ q.T if rows_orthonormal else q.T @ q
    torch.testing.assert_close(gram, torch.eye(gram.shape[0], dtype=torch.float64), rtol=0, atol=1e-5)


def test_orthogonal_conv_kernel_and_gain():
    q = inits.Orthogonal(gain=2.0, seed=0)((3, 3, 4, 8))
    flat = q.reshape(36, 8).double()
    torch.testing.assert_close(flat.T @ flat, 4.0 * torch.eye(8, dtype=torch.float64), rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="at least two-dimensional"):
        inits.Orthogonal()((5,))


def test_orthogonal_is_not_biased_to_positive_diagonal():
    """Sign correction makes Q Haar-distributed: diagonal entries are positive only about half the time."""
    diag = torch.stack([torch.diagonal(inits.Orthogonal(seed=s)((8, 8))) for s in range(40)])
    frac = (diag > 0).double().mean().item()
    assert abs(frac - 0.5) < N_SIGMA * math.sqrt(0.25 / diag.numel())


def test_constant_initializers():
    assert torch.equal(inits.Zeros()((2, 3)), torch.zeros(2, 3))
    assert torch.equal(inits.Ones()((4,)), torch.ones(4))
    assert torch.equal(inits.Constant(2.5)((2, 2)), torch.full((2, 2), 2.5))
    assert torch.equal(inits.Constant([1.0, 2.0])((3, 2)), torch.tensor([[1.0, 2.0]] * 3))
    assert inits.Zeros()((3,), dtype="int64").dtype == torch.int64
    with pytest.raises(ValueError, match="broadcasts"):
        inits.Constant([1.0, 2.0, 3.0])((3, 2))


def test_identity():
    torch.testing.assert_close(inits.Identity(gain=3.0)((2, 3)), 3.0 * torch.eye(2, 3))
    with pytest.raises(ValueError, match="2D matrices"):
        inits.Identity()((2, 2, 2))


@pytest.mark.parametrize("dtype, want", [(None, torch.float32), ("float64", torch.float64),
                                         (torch.float16, torch.float16), ("bfloat16", torch.bfloat16),
                                         (np.float64, torch.float64)])
def test_dtypes(dtype, want):
    for init in (inits.GlorotUniform(seed=0), inits.HeNormal(seed=0), inits.Orthogonal(seed=0), inits.Ones()):
        assert init((6, 4), dtype=dtype).dtype == want


def test_half_precision_orthogonal_is_computed_in_float32():
    q = inits.Orthogonal(seed=0)((32, 32), dtype="float16").float()
    torch.testing.assert_close(q.T @ q, torch.eye(32), rtol=0, atol=5e-3)


def test_float64_draw_has_the_right_law():
    x = inits.GlorotNormal(seed=3)(BIG, dtype="float64").numpy().ravel()
    check_moments(x, 0.0, truncnorm(math.sqrt(2 / 1000) / 0.87962566103423978))


def test_floatx_is_the_default_dtype(monkeypatch):
    monkeypatch.setattr(plait.config, "_FLOATX", "float64")
    assert inits.RandomNormal()((3,)).dtype == torch.float64


def test_shape_and_dtype_errors():
    with pytest.raises(ValueError, match="fully defined"):
        inits.GlorotUniform()((None, 3))
    with pytest.raises(ValueError, match="non-negative"):
        inits.Zeros()((-1, 3))
    with pytest.raises(ValueError, match="floating dtype"):
        inits.RandomNormal()((3,), dtype="int32")
    with pytest.raises(ValueError, match="Unknown dtype"):
        inits.Ones()((3,), dtype="floaty")
    assert inits.Ones()(torch.Size([2, 2])).shape == (2, 2)
    assert inits.Ones()(np.array([2, 3])).shape == (2, 3)


@pytest.mark.parametrize("cls", [inits.GlorotUniform, inits.GlorotNormal, inits.HeNormal, inits.HeUniform,
                                 inits.LecunNormal, inits.LecunUniform, inits.RandomNormal, inits.RandomUniform,
                                 inits.TruncatedNormal, inits.VarianceScaling, inits.Orthogonal])
def test_seeded_initializer_repeats_and_unseeded_draws_fresh(cls):
    a = cls(seed=42)
    torch.testing.assert_close(a((20, 30)), a((20, 30)), rtol=0, atol=0)
    torch.testing.assert_close(a((20, 30)), cls(seed=42)((20, 30)), rtol=0, atol=0)
    assert not torch.equal(a((20, 30)), cls(seed=43)((20, 30)))
    b = cls()
    assert not torch.equal(b((20, 30)), b((20, 30)))


def test_seeding_does_not_touch_the_global_generator():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    inits.GlorotUniform(seed=5)((10, 10))
    assert torch.equal(torch.rand(3), expected)


def test_set_random_seed_makes_unseeded_draws_repeatable():
    plait.config.set_random_seed(123)
    first = [inits.GlorotUniform()((8, 8)), inits.Orthogonal()((8, 8)), inits.TruncatedNormal()((8,))]
    plait.config.set_random_seed(123)
    second = [inits.GlorotUniform()((8, 8)), inits.Orthogonal()((8, 8)), inits.TruncatedNormal()((8,))]
    for a, b in zip(first, second):
        assert torch.equal(a, b)


def test_seed_validation():
    with pytest.raises(ValueError, match="seed"):
        inits.GlorotUniform(seed="abc")
    with pytest.raises(ValueError, match="seed"):
        inits.RandomNormal(seed=1.5)


ALL = [inits.Zeros(), inits.Ones(), inits.Constant(0.3), inits.Constant([1.0, 2.0]), inits.Identity(gain=2.0),
       inits.RandomNormal(0.1, 0.2, seed=1), inits.RandomUniform(-1.0, 1.0, seed=2), inits.TruncatedNormal(seed=3),
       inits.VarianceScaling(2.0, "fan_avg", "uniform", seed=4), inits.GlorotUniform(seed=5), inits.GlorotNormal(),
       inits.HeNormal(seed=6), inits.HeUniform(), inits.LecunNormal(seed=7), inits.LecunUniform(),
       inits.Orthogonal(gain=0.5, seed=8)]


@pytest.mark.parametrize("init", ALL, ids=lambda i: repr(i))
def test_config_round_trip(init):
    config = init.get_config()
    clone = type(init).from_config(config)
    assert clone.get_config() == config
    restored = inits.deserialize(inits.serialize(init))
    assert type(restored) is type(init) and restored.get_config() == config
    assert init.clone().get_config() == config
    if getattr(init, "seed", 0) is not None:  # deterministic: the clones draw the same values
        assert torch.equal(restored((4, 2)), init((4, 2)))


def test_keras_configs():
    assert inits.GlorotUniform().get_config() == {"seed": None}
    assert inits.VarianceScaling().get_config() == {"scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal",
                                                    "seed": None}
    assert inits.RandomNormal().get_config() == {"mean": 0.0, "stddev": 0.05, "seed": None}
    assert inits.RandomUniform().get_config() == {"minval": -0.05, "maxval": 0.05, "seed": None}
    assert inits.Orthogonal().get_config() == {"gain": 1.0, "seed": None}
    assert inits.Constant().get_config() == {"value": 0.0}
    assert inits.Constant(np.float32(2.0)).get_config() == {"value": 2.0}
    assert inits.Constant(np.array([1, 2])).get_config() == {"value": [1, 2]}
    keras_cfg = {"module": "keras.initializers", "class_name": "HeNormal", "config": {"seed": 7},
                 "registered_name": None}
    restored = inits.get(keras_cfg)
    assert isinstance(restored, inits.HeNormal) and restored.seed == 7
    assert inits.serialize(inits.HeNormal(seed=7))["config"] == {"seed": 7}


@pytest.mark.parametrize("name, cls", [
    ("glorot_uniform", inits.GlorotUniform), ("GlorotUniform", inits.GlorotUniform),
    ("glorot_normal", inits.GlorotNormal), ("he_normal", inits.HeNormal), ("he_uniform", inits.HeUniform),
    ("lecun_normal", inits.LecunNormal), ("lecun_uniform", inits.LecunUniform), ("zeros", inits.Zeros),
    ("zero", inits.Zeros), ("ones", inits.Ones), ("one", inits.Ones), ("constant", inits.Constant),
    ("orthogonal", inits.Orthogonal), ("OrthogonalInitializer", inits.Orthogonal), ("identity", inits.Identity),
    ("random_normal", inits.RandomNormal), ("normal", inits.RandomNormal), ("random_uniform", inits.RandomUniform),
    ("uniform", inits.RandomUniform), ("truncated_normal", inits.TruncatedNormal),
    ("variance_scaling", inits.VarianceScaling),
])
def test_string_ids(name, cls):
    assert type(inits.get(name)) is cls


def test_get_passthrough_and_errors():
    assert inits.get(None) is None
    init = inits.HeNormal()
    assert inits.get(init) is init
    assert isinstance(inits.get(inits.Orthogonal), inits.Orthogonal)

    def fn(shape, dtype=None):
        return torch.zeros(shape)

    assert inits.get(fn) is fn
    with pytest.raises(ValueError, match="Did you mean 'glorot_uniform'"):
        inits.get("glorot_unifrom")
    with pytest.raises(ValueError, match="Could not interpret initializer"):
        inits.get(0.5)
    with pytest.raises(ValueError, match="only Initializer instances"):
        inits.serialize(fn)


def test_variance_scaling_argument_errors():
    with pytest.raises(ValueError, match="scale"):
        inits.VarianceScaling(scale=0.0)
    with pytest.raises(ValueError, match="mode"):
        inits.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="distribution"):
        inits.VarianceScaling(distribution="cauchy")
    assert inits.VarianceScaling(distribution="Normal").distribution == "truncated_normal"


def test_small_fans_are_clamped_to_one():
    """Keras divides by max(1, n): a (0, 5) kernel must not divide by zero."""
    assert inits.HeNormal(seed=0)((0, 5)).shape == (0, 5)
    x = inits.VarianceScaling(1.0, "fan_in", "uniform", seed=0)(())  # scalar: fans (1, 1), limit sqrt(3)
    assert x.shape == () and abs(x.item()) <= math.sqrt(3)


def test_custom_initializer_subclass():
    class Twos(inits.Initializer):
        def __call__(self, shape, dtype=None):
            return torch.full(tuple(shape), 2.0)

    assert torch.equal(Twos()((2,)), torch.tensor([2.0, 2.0]))
    assert inits.serialize(Twos())["registered_name"] == "Twos"
    with pytest.raises(NotImplementedError):
        inits.Initializer()((2,))
