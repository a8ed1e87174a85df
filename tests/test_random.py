"""plait.random: Keras's seeds (int: stateless, SeedGenerator: advancing, None: the global generator that
plait.set_random_seed fixes), shapes and dtypes, and each sampler's distribution (Kolmogorov-Smirnov tests and
moments with 5-sigma bounds, on fixed seeds, so the outcome is the same on every run)."""
import numpy as np
import pytest
import torch
from scipy import special, stats

import plait
from plait import random

N = 200_000
SAMPLERS = {
    "normal": lambda seed: random.normal((4, 3), seed=seed),
    "uniform": lambda seed: random.uniform((4, 3), seed=seed),
    "randint": lambda seed: random.randint((4, 3), 0, 100, seed=seed),
    "truncated_normal": lambda seed: random.truncated_normal((4, 3), seed=seed),
    "dropout": lambda seed: random.dropout(torch.ones(4, 3), 0.5, seed=seed),
    "shuffle": lambda seed: random.shuffle(torch.arange(12), seed=seed),
    "categorical": lambda seed: random.categorical(torch.zeros(2, 5), 6, seed=seed),
    "gamma": lambda seed: random.gamma((4, 3), 2.0, seed=seed),
    "beta": lambda seed: random.beta((4, 3), 2.0, 3.0, seed=seed),
    "binomial": lambda seed: random.binomial((4, 3), 10, 0.5, seed=seed),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_int_seed_is_stateless(name):
    draw = SAMPLERS[name]
    torch.testing.assert_close(draw(3), draw(3))
    assert not torch.equal(draw(3), draw(4))


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_seed_generator_advances_and_repeats_across_runs(name):
    draw = SAMPLERS[name]
    gen = random.SeedGenerator(11)
    first, second = draw(gen), draw(gen)
    assert not torch.equal(first, second)
    again = random.SeedGenerator(11)
    torch.testing.assert_close(draw(again), first)
    torch.testing.assert_close(draw(again), second)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_no_seed_uses_the_global_generator(name):
    draw = SAMPLERS[name]
    plait.set_random_seed(5)
    first = draw(None)
    plait.set_random_seed(5)
    torch.testing.assert_close(draw(None), first)


def test_seeded_draws_leave_the_global_generator_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    random.normal((10,), seed=1)
    random.gamma((10,), 1.0, seed=random.SeedGenerator(2))
    torch.testing.assert_close(torch.rand(3), expected)


def test_seed_generator_from_set_random_seed_and_config():
    plait.set_random_seed(9)
    a = random.uniform((3,), seed=random.SeedGenerator())
    plait.set_random_seed(9)
    torch.testing.assert_close(random.uniform((3,), seed=random.SeedGenerator()), a)
    gen = random.SeedGenerator(4, name="noise")
    assert gen.next() == (4, 0) and gen.next() == (4, 1) and gen.state.tolist() == [4, 2]
    assert random.SeedGenerator.from_config(gen.get_config()).next() == (4, 0)
    assert "noise" in repr(gen)


@pytest.mark.parametrize("seed", [-1, 1.5, "1", True])
def test_bad_seeds_say_what_is_expected(seed):
    with pytest.raises(ValueError, match="non-negative integer, a SeedGenerator or None"):
        random.normal((2,), seed=seed)


def test_shapes_and_dtypes():
    assert random.normal((2, 3)).shape == (2, 3) and random.normal((2, 3)).dtype == torch.float32
    assert random.uniform(4, dtype="float64").dtype == torch.float64
    assert random.randint((5,), 0, 3).dtype == torch.int32 and random.randint((5,), 0, 3, dtype="int64").dtype == \
        torch.int64
    assert random.categorical(torch.zeros(3, 4), 2).shape == (3, 2)
    assert random.uniform(()).shape == ()
    with pytest.raises(ValueError, match="randint"):
        random.uniform((2,), dtype="int32")
    with pytest.raises(ValueError, match="batch, num_classes"):
        random.categorical(torch.zeros(4), 2)


def ks_pvalue(sample, cdf):
    return stats.kstest(sample.double().numpy().ravel(), cdf).pvalue


def test_normal_distribution():
    x = random.normal((N,), mean=2.0, stddev=3.0, seed=1)
    assert ks_pvalue(x, stats.norm(2.0, 3.0).cdf) > 1e-3


def test_uniform_distribution():
    x = random.uniform((N,), minval=-1.0, maxval=3.0, seed=2)
    assert x.min() >= -1.0 and x.max() < 3.0
    assert ks_pvalue(x, stats.uniform(-1.0, 4.0).cdf) > 1e-3


def test_truncated_normal_distribution():
    x = random.truncated_normal((N,), mean=1.0, stddev=2.0, seed=3)
    assert x.min() >= 1.0 - 4.0 and x.max() <= 1.0 + 4.0
    assert ks_pvalue(x, stats.truncnorm(-2.0, 2.0, loc=1.0, scale=2.0).cdf) > 1e-3


def test_randint_distribution():
    x = random.randint((N,), -3, 7, seed=4)
    assert x.min() == -3 and x.max() == 6
    counts = np.bincount((x + 3).numpy(), minlength=10)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_dropout_rate_scale_and_noise_shape():
    x = torch.ones(1000, 200)
    out = random.dropout(x, 0.3, seed=5)
    kept = out != 0
    assert torch.allclose(out[kept], torch.tensor(1 / 0.7))
    assert abs(kept.float().mean().item() - 0.7) < 5 * np.sqrt(0.21 / x.numel())
    shared = random.dropout(x, 0.5, noise_shape=(None, 1), seed=6)
    assert ((shared == 0).all(dim=1) | (shared != 0).all(dim=1)).all()  # one decision per row
    assert random.dropout(x, 0.0) is x and random.dropout(x, 1.0).abs().sum() == 0
    unseeded = random.dropout(x, 0.3)
    assert abs((unseeded != 0).float().mean().item() - 0.7) < 0.01
    with pytest.raises(ValueError, match="rate"):
        random.dropout(x, 1.5)


def test_shuffle_permutes_slices_along_the_axis():
    x = torch.arange(60).reshape(3, 20)
    out = random.shuffle(x, axis=1, seed=7)
    assert sorted(out[0].tolist()) == x[0].tolist()
    assert torch.equal(out[1] - out[0], torch.full((20,), 20))  # whole columns move together
    assert not torch.equal(out, x)
    rows = random.shuffle(np.arange(6).reshape(3, 2), seed=8)
    assert sorted(rows[:, 0].tolist()) == [0, 2, 4] and torch.equal(rows[:, 1] - rows[:, 0], torch.ones(3).long())


def test_categorical_frequencies_follow_softmax():
    logits = torch.tensor([[0.0, 1.0, 2.0], [3.0, 0.0, 0.0]])
    draws = random.categorical(logits, N // 10, seed=9)
    for row, probs in zip(draws, special.softmax(logits.double().numpy(), axis=-1)):
        counts = np.bincount(row.numpy(), minlength=3)
        assert stats.chisquare(counts, probs * len(row)).pvalue > 1e-3


@pytest.mark.parametrize("alpha", [0.5, 2.0, 9.0])
def test_gamma_distribution(alpha):
    x = random.gamma((N,), alpha, seed=10)
    assert ks_pvalue(x, stats.gamma(alpha).cdf) > 1e-3


def test_beta_and_binomial_distributions():
    assert ks_pvalue(random.beta((N,), 2.0, 5.0, seed=11), stats.beta(2.0, 5.0).cdf) > 1e-3
    x = random.binomial((N,), 10, 0.3, seed=12)
    counts = np.bincount(x.long().numpy(), minlength=11)
    expected = stats.binom(10, 0.3).pmf(np.arange(11)) * N
    keep = expected > 5  # the chi-square test's rule for sparse cells
    assert stats.chisquare(counts[keep], expected[keep] * counts[keep].sum() / expected[keep].sum()).pvalue > 1e-3
