"""IndexLookup: the vocabulary of a lookup layer (IntegerLookup; StringLookup once strings reach layers).

It holds Keras's index layout and its rules for building a vocabulary, which do not depend on the token type:

- indices: `[mask]` (index 0, only with a `mask_token` and `output_mode='int'`), then `num_oov_indices` OOV
  indices, then the tokens (`get_vocabulary()` lists them in this order);
- `adapt` counts every token, drops the mask and OOV tokens, and keeps the `max_tokens - #special` most
  frequent, ties broken by the larger token first (Keras's `lexsort(...)[::-1]`), and for 'tf_idf' weighs
  each token by `log(1 + documents / (1 + documents containing it))`, the special slots by the mean weight.

Counting runs in NumPy on the host (adapt is a one-off pass); the per-call lookup of a subclass runs on the
device. The vocabulary is in the layer's config (a list), so a saved model carries it in its JSON.
"""
from __future__ import annotations

import collections
from typing import Any

import numpy as np
import torch

from plait import config
from plait.layers.layer import Layer
from plait.layers.preprocessing.adapt_data import iter_batches
from plait.layers.preprocessing.category_encoding import OUTPUT_MODES, check_output_mode, encoded_shape


class IndexLookup(Layer):
    """Base of the lookup layers: vocabulary, special tokens, adapt and config (see the module docstring).

    Subclasses convert tokens (`_tokens_array`) and implement `call`; IntegerLookup documents the arguments.

    Args:
        max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, idf_weights, invert, output_mode,
            sparse, pad_to_max_tokens: As Keras's (see IntegerLookup).

    Example:
        >>> from plait.layers import IntegerLookup
        >>> layer = IntegerLookup(mask_token=0, num_oov_indices=2, vocabulary=[7, 9])
        >>> layer.get_vocabulary(), layer.vocabulary_size()
        ([0, -1, -1, 7, 9], 5)
    """

    def __init__(self, max_tokens: int | None, num_oov_indices: int, mask_token: Any, oov_token: Any,
                 vocabulary: Any = None, idf_weights: Any = None, invert: bool = False, output_mode: str = "int",
                 sparse: bool = False, pad_to_max_tokens: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                       or max_tokens <= 1):
            raise ValueError(f"{owner} max_tokens must be None or an integer greater than 1, got {max_tokens!r}.")
        if isinstance(num_oov_indices, bool) or not isinstance(num_oov_indices, int) or num_oov_indices < 0:
            raise ValueError(f"{owner} num_oov_indices must be a non-negative integer, got {num_oov_indices!r}.")
        self.output_mode = check_output_mode(owner, output_mode, OUTPUT_MODES, sparse)
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"{owner}(pad_to_max_tokens=True) needs max_tokens, the padded size; got None.")
        if invert and self.output_mode != "int":
            raise ValueError(f"{owner}(invert=True) maps indices back to tokens, so output_mode must be 'int'; got "
                             f"{self.output_mode!r}.")
        self.max_tokens, self.num_oov_indices = max_tokens, num_oov_indices
        self.mask_token, self.oov_token = mask_token, oov_token
        self.invert, self.sparse, self.pad_to_max_tokens = bool(invert), False, bool(pad_to_max_tokens)
        self._tokens = self._tokens_array([])
        self._idf: np.ndarray | None = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
        elif idf_weights is not None:
            raise ValueError(f"{owner} idf_weights need a vocabulary of the same length; pass both, or adapt.")
        else:
            self._vocabulary_changed()

    # ------------------------------------------------------------------ to implement
    def _tokens_array(self, tokens: Any) -> np.ndarray:
        """`tokens` as a 1-D NumPy array of the vocabulary's type."""
        raise NotImplementedError

    def _file_tokens(self, lines: list[str]) -> list:
        """The tokens of a vocabulary file's lines (strings as they are; IntegerLookup parses integers)."""
        return lines

    def _vocabulary_changed(self) -> None:
        """Hook: rebuild whatever device-side tables the subclass keeps."""

    # ------------------------------------------------------------------ layout
    def _oov_start_index(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self) -> int:
        return self._oov_start_index() + self.num_oov_indices

    def vocabulary_size(self) -> int:
        """The number of indices: the tokens plus the mask and OOV indices."""
        return self._token_start_index() + len(self._tokens)

    def _depth(self) -> int:
        """The length of the encoded vectors of the non-'int' output modes."""
        return self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        """The vocabulary in index order: with the mask and OOV tokens first (so a token's position is its index),
        or only the tokens."""
        tokens = self._tokens.tolist()
        if not include_special_tokens:
            return tokens
        return [self.mask_token] * self._oov_start_index() + [self.oov_token] * self.num_oov_indices + tokens

    # ------------------------------------------------------------------ setting the vocabulary
    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        """Sets the vocabulary (and, for 'tf_idf', its weights) directly instead of adapting.

        Args:
            vocabulary: A list, tuple, 1-D array or tensor of tokens, or the path of a text file with one token a
                line. It may start with the special tokens in index order (as `get_vocabulary()` gives them).
            idf_weights: For 'tf_idf': one inverse document frequency per entry of `vocabulary`.
        """
        owner = type(self).__name__
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError(f"{owner} with output_mode='tf_idf' needs idf_weights with its vocabulary.")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ValueError(f"{owner} idf_weights only apply to output_mode='tf_idf', got {self.output_mode!r}.")
        if isinstance(vocabulary, str):
            with open(vocabulary, encoding="utf-8") as f:
                vocabulary = self._file_tokens([line for line in f.read().splitlines() if line != ""])
        if isinstance(vocabulary, torch.Tensor):
            vocabulary = vocabulary.detach().cpu().numpy()
        vocab = self._tokens_array(vocabulary)
        if vocab.size == 0:
            raise ValueError(f"{owner} cannot take an empty vocabulary; pass at least one token, or adapt.")
        start = self._token_start_index()
        special = self.get_vocabulary()[:start]
        has_special = len(vocab) >= start and vocab[:start].tolist() == special
        tokens = vocab[start:] if has_special and start else vocab
        repeated = [t for t, n in collections.Counter(tokens.tolist()).items() if n > 1]
        if repeated:
            raise ValueError(f"{owner} vocabulary repeats the tokens {repeated[:10]}; each token must appear once.")
        for name, token in (("mask_token", self.mask_token), ("oov_token", self.oov_token if self.invert else None)):
            if token is not None and token in tokens.tolist():
                raise ValueError(f"{owner} vocabulary holds the {name} {token!r} among its tokens. Leave the special "
                                 f"tokens out, or put them first in exactly this order: {special}.")
        if self.max_tokens is not None and start + len(tokens) > self.max_tokens:
            raise ValueError(f"{owner} vocabulary of {start + len(tokens)} entries (special tokens included) is "
                             f"larger than max_tokens={self.max_tokens}; raise max_tokens or shorten the vocabulary.")
        idf = None
        if idf_weights is not None:
            idf = np.asarray(idf_weights.detach().cpu() if isinstance(idf_weights, torch.Tensor) else idf_weights,
                             dtype="float64").reshape(-1)
            if len(idf) != len(vocab):
                raise ValueError(f"{owner} idf_weights has {len(idf)} entries for a vocabulary of {len(vocab)}; "
                                 "pass one weight per vocabulary entry.")
            if not (has_special and start):
                idf = np.concatenate([np.full(start, idf.mean()), idf])
        self._set(tokens, idf)

    def _set(self, tokens: np.ndarray, idf: np.ndarray | None) -> None:
        """Installs `tokens` and the full-length `idf` (special slots included, not yet padded)."""
        self._tokens = tokens
        if idf is not None and self.pad_to_max_tokens:
            idf = np.concatenate([idf, np.zeros(self.max_tokens - len(idf))])
        self._idf = idf
        if idf is not None:
            self.register_buffer("idf_weights", torch.as_tensor(idf, dtype=config.float_dtype(),
                                                                 device=config.get_device()), persistent=False)
        self._vocabulary_changed()

    # ------------------------------------------------------------------ adapting
    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Learns the vocabulary from `data`: its tokens, most frequent first (and their IDF for 'tf_idf').

        An array or list is a column of documents (a rank-1 one: one token per document); each batch of an
        iterable is a set of documents, one per row (a rank-1 batch: one document). Adapting replaces any
        vocabulary the layer had.

        Args:
            data: A NumPy array, a tensor, a list, or an iterable of batches (a DataLoader, a generator).
            batch_size: Reads an array in batches of this many rows.
            steps: Reads at most this many batches.
        """
        whole = isinstance(data, (np.ndarray, torch.Tensor, list, tuple))
        counts: collections.Counter = collections.Counter()
        documents: collections.Counter = collections.Counter()
        num_documents = 0
        for batch in iter_batches(data, batch_size, steps):
            values = batch.detach().cpu().numpy() if isinstance(batch, torch.Tensor) else np.asarray(batch)
            values = self._tokens_array(values.reshape(-1)).reshape(values.shape)
            if values.ndim <= 1:  # Keras: an array's elements are documents; an iterable's rank-1 batch is one
                values = values.reshape((-1, 1) if whole else (1, -1))
            rows = values.reshape(values.shape[0], -1)
            tokens, n = np.unique(rows, return_counts=True)
            counts.update(dict(zip(tokens.tolist(), n.tolist())))
            if self.output_mode == "tf_idf":
                num_documents += rows.shape[0]
                documents.update(t for row in rows for t in set(row.tolist()))
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        tokens = self._tokens_array(list(counts))
        order = np.lexsort((tokens, np.asarray([counts[t] for t in tokens.tolist()], dtype="int64")))[::-1]
        if self.max_tokens is not None:
            order = order[:self.max_tokens - self._token_start_index()]
        tokens = tokens[order]
        idf = None
        if self.output_mode == "tf_idf":
            frequency = np.asarray([documents[t] for t in tokens.tolist()], dtype="float64")
            token_idf = np.log(1 + num_documents / (1 + frequency))
            idf = np.concatenate([np.full(self._token_start_index(), token_idf.mean() if len(token_idf) else 0.0),
                                  token_idf])
        self._set(tokens, idf)

    # ------------------------------------------------------------------ shapes and config
    def compute_output_shape(self, input_shape: Any) -> tuple:
        return encoded_shape(input_shape, self.output_mode, self._depth())

    def get_config(self) -> dict[str, Any]:
        idf = None
        if self._idf is not None:  # the tokens' own weights: from_config pads the special slots as adapt did
            idf = self._idf[self._token_start_index():self.vocabulary_size()].tolist()
        return {**super().get_config(), "max_tokens": self.max_tokens, "num_oov_indices": self.num_oov_indices,
                "mask_token": self.mask_token, "oov_token": self.oov_token,
                "vocabulary": self.get_vocabulary(include_special_tokens=False) if len(self._tokens) else None,
                "idf_weights": idf, "invert": self.invert, "output_mode": self.output_mode, "sparse": self.sparse,
                "pad_to_max_tokens": self.pad_to_max_tokens}
