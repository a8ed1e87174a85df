"""TorchModuleWrapper: any `torch.nn.Module` as a plait layer, as Keras's `keras.layers.TorchModuleWrapper`.

The module's parameters become the layer's weights: `fit` trains them, `save_weights`/`save` store them. A
bare module given to `Sequential` is wrapped automatically. A model holding one saves its architecture when
the module is one of torch.nn's own classes whose constructor arguments can be read back from its attributes
(`torch.nn.LSTM(8, 16, batch_first=True)`); loading looks the class up in `torch.nn` by name and imports
nothing. Your own `nn.Module` subclasses save when registered with `@plait.saving.register_serializable()` and
given a `get_config()` returning their constructor arguments.
"""
from __future__ import annotations

from typing import Any

import torch

from plait import config
from plait.custom_objects import get_registered_name, get_registered_object
from plait.errors import FormatError
from plait.layers.layer import LAYERS, Layer
from plait.torch_interop import constructor_arguments


@LAYERS.register()
class TorchModuleWrapper(Layer):
    """Wraps a `torch.nn.Module` (a `torch.nn.LSTM`, a torchvision backbone, your own module) as a layer.

    Args:
        module: The module. It moves to plait's device; `training=True` calls run it in train mode.
        name: The layer's name.
        **kwargs: Base layer arguments.

    Example:
        >>> import plait, torch
        >>> model = plait.Sequential([plait.Input((4,)), TorchModuleWrapper(torch.nn.Linear(4, 2))])
        >>> model.output_shape, len(model.trainable_weights)
        ((None, 2), 2)
    """

    def __init__(self, module: torch.nn.Module, name: str | None = None, **kwargs: Any) -> None:
        if not isinstance(module, torch.nn.Module) or isinstance(module, Layer):
            raise TypeError(f"TorchModuleWrapper wraps a torch.nn.Module that is not a plait layer, got "
                            f"{type(module).__name__}.")
        super().__init__(name=name, **kwargs)
        self.module = module.to(config.get_device())
        self.built = not any(isinstance(p, torch.nn.parameter.UninitializedParameter) for p in module.parameters())

    def call(self, inputs: Any) -> Any:
        return self.module(inputs)

    def get_config(self) -> dict[str, Any]:
        cls = type(self.module)
        own = getattr(self.module, "get_config", None)
        if callable(own):
            name = get_registered_name(cls)
            if name == cls.__name__ or get_registered_object(name) is not cls:
                raise ValueError(f"Cannot save TorchModuleWrapper {self.name!r}: register {cls.__name__} with "
                                 "@plait.saving.register_serializable() so the file can name it.")
            return {**super().get_config(), "module": name, "arguments": own()}
        if not cls.__module__.startswith("torch.nn.") or getattr(torch.nn, cls.__name__, None) is not cls:
            raise ValueError(f"Cannot save TorchModuleWrapper {self.name!r}: {cls.__name__} is not one of torch.nn's "
                             "own modules. Give it a get_config() returning its constructor arguments and register "
                             "it with @plait.saving.register_serializable(), or save the weights only "
                             "(model.save_weights) and rebuild the model in code.")
        arguments, unsaved = _module_arguments(self.module)
        if unsaved:
            raise ValueError(f"Cannot save TorchModuleWrapper {self.name!r}: the constructor arguments {unsaved} of "
                             f"torch.nn.{cls.__name__} cannot be read back from the module. Save the weights only "
                             "(model.save_weights) and rebuild the model in code.")
        return {**super().get_config(), "module": cls.__name__, "arguments": arguments}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> "TorchModuleWrapper":
        config = dict(config)
        name, arguments = config.pop("module", None), config.pop("arguments", None) or {}
        if not isinstance(name, str) or not isinstance(arguments, dict):
            raise FormatError("A TorchModuleWrapper config needs a 'module' name and an 'arguments' dict.")
        found = get_registered_object(name, custom_objects)
        if found is None and name.isidentifier() and not name.startswith("_"):
            found = vars(torch.nn).get(name)  # torch.nn's own classes only, by exact name; nothing is imported
        if not (isinstance(found, type) and issubclass(found, torch.nn.Module)) or issubclass(found, Layer):
            raise FormatError(f"Unknown torch module {name[:100]!r} in a TorchModuleWrapper config. If it is your own "
                              f"class, register it or pass custom_objects={{{name[:100]!r}: {name[:100]}}}.")
        try:
            module = found(**arguments)
        except TypeError as err:
            raise FormatError(f"Could not rebuild torch module {name[:100]!r} from its saved arguments ({err}).") \
                from None
        return cls(module, **config)


def _module_arguments(module: torch.nn.Module) -> tuple[dict[str, Any], list[str]]:
    """A torch.nn module's constructor arguments read back from its attributes.

    A weight stored under an argument's name (`Linear.bias`) stands for a flag that was on (`bias=True`), and
    the factory arguments `device`/`dtype` are left out: the module is rebuilt, then moved, by plait.
    """
    arguments, unsaved = constructor_arguments(module)
    weights = {id(t) for t in [*module.parameters(recurse=False), *module.buffers(recurse=False)]}
    for name in list(arguments):
        if id(getattr(module, name, None)) in weights:
            arguments[name] = True
    return arguments, [name for name in unsaved if name not in ("device", "dtype")]
