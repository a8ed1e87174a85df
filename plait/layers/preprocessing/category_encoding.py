"""CategoryEncoding, and `encode_categorical`: integer ids to one-hot, multi-hot, count or TF-IDF vectors.

`encode_categorical` is the one encoder behind CategoryEncoding, Discretization, Hashing and IntegerLookup (and
whatever else turns ids into vectors), with Keras's shape rules: 'one_hot' encodes each value (a trailing axis
of size 1 is replaced, any other gets a new axis after it); 'multi_hot', 'count' and 'tf_idf' treat the last
axis as the sample, `(..., n) -> (..., depth)`. An id outside `[0, depth)` contributes nothing, which is how
the lookup layers drop their mask token; CategoryEncoding refuses such ids instead, as Keras does.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from plait.layers.layer import LAYERS, Layer

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


def check_output_mode(owner: str, output_mode: str, allowed: tuple[str, ...], sparse: bool = False) -> str:
    """`output_mode` if it is one of `allowed` ('binary' is Keras's old name for 'multi_hot'); refuses `sparse`."""
    output_mode = "multi_hot" if output_mode == "binary" else "tf_idf" if output_mode == "tf-idf" else output_mode
    if output_mode not in allowed:
        raise ValueError(f"{owner} output_mode must be one of {', '.join(map(repr, allowed))}, got {output_mode!r}.")
    if sparse:
        raise ValueError(f"{owner}(sparse=True) is not supported: plait's layers return dense tensors. Pass "
                         "sparse=False (the default).")
    return output_mode


def encoded_shape(input_shape: Any, output_mode: str, depth: int | None) -> tuple:
    """The output shape of `encode_categorical` for inputs of `input_shape`."""
    shape = tuple(input_shape)
    if output_mode == "int":
        return shape
    if not shape:
        return (depth,)
    if output_mode == "one_hot" and (len(shape) == 1 or shape[-1] != 1):
        return shape + (depth,)
    return shape[:-1] + (depth,)


def encode_categorical(ids: torch.Tensor, output_mode: str, depth: int, dtype: torch.dtype,
                       count_weights: torch.Tensor | None = None, idf_weights: torch.Tensor | None = None
                       ) -> torch.Tensor:
    """Encodes integer `ids` as `output_mode` vectors of length `depth` (see the module docstring).

    Args:
        ids: Integer ids; any outside `[0, depth)` are dropped.
        output_mode: 'int' (the ids as int64), 'one_hot', 'multi_hot', 'count' or 'tf_idf'.
        depth: The length of the encoded vectors.
        dtype: The output's dtype (except 'int').
        count_weights: For 'count': a weight per id, summed instead of counting 1.
        idf_weights: For 'tf_idf': the `depth` weights the counts are multiplied by.
    """
    ids = ids.long()
    if output_mode == "int":
        return ids
    if ids.dim() == 0:
        ids = ids.reshape(1)
    if output_mode == "one_hot" and ids.dim() > 1 and ids.shape[-1] == 1:
        ids = ids.squeeze(-1)
    valid = (ids >= 0) & (ids < depth)
    safe = torch.where(valid, ids, torch.zeros_like(ids))
    if output_mode == "one_hot":
        return F.one_hot(safe, depth).to(dtype) * valid.unsqueeze(-1).to(dtype)
    weights = valid.to(dtype) if count_weights is None else count_weights.to(dtype) * valid
    out = torch.zeros(ids.shape[:-1] + (depth,), dtype=dtype, device=ids.device).scatter_add_(-1, safe, weights)
    if output_mode == "multi_hot":
        return (out > 0).to(dtype)
    if output_mode == "tf_idf":
        return out * idf_weights.to(dtype)
    return out


@LAYERS.register()
class CategoryEncoding(Layer):
    """Encodes integer ids in `[0, num_tokens)` as one-hot, multi-hot or count vectors of length `num_tokens`.

    Args:
        num_tokens: The number of distinct ids; every input must be in `[0, num_tokens)`.
        output_mode: 'multi_hot' (a 1 for each id present in the sample, the last axis), 'one_hot' (one vector
            per id) or 'count' (how often each id occurs; `count_weights` sums weights instead).
        sparse: Only False: plait's layers return dense tensors.

    Call arguments:
        inputs: Integer ids.
        count_weights: For 'count', a weight per id, of the shape of `inputs`.

    Example:
        >>> CategoryEncoding(num_tokens=4, output_mode="one_hot")(torch.tensor([3, 2, 0]))
        tensor([[0., 0., 0., 1.],
                [0., 0., 1., 0.],
                [1., 0., 0., 0.]])
        >>> CategoryEncoding(num_tokens=4, output_mode="count")(torch.tensor([[0, 1, 1], [3, 3, 3]]))
        tensor([[1., 2., 0., 0.],
                [0., 0., 0., 3.]])
    """

    def __init__(self, num_tokens: int | None = None, output_mode: str = "multi_hot", sparse: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.output_mode = check_output_mode("CategoryEncoding", output_mode, ("one_hot", "multi_hot", "count"),
                                             sparse)
        if num_tokens is None:
            raise ValueError("CategoryEncoding needs num_tokens, the number of distinct ids. If it is not known "
                             "in advance, use IntegerLookup, which learns the ids with adapt().")
        if isinstance(num_tokens, bool) or not isinstance(num_tokens, int) or num_tokens < 1:
            raise ValueError(f"CategoryEncoding num_tokens must be a positive integer, got {num_tokens!r}.")
        self.num_tokens = num_tokens
        self.sparse = False

    def call(self, inputs: torch.Tensor, count_weights: Any = None) -> torch.Tensor:
        if inputs.device.type == "cpu" and inputs.numel():  # host checks cost nothing on the CPU
            if inputs.is_floating_point() and not torch.equal(inputs, inputs.round()):
                raise ValueError(f"CategoryEncoding {self.name!r} takes integer ids, got non-integral values of "
                                 f"dtype {inputs.dtype}; round or cast them first (or bucket floats with "
                                 "Discretization).")
            low, high = int(inputs.min()), int(inputs.max())
            if low < 0 or high >= self.num_tokens:
                raise ValueError(f"CategoryEncoding {self.name!r} got ids outside [0, {self.num_tokens}) (min {low}, "
                                 f"max {high}); raise num_tokens or map the ids with IntegerLookup first.")
        if count_weights is not None:
            if self.output_mode != "count":
                raise ValueError(f"CategoryEncoding count_weights only apply to output_mode='count', got "
                                 f"output_mode={self.output_mode!r}.")
            count_weights = torch.as_tensor(count_weights, device=inputs.device)
        return encode_categorical(inputs, self.output_mode, self.num_tokens, self.dtype, count_weights)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return encoded_shape(input_shape, self.output_mode, self.num_tokens)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_tokens": self.num_tokens, "output_mode": self.output_mode,
                "sparse": self.sparse}
