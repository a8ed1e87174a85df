"""dot_product_attention and image.resize against float64 NumPy re-derivations, with gradients."""
import numpy as np
import pytest
import torch
from scipy import special

from plait import ops

RNG = np.random.default_rng(9)


def np_attention(q, k, v, bias=None, mask=None, scale=None, causal=False, cap=None):
    heads, kv_heads = q.shape[2], k.shape[2]
    k, v = np.repeat(k, heads // kv_heads, axis=2), np.repeat(v, heads // kv_heads, axis=2)
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    logits = np.einsum("btnh,bsnh->bnts", q, k) * scale
    if cap is not None:
        logits = cap * np.tanh(logits / cap)
    if bias is not None:
        logits = logits + bias
    visible = np.ones(logits.shape, bool)
    if mask is not None:
        visible &= np.broadcast_to(mask, logits.shape)
    if causal:
        visible &= np.tril(np.ones(logits.shape[-2:], bool))
    logits = np.where(visible, logits, -1e300)
    return np.einsum("bnts,bsnh->btnh", special.softmax(logits, axis=-1), v)


def qkv(t=5, s=5, heads=4, kv_heads=4, dim=8, batch=2):
    return (RNG.normal(size=(batch, t, heads, dim)), RNG.normal(size=(batch, s, kv_heads, dim)),
            RNG.normal(size=(batch, s, kv_heads, dim)))


@pytest.mark.parametrize("case", [
    dict(), dict(causal=True), dict(scale=0.3), dict(t=3, s=6, causal=True), dict(kv_heads=2), dict(kv_heads=1),
    dict(bias=True), dict(mask=True), dict(mask=True, bias=True, causal=True), dict(cap=2.0), dict(cap=2.0, mask=True),
])
def test_attention_against_numpy(case):
    q, k, v = qkv(case.get("t", 5), case.get("s", 5), kv_heads=case.get("kv_heads", 4))
    t, s = q.shape[1], k.shape[1]
    bias = RNG.normal(size=(1, 4, t, s)) if case.get("bias") else None
    mask = RNG.uniform(size=(2, 1, t, s)) > 0.3 if case.get("mask") else None
    if mask is not None:
        mask[..., 0] = True  # every query sees a key (fully masked rows are tested below)
    want = np_attention(q, k, v, bias, mask, case.get("scale"), case.get("causal", False), case.get("cap"))
    out = ops.dot_product_attention(torch.from_numpy(q), k, v, bias=bias, mask=mask, scale=case.get("scale"),
                                    is_causal=case.get("causal", False), attn_logits_soft_cap=case.get("cap"))
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-10, atol=1e-12)


def test_attention_without_batch_axis_and_float32():
    q, k, v = (torch.tensor(a[0], dtype=torch.float32) for a in qkv())
    out = ops.dot_product_attention(q, k, v)
    assert out.shape == (5, 4, 8) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), np_attention(*(a.numpy()[None].astype(np.float64) for a in (q, k, v)))[0],
                               rtol=1e-5, atol=1e-6)


def test_a_fully_masked_query_attends_uniformly_not_nan():
    q, k, v = qkv()
    mask = np.ones((2, 1, 5, 5), bool)
    mask[:, :, 0] = False
    out = ops.dot_product_attention(q, k, v, mask=mask).numpy()
    np.testing.assert_allclose(out[:, 0], v.mean(axis=1), rtol=1e-10)


def test_attention_errors():
    q, k, v = qkv(kv_heads=3)
    with pytest.raises(ValueError, match="dividing the query's 4"):
        ops.dot_product_attention(q, k, v)
    with pytest.raises(ValueError, match="shape \\(batch, length, heads, head_dim\\)"):
        ops.dot_product_attention(q[0, 0], k[0, 0], v[0, 0])
    q, k, v = qkv()
    with pytest.raises(ValueError, match="soft_cap"):
        ops.dot_product_attention(q, k, v, flash_attention=True, attn_logits_soft_cap=1.0)


@pytest.mark.parametrize("case", [dict(causal=True), dict(mask=True, bias=True), dict(cap=1.5, kv_heads=2)])
def test_attention_gradients(case):
    shapes = dict(t=3, s=4, heads=2, kv_heads=case.get("kv_heads", 2), dim=3, batch=1)
    q, k, v = (torch.tensor(a, requires_grad=True) for a in qkv(**shapes))
    bias = torch.tensor(RNG.normal(size=(1, 2, 3, 4))) if case.get("bias") else None
    mask = torch.tensor(RNG.uniform(size=(1, 1, 3, 4)) > 0.3) if case.get("mask") else None

    def fn(q, k, v):
        return ops.dot_product_attention(q, k, v, bias=bias, mask=mask, is_causal=case.get("causal", False),
                                         attn_logits_soft_cap=case.get("cap"))
    assert torch.autograd.gradcheck(fn, (q, k, v), fast_mode=True)


def np_linear_weights(n_in, n_out):
    """(n_out, n_in) half-pixel bilinear sampling weights, edges clamped (TensorFlow 2 / torch align_corners=False)."""
    src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0)
    low = np.minimum(np.floor(src).astype(int), n_in - 1)
    high = np.minimum(low + 1, n_in - 1)
    frac = src - low
    weights = np.zeros((n_out, n_in))
    weights[np.arange(n_out), low] += 1 - frac
    weights[np.arange(n_out), high] += frac
    return weights


def np_nearest_index(n_in, n_out):
    return np.minimum(np.floor((np.arange(n_out) + 0.5) * n_in / n_out).astype(int), n_in - 1)


@pytest.mark.parametrize("size", [(8, 10), (3, 2), (5, 5), (7, 3)])
def test_resize_bilinear_and_nearest_against_numpy(size):
    images = RNG.normal(size=(2, 5, 6, 3))
    rows, cols = np_linear_weights(5, size[0]), np_linear_weights(6, size[1])
    want = np.einsum("ih,bhwc,jw->bijc", rows, images, cols)
    np.testing.assert_allclose(ops.image.resize(images, size).numpy(), want, rtol=1e-10, atol=1e-12)
    nearest = images[:, np_nearest_index(5, size[0])][:, :, np_nearest_index(6, size[1])]
    np.testing.assert_array_equal(ops.image.resize(images, size, interpolation="nearest").numpy(), nearest)


def test_resize_area_single_image_and_channels_first():
    image = RNG.normal(size=(4, 6, 2))
    want = image.reshape(2, 2, 3, 2, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(ops.image.resize(image, (2, 3), interpolation="area").numpy(), want, rtol=1e-12)
    first = ops.image.resize(np.moveaxis(image, -1, 0), (2, 3), interpolation="area", data_format="channels_first")
    np.testing.assert_allclose(np.moveaxis(first.numpy(), 0, -1), want, rtol=1e-12)
    assert ops.image.resize(np.zeros((4, 4, 1), np.uint8), (2, 2)).dtype == torch.float32


def test_resize_crop_and_pad_to_aspect_ratio():
    images = RNG.normal(size=(1, 4, 8, 1))
    cropped = ops.image.resize(images, (2, 2), crop_to_aspect_ratio=True)
    torch.testing.assert_close(cropped, ops.image.resize(images[:, :, 2:6], (2, 2)))
    padded = ops.image.resize(images[:, :2, :4], (4, 4), pad_to_aspect_ratio=True, fill_value=9.0,
                              interpolation="nearest")
    want = np.pad(images[:, :2, :4], ((0, 0), (1, 1), (0, 0), (0, 0)), constant_values=9.0)
    np.testing.assert_array_equal(padded.numpy(), want)
    with pytest.raises(ValueError, match="interpolation must be one of"):
        ops.image.resize(images, (2, 2), interpolation="lanczos3")
    with pytest.raises(ValueError, match="only one of"):
        ops.image.resize(images, (2, 2), crop_to_aspect_ratio=True, pad_to_aspect_ratio=True)


def test_resize_gradients():
    images = torch.tensor(RNG.normal(size=(1, 3, 4, 2)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: ops.image.resize(x, (5, 3)), (images,))
    assert torch.autograd.gradcheck(lambda x: ops.image.resize(x, (2, 2), interpolation="bicubic",
                                                               antialias=True), (images,))
