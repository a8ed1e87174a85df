"""IntegerLookup: maps integer tokens to contiguous indices through a vocabulary (given or learned by `adapt`).

The lookup runs on the device, vectorized: the vocabulary is kept sorted, `torch.searchsorted` finds each
input's slot, and values not found go to the OOV indices (with several, `token % num_oov_indices` picks one,
Keras's default 'floormod'). See `index_lookup.py` for the index layout and how `adapt` builds the vocabulary.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from plait import config
from plait.layers.layer import LAYERS
from plait.layers.preprocessing.category_encoding import encode_categorical, encoded_shape
from plait.layers.preprocessing.index_lookup import IndexLookup


def _optional_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"IntegerLookup {name} must be an integer or None, got {value!r}.")
    return int(value)


@LAYERS.register()
class IntegerLookup(IndexLookup):
    """Maps integers to indices: `[mask]`, the OOV indices, then the vocabulary (Keras's layout and defaults).

    Args:
        max_tokens: The largest vocabulary size, mask and OOV indices included (None: no limit).
        num_oov_indices: How many indices out-of-vocabulary values share (0: such values raise an error).
        mask_token: A value that maps to index 0 in 'int' mode and is dropped in the other modes (e.g. 0 for
            padding); None for no mask.
        oov_token: What `invert=True` returns for an OOV index.
        vocabulary: The vocabulary (a list, array, tensor, or a file with one integer a line), instead of adapt.
        vocabulary_dtype: 'int64' (default) or 'int32': the dtype of the tokens `invert=True` returns.
        idf_weights: For 'tf_idf' with a given vocabulary: one inverse document frequency per entry.
        invert: Map indices back to tokens instead.
        output_mode: 'int' (indices, int64), 'one_hot', 'multi_hot', 'count' or 'tf_idf' (vectors in `floatx`
            of length `vocabulary_size()`, or `max_tokens` with `pad_to_max_tokens`).
        sparse: Only False: plait's layers return dense tensors.
        pad_to_max_tokens: Make the vectors of the non-'int' modes `max_tokens` long whatever the vocabulary.

    Example:
        >>> layer = IntegerLookup(vocabulary=[12, 36, 1138, 42])
        >>> layer(torch.tensor([[12, 1138, 42], [42, 1000, 36]]))
        tensor([[1, 3, 4],
                [4, 0, 2]])
        >>> layer = IntegerLookup()
        >>> layer.adapt(np.array([[12, 1138, 42], [42, 1000, 36]]))
        >>> layer.get_vocabulary()
        [-1, 42, 1138, 1000, 36, 12]
        >>> IntegerLookup(vocabulary=[12, 36], invert=True)(torch.tensor([1, 2, 0]))
        tensor([12, 36, -1])
    """

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1, mask_token: int | None = None,
                 oov_token: int | None = -1, vocabulary: Any = None, vocabulary_dtype: str = "int64",
                 idf_weights: Any = None, invert: bool = False, output_mode: str = "int", sparse: bool = False,
                 pad_to_max_tokens: bool = False, **kwargs: Any) -> None:
        if vocabulary_dtype not in ("int64", "int32"):
            raise ValueError(f"IntegerLookup vocabulary_dtype must be 'int64' or 'int32', got {vocabulary_dtype!r}.")
        if invert and oov_token is None:
            raise ValueError("IntegerLookup(invert=True) needs an integer oov_token to return for OOV indices.")
        self.vocabulary_dtype = vocabulary_dtype
        super().__init__(max_tokens, num_oov_indices, _optional_int(mask_token, "mask_token"),
                         _optional_int(oov_token, "oov_token"), vocabulary=vocabulary, idf_weights=idf_weights,
                         invert=invert, output_mode=output_mode, sparse=sparse, pad_to_max_tokens=pad_to_max_tokens,
                         **kwargs)

    def _tokens_array(self, tokens: Any) -> np.ndarray:
        arr = np.asarray(tokens)
        if arr.size == 0:
            return np.zeros(0, dtype="int64")
        if arr.dtype.kind == "f" and np.array_equal(arr, np.round(arr)):
            arr = arr.astype("int64")
        if arr.dtype.kind not in "iub":
            raise TypeError(f"IntegerLookup takes integer tokens, got values of dtype {arr.dtype}. Strings need "
                            "StringLookup; cast integral floats with .astype('int64').")
        return arr.astype("int64").reshape(-1)

    def _file_tokens(self, lines: list[str]) -> list:
        try:
            return [int(line) for line in lines]
        except ValueError:
            bad = next(line for line in lines if not line.strip().lstrip("+-").isdigit())
            raise ValueError(f"IntegerLookup vocabulary files hold one integer a line, got the line {bad!r}.") from None

    def _vocabulary_changed(self) -> None:
        device = config.get_device()
        order = np.argsort(self._tokens, kind="stable")
        positions = order + self._token_start_index()
        table = self.get_vocabulary() if self.invert else []
        for name, values in (("vocab_keys", self._tokens[order]), ("vocab_positions", positions),
                             ("vocab_table", table)):
            self.register_buffer(name, torch.as_tensor(np.asarray(values, dtype="int64"), device=device),
                                 persistent=False)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.is_floating_point() and inputs.device.type == "cpu" and not torch.equal(inputs, inputs.round()):
            raise ValueError(f"IntegerLookup {self.name!r} takes integer tokens, got non-integral values of dtype "
                             f"{inputs.dtype}; round or cast them first.")
        x = inputs.long()
        if self.invert:
            return self._invert(x)
        if self.output_mode != "int" and not self.pad_to_max_tokens and not len(self._tokens):
            raise RuntimeError(f"IntegerLookup {self.name!r} with output_mode={self.output_mode!r} has no "
                               "vocabulary yet, so its output size is unknown: pass vocabulary=..., call adapt(data) "
                               "first, or set pad_to_max_tokens=True with max_tokens.")
        ids = self._lookup(x)
        idf = self.idf_weights.to(x.device) if self.output_mode == "tf_idf" else None
        return encode_categorical(ids, self.output_mode, self._depth(), self.dtype, idf_weights=idf)

    def _lookup(self, x: torch.Tensor) -> torch.Tensor:
        keys, positions = self.vocab_keys.to(x.device), self.vocab_positions.to(x.device)
        if keys.numel():
            slot = torch.searchsorted(keys, x).clamp_(max=keys.numel() - 1)
            found, ids = keys[slot] == x, positions[slot]
        else:
            found, ids = torch.zeros_like(x, dtype=torch.bool), torch.zeros_like(x)
        is_mask = x == self.mask_token if self.mask_token is not None else torch.zeros_like(found)
        oov_start = self._oov_start_index()
        if self.num_oov_indices == 0:
            missing = ~found & ~is_mask
            if bool(missing.any()):
                raise ValueError(f"IntegerLookup {self.name!r} has num_oov_indices=0 but got values outside its "
                                 f"vocabulary: {x[missing].unique()[:10].tolist()}. Set num_oov_indices=1 to map "
                                 "them to an OOV index, or add them to the vocabulary.")
            default = torch.full_like(x, -1)
        elif self.num_oov_indices == 1:
            default = torch.full_like(x, oov_start)
        else:
            default = torch.remainder(x, self.num_oov_indices) + oov_start
        ids = torch.where(found, ids, default)
        if self.mask_token is not None:  # index 0 in 'int' mode; dropped (-1) by the encoders otherwise
            ids = torch.where(is_mask, torch.full_like(ids, 0 if self.output_mode == "int" else -1), ids)
        return ids

    def _invert(self, x: torch.Tensor) -> torch.Tensor:
        table = self.vocab_table.to(x.device)
        out = torch.full_like(x, self.oov_token)
        if table.numel():
            valid = (x >= 0) & (x < table.numel())
            out = torch.where(valid, table[x.clamp(0, table.numel() - 1)], out)
        return out.to(config.dtype_from_name(self.vocabulary_dtype))

    def compute_output_shape(self, input_shape: Any) -> tuple:
        if self.output_mode != "int" and not self.pad_to_max_tokens and not len(self._tokens):
            return encoded_shape(input_shape, self.output_mode, None)
        return super().compute_output_shape(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "vocabulary_dtype": self.vocabulary_dtype}
