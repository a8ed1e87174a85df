"""Normalization: shifts and scales features to mean 0 and variance 1 with statistics learned by `adapt`.

`adapt` streams the data batch by batch and combines each batch's count, mean and sum of squared deviations
with Chan et al.'s pairwise update, in float64, so the statistics of a dataset read in batches (a DataLoader, a
generator) equal those of the whole array up to float64 rounding. They are kept, as in Keras, in the
non-trainable weights `mean`, `variance` and `count` (`count` stays 0, as Keras keeps it for old files), which
`get_weights`, `model.save` and `load_model` carry.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch

from plait import config
from plait.layers.layer import LAYERS, Layer
from plait.layers.preprocessing.adapt_data import iter_batches

Moments = tuple[int, torch.Tensor, torch.Tensor]


def combine_moments(a: Moments | None, b: Moments) -> Moments:
    """The `(count, mean, m2)` of two disjoint sets of rows from theirs (`m2`: sum of squared deviations).

    Chan, Golub and LeVeque's update: exact in real arithmetic, and free of the cancellation of
    `E[x^2] - E[x]^2`, so float64 keeps about 15 significant digits whatever the batch sizes.
    """
    if a is None or a[0] == 0:
        return b
    (n_a, mean_a, m2_a), (n_b, mean_b, m2_b) = a, b
    n = n_a + n_b
    delta = mean_b - mean_a
    return n, mean_a + delta * (n_b / n), m2_a + m2_b + delta.square() * (n_a * n_b / n)


def _batch_moments(batch: torch.Tensor, reduce_axes: tuple[int, ...]) -> Moments:
    if not reduce_axes:  # every axis is kept: each position is its own (single) sample
        return 1, batch, torch.zeros_like(batch)
    count = math.prod(batch.shape[d] for d in reduce_axes)
    mean = batch.mean(dim=reduce_axes)
    m2 = (batch - batch.mean(dim=reduce_axes, keepdim=True)).square().sum(dim=reduce_axes)
    return count, mean, m2


def _float64(batch: "np.ndarray | torch.Tensor") -> torch.Tensor:
    """A batch as a float64 tensor, on its device (MPS, which has no float64, moves to the CPU)."""
    if isinstance(batch, torch.Tensor):
        return (batch.cpu() if batch.device.type == "mps" else batch).to(torch.float64)
    arr = np.asarray(batch, dtype="float64")
    return torch.from_numpy(arr if arr.flags.writeable else arr.copy())  # torch refuses read-only memory


@LAYERS.register()
class Normalization(Layer):
    """Normalizes features: `(x - mean) / sqrt(variance)`, with the statistics from `adapt` or given.

    As Keras, the denominator is `max(sqrt(variance), epsilon)` (`plait.config.epsilon()`, 1e-7), so a constant
    feature maps to 0 rather than to NaN; `invert=True` computes `mean + x * max(sqrt(variance), epsilon)`.
    Integer inputs are computed in `floatx`.

    Args:
        axis: The axis or axes with their own mean and variance (-1: one per feature of the last axis); the
            others are reduced over. None: one scalar mean and variance for every value.
        mean: The mean to use instead of adapting (a number or an array broadcast to the kept axes); requires
            `variance` too.
        variance: The variance that goes with `mean`.
        invert: Undo the normalization instead (turn normalized values back into the original scale).

    Example:
        >>> layer = Normalization(axis=None)
        >>> layer.adapt(np.array([1.0, 2.0, 3.0, 4.0, 5.0], dtype="float32"))
        >>> layer(np.array([1.0, 2.0, 3.0], dtype="float32"))
        tensor([-1.4142, -0.7071,  0.0000])
        >>> Normalization(mean=3.0, variance=2.0)(torch.tensor([[1.0], [3.0]]))
        tensor([[-1.4142],
                [ 0.0000]])
    """

    def __init__(self, axis: int | Sequence[int] | None = -1, mean: Any = None, variance: Any = None,
                 invert: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if axis is None:
            self.axis: tuple[int, ...] = ()
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            self.axis = (int(axis),)
        elif isinstance(axis, (list, tuple)) and all(isinstance(a, (int, np.integer)) for a in axis):
            self.axis = tuple(int(a) for a in axis)
        else:
            raise TypeError(f"Normalization axis must be an int, a tuple of ints or None, got {axis!r}.")
        if (mean is None) != (variance is None):
            raise ValueError("Normalization takes mean and variance together (or neither, to adapt), got "
                             f"mean={mean!r} and variance={variance!r}.")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(f"Normalization mean and variance must have the same shape, got mean of shape "
                                 f"{np.shape(mean)} and variance of shape {np.shape(variance)}.")
            if np.ndim(mean) > len(self.axis):
                raise ValueError(f"Normalization mean has rank {np.ndim(mean)}, more than the {len(self.axis)} "
                                 f"kept axes {self.axis}; pass one value per position of the kept axes.")
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)

    # ------------------------------------------------------------------ building
    def _axes_for(self, ndim: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(kept axes, reduced axes) for inputs of rank `ndim`, as non-negative sorted tuples."""
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"Normalization axis {self.axis} is out of range for inputs of rank {ndim}; every "
                             f"axis must be in [-{ndim}, {ndim}).")
        keep = tuple(sorted({a % ndim for a in self.axis}))
        return keep, tuple(d for d in range(ndim) if d not in keep)

    def build(self, input_shape: Any) -> None:
        ndim = len(input_shape)
        self._keep_axis, _ = self._axes_for(ndim)
        unknown = [d for d in self._keep_axis if input_shape[d] is None]
        if unknown:
            raise ValueError(f"Normalization keeps axes {self._keep_axis} of inputs of shape {tuple(input_shape)}, "
                             f"but axis {unknown[0]} has no known size (the batch axis?). Pass axis=-1 for one "
                             "mean per feature, or axis=None for a single mean.")
        self._ndim = ndim
        self._broadcast_shape = [input_shape[d] if d in self._keep_axis else 1 for d in range(ndim)]
        kept_shape = tuple(input_shape[d] for d in self._keep_axis)
        if self.input_mean is None:
            self.add_weight(kept_shape, "zeros", trainable=False, name="mean")
            self.add_weight(kept_shape, "ones", trainable=False, name="variance")
            self.add_weight((), "zeros", dtype="int64", trainable=False, name="count")
            return
        for name, value in (("mean", self.input_mean), ("variance", self.input_variance)):
            self.register_buffer(name, self._broadcast_given(value, name), persistent=False)

    def _broadcast_given(self, value: Any, name: str) -> torch.Tensor:
        """A given mean or variance in the broadcast shape: its axes align with the kept axes from the right."""
        t = torch.as_tensor(np.asarray(value, dtype="float64"), dtype=self.dtype, device=config.get_device())
        expanded = [1] * self._ndim
        for i in range(1, t.dim() + 1):
            expanded[self._keep_axis[-i]] = t.shape[-i]
        try:
            return t.reshape(expanded).expand(self._broadcast_shape).clone()
        except RuntimeError:
            raise ValueError(f"Normalization {name} of shape {tuple(t.shape)} does not broadcast to the kept axes "
                             f"{self._keep_axis} of size {[self._broadcast_shape[d] for d in self._keep_axis]}."
                             ) from None

    # ------------------------------------------------------------------ adapting
    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Learns the mean and variance of `data` along the kept axes (see `plait.layers.preprocessing.adapt_data`).

        Args:
            data: A NumPy array, a tensor, or an iterable of batches (a DataLoader, a generator); `(x, y)` batches
                contribute `x`.
            batch_size: Reads an array in batches of this many rows (the statistics do not depend on it).
            steps: Reads at most this many batches.
        """
        if self.input_mean is not None:
            raise ValueError(f"Normalization {self.name!r} was given mean and variance; it has nothing to adapt. "
                             "Create it without mean and variance to learn them from data.")
        total: Moments | None = None
        for batch in iter_batches(data, batch_size, steps):
            t = _float64(batch)
            if not self.built:
                keep, _ = self._axes_for(t.dim())
                self._maybe_build(tuple(s if d in keep else None for d, s in enumerate(t.shape)))
            self._check_batch(t)
            part = _batch_moments(t, tuple(d for d in range(t.dim()) if d not in self._keep_axis))
            if part[0]:
                total = combine_moments(total, part)
        if total is None:
            raise ValueError("Normalization.adapt() got only empty batches; there is nothing to learn from.")
        count, mean, m2 = total
        with torch.no_grad():
            self.mean.copy_(mean.to(self.mean.device, self.mean.dtype))
            self.variance.copy_((m2 / count).to(self.variance.device, self.variance.dtype))

    def _check_batch(self, t: torch.Tensor) -> None:
        # Scalar statistics (axis=None) take data of any rank: Keras's regression tutorial adapts a (n,) column
        # for a model fed (n, 1).
        if not self._keep_axis:
            return
        if t.dim() != self._ndim or any(t.shape[d] != self._broadcast_shape[d] for d in self._keep_axis):
            kept = {d: self._broadcast_shape[d] for d in self._keep_axis}
            raise ValueError(f"Normalization {self.name!r} was built for inputs of rank {self._ndim} with sizes "
                             f"{kept} on the kept axes, got a batch of shape {tuple(t.shape)}.")

    # ------------------------------------------------------------------ calling
    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs if inputs.dtype == self.dtype else inputs.to(self.dtype)
        if self._keep_axis and x.dim() != self._ndim:
            raise ValueError(f"Normalization {self.name!r} was built for inputs of rank {self._ndim}, got shape "
                             f"{tuple(x.shape)}.")
        shape = self._broadcast_shape if self._keep_axis else ()  # scalar statistics broadcast to any rank
        mean = self.mean.reshape(shape)
        std = self.variance.reshape(shape).sqrt().clamp_min(config.epsilon())
        return mean + x * std if self.invert else (x - mean) / std

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": np.asarray(self.input_mean).tolist() if self.input_mean is not None else None,
                "variance": np.asarray(self.input_variance).tolist() if self.input_variance is not None else None}
