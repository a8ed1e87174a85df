"""Keras's mask propagation: a mask made by `Embedding(mask_zero=True)` or `Masking` goes with the output to the
layers after it, which skip (recurrent layers), leave out (GlobalAveragePooling1D) or pass on (Dense, Dropout,
activations, normalization) the masked steps."""
import numpy as np
import torch

import plait
from plait import layers


def _ids():
    padded = np.array([[3, 7, 9, 0, 0], [5, 1, 0, 0, 0]])
    return padded, [padded[0, :3][None], padded[1, :2][None]]


def test_a_recurrent_layer_skips_the_padding_an_embedding_masks():
    plait.set_random_seed(0)
    inputs = plait.Input((None,), dtype="int64")
    hidden = layers.Dense(8, activation="tanh")(layers.Embedding(50, 8, mask_zero=True)(inputs))
    model = plait.Model(inputs, layers.Bidirectional(layers.GRU(5))(layers.LSTM(6, return_sequences=True)(hidden)))
    padded, unpadded = _ids()
    # Post-padding, masked: each row's result is that of its unpadded sequence (Keras's masking semantics).
    full = model.predict(padded, verbose=0)
    for row, alone in enumerate(unpadded):
        np.testing.assert_allclose(full[row], model.predict(alone, verbose=0)[0], rtol=1e-5, atol=1e-6)


def test_global_average_pooling_leaves_masked_steps_out():
    plait.set_random_seed(0)
    inputs = plait.Input((5,), dtype="int64")
    embedding = layers.Embedding(50, 4, mask_zero=True)
    model = plait.Model(inputs, layers.GlobalAveragePooling1D()(embedding(inputs)))
    padded, _ = _ids()
    with torch.no_grad():
        vectors = embedding(torch.from_numpy(padded)).numpy()
    expected = np.stack([vectors[0, :3].mean(0), vectors[1, :2].mean(0)])
    np.testing.assert_allclose(model.predict(padded, verbose=0), expected, rtol=1e-6)


def test_masking_layer_masks_and_mask_zero_saves(tmp_path):
    plait.set_random_seed(0)
    x = np.random.default_rng(0).random((2, 4, 3)).astype("float32")
    x[0, 2:] = 0.0
    model = plait.Sequential([plait.Input((4, 3)), layers.Masking(0.0), layers.SimpleRNN(4)])
    np.testing.assert_allclose(model.predict(x[:1], verbose=0), model.predict(x[:1, :2], verbose=0), rtol=1e-6)
    ids = plait.Sequential([plait.Input((5,), dtype="int64"), layers.Embedding(20, 3, mask_zero=True),
                            layers.LSTM(2)])
    assert ids.layers[0].get_config()["mask_zero"] is True
    ids.save(tmp_path / "masked.plait")
    padded, _ = _ids()
    # The same weights and masks on the same ids: the same kernels on the same values.
    np.testing.assert_array_equal(plait.load_model(tmp_path / "masked.plait").predict(padded, verbose=0),
                                  ids.predict(padded, verbose=0))
    assert "mask_zero" not in layers.Embedding(20, 3).get_config()
