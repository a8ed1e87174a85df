"""Row fingerprints: one 64-bit hash per sample, computed on the data's device, to find duplicate rows.

Each row's element bit patterns (as integers) are projected on 8 random integer vectors with entries
below 2**8. The products and their sums stay below 2**53, so a float64 matrix product computes them
exactly, in any order, on any device: equal rows always get equal projections. For two different rows,
each projection coincides with probability at most 2**-8 (Schwartz-Zippel), all 8 with at most 2**-64;
the 8 projections are then mixed into one int64 (splitmix64). Among a million training rows and a hundred
thousand validation rows a false match has odds below 1e-8. -0.0 and 0.0 count as equal.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch

from plait.tree import flatten

_GOLDEN = -7046029254386353131  # 0x9E3779B97F4A7C15 as a signed int64
_MIX1 = -4658895280553007687  # 0xBF58476D1CE4E5B9
_MIX2 = -7723592293110705685  # 0x94D049BB133111EB
_PROJECTIONS = 8
_WEIGHT_BITS = 8
_BLOCK_COLUMNS = 4096  # 2**32 * 2**8 * 4096 = 2**52 < 2**53: a block's sums are exact in float64
_CHUNK_ELEMENTS = 1 << 20


def _shr(v: torch.Tensor, bits: int) -> torch.Tensor:
    # torch's >> on int64 is arithmetic; the mask makes it the logical shift splitmix64 needs.
    return (v >> bits) & ((1 << (64 - bits)) - 1)


def _mix(v: torch.Tensor) -> torch.Tensor:
    v = v ^ _shr(v, 30)
    v = v * _MIX1
    v = v ^ _shr(v, 27)
    v = v * _MIX2
    return v ^ _shr(v, 31)


def _words(t: torch.Tensor) -> torch.Tensor:
    """The elements' bit patterns as float64 integers of magnitude below 2**32, (rows, columns)."""
    t = t.reshape(t.shape[0], -1)
    if t.is_floating_point():
        if t.dtype in (torch.float16, torch.bfloat16):
            t = t.float()
        t = t + 0.0  # -0.0 + 0.0 == +0.0: equal values, equal bits
        if t.dtype == torch.float32:
            return t.view(torch.int32).double()
        t = t.view(torch.int64)
    if t.dtype == torch.int64:
        # 64-bit words are split in two 32-bit halves so every product stays exact.
        return torch.cat([(t & 0xFFFFFFFF).double(), (t >> 32).double()], dim=1)
    return t.double()


@functools.lru_cache(maxsize=16)
def _weights(columns: int, leaf: int, device: torch.device) -> torch.Tensor:
    # Fixed seeds: fingerprints of training data and of later evaluation data must use the same projections.
    gen = torch.Generator().manual_seed(20240917 + 7919 * leaf + columns)
    w = torch.randint(0, 1 << _WEIGHT_BITS, (columns, _PROJECTIONS), generator=gen, dtype=torch.int64)
    return w.double().to(device)


def row_hashes(x: Any) -> torch.Tensor:
    """One int64 hash per row of `x` (a tensor or a nested structure of tensors sharing the first dim)."""
    parts = flatten(x)  # dict values in sorted key order: a dict hashes alike however its keys were ordered
    n = int(parts[0].shape[0])
    # Apple's MPS has no float64: hash there on the CPU.
    device = torch.device("cpu") if parts[0].device.type == "mps" else parts[0].device
    # Projections are kept as (8, rows): BLAS computes the skinny product 2-3x faster as
    # weights^T @ words^T (a short M, a long N) than as words @ weights (an N of 8).
    projections = torch.zeros(_PROJECTIONS, n, dtype=torch.int64, device=device)
    for index, part in enumerate(parts):
        flat = part.reshape(n, -1)
        width = max(int(flat.shape[1]), 1)
        rows_per_chunk = max(1, _CHUNK_ELEMENTS // width)
        for start in range(0, n, rows_per_chunk):
            words = _words(flat[start:start + rows_per_chunk].to(device))
            weights = _weights(int(words.shape[1]), index, device).t()
            for col in range(0, words.shape[1], _BLOCK_COLUMNS):
                block = weights[:, col:col + _BLOCK_COLUMNS] @ words[:, col:col + _BLOCK_COLUMNS].t()
                projections[:, start:start + rows_per_chunk] += block.long()
    salt = torch.arange(1, _PROJECTIONS + 1, device=device, dtype=torch.int64)[:, None] * _GOLDEN
    return _mix(_mix(projections + salt).sum(dim=0))


@dataclass
class Fingerprint:
    """The training set's row hashes, sorted, and how often a training row repeats another.

    Attributes:
        hashes: Sorted int64 row hashes (on the data's device).
        duplicate_rate: Fraction of training rows whose exact copy also occurs elsewhere in training.
            Data with naturally repeated rows (few discrete features) has a high rate, and then
            validation rows found in training are expected rather than leaked.
        num_samples: Number of training rows.
    """

    hashes: torch.Tensor
    duplicate_rate: float
    num_samples: int

    @classmethod
    def of(cls, x: Any) -> "Fingerprint":
        hashes, _ = torch.sort(row_hashes(x))
        n = int(hashes.numel())
        same_as_next = hashes[1:] == hashes[:-1]
        repeated = torch.zeros(n, dtype=torch.bool, device=hashes.device)
        repeated[1:] |= same_as_next
        repeated[:-1] |= same_as_next
        return cls(hashes, float(repeated.float().mean()) if n else 0.0, n)

    def contains(self, x: Any) -> torch.Tensor:
        """A boolean mask: which rows of `x` also occur in the fingerprinted data."""
        other = row_hashes(x).to(self.hashes.device)
        if self.hashes.numel() == 0:
            return torch.zeros_like(other, dtype=torch.bool)
        pos = torch.searchsorted(self.hashes, other).clamp(max=self.hashes.numel() - 1)
        return self.hashes[pos] == other
