"""Activation layers: `Activation(fn)` and Keras's dedicated ReLU, LeakyReLU, PReLU, ELU and Softmax layers."""
from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F

from plait import activations, initializers, regularizers
from plait.layers.layer import LAYERS, Layer


def _non_negative(layer: str, name: str, value: Any, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{layer} {name} must be a non-negative number{' or None' if optional else ''}, "
                         f"got {value!r}.")
    return float(value)


class ElementwiseActivation(Layer):
    """Base of the activation layers: the output has the input's shape."""

    supports_masking = True  # elementwise: a mask passes on unchanged

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape


@LAYERS.register()
class Activation(ElementwiseActivation):
    """Applies `activation` (a name such as 'relu' or a function) to its input.

    Example:
        >>> Activation("relu")(torch.tensor([[-1.0, 2.0]]))
        tensor([[0., 2.]])
    """

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.activation(inputs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


@LAYERS.register()
class ReLU(ElementwiseActivation):
    """Rectified linear unit with Keras's options: `max_value` caps the output; below `threshold` the output is
    `negative_slope * (x - threshold)`.

    Args:
        max_value: Largest output (non-negative), or None for no cap.
        negative_slope: Slope below the threshold (non-negative).
        threshold: Where the unit turns on (non-negative).

    Example:
        >>> ReLU(max_value=6.0)(torch.tensor([-1.0, 3.0, 8.0]))
        tensor([0., 3., 6.])
    """

    def __init__(self, max_value: float | None = None, negative_slope: float = 0.0, threshold: float = 0.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_value = _non_negative("ReLU", "max_value", max_value, optional=True)
        self.negative_slope = _non_negative("ReLU", "negative_slope", negative_slope)
        self.threshold = _non_negative("ReLU", "threshold", threshold)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return activations.relu(inputs, negative_slope=self.negative_slope, max_value=self.max_value,
                                threshold=self.threshold)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


@LAYERS.register()
class LeakyReLU(ElementwiseActivation):
    """`x` for `x >= 0`, `negative_slope * x` otherwise (the layer's default slope is 0.3, as in Keras).

    Args:
        negative_slope: Slope for negative inputs (non-negative). Keras 2's `alpha=` is accepted with a warning.

    Example:
        >>> LeakyReLU(negative_slope=0.5)(torch.tensor([-10.0, 0.0, 5.0]))
        tensor([-5.,  0.,  5.])
    """

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any) -> None:
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("LeakyReLU(alpha=...) is deprecated; use negative_slope=... instead.", DeprecationWarning,
                          stacklevel=2)
        super().__init__(**kwargs)
        self.negative_slope = _non_negative("LeakyReLU", "negative_slope", negative_slope)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return activations.leaky_relu(inputs, self.negative_slope)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "negative_slope": self.negative_slope}


@LAYERS.register()
class PReLU(ElementwiseActivation):
    """Parametric ReLU: `x` for `x >= 0`, `alpha * x` otherwise, with `alpha` learned per input position.

    Args:
        alpha_initializer: Initializer of `alpha` (default zeros, so it starts as a ReLU).
        alpha_regularizer: Optional regularizer of `alpha`.
        alpha_constraint: Optional callable `w -> w` applied after each update.
        shared_axes: Axes (1-indexed, the batch is 0) along which one `alpha` is shared, e.g. `[1, 2]` for one
            per channel of `(batch, height, width, channels)` images.

    Example:
        >>> layer = PReLU(shared_axes=[1, 2])
        >>> layer(torch.ones(2, 4, 4, 3)).shape, tuple(layer.alpha.shape)
        (torch.Size([2, 4, 4, 3]), (1, 1, 3))
    """

    def __init__(self, alpha_initializer: Any = "zeros", alpha_regularizer: Any = None, alpha_constraint: Any = None,
                 shared_axes: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = alpha_constraint
        if shared_axes is None:
            self.shared_axes = None
        else:
            self.shared_axes = [int(a) for a in (shared_axes if isinstance(shared_axes, (list, tuple))
                                                 else [shared_axes])]

    def build(self, input_shape: Any) -> None:
        shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            if not 1 <= axis < len(input_shape):
                raise ValueError(f"PReLU shared_axes must be axes 1..{len(input_shape) - 1} of inputs of shape "
                                 f"{tuple(input_shape)}, got {self.shared_axes}.")
            shape[axis - 1] = 1
        if None in shape:
            raise ValueError(f"PReLU needs every non-shared input axis known, got input shape {tuple(input_shape)}; "
                             "share the unknown axes with shared_axes=[...].")
        self.alpha = self.add_weight(tuple(shape), self.alpha_initializer, name="alpha",
                                     regularizer=self.alpha_regularizer, constraint=self.alpha_constraint)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return F.relu(inputs) - self.alpha * F.relu(-inputs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": regularizers.serialize(self.alpha_regularizer), "shared_axes": self.shared_axes}


@LAYERS.register()
class ELU(ElementwiseActivation):
    """Exponential linear unit: `x` for `x > 0`, `alpha * (exp(x) - 1)` otherwise.

    Args:
        alpha: Scale of the negative part.

    Example:
        >>> ELU()(torch.tensor([0.0, 1.0]))
        tensor([0., 1.])
    """

    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return activations.elu(inputs, self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha": self.alpha}


@LAYERS.register()
class Softmax(ElementwiseActivation):
    """Softmax over `axis` (an int or several); `mask=` in the call gives masked positions probability 0.

    As in Keras, a mask (1 keeps, 0 masks; broadcast to the input) adds -1e9 to the masked logits (-3e4 in
    float16), so a fully masked row comes out uniform rather than NaN.

    Args:
        axis: The axis, or a list of axes, to normalize over.

    Example:
        >>> Softmax()(torch.tensor([[1.0, 1.0, 5.0]]), mask=torch.tensor([[1, 1, 0]]))
        tensor([[0.5000, 0.5000, 0.0000]])
    """

    def __init__(self, axis: int | list[int] = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)

    def call(self, inputs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is not None:
            large = -3e4 if inputs.dtype == torch.float16 else -1e9
            inputs = inputs + (1.0 - mask.to(inputs.dtype)) * large
        if isinstance(self.axis, list) and len(self.axis) > 1:
            return torch.exp(inputs - torch.logsumexp(inputs, dim=self.axis, keepdim=True))
        axis = self.axis[0] if isinstance(self.axis, list) else self.axis
        return activations.softmax(inputs, axis=axis)  # remembers its logits for crossentropy, as Activation

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}
