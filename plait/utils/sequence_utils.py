"""`pad_sequences`: pads or truncates variable-length sequences into one rectangular array."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def pad_sequences(sequences: Sequence[Any], maxlen: int | None = None, dtype: Any = "int32",
                  padding: str = "pre", truncating: str = "pre", value: Any = 0.0) -> np.ndarray:
    """Pads sequences to the same length, as Keras's `pad_sequences` does.

    Sequences longer than `maxlen` are truncated (from the start with `truncating="pre"`, from the
    end with `"post"`); shorter ones are filled with `value` before (`padding="pre"`) or after
    (`"post"`). Each element may itself be an array (all of one shape), giving extra trailing axes.

    Args:
        sequences: A list of sequences (lists or arrays).
        maxlen: Length of the output; `None` uses the longest sequence.
        dtype: Output dtype (`object` for variable-length strings).
        padding: `"pre"` or `"post"`: where to pad.
        truncating: `"pre"` or `"post"`: where to cut sequences longer than `maxlen`.
        value: Fill value.

    Returns:
        A NumPy array of shape `(len(sequences), maxlen, *element_shape)`.

    Example:
        >>> pad_sequences([[1], [2, 3], [4, 5, 6]])
        array([[0, 0, 1],
               [0, 2, 3],
               [4, 5, 6]], dtype=int32)
    """
    if padding not in ("pre", "post"):
        raise ValueError(f'Padding type {padding!r} not understood; use "pre" or "post".')
    if truncating not in ("pre", "post"):
        raise ValueError(f'Truncating type {truncating!r} not understood; use "pre" or "post".')
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"`sequences` must be a list of sequences, got {type(sequences).__name__}.")
    if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0):
        raise ValueError(f"maxlen must be a non-negative integer or None, got {maxlen!r}.")

    lengths, sample_shape = [], None
    for x in sequences:
        try:
            lengths.append(len(x))
        except TypeError:
            raise ValueError("`sequences` must be a list of iterables. "
                             f"Found non-iterable: {x!r}; wrap single values in a list.") from None
        if sample_shape is None and len(x):
            sample_shape = np.asarray(x).shape[1:]
    sample_shape = sample_shape or ()
    if maxlen is None:
        maxlen = max(lengths, default=0)

    is_text_dtype = np.issubdtype(np.dtype(dtype), np.str_)
    if isinstance(value, str) and dtype is not object and not is_text_dtype:
        raise ValueError(f"`dtype` {dtype} is not compatible with `value`'s type: {type(value)}. "
                         "Set `dtype=object` for variable-length strings.")

    out = np.full((len(sequences), maxlen) + tuple(sample_shape), value, dtype=dtype)
    if maxlen == 0:
        return out
    for idx, s in enumerate(sequences):
        if not len(s):
            continue
        trunc = np.asarray(s[-maxlen:] if truncating == "pre" else s[:maxlen], dtype=dtype)
        if trunc.shape[1:] != sample_shape:
            raise ValueError(f"Shape of sample {trunc.shape[1:]} of sequence at position {idx} is different "
                             f"from expected shape {sample_shape}; every element must have the same shape.")
        if padding == "post":
            out[idx, : len(trunc)] = trunc
        else:
            out[idx, -len(trunc):] = trunc
    return out
