"""Hashing: integer features to `num_bins` buckets by a deterministic hash, computed on the device.

The bins differ from Keras's. Keras hashes the decimal string of each integer with FarmHash64 (SipHash with a
`salt`), through TensorFlow's string ops; plait hashes the integer itself with the SplitMix64 finalizer (Steele,
Lea and Flood's 64-bit mixer, as in `java.util.SplittableRandom`), salted by XOR before mixing. Both spread ids
uniformly and are stable across runs, machines and devices; a model trained with Keras's Hashing bins does not
keep its meaning in plait, so retrain (or use IntegerLookup with the vocabulary) when porting one.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

from plait.layers.layer import LAYERS, Layer
from plait.layers.preprocessing.category_encoding import check_output_mode, encode_categorical, encoded_shape

_MASK64 = (1 << 64) - 1


def _signed(value: int) -> int:
    """A 64-bit pattern as the int64 that holds it (torch has no uint64 arithmetic)."""
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


_GOLDEN, _MIX1, _MIX2 = _signed(0x9E3779B97F4A7C15), _signed(0xBF58476D1CE4E5B9), _signed(0x94D049BB133111EB)


def _shift_right(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Logical (unsigned) right shift of int64 bit patterns: torch's `>>` on int64 copies the sign bit."""
    return (x >> bits) & ((1 << (64 - bits)) - 1)


def splitmix64(x: torch.Tensor, salt: int = 0) -> torch.Tensor:
    """SplitMix64 of `x ^ salt` as int64 bit patterns (integer multiplication wraps modulo 2**64 in torch)."""
    z = (x.long() ^ salt) + _GOLDEN
    z = (z ^ _shift_right(z, 30)) * _MIX1
    z = (z ^ _shift_right(z, 27)) * _MIX2
    return z ^ _shift_right(z, 31)


def hash_bins(x: torch.Tensor, num_bins: int, salt: int = 0) -> torch.Tensor:
    """The bin in `[0, num_bins)` of each integer of `x` (the hash's top bit is dropped to stay non-negative).

    Example:
        >>> hash_bins(torch.tensor([0, 1, 2, 3]), 1000).tolist() == hash_bins(torch.arange(4), 1000).tolist()
        True
    """
    return (splitmix64(x, salt) & ((1 << 63) - 1)) % num_bins


def _salt_value(salt: int | Sequence[int] | None) -> int:
    """Keras's salt is an int or a pair of ints; folded into one 64-bit key."""
    if salt is None:
        return 0
    if isinstance(salt, int) and not isinstance(salt, bool):
        return _signed(salt)
    if isinstance(salt, (list, tuple)) and len(salt) == 2 and all(isinstance(s, int) for s in salt):
        return _signed((salt[0] & _MASK64) ^ ((salt[1] * 0x9E3779B97F4A7C15) & _MASK64))
    raise ValueError(f"Hashing salt must be an int or a pair of ints (or None), got {salt!r}.")


@LAYERS.register()
class Hashing(Layer):
    """Hashes integer ids into `num_bins` bins (see the module docstring: plait's hash is not Keras's FarmHash).

    With `mask_value`, that value maps to bin 0 and the others to `1 + hash % (num_bins - 1)`, as Keras.
    String inputs are not supported yet (plait's tensors hold numbers only): map strings to integers first.

    Args:
        num_bins: The number of bins, the mask bin included.
        mask_value: A value to map to bin 0 (e.g. the padding id); None for no mask bin.
        salt: An int (or a pair of ints) mixed into the hash, for hashes independent of another layer's.
        output_mode: 'int' (bin ids, int64), 'one_hot', 'multi_hot' or 'count' (vectors of length `num_bins`).
        sparse: Only False: plait's layers return dense tensors.

    Example:
        >>> layer = Hashing(num_bins=3, mask_value=0)
        >>> out = layer(torch.tensor([[0, 7, 7, 12]]))
        >>> out[0, 0].item(), out[0, 1].item() == out[0, 2].item(), bool((out[0, 1:] >= 1).all())
        (0, True, True)
    """

    def __init__(self, num_bins: int, mask_value: int | None = None, salt: int | Sequence[int] | None = None,
                 output_mode: str = "int", sparse: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 1:
            raise ValueError(f"Hashing num_bins must be a positive integer, got {num_bins!r}.")
        if mask_value is not None and num_bins < 2:
            raise ValueError(f"Hashing with a mask_value needs num_bins >= 2 (bin 0 is the mask's), got {num_bins}.")
        if mask_value is not None and (isinstance(mask_value, bool) or not isinstance(mask_value, int)):
            raise TypeError(f"Hashing mask_value must be an int (plait hashes integers), got {mask_value!r}.")
        self.output_mode = check_output_mode("Hashing", output_mode, ("int", "one_hot", "multi_hot", "count"), sparse)
        self.num_bins, self.mask_value, self.sparse = num_bins, mask_value, False
        self.salt = list(salt) if isinstance(salt, (list, tuple)) else salt
        self._salt = _salt_value(salt)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.is_floating_point() or inputs.is_complex() or inputs.dtype == torch.bool:
            raise TypeError(f"Hashing {self.name!r} takes integer inputs, got {inputs.dtype}. Cast ids with "
                            ".astype('int64'), or bucket continuous values with Discretization.")
        if self.mask_value is None:
            bins = hash_bins(inputs, self.num_bins, self._salt)
        else:
            bins = torch.where(inputs == self.mask_value, torch.zeros_like(inputs, dtype=torch.long),
                               hash_bins(inputs, self.num_bins - 1, self._salt) + 1)
        return encode_categorical(bins, self.output_mode, self.num_bins, self.dtype)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return encoded_shape(input_shape, self.output_mode, self.num_bins)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_bins": self.num_bins, "mask_value": self.mask_value, "salt": self.salt,
                "output_mode": self.output_mode, "sparse": self.sparse}
