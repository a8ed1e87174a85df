"""Resizing, CenterCrop and the augmentation layers against torch.nn.functional.interpolate, NumPy slicing and a
float64 pixel-by-pixel NumPy resampler; the training/inference rule, seeding, and a small augmented image model
trained with fit."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import plait
from plait import layers
from plait.layers import (CenterCrop, RandomBrightness, RandomContrast, RandomCrop, RandomFlip, RandomRotation,
                          RandomTranslation, RandomZoom, Resizing)
from plait.layers.preprocessing.geometric import affine_sample

# A float64 reference against float32 kernels (coordinates and weights rounded to float32).
TOL = {"rtol": 1e-5, "atol": 1e-4}


def _images(shape=(3, 7, 9, 2), seed=0):
    return torch.from_numpy(np.random.default_rng(seed).uniform(0, 255, shape).astype("float32"))


def _cf(x):
    return x.movedim(-1, 1)


# ------------------------------------------------------------------------------------------ Resizing, CenterCrop
@pytest.mark.parametrize("interpolation, antialias", [("bilinear", False), ("bilinear", True), ("nearest", False),
                                                      ("bicubic", True), ("area", False)])
@pytest.mark.parametrize("size", [(4, 5), (12, 14)])
def test_resizing_is_interpolate_with_half_pixel_centres(interpolation, antialias, size):
    x = _images()
    out = Resizing(*size, interpolation=interpolation, antialias=antialias)(x)
    mode = "nearest-exact" if interpolation == "nearest" else interpolation
    extra = {"align_corners": False, "antialias": antialias} if mode in ("bilinear", "bicubic") else {}
    want = F.interpolate(_cf(x), size=size, mode=mode, **extra).movedim(1, -1)
    # Bit-exact: the layer runs this very kernel on the same input.
    torch.testing.assert_close(out, want, rtol=0, atol=0)


def _bilinear_numpy(img, out_h, out_w):
    """Half-pixel-centre bilinear resampling (TensorFlow 2 / Keras, no antialias) in float64, pixel by pixel."""
    h, w, _ = img.shape
    out = np.zeros((out_h, out_w, img.shape[2]))
    for i in range(out_h):
        for j in range(out_w):
            y = min(max((i + 0.5) * h / out_h - 0.5, 0), h - 1)
            x = min(max((j + 0.5) * w / out_w - 0.5, 0), w - 1)
            y0, x0 = int(np.floor(y)), int(np.floor(x))
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            dy, dx = y - y0, x - x0
            out[i, j] = ((1 - dy) * ((1 - dx) * img[y0, x0] + dx * img[y0, x1])
                         + dy * ((1 - dx) * img[y1, x0] + dx * img[y1, x1]))
    return out


@pytest.mark.parametrize("size", [(4, 5), (12, 14)])
def test_resizing_bilinear_matches_a_float64_reference(size):
    x = _images()
    out = Resizing(*size)(x).numpy()
    for b in range(x.shape[0]):
        np.testing.assert_allclose(out[b], _bilinear_numpy(x[b].numpy().astype("float64"), *size), **TOL)


def test_resizing_options():
    x = _images((2, 8, 12, 3))
    cropped = Resizing(4, 4, crop_to_aspect_ratio=True)(x)  # the centred 8 x 8 window of the 8 x 12 images
    torch.testing.assert_close(cropped, Resizing(4, 4)(x[:, :, 2:10]), rtol=0, atol=0)
    padded = Resizing(6, 6, pad_to_aspect_ratio=True, fill_value=-1.0)(x)  # padded to 12 x 12 first
    assert padded.shape == (2, 6, 6, 3) and bool((padded[:, 0] == -1).all())
    ints = Resizing(3, 3)(torch.randint(0, 255, (2, 5, 5, 3)))
    assert ints.dtype == torch.float32
    assert Resizing(4, 6, data_format="channels_first")(_cf(x)).shape == (2, 3, 4, 6)
    assert Resizing(4, 6)(x[0]).shape == (4, 6, 3)  # a single image
    with pytest.raises(ValueError, match="interpolation"):
        Resizing(2, 2, interpolation="lanczos9")
    with pytest.raises(ValueError, match="positive integer"):
        Resizing(0, 2)


@pytest.mark.parametrize("size", [(4, 4), (3, 8), (7, 9)])
def test_center_crop_is_the_centred_slice(size):
    x = _images((2, 7, 9, 2))
    h, w = size
    top, left = (7 - h) // 2, (9 - w) // 2
    torch.testing.assert_close(CenterCrop(h, w)(x), x[:, top:top + h, left:left + w], rtol=0, atol=0)
    torch.testing.assert_close(CenterCrop(h, w, data_format="channels_first")(_cf(x)),
                               _cf(x)[:, :, top:top + h, left:left + w], rtol=0, atol=0)


def test_center_crop_resizes_images_smaller_than_the_target():
    x = _images((2, 5, 6, 3))
    out = CenterCrop(8, 8)(x)  # Keras: the largest centred square (5 x 5) resized to 8 x 8
    torch.testing.assert_close(out, Resizing(8, 8)(x[:, :, 0:5]), rtol=0, atol=0)


# ----------------------------------------------------------------------------------------- the affine resampler
def _fold_numpy(i, n, mode):
    if mode == "reflect":
        r = i % (2 * n)
        return (2 * n - 1 - r if r >= n else r), True
    if mode == "wrap":
        return i % n, True
    return min(max(i, 0), n - 1), 0 <= i < n or mode == "nearest"


def _affine_numpy(img, m, interpolation, mode, fill):
    """The resampler restated pixel by pixel in float64."""
    h, w, c = img.shape
    out = np.zeros_like(img, dtype="float64")

    def read(r, q):
        rr, ok_r = _fold_numpy(r, h, mode)
        qq, ok_q = _fold_numpy(q, w, mode)
        return img[rr, qq] if (ok_r and ok_q) else np.full(c, fill)

    for y in range(h):
        for x in range(w):
            sx, sy = m[0] @ [x, y, 1], m[1] @ [x, y, 1]
            if interpolation == "nearest":
                def rnd(v):
                    return int(np.sign(v) * np.floor(abs(v) + 0.5))
                out[y, x] = read(rnd(sy), rnd(sx))
                continue
            x0, y0 = int(np.floor(sx)), int(np.floor(sy))
            dx, dy = sx - x0, sy - y0
            out[y, x] = ((1 - dy) * ((1 - dx) * read(y0, x0) + dx * read(y0, x0 + 1))
                         + dy * ((1 - dx) * read(y0 + 1, x0) + dx * read(y0 + 1, x0 + 1)))
    return out


@pytest.mark.parametrize("mode", ["reflect", "wrap", "nearest", "constant"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_affine_sample_matches_a_float64_reference(mode, interpolation):
    rng = np.random.default_rng(1)
    x = _images((3, 6, 7, 2))
    # rotations, zooms and shifts large enough to read well outside the image
    m = np.stack([[[np.cos(a) * s, -np.sin(a) * s, tx], [np.sin(a) * s, np.cos(a) * s, ty]]
                  for a, s, tx, ty in zip(rng.uniform(-3, 3, 3), rng.uniform(0.5, 1.8, 3), rng.uniform(-6, 6, 3),
                                          rng.uniform(-6, 6, 3))])
    out = affine_sample(x, torch.from_numpy(m).float(), interpolation, mode, fill_value=-7.0).numpy()
    for b in range(3):
        want = _affine_numpy(x[b].numpy().astype("float64"), m[b].astype("float32").astype("float64"),
                             interpolation, mode, -7.0)
        if interpolation == "nearest":  # a coordinate within float32 rounding of .5 may round either way
            assert np.mean(np.isclose(out[b], want, **TOL)) > 0.97
        else:
            np.testing.assert_allclose(out[b], want, **TOL)


def test_rotation_by_a_quarter_turn_is_rot90_counter_clockwise():
    x = _images((2, 6, 6, 3))
    quarter = RandomRotation((0.25, 0.25))(x, training=True)
    torch.testing.assert_close(quarter, torch.rot90(x, 1, dims=(1, 2)), **TOL)
    torch.testing.assert_close(RandomRotation((-0.25, -0.25))(x, training=True), torch.rot90(x, -1, dims=(1, 2)),
                               **TOL)
    torch.testing.assert_close(RandomRotation((0.5, 0.5))(x, training=True), torch.rot90(x, 2, dims=(1, 2)), **TOL)


def test_translation_by_whole_pixels_is_a_roll_or_a_shift():
    x = _images((2, 4, 10, 1))
    wrapped = RandomTranslation((0.25, 0.25), (0.2, 0.2), fill_mode="wrap")(x, training=True)  # 1 row, 2 columns
    torch.testing.assert_close(wrapped, torch.roll(x, shifts=(1, 2), dims=(1, 2)), **TOL)
    shifted = RandomTranslation((0.0, 0.0), (-0.2, -0.2), fill_mode="constant", fill_value=5.0)(x, training=True)
    torch.testing.assert_close(shifted[:, :, :8], x[:, :, 2:], **TOL)
    assert bool((shifted[:, :, 8:] == 5).all())


def test_zoom_scales_about_the_centre():
    x = _images((2, 5, 5, 1))
    zoomed_in = RandomZoom((-0.5, -0.5), interpolation="nearest")(x, training=True)  # 2x: reads (c + (p - c) / 2)
    assert torch.equal(zoomed_in[:, 2, 2], x[:, 2, 2])
    torch.testing.assert_close(zoomed_in[:, 0, 0], x[:, 1, 1])  # (0 - 2) / 2 + 2 = 1
    stretched = RandomZoom((0.0, 0.0), width_factor=(1.0, 1.0), fill_mode="constant")(x, training=True)
    torch.testing.assert_close(stretched[:, :, 1:4], x[:, :, 0:5:2], **TOL)  # width zoomed out 2x, height kept
    assert bool((stretched[:, :, 0] == 0).all())


# ---------------------------------------------------------------------------- the augmentations' common contract
AUGMENTATIONS = {
    "RandomFlip": lambda **k: RandomFlip(**k),
    "RandomRotation": lambda **k: RandomRotation(0.2, **k),
    "RandomZoom": lambda **k: RandomZoom(0.3, 0.2, **k),
    "RandomTranslation": lambda **k: RandomTranslation(0.2, 0.3, **k),
    "RandomContrast": lambda **k: RandomContrast(0.5, **k),
    "RandomBrightness": lambda **k: RandomBrightness(0.3, **k),
    "RandomCrop": lambda **k: RandomCrop(5, 6, **k),
}


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_augmentations_change_images_only_in_training_and_repeat_under_a_seed(name):
    x = _images((8, 7, 9, 3))
    make = AUGMENTATIONS[name]
    layer = make()
    inferred = layer(x)
    if name == "RandomCrop":  # inference: the largest centred window of the target aspect ratio, resized
        torch.testing.assert_close(inferred, Resizing(5, 6, crop_to_aspect_ratio=True)(x), rtol=0, atol=0)
    else:
        assert torch.equal(inferred, x), f"{name} changed the images in inference"
    plait.set_random_seed(11)
    first = layer(x, training=True)
    second = layer(x, training=True)
    plait.set_random_seed(11)
    again = layer(x, training=True)
    assert first.shape == inferred.shape == tuple(layer.compute_output_shape((8, 7, 9, 3)))
    assert not torch.equal(first, inferred), f"{name} did nothing in training"
    assert not torch.equal(first, second), f"{name} drew the same transformation twice"
    assert torch.equal(first, again), f"{name} is not repeatable under plait.set_random_seed"
    seeded = [make(seed=5)(x, training=True) for _ in range(2)]
    assert torch.equal(*seeded), f"{name}: two layers with the same seed drew differently"
    per_image = [first[i] for i in range(8)]
    if name not in ("RandomFlip",):  # every image gets its own draw (a flip has only four outcomes)
        assert len({tuple(p.flatten()[:20].tolist()) for p in per_image}) == 8
    single = layer(x[0], training=True)
    assert single.shape == first.shape[1:]
    cf = make(data_format="channels_first")
    assert cf(_cf(x), training=True).shape == _cf(first).shape


def test_flips_are_exact_and_independent_per_image():
    x = _images((256, 3, 4, 1))
    outcomes = {"id": x, "h": x.flip(2), "v": x.flip(1), "hv": x.flip(1).flip(2)}
    out = RandomFlip(seed=0)(x, training=True)
    seen = []
    for i in range(len(x)):
        match = [k for k, v in outcomes.items() if torch.equal(out[i], v[i])]
        assert match, f"image {i} is not a flip of its input"
        seen.append(match[0])
    counts = {k: seen.count(k) / len(x) for k in outcomes}
    assert all(0.15 < c < 0.35 for c in counts.values()), counts  # independent fair coins: 1/4 each
    horizontal = RandomFlip("horizontal", seed=0)(x, training=True)
    assert all(torch.equal(horizontal[i], x[i]) or torch.equal(horizontal[i], x[i].flip(1)) for i in range(len(x)))


def test_random_crop_takes_a_window_of_each_image():
    x = _images((16, 7, 9, 2))
    out = RandomCrop(4, 5, seed=0)(x, training=True)
    offsets = set()
    for i in range(len(x)):
        hits = [(t, le) for t in range(4) for le in range(5) if torch.equal(out[i], x[i, t:t + 4, le:le + 5])]
        assert hits, f"crop {i} is not a window of its image"
        offsets.add(hits[0])
    assert len(offsets) > 4  # each image its own window
    small = RandomCrop(8, 8)(x, training=True)  # images smaller than the target are resized, as in inference
    torch.testing.assert_close(small, RandomCrop(8, 8)(x), rtol=0, atol=0)


def test_contrast_and_brightness_follow_keras_formulas_with_the_drawn_factors():
    x = _images((4, 5, 6, 3))
    u = torch.rand(4, generator=torch.Generator().manual_seed(3))  # the layer's draws with seed=3
    out = RandomContrast((0.2, 0.6), seed=3)(x, training=True).numpy().astype("float64")
    c = (0.8 + 0.8 * u.double()).numpy()[:, None, None, None]
    x64 = x.numpy().astype("float64")
    mean = x64.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(out, np.clip((x64 - mean) * c + mean, 0, 255), **TOL)
    out = RandomBrightness((-0.5, 0.1), value_range=(0, 255), seed=3)(x, training=True).numpy()
    delta = ((-0.5 + 0.6 * u.double()) * 255).numpy()[:, None, None, None]
    np.testing.assert_allclose(out, np.clip(x64 + delta, 0, 255), **TOL)


@pytest.mark.parametrize("build, message", [
    (lambda: RandomFlip("diagonal"), "mode"),
    (lambda: RandomRotation(1.5), r"\[-1.0, 1.0\]"),
    (lambda: RandomRotation(0.1, fill_mode="mirror"), "fill_mode"),
    (lambda: RandomZoom(0.1, interpolation="bicubic"), "interpolation"),
    (lambda: RandomContrast(-0.1), r"\[0.0, 1.0\]"),
    (lambda: RandomBrightness(0.1, value_range=255), "value_range"),
    (lambda: RandomTranslation("x", 0.1), "height_factor"),
    (lambda: RandomFlip(seed="a"), "seed"),
])
def test_bad_augmentation_arguments_say_what_was_expected(build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build()


def test_augmentations_refuse_non_images():
    with pytest.raises(ValueError, match="rank 4"):
        RandomFlip()(torch.zeros(4, 3), training=True)


def test_augmented_model_saves_and_loads(tmp_path):
    x = _images((4, 8, 8, 3))
    model = plait.Sequential([plait.Input((8, 8, 3))] + [make() for make in AUGMENTATIONS.values()]
                             + [layers.Flatten(), layers.Dense(2)])
    model.save(tmp_path / "aug.plait")
    restored = plait.load_model(tmp_path / "aug.plait")
    assert [la.get_config() for la in restored.layers] == [la.get_config() for la in model.layers]
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


def test_small_augmented_image_model_learns_in_fit():
    """RandomFlip + Rescaling + Conv2D on a planted rule a horizontal flip keeps: which half is bright."""
    rng = np.random.default_rng(0)

    def planted(n):
        y = rng.integers(0, 2, n)
        x = rng.uniform(0, 60, (n, 8, 8, 1)).astype("float32")
        x[y == 0, :4] += 190
        x[y == 1, 4:] += 190
        return x, y

    (x, y), (x_test, y_test) = planted(256), planted(128)
    plait.set_random_seed(0)
    model = plait.Sequential([plait.Input((8, 8, 1)), RandomFlip("horizontal"), layers.Rescaling(1 / 255),
                              layers.Conv2D(4, 3, activation="relu"), layers.Flatten(),
                              layers.Dense(2, activation="softmax")])
    model.compile(plait.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    loss = history.history["loss"]
    assert loss[-1] < 0.5 * loss[0], loss
    assert model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"] > 0.95
