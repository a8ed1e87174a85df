"""Dense: the fully connected layer `activation(inputs @ kernel + bias)`."""
from __future__ import annotations

from typing import Any

import torch

from plait import activations, initializers, regularizers
from plait.layers.layer import LAYERS, Layer


@LAYERS.register()
class Dense(Layer):
    """Fully connected layer with Keras defaults (glorot_uniform kernel, zero bias, no activation).

    The kernel has shape `(input_dim, units)` as in Keras, so weights port between the two.

    Args:
        units: Output size (positive integer).
        activation: Activation name or function; None means linear.
        use_bias: Whether to add a bias vector.
        kernel_initializer, bias_initializer: Initializer names or instances.
        kernel_regularizer, bias_regularizer: e.g. `plait.regularizers.L2(1e-4)`; the penalty joins the loss.
        kernel_constraint, bias_constraint: Callables `w -> w` applied after each optimizer update.

    Example:
        >>> layer = Dense(3, activation="relu")
        >>> layer(torch.ones(2, 5)).shape
        torch.Size([2, 3])
    """

    supports_masking = True  # elementwise over the steps: a mask passes on unchanged

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(f"Dense units must be a positive integer, got {units!r}.")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint

    def build(self, input_shape: Any) -> None:
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(f"Dense layer {self.name!r} needs a known last input dimension, got input shape "
                             f"{tuple(input_shape)}.")
        self.kernel = self.add_weight((in_dim, self.units), self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = self.add_weight((self.units,), self.bias_initializer, name="bias",
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"Dense layer {self.name!r} was built for inputs with last dimension "
                             f"{self.kernel.shape[0]}, got input of shape {tuple(inputs.shape)}.")
        if inputs.dtype != self.kernel.dtype:
            inputs = inputs.to(self.kernel.dtype)
        if self.bias is not None and inputs.dim() == 2:
            out = torch.addmm(self.bias, inputs, self.kernel)
        else:
            out = inputs @ self.kernel
            if self.bias is not None:
                out = out + self.bias
        return self.activation(out)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer)}
