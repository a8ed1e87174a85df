"""ImageAugmentation: the base of the random image layers, and Keras's rules for their `factor` arguments.

An augmentation layer changes images only when called with `training=True` (as `fit` calls the model); a direct
call, `predict` and `evaluate` see the images unchanged (cast to float, as Keras) or, for RandomCrop, Keras's
deterministic inference crop. Each image of a batch gets its own random draw, all drawn at once on the images'
device: from torch's global generator (so `plait.set_random_seed` repeats them) or, with `seed`, from the
layer's own generator.

Example:
    >>> check_value_range((0, 255), "RandomContrast")
    [0.0, 255.0]
    >>> factor_range(0.2, "factor", "RandomRotation"), factor_range((0.3, -0.1), "factor", "RandomRotation")
    ((-0.2, 0.2), (-0.1, 0.3))
"""
from __future__ import annotations

from typing import Any

import torch

from plait.layers.conv_utils import normalize_data_format
from plait.layers.dropout import RandomLayer
from plait.layers.preprocessing.image_utils import as_batch, float_images


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def factor_range(factor: Any, name: str, owner: str, bounds: tuple[float, float] = (-1.0, 1.0)
                 ) -> tuple[float, float]:
    """Keras's factor rule: a number `f` means `(-|f|, |f|)`, a pair `(a, b)` means `(min, max)`; each value must
    lie within `bounds`."""
    if _is_number(factor):
        low, high = -abs(float(factor)), abs(float(factor))
        given = [float(factor)]
    elif isinstance(factor, (list, tuple)) and len(factor) == 2 and all(_is_number(f) for f in factor):
        low, high = sorted(float(f) for f in factor)
        given = [low, high]
    else:
        raise ValueError(f"{owner} {name} must be a number or a pair of numbers in [{bounds[0]}, {bounds[1]}], "
                         f"got {factor!r}.")
    if any(not bounds[0] <= f <= bounds[1] for f in given):
        raise ValueError(f"{owner} {name} must lie in [{bounds[0]}, {bounds[1]}], got {factor!r}.")
    return low, high


def check_value_range(values: Any, owner: str) -> list[float]:
    """A `[low, high]` pixel range (sorted), as Keras's `value_range` arguments."""
    if not isinstance(values, (list, tuple)) or len(values) != 2 or not all(_is_number(v) for v in values):
        raise ValueError(f"{owner} value_range must be a pair of numbers [low, high] such as (0, 255) or (0, 1), "
                         f"got {values!r}.")
    return sorted(float(v) for v in values)


def serializable(factor: Any) -> Any:
    """A factor argument as JSON keeps it (a pair becomes a list, as Keras's configs hold it)."""
    return list(factor) if isinstance(factor, (list, tuple)) else factor


class ImageAugmentation(RandomLayer):
    """A random image layer: subclasses implement `augment(images)` on a float batch (and `infer` if inference
    is not the identity).

    Args:
        seed: An int for the layer's own generator; None draws from torch's global one.
        data_format: 'channels_last' (default) or 'channels_first'.

    Example:
        >>> class RandomInvert(ImageAugmentation):
        ...     def augment(self, images):
        ...         flip = self.draw(images.shape[0], 0, 1, images.device) < 0.5
        ...         return torch.where(flip.reshape(-1, 1, 1, 1), 255 - images, images)
        >>> RandomInvert(seed=0)(torch.zeros(2, 3, 3, 1), training=True).shape
        torch.Size([2, 3, 3, 1])
    """

    def __init__(self, seed: int | None = None, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.data_format = normalize_data_format(data_format)

    def call(self, inputs: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        images, single = as_batch(inputs, type(self).__name__)
        images = float_images(images, self.dtype)
        out = self.augment(images) if training else self.infer(images)
        return out.squeeze(0) if single else out

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def infer(self, images: torch.Tensor) -> torch.Tensor:
        return images

    def draw(self, n: int, low: float, high: float, device: torch.device) -> torch.Tensor:
        """`n` float32 draws uniform in `[low, high)`, one per image."""
        u = torch.rand(n, device=device, dtype=torch.float32, generator=self._generator_for(device))
        return low + (high - low) * u

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}
