"""Small statistics the diagnostics and the report rest on: Wilson intervals, hypergeometric tests, bootstrap.

They are written out here (about 100 lines) because the core depends only on torch and numpy; each is a
textbook formula, tested against scipy in `tests/evaluation`.
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import Callable, Iterator

import numpy as np
import torch


def z_value(confidence: float) -> float:
    """The two-sided normal quantile for `confidence` (1.96 for 0.95)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}. Use e.g. confidence=0.95.")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion `successes / n`.

    Unlike the normal approximation it stays inside [0, 1] and is honest at 0% and 100%, which is
    exactly where accuracy and recall on rare classes live.
    """
    if n <= 0:
        return (float("nan"), float("nan"))
    z = z_value(confidence)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p) / n + z * z / (4 * n * n), 0.0)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _log_comb(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.lgamma(a + 1) - torch.lgamma(b + 1) - torch.lgamma(a - b + 1)


def hypergeom_two_sided(drawn_successes: int, population: int, successes: int, draws: int) -> float:
    """Exact two-sided p-value of seeing `drawn_successes` of a class among `draws` rows taken at random.

    Sums the probabilities of every outcome no more likely than the observed one (the rule of Fisher's
    exact test). Used to ask whether the last `draws` rows (Keras's validation_split) could hold this
    many of a class by chance.
    """
    lo, hi = max(0, draws - (population - successes)), min(successes, draws)
    k = torch.arange(lo, hi + 1, dtype=torch.float64)
    n_, k_, d_ = (torch.tensor(float(v), dtype=torch.float64) for v in (population, successes, draws))
    logp = _log_comb(k_, k) + _log_comb(n_ - k_, d_ - k) - _log_comb(n_, d_)
    observed = logp[drawn_successes - lo]
    # A relative tolerance so outcomes exactly as likely as the observed one count despite rounding.
    p = torch.exp(logp[logp <= observed + 1e-7]).sum()
    return float(min(1.0, p))


def percentile_interval(samples: np.ndarray, point: float, confidence: float = 0.95) -> tuple[float, float]:
    """The bootstrap percentile interval, widened if needed so it contains the point estimate.

    Percentile intervals can exclude the estimate for skewed statistics on tiny samples (an AUC of
    exactly 1.0, say); an interval that excludes the number it qualifies would only confuse, so it is
    widened to include it. Resamples where the statistic is undefined (NaN: e.g. no positives drawn)
    are left out.
    """
    samples = samples[np.isfinite(samples)]
    if samples.size == 0 or not np.isfinite(point):
        return (float("nan"), float("nan"))
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(samples, [alpha, 1.0 - alpha])
    return (float(min(lo, point)), float(max(hi, point)))


def bootstrap_weights(n: int, n_bootstrap: int, seed: int | None,
                      max_cells: int = 4_000_000) -> Iterator[torch.Tensor]:
    """Chunks of bootstrap resamples as (chunk, n) float64 count matrices: row b counts how often each
    sample was drawn in resample b. A statistic weighted by these counts equals the statistic on the
    resample, so one vectorized formula serves every resample of the chunk."""
    gen = torch.Generator().manual_seed(0 if seed is None else int(seed))
    chunk = max(1, min(n_bootstrap, max_cells // max(n, 1)))
    done = 0
    while done < n_bootstrap:
        size = min(chunk, n_bootstrap - done)
        idx = torch.randint(0, n, (size, n), generator=gen)
        flat = (idx + torch.arange(size).unsqueeze(1) * n).reshape(-1)
        counts = torch.zeros(size * n, dtype=torch.float64).index_add_(0, flat, torch.ones(flat.numel(), dtype=torch.float64))
        yield counts.reshape(size, n)
        done += size


def bootstrap(statistics: Callable[[torch.Tensor], dict[str, torch.Tensor]], n: int, n_bootstrap: int,
              seed: int | None) -> dict[str, np.ndarray]:
    """Runs `statistics(weights)` (weights: (chunk, n) counts; returns name -> (chunk,) values) over all
    resamples and returns name -> array of n_bootstrap values."""
    out: dict[str, list[np.ndarray]] = {}
    for weights in bootstrap_weights(n, n_bootstrap, seed):
        for name, values in statistics(weights).items():
            out.setdefault(name, []).append(values.numpy())
    return {name: np.concatenate(parts) for name, parts in out.items()}
