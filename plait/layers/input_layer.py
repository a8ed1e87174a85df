"""Input and InputLayer: the entry points of a model, whose outputs are the KerasTensors a functional model is
traced from (`KerasTensor` itself lives in `symbolic.py`)."""
from __future__ import annotations

from typing import Any

import torch

from plait.layers.layer import LAYERS, Layer
from plait.layers.symbolic import KerasTensor, Node, normalize_shape


def adjust_input_rank(x: Any, expected: tuple) -> Any:
    """Keras's input rank fix-up: a (batch,) array fed to an Input of shape (1,) becomes (batch, 1)."""
    if isinstance(x, torch.Tensor) and x.dim() == len(expected) - 1 and expected[-1] == 1:
        return x.unsqueeze(-1)
    if isinstance(x, torch.Tensor) and x.dim() == len(expected) + 1 and x.shape[-1] == 1:
        return x.squeeze(-1)
    return x


@LAYERS.register()
class InputLayer(Layer):
    """The entry point of a model: holds the expected input shape; `call` is the identity.

    Most code uses `Input(shape)`, which returns this layer's `output`.

    Example:
        >>> layer = InputLayer(shape=(4,))
        >>> layer.batch_shape, layer.output.shape
        ((None, 4), (None, 4))
    """

    def __init__(self, shape: Any = None, batch_size: int | None = None, dtype: Any = None,
                 batch_shape: Any = None, name: str | None = None, **kwargs: Any) -> None:
        input_shape = kwargs.pop("input_shape", None)
        if batch_shape is None and kwargs.get("batch_input_shape") is not None:
            batch_shape = kwargs.pop("batch_input_shape")
        if shape is None:
            shape = input_shape
        if shape is not None and batch_shape is not None:
            raise ValueError("Give InputLayer either `shape` or `batch_shape`, not both.")
        if shape is None and batch_shape is None:
            raise ValueError("InputLayer needs a `shape`, e.g. Input(shape=(784,)).")
        super().__init__(name=name, dtype=dtype, **kwargs)
        if batch_shape is not None:
            self.batch_shape = normalize_shape(batch_shape, "batch_shape")
        else:
            self.batch_shape = (batch_size,) + normalize_shape(shape, "shape")
        self._build_shape = self.batch_shape
        self.built = True
        self._output_tensor = KerasTensor(self.batch_shape, self.dtype, name=self.name, node=Node(self, inputs=[]))
        self._output_tensor.node.outputs = self._output_tensor

    @property
    def output(self) -> KerasTensor:
        """The symbolic tensor `Input(...)` returns: what the model's first layers are called on."""
        return self._output_tensor

    def call(self, inputs: Any) -> Any:
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {"batch_shape": list(self.batch_shape), "dtype": str(self.dtype).replace("torch.", ""),
                "name": self.name}


def Input(shape: Any = None, batch_size: int | None = None, dtype: Any = None, batch_shape: Any = None,
          name: str | None = None) -> KerasTensor:
    """A symbolic input for a model: `Input(shape=(784,))` (the batch dimension is left out).

    Example:
        >>> x = Input(shape=(4,))
        >>> x.shape
        (None, 4)
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape, name=name).output
