"""Discretization: buckets continuous values by boundaries, given or learned as quantiles by `adapt`.

`adapt` follows Keras's approximate-quantile scheme, so it learns the same boundaries from the same data: each
batch becomes a weighted summary (its sorted values thinned to about `1 / epsilon` points, each standing for the
values it skips), summaries merge by a weighted merge and are re-compressed to `1 / epsilon` points by
interpolating the cumulative weights, and the boundaries are the summary compressed to `num_bins` points.
On data with fewer than `1 / epsilon` values the summary is exact. Computed in float32, as Keras.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from plait import config
from plait.layers.layer import LAYERS, Layer
from plait.layers.preprocessing.adapt_data import iter_batches
from plait.layers.preprocessing.category_encoding import check_output_mode, encode_categorical, encoded_shape


def _summarize(values: np.ndarray, epsilon: float) -> np.ndarray:
    """`(2, k)`: sorted values thinned to about `1 / epsilon` points (row 0) and the count each stands for."""
    ordered = np.sort(values.reshape(-1))
    per_point = ordered.size / (1.0 / epsilon)  # values per summary point
    stride = max(per_point, 1)
    points = ordered[int(per_point)::int(stride)]
    return np.stack([points, np.full_like(points, stride)])


def _compress(summary: np.ndarray, epsilon: float) -> np.ndarray:
    """A summary re-sampled at the cumulative-weight fractions `epsilon, 2 epsilon, ..., 1` (unchanged when it
    has fewer than `1 / epsilon` points)."""
    if summary.shape[1] * epsilon < 1:
        return summary
    targets = epsilon + np.arange(0.0, 1.0, epsilon)
    cumulative = summary[1].cumsum()
    fractions = cumulative / cumulative[-1]
    new_cumulative = np.interp(targets, fractions, cumulative)
    points = np.interp(targets, fractions, summary[0])
    return np.stack([points, np.diff(new_cumulative, prepend=0.0)]).astype("float32")


def _merge(a: np.ndarray, b: np.ndarray, epsilon: float) -> np.ndarray:
    merged = np.concatenate([a, b], axis=1)
    return _compress(merged[:, np.argsort(merged[0], kind="stable")], epsilon)


@LAYERS.register()
class Discretization(Layer):
    """Buckets values: bin `i` holds `bin_boundaries[i-1] <= x < bin_boundaries[i]` (the outer bins are open).

    Args:
        bin_boundaries: Sorted boundaries; `[0., 1., 2.]` gives the bins `(-inf, 0)`, `[0, 1)`, `[1, 2)` and
            `[2, inf)`. Leave None and pass `num_bins` to learn them with `adapt`.
        num_bins: How many bins `adapt` should learn (quantiles of the data).
        epsilon: The quantile approximation's error tolerance (smaller: more exact, more memory).
        output_mode: 'int' (bin indices, int64), 'one_hot', 'multi_hot' or 'count' (vectors of length
            `len(bin_boundaries) + 1`, in `floatx`).
        sparse: Only False: plait's layers return dense tensors.

    Example:
        >>> x = torch.tensor([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]])
        >>> Discretization(bin_boundaries=[0.0, 1.0, 2.0])(x)
        tensor([[0, 2, 3, 1],
                [1, 3, 2, 1]])
        >>> layer = Discretization(num_bins=4, epsilon=0.01)
        >>> layer.adapt(x.numpy())
        >>> layer(x)
        tensor([[0, 2, 3, 2],
                [1, 3, 3, 1]])
    """

    def __init__(self, bin_boundaries: list[float] | None = None, num_bins: int | None = None,
                 epsilon: float = 0.01, output_mode: str = "int", sparse: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.output_mode = check_output_mode("Discretization", output_mode, ("int", "one_hot", "multi_hot", "count"),
                                             sparse)
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(f"Discretization takes bin_boundaries or num_bins, not both; got "
                             f"bin_boundaries={bin_boundaries!r} and num_bins={num_bins!r}.")
        if num_bins is None and bin_boundaries is None:
            raise ValueError("Discretization needs bin_boundaries (e.g. [0.0, 1.0]) or num_bins (then call adapt).")
        if num_bins is not None and (isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 0):
            raise ValueError(f"Discretization num_bins must be a non-negative integer, got {num_bins!r}.")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not 0 < epsilon < 1:
            raise ValueError(f"Discretization epsilon must be a number in (0, 1), got {epsilon!r}.")
        self.num_bins, self.epsilon, self.sparse = num_bins, float(epsilon), False
        self.bin_boundaries: list[float] | None = None
        if bin_boundaries is not None:
            self._set_boundaries(bin_boundaries)

    def _set_boundaries(self, boundaries: Any) -> None:
        values = np.asarray(boundaries, dtype="float64").reshape(-1)
        if np.any(np.diff(values) < 0):
            raise ValueError(f"Discretization bin_boundaries must be sorted in increasing order, got {boundaries!r}.")
        self.bin_boundaries = values.tolist()
        self.register_buffer("boundaries", torch.as_tensor(values, dtype=config.float_dtype(),
                                                            device=config.get_device()), persistent=False)

    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Learns `num_bins - 1` boundaries from the quantiles of `data` (arrays, tensors or batches).

        Args:
            data: A NumPy array, a tensor, or an iterable of batches (each batch is summarized, then merged).
            batch_size: Reads an array in batches of this many rows (None: one batch, as Keras).
            steps: Reads at most this many batches.
        """
        if self.num_bins is None:
            raise ValueError(f"Discretization {self.name!r} was created with bin_boundaries, so it has nothing to "
                             "adapt; create it with num_bins instead.")
        summary = np.zeros((2, 0), dtype="float32")
        for batch in iter_batches(data, batch_size, steps):
            values = batch.detach().cpu().numpy() if isinstance(batch, torch.Tensor) else np.asarray(batch)
            summary = _merge(summary, _summarize(values.astype("float32"), self.epsilon), self.epsilon)
        if summary.shape[1] == 0:
            raise ValueError("Discretization.adapt() got only empty batches; there is nothing to learn from.")
        self._set_boundaries(_compress(summary, 1.0 / self.num_bins)[0, :-1])

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.bin_boundaries is None:
            raise ValueError(f"Discretization {self.name!r} has no bin boundaries yet: call adapt(data) first, or "
                             "create it with bin_boundaries.")
        x = inputs if inputs.is_floating_point() else inputs.to(config.float_dtype())
        boundaries = self.boundaries.to(device=x.device, dtype=x.dtype)
        # right=True: a value equal to a boundary goes to the bin above it, as np.digitize and Keras.
        ids = torch.bucketize(x, boundaries, right=True)
        return encode_categorical(ids, self.output_mode, len(self.bin_boundaries) + 1, self.dtype)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        depth = None if self.bin_boundaries is None else len(self.bin_boundaries) + 1
        return encoded_shape(input_shape, self.output_mode, depth)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins,
                "epsilon": self.epsilon, "output_mode": self.output_mode, "sparse": self.sparse}

    @classmethod
    def from_config(cls, config_: dict[str, Any]) -> "Discretization":
        # An adapted layer's config holds both num_bins and the learned boundaries, which __init__ refuses
        # together: rebuild it with num_bins, then restore the boundaries (as Keras).
        if config_.get("bin_boundaries") is not None and config_.get("num_bins") is not None:
            config_ = dict(config_)
            boundaries = config_.pop("bin_boundaries")
            layer = cls(**config_)
            layer._set_boundaries(boundaries)
            return layer
        return cls(**config_)
