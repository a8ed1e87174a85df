"""`check_layer`: one layer through everything a model does with it, as Keras's `testing.TestCase.run_layer_test`.

What it checks, in order:

1. built on first call, finite output of the expected shape;
2. `compute_output_shape` and a symbolic call (`plait.Input`) agree with the real output's shape;
3. `get_config` is plain JSON, and `from_config` of it gives the same config, and with copied weights the same
   output, bit for bit;
4. a direct call is inference; `training=True` changes the output only for a layer that behaves differently
   in training (Dropout, BatchNormalization);
5. one `fit` step of a small model holding the layer: a finite loss, and every trainable weight of the layer moved;
6. `model.save` / `plait.load_model`: the same layer config and the same predictions, bit for bit.

Bit-exact comparisons are sound here because the two sides run the same kernels on identical inputs: the
same input tensor, and weights that are copies (`set_weights`) or the saved bytes read back (`load_model`).
"""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

import plait

Shape = tuple[int, ...]


def _data(shapes: Sequence[Shape], dtype: str, int_high: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind in "iu":
        return [rng.integers(0, int_high, size=s).astype(dtype) for s in shapes]
    return [rng.standard_normal(size=s).astype(dtype) for s in shapes]


def _one_or_list(items: list) -> Any:
    return items if len(items) > 1 else items[0]


def _json(config: dict[str, Any]) -> Any:
    return json.loads(json.dumps(config))


def _as_shape(shape: Any) -> Any:
    return tuple(shape) if isinstance(shape, (list, tuple)) and all(d is None or isinstance(d, int) for d in shape) \
        else shape


def case(kwargs: dict[str, Any], input_shape: Any, output_shape: tuple[int, ...], **options: Any) -> dict[str, Any]:
    """One harness case: constructor kwargs, input shape (batch first; a list for several inputs), the output
    shape worked out by hand, and options of `check_layer`."""
    return {"init_kwargs": kwargs, "input_shape": input_shape, "expected_output_shape": output_shape, **options}


def check_layer(layer_cls: type, init_kwargs: dict[str, Any], input_shape: Shape | list[Shape], *,
                tmp_path: Path, input_dtype: str = "float32", int_high: int = 10,
                expected_output_shape: Shape | None = None, training_differs: bool = False, seed: int = 0) -> None:
    """Runs `layer_cls(**init_kwargs)` through build, shapes, config, training mode, one fit step and save/load.

    Args:
        layer_cls: the layer class (a registered one, so `load_model` can find it by name).
        init_kwargs: constructor keyword arguments.
        input_shape: the input's shape with the batch dimension first, or a list of them for a layer that
            takes several inputs (merging layers).
        tmp_path: a folder to save the model in (pytest's `tmp_path`).
        input_dtype: the inputs' dtype; an integer dtype draws integers in [0, int_high).
        int_high: upper bound (exclusive) of integer inputs, e.g. an Embedding's `input_dim`.
        expected_output_shape: the output's shape, batch dimension included, worked out by hand.
        training_differs: whether `training=True` should change the output.
        seed: seeds the data and plait's random state (weights, dropout masks).
    """
    multi = isinstance(input_shape, list)
    shapes = [tuple(s) for s in (input_shape if multi else [input_shape])]
    arrays = _data(shapes, input_dtype, int_high, seed)
    tensors = [torch.from_numpy(a) for a in arrays]
    x = tensors if multi else tensors[0]
    name = layer_cls.__name__

    # 1. Lazy build on the first call; a direct call is inference.
    plait.set_random_seed(seed)
    layer = layer_cls(**init_kwargs)
    assert not layer.built, f"{name} is built before its first call; weights should wait for the input shape"
    out = layer(x)
    assert layer.built, f"{name} is not marked built after its first call"
    assert isinstance(out, torch.Tensor), f"{name} returned {type(out).__name__}, expected a tensor"
    if out.is_floating_point():
        assert torch.isfinite(out).all(), f"{name} gave non-finite values on finite input"
    if expected_output_shape is not None:
        assert tuple(out.shape) == tuple(expected_output_shape), (
            f"{name} output shape {tuple(out.shape)}, expected {tuple(expected_output_shape)}")
    real = (None,) + tuple(out.shape[1:])

    # 2. Shape inference agrees with the real output: compute_output_shape and the functional API.
    unbatched = [(None,) + s[1:] for s in shapes]
    computed = layer.compute_output_shape(unbatched if multi else unbatched[0])
    assert _as_shape(computed) == real, f"{name}.compute_output_shape gave {computed}, the real output is {real}"
    inputs = [plait.Input(shape=s[1:], dtype=input_dtype) for s in shapes]
    symbolic = layer_cls(**init_kwargs)(_one_or_list(inputs))
    assert _as_shape(symbolic.shape) == real, f"{name} on plait.Input gave shape {symbolic.shape}, real {real}"

    # 3. Config: plain JSON (it is what a saved model holds), and from_config rebuilds the same layer.
    config = layer.get_config()
    try:
        as_json = _json(config)
    except TypeError as e:
        raise AssertionError(f"{name}.get_config() is not JSON-serializable ({e}): {config!r}") from None
    assert plait.layers.LAYERS.lookup(name) is layer_cls, f"{name} is not registered under its class name"
    clone = layer_cls.from_config(as_json)
    assert _json(clone.get_config()) == as_json, (
        f"{name}.from_config(config).get_config() differs:\n{clone.get_config()}\nvs\n{config}")
    clone(x)
    clone.set_weights(layer.get_weights())
    assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in layer.weights]
    # Bit-exact: same kernels, same input tensor, weights copied from `layer`.
    torch.testing.assert_close(clone(x), layer(x), rtol=0, atol=0,
                               msg=lambda m: f"{name} rebuilt from its config with copied weights: {m}")

    # 4. training=True against inference, on the clone (BatchNormalization's moving statistics move here).
    plait.set_random_seed(seed + 1)
    trained = clone(x, training=True)
    assert not clone.training, f"{name} stayed in training mode after a call with training=True"
    inferred = clone(x, training=False)
    assert torch.equal(clone(x), inferred), f"{name}: a direct call is not inference (Keras semantics)"
    if training_differs:
        assert not torch.equal(trained, inferred), f"{name} gives the same output with training=True and False"
    else:  # bit-exact: the same kernels on the same input, and the layer has no training-only behaviour
        assert torch.equal(trained, inferred), (
            f"{name} changes its output with training=True; pass training_differs=True if it should")

    # 5. One fit step of a small model holding a fresh instance.
    plait.set_random_seed(seed)
    inputs = [plait.Input(shape=s[1:], dtype=input_dtype, name=f"in_{i}") for i, s in enumerate(shapes)]
    inner = layer_cls(**init_kwargs)
    hidden = inner(_one_or_list(inputs))
    if len(hidden.shape) > 2:
        hidden = plait.layers.Flatten(name="flat")(hidden)
    model = plait.Model(_one_or_list(inputs), plait.layers.Dense(2, name="head")(hidden))
    model.compile(optimizer=plait.optimizers.SGD(learning_rate=0.1), loss="mse")
    y = np.random.default_rng(seed + 2).standard_normal((shapes[0][0], 2)).astype("float32")
    before = [w.detach().clone() for w in inner.trainable_weights]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fit's pitfall notices (no validation data) are not this test's subject
        history = model.fit(_one_or_list(arrays), y, batch_size=len(y), epochs=1, shuffle=False, verbose=0)
    loss = history.history["loss"]
    assert len(loss) == 1 and math.isfinite(loss[0]), f"{name}: fit's loss is {loss}"
    unchanged = [i for i, (b, w) in enumerate(zip(before, inner.trainable_weights)) if torch.equal(b, w.detach())]
    assert not unchanged, (f"{name}: trainable weights {[inner.trainable_weights[i].shape for i in unchanged]} "
                           "did not change in a fit step (no gradient reaches them?)")

    # 6. Save and load: same config, same predictions.
    path = tmp_path / f"{name}.plait"
    model.save(path)
    restored = plait.load_model(path)
    loaded = restored.get_layer(inner.name)
    assert type(loaded) is layer_cls, f"load_model rebuilt {inner.name!r} as {type(loaded).__name__}"
    assert _json(loaded.get_config()) == _json(inner.get_config())
    for a, b in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(a, b)
    # Bit-exact: the loaded weights are the saved bytes and predict runs the same kernels on the same batch.
    np.testing.assert_array_equal(restored.predict(_one_or_list(arrays), verbose=0),
                                  model.predict(_one_or_list(arrays), verbose=0),
                                  err_msg=f"{name}: predictions differ after save/load")
