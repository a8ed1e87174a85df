"""plait's own safetensors writer/reader: round trips, interop with the `safetensors` package, strict validation."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch

from plait.saving import FormatError
from plait.saving import safetensors_format as st



def _tensors(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "f64": torch.randn(3, 2, dtype=torch.float64, generator=g),
        "f32": torch.randn(4, generator=g),
        "f16": torch.randn(2, 3, generator=g).half(),
        "bf16": torch.randn(5, generator=g).bfloat16(),
        "i64": torch.randint(-10**12, 10**12, (3,), generator=g),
        "i32": torch.randint(-1000, 1000, (2, 2), generator=g, dtype=torch.int32),
        "i16": torch.randint(-100, 100, (3,), generator=g, dtype=torch.int16),
        "i8": torch.randint(-100, 100, (3,), generator=g, dtype=torch.int8),
        "u8": torch.randint(0, 255, (4,), generator=g, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.5, dtype=torch.float64),
        "empty": torch.zeros(0, 3),
    }


def test_round_trip_every_dtype_bit_for_bit(tmp_path):
    tensors = _tensors()
    path = tmp_path / "all.safetensors"
    st.save_file(tensors, path, {"note": "hello"})
    loaded, metadata = st.load_file(path)
    assert metadata == {"note": "hello"}
    assert set(loaded) == set(tensors)
    for name, tensor in tensors.items():
        assert loaded[name].dtype == tensor.dtype and loaded[name].shape == tensor.shape
        assert torch.equal(loaded[name].view(-1).view(torch.uint8) if tensor.numel() else loaded[name],
                           tensor.reshape(-1).view(torch.uint8) if tensor.numel() else tensor)
    assert st.decode(st.encode(tensors, {"note": "hello"}))[0].keys() == tensors.keys()


def test_data_is_aligned_and_header_padded():
    data = st.encode({"a": torch.ones(3, dtype=torch.int8), "b": torch.ones(2, dtype=torch.float64)})
    (n,) = struct.unpack("<Q", data[:8])
    assert (8 + n) % 8 == 0
    header = json.loads(data[8:8 + n])
    assert header["b"]["data_offsets"] == [0, 16]  # widest dtype first, so each tensor starts aligned
    assert header["a"]["data_offsets"] == [16, 19]


def test_files_plait_writes_load_with_the_safetensors_package(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    tensors = {k: v for k, v in _tensors(1).items() if k != "bf16"}  # numpy has no bfloat16
    path = tmp_path / "plait.safetensors"
    st.save_file(tensors, path, {"format": "x"})
    loaded = safetensors_numpy.load_file(str(path))
    for name, tensor in tensors.items():
        np.testing.assert_array_equal(loaded[name], tensor.numpy())
        assert loaded[name].dtype == tensor.numpy().dtype


def test_files_the_safetensors_package_writes_load_with_plait(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    rng = np.random.default_rng(0)
    arrays = {"w": rng.standard_normal((3, 4)).astype(np.float32), "i": np.arange(5, dtype=np.int64),
              "h": rng.standard_normal(7).astype(np.float16), "b": np.array([True, False]),
              "s": np.array(1.5, dtype=np.float64)}
    path = tmp_path / "theirs.safetensors"
    safetensors_numpy.save_file(arrays, str(path), metadata={"k": "v"})
    loaded, metadata = st.load_file(path)
    assert metadata == {"k": "v"}
    for name, array in arrays.items():
        np.testing.assert_array_equal(loaded[name].numpy(), array)


def _raw(header: dict, data: bytes = b"", pad: bool = True) -> bytes:
    text = json.dumps(header).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


GOOD = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}


@pytest.mark.parametrize("data, message", [
    (b"", "too short"),
    (b"\x05\x00\x00", "too short"),
    (struct.pack("<Q", 10**9) + b"{}", "impossible"),
    (struct.pack("<Q", 100) + b"{}", "impossible"),
    (struct.pack("<Q", 4) + b"\xff\xfe{}", "not UTF-8"),
    (struct.pack("<Q", 2) + b"[]", "starting with"),
    (struct.pack("<Q", 3) + b"{x}", "not valid JSON"),
    (_raw({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4), "outside"),
    (_raw({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8), "needs 12 bytes"),
    (_raw({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, b"\0" * 8), "invalid shape"),
    (_raw({"a": {"dtype": "F32", "shape": [True, 2], "data_offsets": [0, 8]}}, b"\0" * 8), "invalid shape"),
    (_raw({"a": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}}, b"\0" * 8), "invalid shape"),
    (_raw({"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8), "dtype"),
    (_raw({"a": {"dtype": "object", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8), "dtype"),
    (_raw({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, b"\0" * 8), "outside"),
    (_raw({"a": {"dtype": "F32", "shape": [2]}}, b"\0" * 8), "exactly"),
    (_raw({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "x": 1}}, b"\0" * 8), "exactly"),
    (_raw({"a": [1, 2]}, b"\0" * 8), "exactly"),
    (_raw(GOOD, b"\0" * 12), "trailing data"),
    (_raw({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
           "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12), "overlaps"),
    (_raw({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8), "gap"),
    (_raw({"__metadata__": {"k": 1}, **GOOD}, b"\0" * 8), "__metadata__"),
    (_raw({"a": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}, b"\x01\x07"), "other than 0 and 1"),
    (struct.pack("<Q", 40) + b'{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"a":1}' [:40], "JSON"),
])
def test_malformed_data_is_refused_with_format_error(data, message):
    with pytest.raises(FormatError, match=message):
        st.decode(data)


def test_duplicate_names_are_refused():
    text = b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}'
    with pytest.raises(FormatError, match="twice"):
        st.decode(struct.pack("<Q", len(text)) + text + b"\0")


def test_size_limit_and_directory(tmp_path):
    st.save_file({"a": torch.zeros(100)}, tmp_path / "big.safetensors")
    with pytest.raises(FormatError, match="limit"):
        st.load_file(tmp_path / "big.safetensors", max_bytes=100)
    with pytest.raises(FormatError, match="directory"):
        st.load_file(tmp_path)


def test_writing_rejects_what_it_cannot_store(tmp_path):
    with pytest.raises(TypeError, match="dtype"):
        st.encode({"c": torch.zeros(2, dtype=torch.complex64)})
    with pytest.raises(ValueError, match="names"):
        st.encode({"__metadata__": torch.zeros(1)})
    with pytest.raises(TypeError, match="strings"):
        st.encode({"a": torch.zeros(1)}, {"k": 1})
    with pytest.raises(TypeError, match="torch.Tensor"):
        st.encode({"a": np.zeros(1)})


def test_random_bytes_and_mutations_only_raise_format_error():
    rng = np.random.default_rng(1234)
    valid = st.encode(_tensors(2), {"m": "x"})
    for i in range(400):
        if i % 4 == 0:
            data = rng.integers(0, 256, int(rng.integers(0, 200)), dtype=np.uint8).tobytes()
        else:
            data = bytearray(valid)
            for _ in range(int(rng.integers(1, 6))):
                kind = rng.integers(0, 3)
                pos = int(rng.integers(0, len(data)))
                if kind == 0:
                    data[pos] = int(rng.integers(0, 256))
                elif kind == 1:
                    del data[pos:pos + int(rng.integers(1, 20))]
                else:
                    data[pos:pos] = rng.integers(0, 256, int(rng.integers(1, 10)), dtype=np.uint8).tobytes()
            data = bytes(data)
        try:
            tensors, _ = st.decode(data)
        except FormatError:
            continue
        for t in tensors.values():  # whatever decodes must be usable tensors
            assert isinstance(t, torch.Tensor)
